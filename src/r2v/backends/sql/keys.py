"""KeyStore in SQL: a key's id and name beside the SHA-256 of the key.

Revoking keeps the row and replaces its hash with `revoked:<ms>:<hash>`: no key hashes to that, so the key is
refused from the next request on, the list still shows it and when it was revoked, and neither schema (SQLite's,
PostgreSQL's) needs a column more, so databases made before revocation existed need no migration."""

from __future__ import annotations

import uuid

from r2v.backends.sql.database import SqlDatabase
from r2v.keys import KeyInfo, KeyStore, hash_key, new_key

_REVOKED = "revoked:"


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
        """Whether a stored key is accepted (revoked ones are not)."""
        found = self.db.execute("SELECT 1 AS yes FROM api_keys WHERE key_hash NOT LIKE ? LIMIT 1", (_REVOKED + "%",))
        return found.fetchone() is not None

    def list(self) -> list[KeyInfo]:
        rows = self.db.execute("SELECT key_id, name, key_hash, created_ms FROM api_keys ORDER BY created_ms, key_id")
        return [_info(row) for row in rows.fetchall()]

    def revoke(self, key_id: str, now_ms: int) -> KeyInfo | None:
        # One statement: two processes revoking the same key at once mark it once, and the first time stays.
        self.db.execute(
            "UPDATE api_keys SET key_hash = ? || key_hash WHERE key_id = ? AND key_hash NOT LIKE ?",
            (f"{_REVOKED}{now_ms}:", key_id, _REVOKED + "%"),
        )
        row = self.db.execute(
            "SELECT key_id, name, key_hash, created_ms FROM api_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        return _info(row) if row else None


def _info(row: dict) -> KeyInfo:
    revoked = None
    if row["key_hash"].startswith(_REVOKED):
        revoked = int(row["key_hash"].split(":", 2)[1])
    return KeyInfo(key_id=row["key_id"], name=row["name"], created_ms=int(row["created_ms"]), revoked_ms=revoked)
