"""The animatic engine: a voiced, multi-shot previsualisation of the director's Storyboard, built from the
references themselves (cut-out subjects over the shot's background, camera moves, cuts, talking speakers)."""

from r2v.engines.animatic.engine import AnimaticEngine

__all__ = ["AnimaticEngine"]
