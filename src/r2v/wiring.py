"""The composition root: Settings -> backends (chosen by URL) -> services, the HTTP app and the worker's runner.

The only module that imports backends (with the CLI that calls it). Everything below receives ports."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from r2v.backends.localfs import LocalBlobStore
from r2v.backends.sqlite import Database, SqliteKeyStore, SqliteTaskStore, SqliteUploadRegistry
from r2v.clock import Clock
from r2v.config import Settings
from r2v.keys import KeyStore, ServingKeys
from r2v.moderation import Moderator, WordListModerator
from r2v.storage.blobs import BlobStore
from r2v.storage.signing import UrlSigner
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.store import TaskStore

DATABASE_SCHEMES = ("sqlite",)
STORAGE_SCHEMES = ("file",)


@dataclass
class Components:
    """The backends of one process, behind their ports, with what every part shares."""

    settings: Settings
    clock: Clock
    tasks: TaskStore
    keys: KeyStore
    uploads: UploadRegistry
    blobs: BlobStore
    signer: UrlSigner
    secret: bytes
    moderator: Moderator | None = None  # off by default


def _location(url: str, option: str, schemes: tuple[str, ...]) -> tuple[str, Path]:
    """(scheme, local path) of a backend URL such as sqlite:///var/r2v/r2v.sqlite3 or file:///var/r2v/files."""
    expected = " or ".join(f"{s}://" for s in schemes)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{option}: {url!r} is not a URL (expected {expected}…)")
    if scheme.lower() not in schemes:
        raise ValueError(f"{option}: unknown scheme {scheme!r} (expected {expected}…)")
    rest = rest[1:] if rest.startswith("//") else rest  # sqlite:////abs/path, as SQLAlchemy writes it, works too
    if not rest:
        raise ValueError(f"{option}: {url!r} names no path")
    return scheme.lower(), Path(rest)


def check_locations(settings: Settings) -> None:
    """Refuse an unknown --database or --storage scheme before anything starts (ValueError naming the option)."""
    _location(settings.database_url, "--database", DATABASE_SCHEMES)
    _location(settings.storage_url, "--storage", STORAGE_SCHEMES)


def open_database(url: str) -> Database:
    _, path = _location(url, "--database", DATABASE_SCHEMES)
    return Database(path)


def open_storage(url: str) -> BlobStore:
    _, path = _location(url, "--storage", STORAGE_SCHEMES)
    return LocalBlobStore(path)


def build_moderator(settings: Settings) -> Moderator | None:
    path = settings.moderation_words_file
    if path is None:
        return None
    if not path.is_file():
        raise ValueError(f"R2V_MODERATION_WORDS_FILE: no such file: {path}")
    return WordListModerator.from_file(path)


def build(settings: Settings, clock: Clock | None = None) -> Components:
    db = open_database(settings.database_url)
    secret = settings.secret()
    return Components(
        settings=settings,
        clock=clock or Clock(),
        tasks=SqliteTaskStore(db),
        keys=ServingKeys(SqliteKeyStore(db), settings.api_keys),
        uploads=SqliteUploadRegistry(db),
        blobs=open_storage(settings.storage_url),
        signer=UrlSigner(secret),
        secret=secret,
        moderator=build_moderator(settings),
    )


def task_service(parts: Components):
    from r2v.service.tasks import TaskService

    s = parts.settings
    return TaskService(parts.tasks, parts.uploads, parts.blobs, parts.signer, parts.clock, s.region,
                       moderator=parts.moderator, cancel_running=s.cancel_running)  # fmt: skip


def janitor_for(parts: Components):
    from r2v.service.janitor import Janitor

    return Janitor(parts.tasks, parts.uploads, parts.blobs, parts.clock)


def build_app(parts: Components, workers_alive=None):
    """The HTTP app on these components; `workers_alive` counts this process's render workers, if it has any."""
    from r2v.api.app import ApiParts, create_app
    from r2v.service.uploads import UploadService

    s = parts.settings
    uploads = UploadService(parts.uploads, parts.blobs, parts.secret, parts.clock, s.region, s.scratch_dir)
    return create_app(
        ApiParts(
            tasks=task_service(parts),
            uploads=uploads,
            keys=parts.keys,
            blobs=parts.blobs,
            signer=parts.signer,
            clock=parts.clock,
            region=s.region,
            rate_limits=s.rate_limits,
            public_url=s.public_url,
            listen_address=f"{s.host}:{s.port}",
            workers_alive=workers_alive,
        )
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
    """A TaskRunner on these components (imports the engines' registry: worker side only)."""
    from r2v.engines import EngineSet
    from r2v.worker.runner import TaskRunner

    settings = parts.settings
    return TaskRunner(
        store=parts.tasks,
        blobs=parts.blobs,
        uploads=parts.uploads,
        clock=parts.clock,
        engines=EngineSet(settings.engines, wan=settings.wan),
        scratch=settings.scratch_dir,
        fetch_policy=settings.fetch_policy(),
        rules=job_rules(settings, parts.moderator),
    )


def build_runner(settings: Settings):
    """What a worker process runs: its own connections to the backends, and its engines."""
    return runner_for(build(settings))


def worker_pool(parts: Components):
    """The render worker processes of `r2v serve`; each builds its own runner (build_runner) once started."""
    from r2v.worker.pool import PoolOptions, WorkerPool

    s = parts.settings
    options = PoolOptions(workers=s.workers, memory_mb=s.worker_memory_mb, task_timeout_s=s.task_timeout_s,
                          max_running_per_key=s.max_running_per_key, poll_interval_s=s.poll_interval_s)  # fmt: skip
    return WorkerPool(options, parts.clock, parts.tasks, functools.partial(build_runner, s))
