"""The app's tests: every path of make_clip, each made to happen on demand by the emulator."""

import httpx
import pytest
from video_app import ClipFailed, ClipRefused, make_clip

PICTURE = "https://example.com/cat.png"  # the emulator never downloads it: no network is needed


def test_a_clip_is_made(service):
    clip = make_clip(service.api_key, "图1 jumps onto the sofa", PICTURE)
    video = httpx.get(clip.video_url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"  # an MP4
    assert clip.seconds == 2


def test_refused_content_is_reported_as_such(service):
    with pytest.raises(ClipRefused, match="inappropriate"):
        make_clip(service.api_key, "图1", PICTURE, headers=service.scenario("fail=DataInspectionFailed"))


def test_a_throttled_create_is_tried_again(service):
    service.add_rule("http=429:Throttling.RateQuota", times=1, path="/api/v1/services/*")
    clip = make_clip(service.api_key, "图1 waves", PICTURE)
    creates = [r for r in service.requests() if r["method"] == "POST"]
    assert [r["status"] for r in creates] == [429, 200]
    assert clip.video_url


def test_an_outage_is_a_failure_not_a_crash(service):
    with pytest.raises(ClipFailed, match="500"):
        make_clip(service.api_key, "图1", PICTURE, headers=service.scenario("http=500"))


def test_a_task_that_dies_late_is_a_failure(service):
    with pytest.raises(ClipFailed, match="InternalError"):
        make_clip(service.api_key, "图1", PICTURE, headers=service.scenario("running=1;fail=InternalError"))


def test_each_test_starts_with_a_clean_emulator(service):
    assert service.requests() == [] and service.rules() == []
