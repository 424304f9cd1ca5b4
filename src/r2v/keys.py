"""API keys: the KeyStore port, and the keys every store answers besides its own (R2V_API_KEYS).

Keys are stored only as SHA-256 hashes. They are 256-bit random tokens, so a fast hash is the right tool (a slow
password hash buys nothing against guessing and would cost every request)."""

from __future__ import annotations

import hashlib
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def env_key_id(key: str) -> str:
    return "env-" + hash_key(key)[:16]


def new_key() -> str:
    return "sk-" + secrets.token_hex(24)


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown of a stored key: never the key, nor its hash."""

    key_id: str
    name: str
    created_ms: int
    revoked_ms: int | None = None  # when it was revoked; None while it is accepted


class KeyStore(ABC):
    @abstractmethod
    def resolve(self, key: str) -> str | None:
        """The key's id, or None for an unknown or revoked key."""

    @abstractmethod
    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        """(key id, the key itself: shown once, never stored)."""

    @abstractmethod
    def has_any(self) -> bool:
        """Whether any key would be accepted."""

    @abstractmethod
    def list(self) -> list[KeyInfo]:
        """Every stored key, revoked ones too, oldest first."""

    @abstractmethod
    def revoke(self, key_id: str, now_ms: int) -> KeyInfo | None:
        """Refuse the key from now on, in every process; the key as it is afterwards (a key revoked before keeps
        its first revocation time), or None when no stored key has this id."""


class ServingKeys(KeyStore):
    """A store's keys plus a development list (R2V_API_KEYS). Every stored key is looked up in the store on each
    request (one indexed read), never remembered: a key revoked by `r2v keys revoke`, from any machine, is refused
    at once by every API process. The development keys live in the environment and cannot be revoked."""

    def __init__(self, store: KeyStore, env_keys: list[str] | tuple[str, ...] = ()):
        self.store = store
        self._env = {hash_key(k): env_key_id(k) for k in env_keys if k}

    def resolve(self, key: str) -> str | None:
        return self._env.get(hash_key(key)) or self.store.resolve(key)

    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        return self.store.create(name, now_ms)

    def has_any(self) -> bool:
        return bool(self._env) or self.store.has_any()

    def list(self) -> list[KeyInfo]:
        return self.store.list()

    def revoke(self, key_id: str, now_ms: int) -> KeyInfo | None:
        return self.store.revoke(key_id, now_ms)


class AnyKey(KeyStore):
    """The emulator's keys when none is configured (`r2v serve --emulate` with no R2V_API_KEYS and no stored key):
    every non-empty key is accepted, each as its own tenant, as moto and LocalStack take any credentials, so that an
    app's tests run with whatever dummy key they hold. A request without a key is still refused."""

    def __init__(self, store: KeyStore):
        self.store = store

    def resolve(self, key: str) -> str | None:
        return env_key_id(key) if key else None

    def create(self, name: str, now_ms: int) -> tuple[str, str]:
        return self.store.create(name, now_ms)

    def has_any(self) -> bool:
        return True

    def list(self) -> list[KeyInfo]:
        return self.store.list()

    def revoke(self, key_id: str, now_ms: int) -> KeyInfo | None:
        return self.store.revoke(key_id, now_ms)
