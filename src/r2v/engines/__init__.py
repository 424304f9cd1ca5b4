"""Engines: the Engine port and its implementations. Only the worker imports this package, never the HTTP layer."""

from r2v.engines.base import Engine


def get_engine(name: str) -> Engine:
    """The engine registered under `name` (configuration maps model names to engine names)."""
    if name == "reel":
        from r2v.engines.reel import ReelEngine

        return ReelEngine()
    raise ValueError(f"unknown engine {name!r}; available: reel")
