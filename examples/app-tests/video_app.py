"""A small app of the kind r2v's emulator is for: it asks the Wan reference-to-video API for a clip and turns every
way that can go wrong into one of its own errors. Its tests (test_video_app.py) run against `r2v serve --emulate`
through the pytest plugin r2v.testing, with the official dashscope SDK, exactly as the app runs in production."""

from __future__ import annotations

import time
from dataclasses import dataclass
from http import HTTPStatus

from dashscope import VideoSynthesis

MODEL = "wan2.7-r2v"


class ClipRefused(Exception):
    """The service refused the content (the app tells its user to change the prompt or the picture)."""


class ClipFailed(Exception):
    """The service could not make the clip (the app offers to try again later)."""


@dataclass
class Clip:
    task_id: str
    video_url: str
    seconds: float  # what the clip was billed


def make_clip(api_key: str, prompt: str, picture_url: str, seconds: int = 2, headers: dict | None = None,
              attempts: int = 3) -> Clip:  # fmt: skip
    """One clip of `picture_url` doing what `prompt` says. A throttled create is tried again (up to `attempts`)."""
    for attempt in range(attempts):
        created = VideoSynthesis.async_call(
            api_key=api_key, model=MODEL, prompt=prompt, duration=seconds, resolution="720P",
            media=[{"type": "reference_image", "url": picture_url}], headers=headers or {},
        )  # fmt: skip
        if created.status_code == HTTPStatus.TOO_MANY_REQUESTS and attempt + 1 < attempts:
            time.sleep(0.2 * (attempt + 1))
            continue
        if created.status_code != HTTPStatus.OK:
            raise ClipFailed(f"create answered {created.status_code} {created.code}: {created.message}")
        break
    done = VideoSynthesis.wait(created, api_key=api_key)
    output = done.output
    if output.task_status == "SUCCEEDED":
        return Clip(task_id=output.task_id, video_url=output.video_url, seconds=done.usage["duration"])
    if output.task_status == "FAILED" and output.code == "DataInspectionFailed":
        raise ClipRefused(output.message)
    raise ClipFailed(f"the task ended {output.task_status}: {output.code} {output.message}")
