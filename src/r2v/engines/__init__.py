"""Engines: the Engine port and its implementations. Only the worker imports this package, never the HTTP layer."""

from r2v.engines.base import Engine

ENGINES = ("animatic", "reel")


def get_engine(name: str) -> Engine:
    """The engine registered under `name` (configuration maps model names to engine names)."""
    if name == "animatic":
        from r2v.engines.animatic import AnimaticEngine

        return AnimaticEngine()
    if name == "reel":
        from r2v.engines.reel import ReelEngine

        return ReelEngine()
    raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
