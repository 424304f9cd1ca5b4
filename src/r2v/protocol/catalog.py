"""Models, regions and output sizes, as the spec's tables give them."""

from __future__ import annotations

from dataclasses import dataclass

GEN_27 = "wan2.7"  # the "media" protocol
GEN_26 = "wan2.6"  # the legacy "reference_urls" protocol

REGIONS = ("cn-beijing", "ap-southeast-1", "us-east-1")
DEFAULT_REGION = "cn-beijing"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    generation: str
    regions: tuple[str, ...]
    can_mute: bool = False  # wan2.6-r2v-flash: parameters.audio=false gives a silent video


MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("wan2.7-r2v", GEN_27, ("cn-beijing", "ap-southeast-1")),
        ModelInfo("wan2.7-r2v-2026-06-12", GEN_27, ("cn-beijing", "ap-southeast-1")),
        ModelInfo("wan2.6-r2v-flash", GEN_26, ("cn-beijing", "ap-southeast-1"), can_mute=True),
        ModelInfo("wan2.6-r2v", GEN_26, ("cn-beijing", "ap-southeast-1", "us-east-1")),
    )
}


def model_in_region(model: str, region: str) -> ModelInfo | None:
    info = MODELS.get(model)
    if info is None or region not in info.regions:
        return None
    return info


# wan2.7: resolution tier x ratio -> (width, height)
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
SIZES_27: dict[str, dict[str, tuple[int, int]]] = {
    "720P": {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960), "4:3": (1104, 832), "3:4": (832, 1104)},
    "1080P": {
        "16:9": (1920, 1080),
        "9:16": (1080, 1920),
        "1:1": (1440, 1440),
        "4:3": (1648, 1248),
        "3:4": (1248, 1648),
    },
}

# wan2.6: the accepted `size` strings and their tier
SIZES_26: dict[str, str] = {
    "1280*720": "720P",
    "720*1280": "720P",
    "960*960": "720P",
    "1088*832": "720P",
    "832*1088": "720P",
    "1920*1080": "1080P",
    "1080*1920": "1080P",
    "1440*1440": "1080P",
    "1632*1248": "1080P",
    "1248*1632": "1080P",
}

FPS = 30
MIN_DURATION, MAX_DURATION = 2, 10
US_EAST_DURATIONS = (5, 10)
MAX_PROMPT_27 = 5000
MAX_PROMPT_26 = 1500
MAX_NEGATIVE_PROMPT = 500
MAX_SEED = 2147483647


def tier_height(resolution: str) -> int:
    return 720 if resolution == "720P" else 1080


def closest_ratio(width: int, height: int) -> str:
    """The spec's ratio whose aspect is closest to width:height (compared in log space, so 2:1 and 1:2 are
    equally far from 1:1)."""
    import math

    target = math.log(width / height)

    def distance(ratio: str) -> float:
        a, b = (int(x) for x in ratio.split(":"))
        return abs(math.log(a / b) - target)

    return min(RATIOS, key=distance)
