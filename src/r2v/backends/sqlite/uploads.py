"""UploadRegistry on the embedded SQLite database: the object key is the primary key, so a second upload to the
same key is refused by the database itself."""

from __future__ import annotations

import sqlite3

from r2v.backends.sqlite.database import Database
from r2v.storage.uploads import UPLOAD_TTL_MS, UploadRegistry, already_exists


class SqliteUploadRegistry(UploadRegistry):
    def __init__(self, db: Database):
        self.db = db

    def add(self, object_key: str, owner: str, blob_name: str, size: int, now_ms: int) -> None:
        try:
            self.db.execute(
                "INSERT INTO uploads (object_key, owner, path, size, created_ms) VALUES (?, ?, ?, ?, ?)",
                (object_key, owner, blob_name, size, now_ms),
            )
        except sqlite3.IntegrityError:
            raise already_exists() from None

    def delete_expired(self, now_ms: int) -> list[str]:
        rows = self.db.execute(
            "DELETE FROM uploads WHERE created_ms < ? RETURNING path", (now_ms - UPLOAD_TTL_MS,)
        ).fetchall()
        return [r["path"] for r in rows]

    def remove(self, object_key: str) -> None:
        self.db.execute("DELETE FROM uploads WHERE object_key = ?", (object_key,))

    def exists(self, object_key: str) -> bool:
        return self.db.execute("SELECT 1 FROM uploads WHERE object_key = ?", (object_key,)).fetchone() is not None

    def find(self, object_key: str, owner: str, now_ms: int) -> str | None:
        row = self.db.execute(
            "SELECT path FROM uploads WHERE object_key = ? AND owner = ? AND created_ms >= ?",
            (object_key, owner, now_ms - UPLOAD_TTL_MS),
        ).fetchone()
        return row["path"] if row else None
