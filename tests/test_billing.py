"""`usage` as the spec's section 6 bills it, and as it reads on the wire (JSON): billed seconds = billed input-video
seconds + output seconds; each reference video capped at 5 s / N (N: every reference asset, images and videos,
not the first frame, for both families; 5, 2.5, 1.65, 1.25, 1 s), 5 s of input video at most; images free."""

from __future__ import annotations

import json

import pytest

from r2v.protocol.billing import INPUT_CAP_S, PER_VIDEO_CAP, billed_input_seconds, usage

pytestmark = pytest.mark.unit


def wire(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def test_the_guides_five_reference_example_bills_one_second_of_input():
    """One 3 s reference video and four images (the guide's multi-subject example), wan2.7, 720P, 10 s."""
    got = usage("wan2.7", 10, 1280, 720, "720P", "16:9", [3.0], 5)
    assert wire(got) == ('{"duration":11,"input_video_duration":1,"output_video_duration":10,"video_count":1,'
                         '"SR":720,"ratio":"16:9"}')  # fmt: skip


@pytest.mark.parametrize("n, cap", [(1, 5), (2, 2.5), (3, 1.65), (4, 1.25), (5, 1)])
def test_the_per_video_cap_for_each_reference_count(n, cap):
    assert PER_VIDEO_CAP[n] == cap
    assert billed_input_seconds([30.0], n) == cap  # a long video is cut to its share
    assert billed_input_seconds([cap - 0.25], n) == cap - 0.25  # a shorter one bills what it lasts


def test_the_cap_counts_images_too():
    """Same single video, more images beside it: a smaller share (the fix of commit 8a1dca8)."""
    assert [billed_input_seconds([4.0], n) for n in range(1, 6)] == [4.0, 2.5, 1.65, 1.25, 1.0]


def test_input_video_is_capped_at_five_seconds_in_all():
    assert INPUT_CAP_S == 5
    assert billed_input_seconds([2.5, 2.5], 2) == 5
    assert billed_input_seconds([1.65, 1.65, 1.65], 3) == pytest.approx(4.95)
    assert billed_input_seconds([1.0] * 5, 5) == 5
    assert billed_input_seconds([5.0] * 7, 7) == 5  # more references than the spec allows: still 5 s at most


def test_more_than_five_references_share_the_five_reference_cap():
    assert billed_input_seconds([9.0], 6) == 1
    assert billed_input_seconds([9.0], 9) == 1


def test_images_are_free():
    assert billed_input_seconds([], 5) == 0
    assert billed_input_seconds([], 0) == 0
    assert wire(usage("wan2.7", 5, 1920, 1080, "1080P", "16:9", [], 3)) == (
        '{"duration":5,"input_video_duration":0,"output_video_duration":5,"video_count":1,"SR":1080,"ratio":"16:9"}'
    )


def test_wan27_duration_is_an_integer_when_whole_and_a_decimal_when_not():
    whole = usage("wan2.7", 5, 1920, 1080, "1080P", "16:9", [2.0, 8.0], 2)  # 2 + 2.5
    assert wire(whole).startswith('{"duration":9.5,"input_video_duration":4.5,')
    exact = usage("wan2.7", 8, 1920, 1080, "1080P", "9:16", [3.0, 2.0], 1)
    assert wire(exact).startswith('{"duration":13,"input_video_duration":5,"output_video_duration":8,')
    assert type(exact["duration"]) is int and type(exact["input_video_duration"]) is int


def test_seconds_are_rounded_to_hundredths_once():
    """1.2349 s is 1.23 s, not 1.235 s rounded again to 1.24."""
    assert wire(usage("wan2.7", 5, 1280, 720, "720P", "1:1", [1.2349], 2)).startswith(
        '{"duration":6.23,"input_video_duration":1.23,'
    )
    assert wire(usage("wan2.6", 5, 1280, 720, "720P", None, [1.2349], 2)).startswith(
        '{"duration":6.23,"size":"1280*720","input_video_duration":1.23,'
    )


def test_seconds_are_rounded_to_hundredths():
    got = usage("wan2.7", 5, 1280, 720, "720P", "1:1", [1.2345], 2)
    assert (got["duration"], got["input_video_duration"]) == (6.23, 1.23)
    got = usage("wan2.7", 5, 1280, 720, "720P", "1:1", [1.2389], 2)
    assert (got["duration"], got["input_video_duration"]) == (6.24, 1.24)
    legacy = usage("wan2.6", 5, 1280, 720, "720P", None, [2.0061], 1)
    assert (legacy["duration"], legacy["input_video_duration"]) == (7.01, 2.01)


def test_wan27_with_a_first_frame_has_no_ratio():
    got = usage("wan2.7", 5, 1104, 832, "720P", None, [], 1)
    assert got["ratio"] is None and got["SR"] == 720 and '"ratio":null' in wire(got)


def test_wan26_shape_the_spec_shows():
    """Spec: wan2.6 `duration` is a float and `size` replaces `ratio`."""
    got = usage("wan2.6", 5, 1280, 720, "720P", None, [8.0], 1)
    assert wire(got) == ('{"duration":10.0,"size":"1280*720","input_video_duration":5,"output_video_duration":5,'
                         '"video_count":1,"SR":720}')  # fmt: skip


def test_wan26_bills_by_every_reference_like_wan27():
    got = usage("wan2.6", 10, 1920, 1080, "1080P", None, [3.0, 3.0], 3)  # two videos and an image
    assert wire(got) == ('{"duration":13.3,"size":"1920*1080","input_video_duration":3.3,"output_video_duration":10,'
                         '"video_count":1,"SR":1080}')  # fmt: skip
    assert type(usage("wan2.6", 5, 1920, 1080, "1080P", None, [], 1)["duration"]) is float
