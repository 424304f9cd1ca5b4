"""The embedded default's database: one SQLite file in WAL mode, shared by the server and its workers, holding
tasks (and the queue), API keys and uploads."""

from r2v.backends.sqlite.database import Database
from r2v.backends.sqlite.keys import SqliteKeyStore
from r2v.backends.sqlite.tasks import SqliteTaskStore
from r2v.backends.sqlite.uploads import SqliteUploadRegistry

__all__ = ["Database", "SqliteKeyStore", "SqliteTaskStore", "SqliteUploadRegistry"]
