"""Child processes that must not outlive their parent (render workers, probe sandboxes), and their names."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


def _prctl(option: int, argument) -> None:
    """Linux's prctl(2); nothing elsewhere."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, argument)
    except OSError:  # not Linux
        pass


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere: callers also check their parent
    pid where it matters)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def set_process_name(name: str) -> None:
    """The name ps and top show (/proc/PID/comm, at most 15 bytes), so that an operator can tell processes apart."""
    _prctl(PR_SET_NAME, name.encode()[:15])
