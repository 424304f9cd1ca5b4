"""Settings: one typed object built from the command line and the environment."""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from r2v.engines import DEFAULT_ENGINE
from r2v.engines.wan.options import WanOptions
from r2v.media.fetch import FetchPolicy
from r2v.protocol.catalog import DEFAULT_REGION, MODELS, REGIONS
from r2v.ratelimits import RateLimits

# The API key r2v's pytest plugin gives its emulator, and the one the emulator suggests when no key is configured
# (it then accepts any: an emulator guards nothing, and apps' tests need a key they can write down).
EMULATOR_API_KEY = "sk-r2v-emulator"


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {raw!r}")
    if value <= 0:
        raise ValueError(f"{name} must be above 0, got {raw!r}")
    return value


def _env_int(name: str, default: int) -> int:
    """A count (steps, megabytes): a whole number of at least 1; anything else stops startup naming `name`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {raw!r}")
    return value


def _env_off(name: str) -> bool:
    """True when `name` is set to a word for off (0, false, no, off)."""
    return os.environ.get(name, "").strip().lower() in ("0", "false", "no", "off")


def _private_networks() -> tuple[str, ...]:
    if _env_flag("R2V_ALLOW_PRIVATE_URLS") or _env_off("R2V_ALLOW_PRIVATE_URLS"):
        return ()
    return _env_list("R2V_ALLOW_PRIVATE_URLS")


def _engine_map(default: str | None = None) -> dict[str, str]:
    """Which engine renders which model: every model the default engine (R2V_ENGINE, else animatic), then
    R2V_ENGINES="wan2.7-r2v=wan,wan2.6-r2v=animatic" for single models (one server can keep the animatic engine
    as a fallback beside wan)."""
    mapping = dict.fromkeys(MODELS, default or os.environ.get("R2V_ENGINE") or DEFAULT_ENGINE)
    for item in _env_list("R2V_ENGINES"):
        model, _, engine = (part.strip() for part in item.partition("="))
        if model not in mapping or not engine:  # a typo must not quietly leave a model on another engine
            raise ValueError(f"R2V_ENGINES: {item!r} is not MODEL=ENGINE with a model among {', '.join(MODELS)}")
        mapping[model] = engine
    return mapping


def wan_options_from_env() -> WanOptions:
    """The wan engine's options from the R2V_WAN_* variables (unset ones keep WanOptions' defaults)."""
    defaults = WanOptions()
    model_dir = os.environ.get("R2V_WAN_MODEL_DIR")
    return WanOptions(
        model_dir=Path(model_dir) if model_dir else None,
        steps=_env_int("R2V_WAN_STEPS", defaults.steps),
        shift=_env_float("R2V_WAN_SHIFT", 0.0) or None,
        resolution=os.environ.get("R2V_WAN_RESOLUTION") or None,
        guidance=_env_float("R2V_WAN_GUIDANCE", defaults.guidance),
        device=os.environ.get("R2V_WAN_DEVICE", defaults.device),
        offload=_env_flag("R2V_WAN_OFFLOAD"),
        compile=_env_flag("R2V_WAN_COMPILE"),
        attention=os.environ.get("R2V_WAN_ATTENTION") or None,
        cache=os.environ.get("R2V_WAN_CACHE") or None,
        cache_threshold=_env_float("R2V_WAN_CACHE_THRESHOLD", defaults.cache_threshold),
        batched_guidance=not _env_off("R2V_WAN_BATCHED_CFG"),
    )


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("R2V_DATA_DIR", ".r2v-data")))
    # Where tasks, keys and uploads are kept, and where files are (wiring.py opens the backend each names):
    # default sqlite:///<data-dir>/r2v.sqlite3 and file:///<data-dir>/files.
    database_url: str | None = field(default_factory=lambda: os.environ.get("R2V_DATABASE_URL") or None)
    storage_url: str | None = field(default_factory=lambda: os.environ.get("R2V_STORAGE_URL") or None)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    region: str = DEFAULT_REGION
    public_url: str | None = None  # base of video_url / upload_host; default: the Host the client used
    api_keys: tuple[str, ...] = field(default_factory=lambda: _env_list("R2V_API_KEYS"))
    # R2V_ALLOW_PRIVATE_URLS: "1" lets downloads reach any address; a list of networks, only those.
    allow_private_urls: bool = field(default_factory=lambda: _env_flag("R2V_ALLOW_PRIVATE_URLS"))
    private_url_networks: tuple[str, ...] = field(default_factory=_private_networks)
    engines: dict[str, str] = field(default_factory=_engine_map)
    wan: WanOptions = field(default_factory=wan_options_from_env)
    # Downloads of input URLs (media/fetch.py).
    url_allow_hosts: tuple[str, ...] = field(default_factory=lambda: _env_list("R2V_URL_ALLOW_HOSTS"))
    fetch_connect_timeout_s: float = field(default_factory=lambda: _env_float("R2V_FETCH_CONNECT_TIMEOUT_S", 10.0))
    fetch_timeout_s: float = field(default_factory=lambda: _env_float("R2V_FETCH_TIMEOUT_S", 120.0))
    # Per-key request limits (api/ratelimit.py); R2V_RATE_LIMITS=off switches all of them off.
    rate_limits: RateLimits = field(default_factory=lambda: RateLimits.parse(os.environ.get("R2V_RATE_LIMITS", "")))
    # Untrusted decoding (media/sandbox.py) and rendering (worker/pool.py) run under these limits.
    probe_timeout_s: float = field(default_factory=lambda: _env_float("R2V_PROBE_TIMEOUT_S", 30.0))
    probe_memory_mb: int = field(default_factory=lambda: _env_int("R2V_PROBE_MEMORY_MB", 2048))
    task_timeout_s: float = field(default_factory=lambda: _env_float("R2V_TASK_TIMEOUT_S", 1800.0))
    worker_memory_mb: int = field(default_factory=lambda: _env_int("R2V_WORKER_MEMORY_MB", 16384))
    # Content moderation (moderation.py): a file of words, one per line; unset = off.
    moderation_words_file: Path | None = field(
        default_factory=lambda: Path(p) if (p := os.environ.get("R2V_MODERATION_WORDS_FILE")) else None
    )
    # prompt_extend by an OpenAI-compatible chat endpoint (director/rewrite.py); unset: the plan's own script.
    prompt_extend_url: str | None = field(default_factory=lambda: os.environ.get("R2V_PROMPT_EXTEND_URL") or None)
    prompt_extend_model: str = field(default_factory=lambda: os.environ.get("R2V_PROMPT_EXTEND_MODEL", "gpt-4o-mini"))
    prompt_extend_key: str | None = field(default_factory=lambda: os.environ.get("R2V_PROMPT_EXTEND_KEY") or None)
    # An r2v extension: cancel also stops RUNNING tasks (the cloud refuses: only PENDING ones can be canceled).
    cancel_running: bool = field(default_factory=lambda: _env_flag("R2V_CANCEL_RUNNING"))
    poll_interval_s: float = 0.2

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.database_url = self.database_url or f"sqlite://{self.data_dir / 'r2v.sqlite3'}"
        self.storage_url = self.storage_url or f"file://{self.data_dir / 'files'}"
        if self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r}; one of {', '.join(REGIONS)}")
        if self.workers < 0:
            raise ValueError("--workers must not be negative")
        self.fetch_policy()  # a bad network list is a startup error, not a failed task later

    @property
    def max_running_per_key(self) -> int | None:
        return self.rate_limits.running

    def fetch_policy(self) -> FetchPolicy:
        try:
            networks = tuple(ipaddress.ip_network(n, strict=False) for n in self.private_url_networks)
        except ValueError as exc:
            raise ValueError(f"R2V_ALLOW_PRIVATE_URLS: {exc}") from None
        return FetchPolicy(
            allow_private=self.allow_private_urls,
            private_networks=networks,
            allow_hosts=tuple(h.lower().rstrip(".") for h in self.url_allow_hosts),
            connect_timeout_s=self.fetch_connect_timeout_s,
            total_timeout_s=self.fetch_timeout_s,
        )

    @property
    def scratch_dir(self) -> Path:
        """This machine's room for files in progress (a render's inputs and output, an upload being checked)."""
        return self.data_dir / "scratch"

    def secret(self) -> bytes:
        """The signing secret, made once per data dir so that signed URLs survive restarts."""
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Written under a temporary name and linked into place: of processes starting at once, exactly one
            # secret wins, and no process can read a half-written one.
            part = path.with_name(f".secret.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            try:
                os.link(part, path)  # fails if another process's secret got there first: then that one is used
            except FileExistsError:
                pass
            finally:
                os.unlink(part)
        return path.read_bytes()
