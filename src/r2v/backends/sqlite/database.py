"""The embedded SQLite database: one file in the data dir, WAL mode, shared by the server and its workers.

It offers what the SQL stores (backends/sql) ask of a database: `execute` with `?` placeholders, `transaction()`,
and the names of its dialect's few differences."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from r2v.backends.sql.database import Result

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    request_id TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    submit_ms INTEGER NOT NULL,
    scheduled_ms INTEGER,
    end_ms INTEGER,
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
    usage_json TEXT
);
CREATE INDEX IF NOT EXISTS tasks_status_submit ON tasks(status, submit_ms);
CREATE INDEX IF NOT EXISTS tasks_owner_submit ON tasks(owner, submit_ms);
CREATE TABLE IF NOT EXISTS plans (
    task_id TEXT PRIMARY KEY REFERENCES tasks(task_id) ON DELETE CASCADE,
    plan_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cancel_requests (
    task_id TEXT PRIMARY KEY REFERENCES tasks(task_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    object_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
"""


class Database:
    """A connection with a lock: the server's event loop and its helper threads share one connection."""

    integrity_error = sqlite3.IntegrityError
    insertion_order = "rowid"  # what orders rows inserted in the same millisecond

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.lock = threading.RLock()
        with self.lock:
            self.conn.executescript(SCHEMA)

    def execute(self, sql: str, params: tuple | dict = ()) -> Result:
        """Run one statement and fetch its rows while holding the lock, so that no other thread's statement can
        interleave with the reading of this one's results."""
        with self.lock:
            cursor = self.conn.execute(sql, params)
            return Result([dict(row) for row in cursor.fetchall()], cursor.rowcount)

    def transaction(self):
        return _Transaction(self)

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front so that a claim can never race another."""

    def __init__(self, db: Database):
        self.db = db

    def __enter__(self) -> Database:
        self.db.lock.acquire()
        self.db.conn.execute("BEGIN IMMEDIATE")
        return self.db  # its lock is re-entrant: statements inside the transaction go through execute()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.db.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.db.lock.release()
