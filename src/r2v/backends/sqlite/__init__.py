"""The embedded default's database: one SQLite file in WAL mode, shared by the server and its workers, holding
tasks (and the queue), API keys and uploads. The stores on it are the SQL ones (backends/sql)."""

from r2v.backends.sqlite.database import Database

__all__ = ["Database"]
