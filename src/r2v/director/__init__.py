"""The director: a prompt and its references turned into a Storyboard (shots, subjects, backgrounds, dialogue,
timing), the same for every engine. Pure text work, deterministic; grid detection (grid.py) looks at pixels."""

from r2v.director.plan import Cast, direct
from r2v.director.storyboard import Background, Line, Shot, Storyboard

__all__ = ["Background", "Cast", "Line", "Shot", "Storyboard", "direct"]
