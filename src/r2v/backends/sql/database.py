"""What the SQL stores need of a database, whichever it is (SQLite, PostgreSQL)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol


class Result:
    """The rows (as dicts) and row count of one statement, already fetched."""

    def __init__(self, rows: list[dict[str, Any]], rowcount: int):
        self.rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[dict[str, Any]]:
        return self.rows


class Executor(Protocol):
    def execute(self, sql: str, params: tuple = ()) -> Result:
        """Run one statement written with `?` placeholders and fetch its rows."""


class SqlDatabase(Executor, Protocol):
    integrity_error: type[Exception]  # what a broken unique constraint raises
    insertion_order: str  # a column that orders rows by insertion (SQLite's rowid, a PostgreSQL sequence)

    def transaction(self) -> AbstractContextManager[Executor]:
        """Statements that commit together, or not at all."""
