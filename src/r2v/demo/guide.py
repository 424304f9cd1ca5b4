"""The user guide's multi-subject example (多主体参考+音色定制), shared by `make demo` and the tests."""

from __future__ import annotations

from collections.abc import Callable

PROMPT = (
    "视频1抱着图3，在图4的椅子上弹奏一支舒缓的乡村民谣，并说道：“今天的阳光真好。”图1手中拿着图2，路过视频1，"
    "把手中的图2放到视频1旁边的桌子上，并说道：“真好听，能不能再唱一遍”。"
)


def multi_subject_media(locate: Callable[[str], str]) -> list[dict]:
    """The example's media list; `locate(asset name)` gives the URL or path of each generated asset
    (names as in `make_guide_assets`)."""
    return [
        {"type": "reference_image", "url": locate("girl"), "reference_voice": locate("girl_voice")},
        {"type": "reference_video", "url": locate("boy_video"), "reference_voice": locate("boy_voice")},
        {"type": "reference_image", "url": locate("sunflowers")},
        {"type": "reference_image", "url": locate("guitar")},
        {"type": "reference_image", "url": locate("room")},
    ]
