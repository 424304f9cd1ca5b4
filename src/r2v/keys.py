"""API keys: the KeyStore port, and the keys every store answers besides its own (R2V_API_KEYS).

Keys are stored only as SHA-256 hashes. They are 256-bit random tokens, so a fast hash is the right tool (a slow
password hash buys nothing against guessing and would cost every request)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from abc import ABC, abstractmethod


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def env_key_id(key: str) -> str:
    return "env-" + hash_key(key)[:16]


def new_key() -> str:
    return "sk-" + secrets.token_hex(24)


class KeyStore(ABC):
    @abstractmethod
    def resolve(self, key: str) -> str | None:
        """The key's id, or None for an unknown key."""

    @abstractmethod
    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        """(key id, the key itself: shown once, never stored)."""

    @abstractmethod
    def has_any(self) -> bool:
        """Whether any key would be accepted."""


class ServingKeys(KeyStore):
    """A store's keys plus a development list (R2V_API_KEYS), with the ids of keys already seen kept in memory:
    keys are never revoked while a server runs, so a known key costs no database call."""

    def __init__(self, store: KeyStore, env_keys: list[str] | tuple[str, ...] = ()):
        self.store = store
        self._env = {hash_key(k): env_key_id(k) for k in env_keys if k}
        self._seen: dict[str, str] = {}  # hash -> id
        self._lock = threading.Lock()

    def resolve(self, key: str) -> str | None:
        digest = hash_key(key)
        found = self._env.get(digest) or self._seen.get(digest)
        if found:
            return found
        found = self.store.resolve(key)
        if found:
            with self._lock:
                self._seen[digest] = found
        return found

    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        return self.store.create(name, now_ms)

    def has_any(self) -> bool:
        return bool(self._env) or self.store.has_any()
