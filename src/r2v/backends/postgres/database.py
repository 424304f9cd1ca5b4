"""A PostgreSQL database shared by every API process and worker of a cluster: a psycopg connection pool that offers
what the SQL stores (backends/sql) ask of a database.

Whatever goes wrong with the connection (the server is down, restarting, unreachable) surfaces as
BackendUnavailable within a few seconds, never as a hang: the API answers 503 and recovers by itself once the
server is back, because the pool checks each connection before lending it and reconnects in the background."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from r2v.backends.sql.database import Result
from r2v.errors import BackendUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3  # one connection attempt
POOL_WAIT_S = 4.0  # how long a caller waits for a connection before it is told the database is unavailable
# After a failure, calls fail at once for this long instead of each waiting POOL_WAIT_S: during an outage the API
# answers 503 quickly, and a queue of requests never builds up behind waits that cannot succeed.
FAIL_FAST_S = 1.0
# A dead peer (a lost machine, not a refused connection) is noticed by TCP within this long.
TCP_USER_TIMEOUT_MS = 8000


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{parts.username + '@' if parts.username else ''}{host}{port}{parts.path}"


def _placeholders(sql: str) -> str:
    """The SQL stores write `?` (SQLite's style); psycopg wants `%s` (and a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Executor:
    def __init__(self, conn: psycopg.Connection):
        self.connection = conn  # procrastinate defers its jobs on it, inside the same transaction

    def execute(self, sql: str, params: tuple = ()) -> Result:
        cursor = self.connection.execute(_placeholders(sql), params)
        rows = cursor.fetchall() if cursor.description else []
        return Result(rows, cursor.rowcount)


class PgDatabase:
    integrity_error = psycopg.IntegrityError
    insertion_order = "seq"

    def __init__(self, url: str, max_connections: int = 8):
        self.url = url
        self.where = describe(url)
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            timeout=POOL_WAIT_S,
            open=False,
            check=psycopg_pool.ConnectionPool.check_connection,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": CONNECT_TIMEOUT_S,
                "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
                "keepalives_idle": 5,
                "application_name": "r2v",
            },
            name="r2v",
        )
        self.pool.open(wait=False)
        self._down_until = 0.0

    def _unavailable(self) -> BackendUnavailable:
        return BackendUnavailable(f"the database at {self.where} cannot be reached")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if time.monotonic() < self._down_until:
            raise self._unavailable()
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            self._down_until = time.monotonic() + FAIL_FAST_S
            raise self._unavailable() from exc

    def execute(self, sql: str, params: tuple = ()) -> Result:
        with self._connection() as conn:
            return _Executor(conn).execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[_Executor]:
        with self._connection() as conn, conn.transaction():
            yield _Executor(conn)

    def close(self) -> None:
        self.pool.close()
