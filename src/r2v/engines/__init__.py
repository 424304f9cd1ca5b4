"""Engines: the Engine port (base.py) and its implementations, built by name.

Importing this package loads no decoder and no model library: an engine's module (and with it PyAV, OpenCV, torch
or diffusers) is imported only when the engine is first built, in a worker."""

from __future__ import annotations

from r2v.engines.base import Engine
from r2v.engines.wan.options import WanOptions

ENGINE_NAMES = ("animatic", "emulated", "reel", "wan")
DEFAULT_ENGINE = "animatic"


def get_engine(name: str, wan: WanOptions | None = None) -> Engine:
    """The engine registered under `name` (configuration maps model names to engine names)."""
    if name == "animatic":
        from r2v.engines.animatic import AnimaticEngine

        return AnimaticEngine()
    if name == "emulated":
        from r2v.engines.emulated import EmulatedEngine

        return EmulatedEngine()
    if name == "reel":
        from r2v.engines.reel import ReelEngine

        return ReelEngine()
    if name == "wan":
        from r2v.engines.wan.engine import WanEngine

        if wan is None:
            raise ValueError("the wan engine needs its options (a model folder)")
        return WanEngine(wan)
    raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINE_NAMES)}")


class EngineSet:
    """The engines of one process, by model: each is built when first needed and then kept (a model engine keeps
    its weights loaded), and a model without an engine of its own gets `default`."""

    def __init__(self, by_model: dict[str, str], default: str = DEFAULT_ENGINE, wan: WanOptions | None = None):
        self.by_model, self.default, self.wan = by_model, default, wan
        self._built: dict[str, Engine] = {}

    def for_model(self, model: str) -> Engine:
        name = self.by_model.get(model, self.default)
        if name not in self._built:
            self._built[name] = get_engine(name, self.wan)
        return self._built[name]

    def warm_up(self) -> None:
        """Load and warm every configured engine now, so that the first task does not wait for it."""
        for model in [*self.by_model, ""]:  # "" stands for any other model: the default engine
            self.for_model(model).warm_up()
