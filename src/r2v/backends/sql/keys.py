"""KeyStore in SQL: a key's id and name beside the SHA-256 of the key."""

from __future__ import annotations

import uuid

from r2v.backends.sql.database import SqlDatabase
from r2v.keys import KeyStore, hash_key, new_key


class SqlKeyStore(KeyStore):
    def __init__(self, db: SqlDatabase):
        self.db = db

    def resolve(self, key: str) -> str | None:
        row = self.db.execute("SELECT key_id FROM api_keys WHERE key_hash = ?", (hash_key(key),)).fetchone()
        return row["key_id"] if row else None

    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        key, key_id = new_key(), str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO api_keys (key_id, name, key_hash, created_ms) VALUES (?, ?, ?, ?)",
            (key_id, name, hash_key(key), now_ms),
        )
        return key_id, key

    def has_any(self) -> bool:
        return self.db.execute("SELECT 1 AS yes FROM api_keys LIMIT 1").fetchone() is not None
