"""The wan engine's options: where the weights are and how to run them (config.py fills them from R2V_WAN_*)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WanOptions:
    model_dir: Path | None = None  # a local diffusers Wan VACE folder
    steps: int = 30
    # The flow-matching shift of the scheduler; None keeps the folder's (Wan: 3.0 for 480P, 5.0 for 720P).
    shift: float | None = None
    # The native size: 480P, 720P or WxH (an area); None: the folder's r2v.json, else 480P.
    resolution: str | None = None
    guidance: float = 5.0
    max_references: int = 3
    fps: int = 16  # Wan's native frame rate
    device: str = "auto"  # auto: CUDA when there is one
    offload: bool = False  # CPU offload, for small GPUs
    compile: bool = False  # torch.compile the transformer
    # Attention kernel (diffusers' backends: flash, _native_cudnn, sage...); None: PyTorch's SDPA picks one.
    attention: str | None = None
    # Training-free step cache: "first-block" skips the rest of the transformer on steps whose first block's
    # output barely changed (relative change under cache_threshold); None: off.
    cache: str | None = None
    cache_threshold: float = 0.05
    # Classifier-free guidance's two passes as one batch of two (batched_guidance.py); not with offload.
    batched_guidance: bool = True
