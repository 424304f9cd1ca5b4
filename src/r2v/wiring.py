"""Composition root: builds the concrete adapters (SQLite, local files, engines) from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from r2v.clock import Clock
from r2v.config import Settings
from r2v.db import Database
from r2v.keys import SqliteKeyStore
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
    )


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
        allow_private_urls=settings.allow_private_urls,
        region=settings.region,
    )


def build_runner(settings: Settings, clock: Clock | None = None):
    parts = build(settings, clock)
    return runner_for(parts), parts.tasks, parts.clock
