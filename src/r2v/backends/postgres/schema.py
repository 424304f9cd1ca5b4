"""The PostgreSQL schema: r2v's tables and procrastinate's, created and migrated by `r2v db upgrade`, checked by
every process at start.

r2v's own schema is a numbered list of migrations (r2v_schema.version says how many ran). procrastinate's comes
from its package: its full schema for a new database, then its own migration files, in order, for an older one
(r2v_schema.procrastinate names the last one applied). An upgrade holds an advisory lock, so two processes
upgrading at once do it once; a server or worker refuses to start on a schema older (or newer) than its own."""

from __future__ import annotations

import secrets
from pathlib import Path

from procrastinate.schema import SchemaManager

from r2v.backends.postgres.database import PgDatabase

MIGRATIONS: tuple[str, ...] = (
    # 1: tasks, their plans and cancel requests, API keys, uploads, shared rate-limit buckets, the signing secret
    """
    CREATE TABLE tasks (
        seq BIGSERIAL NOT NULL,
        task_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        request_id TEXT NOT NULL,
        model TEXT NOT NULL,
        status TEXT NOT NULL,
        submit_ms BIGINT NOT NULL,
        scheduled_ms BIGINT,
        end_ms BIGINT,
        spec_json TEXT NOT NULL,
        orig_prompt TEXT NOT NULL,
        actual_prompt TEXT,
        region TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        attempt INTEGER NOT NULL DEFAULT 0,
        worker TEXT,
        code TEXT,
        message TEXT,
        result_name TEXT,
        usage_json TEXT,
        job_id BIGINT
    );
    CREATE INDEX tasks_status_submit ON tasks (status, submit_ms);
    CREATE INDEX tasks_owner_submit ON tasks (owner, submit_ms);
    CREATE TABLE plans (
        task_id TEXT PRIMARY KEY REFERENCES tasks (task_id) ON DELETE CASCADE,
        plan_json TEXT NOT NULL
    );
    CREATE TABLE cancel_requests (
        task_id TEXT PRIMARY KEY REFERENCES tasks (task_id) ON DELETE CASCADE
    );
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE uploads (
        object_key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        path TEXT NOT NULL,
        size BIGINT NOT NULL,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE rate_buckets (
        owner TEXT NOT NULL,
        action TEXT NOT NULL,
        tokens DOUBLE PRECISION NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (owner, action)
    );
    CREATE TABLE r2v_secret (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        secret BYTEA NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_UPGRADE_LOCK = 0x72327601  # pg_advisory_lock key: one upgrade at a time


class SchemaOutdated(ValueError):
    """The database's schema is not the one this r2v runs on (the message says what to do)."""


def _procrastinate_migrations() -> list[Path]:
    return sorted(Path(SchemaManager.get_migrations_path()).glob("*.sql"))


def _procrastinate_mark() -> str:
    """The name of the newest migration this procrastinate ships: its full schema is at that level."""
    return _procrastinate_migrations()[-1].name


def upgrade(db: PgDatabase) -> tuple[int, int]:
    """Create or migrate the schema; idempotent. Returns (r2v version before, after)."""
    with db.transaction() as tx:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_UPGRADE_LOCK,))
        tx.execute("CREATE TABLE IF NOT EXISTS r2v_schema (version INTEGER NOT NULL, procrastinate TEXT NOT NULL)")
        row = tx.execute("SELECT version, procrastinate FROM r2v_schema").fetchone()
        before = row["version"] if row else 0
        if row is None:
            tx.execute("INSERT INTO r2v_schema (version, procrastinate) VALUES (0, '')")
        if before > SCHEMA_VERSION:
            raise SchemaOutdated(_newer(db, before))
        for migration in MIGRATIONS[before:]:
            tx.connection.execute(migration)
        _upgrade_procrastinate(tx, row["procrastinate"] if row else "")
        secret = secrets.token_bytes(32)
        tx.execute("INSERT INTO r2v_secret (id, secret) VALUES (1, ?) ON CONFLICT DO NOTHING", (secret,))
        tx.execute("UPDATE r2v_schema SET version = ?, procrastinate = ?", (SCHEMA_VERSION, _procrastinate_mark()))
    return before, SCHEMA_VERSION


def _upgrade_procrastinate(tx, applied: str) -> None:
    exists = tx.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present").fetchone()["present"]
    if not exists:
        tx.connection.execute(SchemaManager.get_schema())
        return
    for path in _procrastinate_migrations():
        if path.name > applied:  # the files are named by version: their order is the order to apply them in
            tx.connection.execute(path.read_text(encoding="utf-8"))


def check(db: PgDatabase) -> None:
    """Raise SchemaOutdated unless the schema is exactly the one this r2v (and its procrastinate) expects."""
    present = db.execute("SELECT to_regclass('r2v_schema') IS NOT NULL AS present").fetchone()["present"]
    row = db.execute("SELECT version, procrastinate FROM r2v_schema").fetchone() if present else None
    if row is None:
        raise SchemaOutdated(
            f"the database at {db.where} has no r2v schema: run `r2v db upgrade --database {db.where}` first"
        )
    if row["version"] > SCHEMA_VERSION:
        raise SchemaOutdated(_newer(db, row["version"]))
    if row["version"] < SCHEMA_VERSION or row["procrastinate"] != _procrastinate_mark():
        raise SchemaOutdated(
            f"the database at {db.where} has an older schema (version {row['version']}; this r2v needs "
            f"{SCHEMA_VERSION}): run `r2v db upgrade --database {db.where}`"
        )


def _newer(db: PgDatabase, version: int) -> str:
    return (f"the database at {db.where} has schema version {version}, made by a newer r2v than this one "
            f"(version {SCHEMA_VERSION}): upgrade r2v on this machine")  # fmt: skip


def shared_secret(db: PgDatabase) -> bytes:
    """The signing secret every process of the cluster shares (upload policies and file URLs signed by one API
    process verify on any other)."""
    return bytes(db.execute("SELECT secret FROM r2v_secret WHERE id = 1").fetchone()["secret"])
