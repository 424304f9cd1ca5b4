"""The generative engine: open Wan VACE models (diffusers) on the user's GPU. Needs the `wan` extra (torch,
diffusers, transformers); nothing here is imported unless an engine named "wan" is configured."""

from r2v.engines.wan.engine import WanEngine

__all__ = ["WanEngine"]
