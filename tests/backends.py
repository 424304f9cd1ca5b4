"""The backends every port's contract tests run against: one URL each. A new backend (PostgreSQL, S3) adds its
URL here (and, below, how a test can look at what it stored), and every contract suite runs on it too."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from r2v import wiring
from r2v.config import Settings
from tests.pgserver import postgres
from tests.s3server import S3Server

_pg_databases: dict[Path, str] = {}
_buckets: dict[Path, str] = {}
_s3: list[S3Server] = []


def _s3_url(tmp: Path) -> str:
    """A bucket of the session's S3 server (SeaweedFS) for this folder, made on first use. The server starts on
    first use; boto3 finds it through the AWS variables, as `r2v serve` would."""
    if not _s3:
        _s3.append(S3Server().start())
        os.environ.update(_s3[0].env())
    if tmp not in _buckets:
        _buckets[tmp] = f"s3://{_s3[0].new_bucket()}/r2v"
    return _buckets[tmp]


def _objects_under(url: str) -> set[str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return _s3[0].contents(bucket, prefix + "/")


def _postgres_url(tmp: Path) -> str:
    """A database of the session's PostgreSQL server for this folder, made (with its schema) on first use."""
    if tmp not in _pg_databases:
        url = postgres().new_database()
        wiring.upgrade_database(url)
        _pg_databases[tmp] = url
    return _pg_databases[tmp]


# tmp folder -> URL of a fresh, empty backend
DATABASES: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp: f"sqlite://{tmp / 'r2v.sqlite3'}",
    "postgresql": _postgres_url,
}
STORAGES: dict[str, Callable[[Path], str]] = {
    "file": lambda tmp: f"file://{tmp / 'files'}",
    "s3": _s3_url,
}


def components(data_dir: Path, database: str = "sqlite", storage: str = "file",
               api_keys: Iterable[str] = ()) -> wiring.Components:  # fmt: skip
    """The backends named here for `data_dir`, opened by the composition root as `r2v serve` opens them. The same
    `data_dir` again opens the same backends (another connection, as each worker process has); a new one, fresh
    ones. Nothing from the environment's R2V_API_KEYS or words file leaks in."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url=DATABASES[database](data_dir),
                        storage_url=STORAGES[storage](data_dir), api_keys=tuple(api_keys),
                        moderation_words_file=None, workers=0 if database == "postgresql" else 1)  # fmt: skip
    return wiring.build(settings, connections=4)


# --- what a backend holds, seen from outside its port (for the few promises the port cannot show) -------------


def _sqlite_bytes(url: str) -> bytes:
    path = Path("/" + url.removeprefix("sqlite://").lstrip("/"))
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))  # the file, its -wal, -shm


def _files_under(url: str) -> set[str]:
    root = Path(url.removeprefix("file://"))
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# database URL -> every byte it keeps (to show that a secret is not among them)
DATABASE_BYTES: dict[str, Callable[[str], bytes]] = {
    "sqlite": _sqlite_bytes,
    "postgresql": lambda url: postgres().dump(url),
}
# storage URL -> every object it keeps, partial writes included (to show that a crash leaves nothing behind)
STORAGE_CONTENTS: dict[str, Callable[[str], set[str]]] = {"file": _files_under, "s3": _objects_under}
