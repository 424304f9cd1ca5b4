"""`usage` of a SUCCEEDED task, with the spec's billing rules for both model generations.

Billed seconds = billed input-video seconds + output seconds. Images are free. Input video is capped at 5 s
in all, each reference video at min(actual, 5 s / N), where N counts all reference assets, images and videos
together, for both model generations (the guide's 计费说明); the first frame never counts."""

from __future__ import annotations

from r2v.protocol.catalog import GEN_27, tier_height

PER_VIDEO_CAP = {1: 5.0, 2: 2.5, 3: 1.65, 4: 1.25, 5: 1.0}  # the docs' own numbers (1.65, not 1.666)
INPUT_CAP_S = 5.0


def _number(value: float) -> int | float:
    value = round(value, 2)
    return int(value) if value == int(value) else value


def billed_input_seconds(video_durations: list[float], reference_count: int) -> float:
    """`reference_count`: every reference image and video of the task (not the first frame)."""
    if not video_durations or reference_count == 0:
        return 0.0
    cap = PER_VIDEO_CAP[min(reference_count, 5)]
    return min(INPUT_CAP_S, sum(min(d, cap) for d in video_durations))


def usage(
    generation: str,
    duration: int,
    width: int,
    height: int,
    resolution: str,
    ratio: str | None,
    video_durations: list[float],
    reference_count: int,
) -> dict:
    input_s = round(billed_input_seconds(video_durations, reference_count), 2)
    total = input_s + duration
    if generation == GEN_27:
        return {
            "duration": _number(total),
            "input_video_duration": _number(input_s),
            "output_video_duration": duration,
            "video_count": 1,
            "SR": tier_height(resolution),
            "ratio": ratio,
        }
    return {
        "duration": float(round(total, 2)),
        "size": f"{width}*{height}",
        "input_video_duration": _number(input_s),
        "output_video_duration": duration,
        "video_count": 1,
        "SR": tier_height(resolution),
    }
