"""The composition root: Settings -> backends (chosen by URL) -> services, the HTTP app and the worker's runner.

The only module that imports backends (with the CLI that calls it). Everything below receives ports."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

from r2v.backends.localfs import LocalBlobStore
from r2v.backends.sql.keys import SqlKeyStore
from r2v.backends.sql.tasks import SqlTaskStore
from r2v.backends.sql.uploads import SqlUploadRegistry
from r2v.backends.sqlite import Database
from r2v.clock import Clock
from r2v.config import Settings
from r2v.keys import KeyStore, ServingKeys
from r2v.moderation import Moderator, WordListModerator
from r2v.ratelimits import RequestLimiter
from r2v.storage.blobs import BlobStore
from r2v.storage.signing import UrlSigner
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.store import TaskStore

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
STORAGE_SCHEMES = ("file", "s3")
CLUSTER_SCHEMES = ("postgresql", "postgres")  # the multi-machine mode: renders run in `r2v worker` processes
API_STORE_THREADS = 16  # threads of an API process that wait on a pooled database (the pool has as many connections)


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
    limiter: RequestLimiter | None = None  # per-key limits shared by the cluster's API processes (None: per process)
    store_threads: int = 1  # how many calls the HTTP layer may have waiting on the stores at once
    queue_factory: object = None  # () -> WorkQueue: the cluster's queue (None: the embedded server's workers)


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


def is_cluster(settings: Settings) -> bool:
    """Whether these settings run the multi-machine mode (a PostgreSQL database)."""
    return _scheme(settings.database_url) in CLUSTER_SCHEMES


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def check_locations(settings: Settings) -> None:
    """Refuse an unknown --database or --storage scheme, or a worker count the mode cannot run, before anything
    starts (ValueError naming the option)."""
    _location(settings.database_url, "--database", DATABASE_SCHEMES)
    _location(settings.storage_url, "--storage", STORAGE_SCHEMES)
    if is_cluster(settings) and settings.workers > 0:
        raise ValueError("--workers: with a PostgreSQL database, renders run in `r2v worker` processes (on any "
                         "machine); start the API with --workers 0")  # fmt: skip
    if not is_cluster(settings) and settings.workers < 1:
        raise ValueError("--workers must be at least 1 with the embedded SQLite database")


def open_database(url: str) -> Database:
    _, path = _location(url, "--database", DATABASE_SCHEMES)
    return Database(path)


def open_storage(url: str) -> BlobStore:
    """The object store a --storage URL names; an S3 bucket is checked (exists, credentials accepted) here."""
    scheme, path = _location(url, "--storage", STORAGE_SCHEMES)
    if scheme == "s3":
        from r2v.backends.s3 import open_s3

        store = open_s3(url)
        store.check()
        return store
    return LocalBlobStore(path)


def build_moderator(settings: Settings) -> Moderator | None:
    path = settings.moderation_words_file
    if path is None:
        return None
    if not path.is_file():
        raise ValueError(f"R2V_MODERATION_WORDS_FILE: no such file: {path}")
    return WordListModerator.from_file(path)


def build(settings: Settings, clock: Clock | None = None, connections: int = API_STORE_THREADS) -> Components:
    """The backends the settings name. `connections`: how many database connections this process may hold at once
    (PostgreSQL only)."""
    if is_cluster(settings):
        return _build_cluster(settings, clock or Clock(), connections)
    db = open_database(settings.database_url)
    return _components(settings, clock or Clock(), db, SqlTaskStore(db), settings.secret())


def _components(settings: Settings, clock: Clock, db, tasks: TaskStore, secret: bytes, **extra) -> Components:
    """What every mode builds the same way on its SQL database: keys, uploads, storage, signing, moderation."""
    return Components(
        settings=settings,
        clock=clock,
        tasks=tasks,
        keys=ServingKeys(SqlKeyStore(db), settings.api_keys),
        uploads=SqlUploadRegistry(db),
        blobs=open_storage(settings.storage_url),
        signer=UrlSigner(secret),
        secret=secret,
        moderator=build_moderator(settings),
        **extra,
    )


def _build_cluster(settings: Settings, clock: Clock, connections: int) -> Components:
    from r2v.backends.postgres import schema
    from r2v.backends.postgres.database import PgDatabase
    from r2v.backends.postgres.jobs import RenderJobs, make_app
    from r2v.backends.postgres.ratelimit import SharedRateLimiter
    from r2v.backends.postgres.tasks import PostgresTaskStore

    url = settings.database_url
    db = PgDatabase(url, max_connections=connections)
    schema.check(db)  # an older or newer schema stops the process here, saying what to run
    tasks = PostgresTaskStore(db, RenderJobs(make_app(url)))
    secret = schema.shared_secret(db)

    def queue_factory():
        from r2v.backends.postgres.queue import ProcrastinateQueue

        return ProcrastinateQueue(url, db, tasks, clock)

    return _components(settings, clock, db, tasks, secret, limiter=SharedRateLimiter(db, settings.rate_limits, clock),
                       store_threads=connections, queue_factory=queue_factory)  # fmt: skip


def upgrade_database(url: str) -> tuple[int, int]:
    """`r2v db upgrade`: create or migrate a PostgreSQL database's schema (r2v's and procrastinate's)."""
    if _scheme(url) not in CLUSTER_SCHEMES:
        raise ValueError(f"--database: `r2v db upgrade` is for PostgreSQL (postgresql://…), not {_scheme(url)!r}; "
                         "the embedded SQLite database creates its own tables")  # fmt: skip
    from r2v.backends.postgres import schema
    from r2v.backends.postgres.database import PgDatabase

    db = PgDatabase(url, max_connections=1)
    try:
        return schema.upgrade(db)
    finally:
        db.close()


def task_service(parts: Components, on_accepted=None):
    from r2v.service.tasks import TaskService

    s = parts.settings
    return TaskService(parts.tasks, parts.uploads, parts.blobs, parts.signer, parts.clock, s.region,
                       moderator=parts.moderator, cancel_running=s.cancel_running,
                       serve_files=bool(s.public_url), on_accepted=on_accepted)  # fmt: skip


def janitor_for(parts: Components):
    from r2v.service.janitor import Janitor

    return Janitor(parts.tasks, parts.uploads, parts.blobs, parts.clock)


def build_app(parts: Components, workers_alive=None, emulation=None):
    """The HTTP app on these components; `workers_alive` counts this process's render workers, if it has any;
    `emulation`: (EmulatorService, EmulatedWorkers) under `r2v serve --emulate`."""
    from r2v.api.app import ApiParts, create_app
    from r2v.metrics import ApiMetrics
    from r2v.service.uploads import UploadService

    s = parts.settings
    uploads = UploadService(parts.uploads, parts.blobs, parts.secret, parts.clock, s.region, s.scratch_dir)
    emulator, emulated = emulation or (None, None)
    return create_app(
        ApiParts(
            tasks=task_service(parts, on_accepted=emulated.submit if emulated else None),
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
            limiter=parts.limiter,
            store_threads=parts.store_threads,
            metrics=ApiMetrics(parts.tasks),
            emulator=emulator,
        )
    )


def emulation(parts: Components):
    """`r2v serve --emulate`: the emulator's control plane and the workers that play out its tasks in this process
    (with the emulated engine, whatever --engine says)."""
    from r2v.engines import get_engine
    from r2v.media.sandbox import SandboxLimits
    from r2v.service.emulator import EmulatorService
    from r2v.worker.emulated import EmulatedWorkers

    s = parts.settings
    service = EmulatorService(parts.tasks, parts.clock, reset_tasks=lambda: workers.reset())
    workers = EmulatedWorkers(parts.tasks, parts.blobs, parts.uploads, parts.clock, get_engine("emulated"),
                              s.scratch_dir, expire=service.expire, per_owner_running=s.max_running_per_key,
                              probe_limits=SandboxLimits(timeout_s=s.probe_timeout_s, memory_mb=s.probe_memory_mb),
                              region=s.region)  # fmt: skip
    return service, workers


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


def cluster_worker(settings: Settings, concurrency: int, metrics=None):
    """`r2v worker`: a runner on its own connections, fed by the cluster's queue."""
    from r2v.worker.cluster import ClusterWorker
    from r2v.worker.watchdog import RenderLimits

    parts = build(settings, connections=concurrency + 4)  # renders, the queue's upkeep, a spare
    limits = RenderLimits(task_timeout_s=settings.task_timeout_s, memory_mb=settings.worker_memory_mb)
    return ClusterWorker(runner=runner_for(parts), queue=parts.queue_factory(), upkeep=janitor_for(parts).sweep,
                         concurrency=concurrency, per_owner_running=settings.max_running_per_key, limits=limits,
                         observe=metrics.observe if metrics else None,
                         rendering=metrics.rendering if metrics else contextlib.nullcontext)  # fmt: skip


def upkeep_queue(parts: Components):
    """An API process of the cluster takes part in the upkeep (retention, recovery) without rendering."""
    queue = parts.queue_factory()
    return queue, janitor_for(parts).sweep


def worker_pool(parts: Components):
    """The render worker processes of `r2v serve`; each builds its own runner (build_runner) once started."""
    from r2v.worker.pool import PoolOptions, WorkerPool

    s = parts.settings
    options = PoolOptions(workers=s.workers, memory_mb=s.worker_memory_mb, task_timeout_s=s.task_timeout_s,
                          max_running_per_key=s.max_running_per_key, poll_interval_s=s.poll_interval_s)  # fmt: skip
    return WorkerPool(options, parts.clock, parts.tasks, functools.partial(build_runner, s))
