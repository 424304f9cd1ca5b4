"""Composition root: builds the concrete adapters (SQLite, local files, engines) from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from r2v.clock import Clock
from r2v.config import Settings
from r2v.db import Database
from r2v.keys import SqliteKeyStore
from r2v.moderation import Moderator, WordListModerator
from r2v.storage.blobs import LocalBlobStore
from r2v.storage.signing import UrlSigner
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.sqlite_store import SqliteTaskStore


@dataclass
class Components:
    settings: Settings
    clock: Clock
    db: Database
    tasks: SqliteTaskStore
    keys: SqliteKeyStore
    uploads: UploadRegistry
    blobs: LocalBlobStore
    signer: UrlSigner
    secret: bytes
    moderator: Moderator | None = None  # off by default


def build_moderator(settings: Settings) -> Moderator | None:
    path = settings.moderation_words_file
    if path is None:
        return None
    if not path.is_file():
        raise ValueError(f"R2V_MODERATION_WORDS_FILE: no such file: {path}")
    return WordListModerator.from_file(path)


def build(settings: Settings, clock: Clock | None = None) -> Components:
    db = Database(settings.db_path)
    secret = settings.secret()
    return Components(
        settings=settings,
        clock=clock or Clock(),
        db=db,
        tasks=SqliteTaskStore(db),
        keys=SqliteKeyStore(db, settings.api_keys),
        uploads=UploadRegistry(db),
        blobs=LocalBlobStore(settings.blobs_dir),
        signer=UrlSigner(secret),
        secret=secret,
        moderator=build_moderator(settings),
    )


def job_rules(settings: Settings, moderator):
    from r2v.director.rewrite import PromptRewriter
    from r2v.media.sandbox import SandboxLimits
    from r2v.worker.pipeline import JobRules

    limits = SandboxLimits(timeout_s=settings.probe_timeout_s, memory_mb=settings.probe_memory_mb)
    rewriter = None
    if settings.prompt_extend_url:
        rewriter = PromptRewriter(settings.prompt_extend_url, settings.prompt_extend_model, settings.prompt_extend_key)
    return JobRules(region=settings.region, probe_limits=limits, moderator=moderator, rewriter=rewriter)


def runner_for(parts: Components):
    """A TaskRunner on these components (imports the engines: worker side only)."""
    from r2v.worker.runner import TaskRunner

    settings = parts.settings
    return TaskRunner(
        store=parts.tasks,
        blobs=parts.blobs,
        uploads=parts.uploads,
        clock=parts.clock,
        engines=settings.engines,
        fetch_policy=settings.fetch_policy(),
        rules=job_rules(settings, parts.moderator),
        wan=settings.wan,
    )


def build_runner(settings: Settings, clock: Clock | None = None):
    parts = build(settings, clock)
    return runner_for(parts), parts.tasks, parts.clock
