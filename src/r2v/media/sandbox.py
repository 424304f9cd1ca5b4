"""Probing untrusted files in a child process under a time and memory limit.

A decoder fed a hostile file may hang, allocate without bound or crash. Here it does so in a short-lived
process (`python -m r2v.media.sandbox FILE FIELD`) with an address-space limit, a CPU-time limit, a wall-clock
timeout, no core dumps and no file writes; whatever happens to it ends as a TaskFailure naming the field,
and the worker that asked carries on."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from r2v.errors import UNSUPPORTED_FILE_FORMAT, TaskFailure
from r2v.lifetime import die_with_parent

MB = 1024 * 1024
MEMORY_EXIT = 3  # the child's exit status when the memory limit stopped it


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 30.0
    memory_mb: int = 2048


def _limit_self(memory_mb: int, cpu_s: int) -> None:
    """In the child, before any decoder is loaded (a preexec_fn is unsafe in the threaded worker)."""
    die_with_parent()  # a worker killed mid-probe takes its probe with it
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * MB, memory_mb * MB))
    # SIGXCPU at the soft limit (it ends the child, reported as too slow); SIGKILL a second later, should the
    # signal be caught. With soft == hard the kernel sends SIGKILL first, reported as a crash instead.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    os.nice(5)


def probe_isolated(path: Path, field: str, limits: SandboxLimits):
    """probe(path, field) -> MediaInfo, run in a limited child process."""
    from r2v.media.info import MediaInfo

    cpu_s = int(limits.timeout_s) + 1
    command = [sys.executable, "-m", "r2v.media.sandbox", str(limits.memory_mb), str(cpu_s), str(path), field]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(command, capture_output=True, timeout=limits.timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise TaskFailure(
            UNSUPPORTED_FILE_FORMAT, f"{field}: decoding the file took longer than {limits.timeout_s:g} s"
        ) from None
    if done.returncode == 0:
        answer = json.loads(done.stdout)
        if "failure" in answer:
            raise TaskFailure(answer["failure"]["code"], answer["failure"]["message"])
        return MediaInfo(**answer["info"])
    if done.returncode < 0 and -done.returncode == signal.SIGXCPU:
        reason = f"decoding the file took longer than {limits.timeout_s:g} s of CPU time"
    elif done.returncode == MEMORY_EXIT or b"MemoryError" in done.stderr:
        reason = f"decoding the file needs more than {limits.memory_mb} MB of memory"
    elif done.returncode < 0:
        reason = f"the file crashed the decoder ({signal.Signals(-done.returncode).name})"
    else:
        reason = "the file cannot be decoded"
    raise TaskFailure(UNSUPPORTED_FILE_FORMAT, f"{field}: {reason}")


def main(argv: list[str]) -> int:
    memory_mb, cpu_s, path, field = int(argv[0]), int(argv[1]), Path(argv[2]), argv[3]
    _limit_self(memory_mb, cpu_s)
    from r2v.media.probe import probe

    try:
        answer: dict = {"info": asdict(probe(path, field))}
    except TaskFailure as failure:
        answer = {"failure": {"code": failure.code, "message": failure.message}}
    except MemoryError:
        return MEMORY_EXIT
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
