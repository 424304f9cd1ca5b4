"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` binaries, a data folder in /tmp, loopback only.

Started once per test session on first use (`postgres()`), stopped at exit. Each test asks it for a fresh database
(`new_database()`), so tests never see each other's rows. `stop()` / `start()` on the same folder simulate an
outage (the data survives, as after a real restart). Missing binaries are an error, never a skip: `.ci/run`
installs the package."""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

USER = "postgres"  # initdb refuses to run as root; the binaries run as this account when the tests are root


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: the multi-machine tests need Debian's `postgresql` package "
            "(apt-get install -y postgresql; `make test` installs it when it runs as root)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="r2v-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user = os.geteuid() == 0
        if self._as_user:
            os.chown(self.root, pwd.getpwnam(USER).pw_uid, pwd.getpwnam(USER).pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.start()

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / program), *args]
        if self._as_user:
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        """An abrupt stop (as a crash or a lost machine): connections drop at once."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = "t_" + uuid.uuid4().hex[:12]
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def dump(self, url: str) -> bytes:
        """Every byte a database keeps, as pg_dump writes it (schema and rows)."""
        return self._run("pg_dump", "--data-only", "-d", url).stdout.encode()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_server: PostgresServer | None = None
_lock = threading.Lock()


def postgres() -> PostgresServer:
    """The session's server, started on first use."""
    global _server
    with _lock:
        if _server is None:
            _server = PostgresServer()
            atexit.register(_server.destroy)
        return _server
