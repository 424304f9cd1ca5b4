"""Settings: one typed object built from the command line and the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from r2v.protocol.catalog import DEFAULT_REGION, MODELS, REGIONS

DEFAULT_ENGINE = "reel"


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _engine_map() -> dict[str, str]:
    """R2V_ENGINES="wan2.7-r2v=wan,wan2.6-r2v=reel": which engine renders which model (default: reel)."""
    mapping = dict.fromkeys(MODELS, DEFAULT_ENGINE)
    for item in _env_list("R2V_ENGINES"):
        model, _, engine = item.partition("=")
        if model.strip() in mapping and engine.strip():
            mapping[model.strip()] = engine.strip()
    return mapping


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("R2V_DATA_DIR", ".r2v-data")))
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    region: str = DEFAULT_REGION
    public_url: str | None = None  # base of video_url / upload_host; default: the Host the client used
    api_keys: tuple[str, ...] = field(default_factory=lambda: _env_list("R2V_API_KEYS"))
    allow_private_urls: bool = field(default_factory=lambda: _env_flag("R2V_ALLOW_PRIVATE_URLS"))
    engines: dict[str, str] = field(default_factory=_engine_map)
    max_running_per_key: int = 5
    poll_interval_s: float = 0.2

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r}; one of {', '.join(REGIONS)}")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "r2v.sqlite3"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "files"

    def secret(self) -> bytes:
        """The signing secret, made once per data dir so that signed URLs survive restarts."""
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        return path.read_bytes()
