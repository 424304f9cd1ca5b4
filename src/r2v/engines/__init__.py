"""Engines: the Engine port and its implementations. Only the worker imports this package, never the HTTP layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from r2v.config import ENGINE_NAMES as ENGINES
from r2v.engines.base import Engine

if TYPE_CHECKING:
    from r2v.config import WanOptions


def get_engine(name: str, wan: WanOptions | None = None) -> Engine:
    """The engine registered under `name` (configuration maps model names to engine names)."""
    if name == "animatic":
        from r2v.engines.animatic import AnimaticEngine

        return AnimaticEngine()
    if name == "reel":
        from r2v.engines.reel import ReelEngine

        return ReelEngine()
    if name == "wan":
        from r2v.config import WanOptions
        from r2v.engines.wan import WanEngine

        return WanEngine(wan or WanOptions())
    raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
