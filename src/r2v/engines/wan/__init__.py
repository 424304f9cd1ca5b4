"""The generative engine: open Wan VACE models (diffusers) on the user's GPU. Needs the `wan` extra (torch,
diffusers, transformers), which is imported only when the engine itself is (engine.py); options.py is light."""

from __future__ import annotations


def __getattr__(name: str):
    if name == "WanEngine":  # `from r2v.engines.wan import WanEngine` loads torch and diffusers, on demand
        from r2v.engines.wan.engine import WanEngine

        return WanEngine
    raise AttributeError(name)
