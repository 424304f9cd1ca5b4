"""r2v: a self-hosted, DashScope-compatible Wan reference-to-video service."""

__version__ = "0.1.0"
