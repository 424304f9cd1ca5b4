"""The user guide's examples, run unchanged through the official dashscope SDK against a real `r2v serve`."""

from __future__ import annotations

from http import HTTPStatus

import av
import httpx
import numpy as np
import pytest

from r2v.demo.guide import PROMPT as GUIDE_PROMPT
from r2v.render.decode import read_image
from tests.conftest import KEY, guide_media
from tests.helpers import assert_spec_video, download

pytestmark = pytest.mark.server

STORYBOARD_PROMPT = (
    "参考图片，3D卡通冒险电影风，角色Q版但材质细腻，动作流畅，色彩鲜明，保持角色与森林场景一致，不要加入文字。"
    "氛围: 冒险、轻快、神秘、童趣。角色: 小男孩探险家:圆帽、背包、短斗篷。小伙伴:会飞的小机器人，圆形身体，蓝色发光眼。"
    "场景: 奇幻森林，巨大树根、蘑菇、藤蔓、藏宝洞口、阳光光束。分镜脚本: 1. 全景:奇幻森林里高大树木与光束交错，环境神秘明亮。"
    " 2. 中景:小男孩拨开藤蔓向前探路。 3. 中景:小机器人飞在他身边，用蓝光扫描前方。 4. 特写:一张旧藏宝图在男孩手里展开。"
    " 5. 近景:他露出兴奋表情，眼睛亮起来。 6. 动作镜头:两人跳过树根和小溪，继续深入森林。 7. 中景:藤蔓后方露出一个被苔藓覆盖的宝箱。"
    " 8. 特写:宝箱边缘闪出金色光芒。 9. 收束镜头:男孩和小机器人站在宝箱前惊喜对望，冒险感拉满。"
)
FIRST_FRAME_PROMPT = (
    "俯拍在一个蓝色的星球上，镜头逐渐推进到星球上面给到图1特写，他拿着图2，一边吃着图2，一边说：“怎么没人找我来玩呀？”"
)


def test_multi_subject_with_voices(sdk, media, assets, tmp_path):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY,
        model="wan2.7-r2v",
        media=guide_media(media, assets),
        resolution="720P",
        ratio="16:9",
        duration=10,
        prompt_extend=False,
        watermark=True,
        prompt=GUIDE_PROMPT,
    )
    assert rsp.status_code == HTTPStatus.OK, rsp
    assert rsp.output.task_status == "SUCCEEDED"
    assert rsp.output.orig_prompt == GUIDE_PROMPT
    assert "actual_prompt" not in rsp.output  # prompt_extend=False
    assert rsp.usage["output_video_duration"] == 10
    # one 3 s reference video among five references: capped at 5 s / 5 = 1 s (the guide's 计费说明)
    assert rsp.usage["input_video_duration"] == 1
    assert rsp.usage["duration"] == 11
    assert rsp.usage["SR"] == 720 and rsp.usage["ratio"] == "16:9"
    video = download(rsp.output.video_url, tmp_path / "out.mp4")
    assert_spec_video(video, 1280, 720, 10, audio=True)
    # The reference voices are carried: the soundtrack is not silent.
    with av.open(str(video)) as container:
        sound = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert float(np.sqrt(np.mean(sound**2))) > 0.01


def test_storyboard_image(sdk, media, tmp_path):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY,
        model="wan2.7-r2v",
        media=[{"type": "reference_image", "url": media.url("storyboard.png")}],
        resolution="720P",
        ratio="16:9",
        duration=10,
        prompt_extend=False,
        watermark=True,
        prompt=STORYBOARD_PROMPT,
    )
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    assert rsp.usage["input_video_duration"] == 0 and rsp.usage["duration"] == 10  # images are free
    assert_spec_video(download(rsp.output.video_url, tmp_path / "sb.mp4"), 1280, 720, 10)
    # The director found the 3x3 grid and mapped its panels onto the script's nine numbered shots.
    plan_url = f"{sdk.base_http_api_url}/tasks/{rsp.output.task_id}/plan"
    plan = httpx.get(plan_url, headers={"Authorization": f"Bearer {KEY}"}).json()["output"]["plan"]
    assert len(plan["panels"]) == 9 and len(plan["shots"]) == 9
    assert [shot["background"] for shot in plan["shots"]] == [
        {"kind": "panel", "label": None, "panel": i} for i in range(9)]  # fmt: skip
    assert [shot["framing"] for shot in plan["shots"]][:5] == ["wide", "medium", "medium", "close_up", "close"]


def test_first_frame_sets_aspect_and_opens_the_video(sdk, media, assets, tmp_path):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY,
        model="wan2.7-r2v",
        media=[
            {"type": "first_frame", "url": media.url("first-frame.png")},
            {"type": "reference_image", "url": media.url("girl.png")},
            {"type": "reference_image", "url": media.url("sunflowers.png")},
        ],
        resolution="720P",
        duration=10,
        prompt_extend=False,
        watermark=True,
        prompt=FIRST_FRAME_PROMPT,
    )
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    assert rsp.usage["ratio"] == "4:3"  # the 1280x960 first frame is 4:3: ratio follows it
    video = download(rsp.output.video_url, tmp_path / "ff.mp4")
    assert_spec_video(video, 1104, 832, 10)
    with av.open(str(video)) as container:
        frame0 = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32)
    expected = read_image(assets["first_frame"]).astype(np.float32)
    import cv2

    expected = cv2.resize(expected, (1104, 828))  # 1280x960 cover-scaled to 1104 wide, centre-cropped to 832
    expected = cv2.copyMakeBorder(expected, 2, 2, 0, 0, cv2.BORDER_REPLICATE)
    assert np.mean(np.abs(frame0[100:700] - expected[100:700])) < 6.0


def test_local_files_uploaded_by_the_sdk(sdk, assets, tmp_path):
    """Local paths: the SDK uploads them through getPolicy + the form post, then sends oss:// URLs."""
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY,
        model="wan2.7-r2v",
        media=[
            {"type": "reference_image", "url": str(assets["girl"]), "reference_voice": str(assets["girl_voice"])},
            {"type": "reference_video", "url": f"file://{assets['boy_video']}"},
        ],
        resolution="720P",
        duration=3,
        prompt="图1对视频1说话",
    )
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    assert_spec_video(download(rsp.output.video_url, tmp_path / "up.mp4"), 1280, 720, 3)
