"""A diffusers-format Wan VACE folder on local disk: checked without importing anything heavy (so that the API
process of `r2v serve` can refuse a wrong folder at startup), then loaded, in a worker, with the hub switched off.
Outside engines/ on purpose: importing the engines package would load decoders into the API process."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

PIPELINE_CLASS = "WanVACEPipeline"
PARTS = ("tokenizer", "text_encoder", "vae", "transformer", "scheduler")


class ModelFolderError(ValueError):
    """The folder is missing or is not a Wan VACE pipeline; the message says what to fix."""


HINTS_FILE = "r2v.json"  # optional: r2v's defaults for this folder, e.g. {"resolution": "96x64"} (make-tiny writes it)


@dataclass(frozen=True)
class FolderInfo:
    path: Path
    two_experts: bool  # Wan2.2: a transformer for high noise and one (transformer_2) for low noise
    resolution: str | None = None  # the folder's own native size, when its r2v.json says


def check_folder(path: Path | str | None) -> FolderInfo:
    if not path:
        raise ModelFolderError("the wan engine needs a model folder: --wan-model-dir DIR or R2V_WAN_MODEL_DIR")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelFolderError(f"wan model folder {folder} does not exist")
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        raise ModelFolderError(f"{folder} is not a diffusers pipeline folder: it has no model_index.json")
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{index_file} cannot be read: {exc}") from None
    if index.get("_class_name") != PIPELINE_CLASS:
        raise ModelFolderError(f"{folder} holds a {index.get('_class_name')!r}, not a {PIPELINE_CLASS} (Wan VACE)")
    missing = [part for part in PARTS if not (folder / part).is_dir()]
    if missing:
        raise ModelFolderError(f"{folder} lacks the part(s) {', '.join(missing)}")
    two = bool(index.get("transformer_2") and index["transformer_2"][0] is not None)
    if two and not (folder / "transformer_2").is_dir():
        raise ModelFolderError(f"{folder} names a transformer_2 (Wan2.2) but has no transformer_2 folder")
    hints = {}
    if (folder / HINTS_FILE).is_file():
        try:
            hints = json.loads((folder / HINTS_FILE).read_text())
        except ValueError as exc:
            raise ModelFolderError(f"{folder / HINTS_FILE} is not JSON: {exc}") from None
    return FolderInfo(folder, two, hints.get("resolution"))


def load_pipeline(info: FolderInfo, device: str, dtype_name: str):
    """The pipeline from disk only (HF_HUB_OFFLINE, local_files_only): nothing is fetched from anywhere."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # read by huggingface_hub when it is first imported, and by child processes
    import huggingface_hub.constants

    huggingface_hub.constants.HF_HUB_OFFLINE = True  # in case it was imported before: every request checks this
    import torch
    from diffusers import WanVACEPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging in (diffusers_logging, transformers_logging):  # no progress bars in a server's log
        logging.disable_progress_bar()
        logging.set_verbosity_error()

    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[dtype_name]
    try:
        return WanVACEPipeline.from_pretrained(info.path, torch_dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFolderError(f"{info.path} could not be loaded as a {PIPELINE_CLASS}: {exc}") from None
