"""API keys: stored only as SHA-256 hashes, plus an optional development list from R2V_API_KEYS.

Keys are 256-bit random tokens, so a fast hash is the right tool (a slow password hash buys nothing against
guessing and would cost every request)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from abc import ABC, abstractmethod

from r2v.db import Database


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def env_key_id(key: str) -> str:
    return "env-" + hash_key(key)[:16]


class KeyStore(ABC):
    @abstractmethod
    def resolve(self, key: str) -> str | None:
        """The key's id, or None for an unknown key."""

    @abstractmethod
    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        """(key id, the key itself: shown once, never stored)."""


class SqliteKeyStore(KeyStore):
    def __init__(self, db: Database, env_keys: list[str] | tuple[str, ...] = ()):
        self.db = db
        self._env = {hash_key(k): env_key_id(k) for k in env_keys if k}
        self._cache: dict[str, str] = {}  # hash -> id of keys seen valid; keys are never revoked while serving

    def resolve(self, key: str) -> str | None:
        digest = hash_key(key)
        found = self._env.get(digest) or self._cache.get(digest)
        if found:
            return found
        row = self.db.execute("SELECT key_id FROM api_keys WHERE key_hash = ?", (digest,)).fetchone()
        if row is None:
            return None
        self._cache[digest] = row["key_id"]
        return row["key_id"]

    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        key = "sk-" + secrets.token_hex(24)
        key_id = str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO api_keys (key_id, name, key_hash, created_ms) VALUES (?, ?, ?, ?)",
            (key_id, name, hash_key(key), now_ms),
        )
        return key_id, key

    def has_any(self) -> bool:
        return bool(self._env) or self.db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None
