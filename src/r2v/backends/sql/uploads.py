"""UploadRegistry in SQL: the object key is the primary key, so a second upload to the
same key is refused by the database itself."""

from __future__ import annotations

from r2v.backends.sql.database import SqlDatabase
from r2v.storage.uploads import UPLOAD_TTL_MS, UploadRegistry, already_exists


class SqlUploadRegistry(UploadRegistry):
    def __init__(self, db: SqlDatabase):
        self.db = db

    def add(self, object_key: str, owner: str, blob_name: str, size: int, now_ms: int) -> None:
        try:
            self.db.execute(
                "INSERT INTO uploads (object_key, owner, path, size, created_ms) VALUES (?, ?, ?, ?, ?)",
                (object_key, owner, blob_name, size, now_ms),
            )
        except self.db.integrity_error:
            raise already_exists() from None

    def delete_expired(self, now_ms: int) -> list[str]:
        rows = self.db.execute(
            "DELETE FROM uploads WHERE created_ms < ? RETURNING path", (now_ms - UPLOAD_TTL_MS,)
        ).fetchall()
        return [r["path"] for r in rows]

    def remove(self, object_key: str) -> None:
        self.db.execute("DELETE FROM uploads WHERE object_key = ?", (object_key,))

    def exists(self, object_key: str) -> bool:
        row = self.db.execute("SELECT 1 AS yes FROM uploads WHERE object_key = ?", (object_key,)).fetchone()
        return row is not None

    def find(self, object_key: str, owner: str, now_ms: int) -> str | None:
        row = self.db.execute(
            "SELECT path FROM uploads WHERE object_key = ? AND owner = ? AND created_ms >= ?",
            (object_key, owner, now_ms - UPLOAD_TTL_MS),
        ).fetchone()
        return row["path"] if row else None
