"""A task stored by the previous release still runs after an upgrade: the job spec is stored with its version, and
the format r2v 0.1 wrote (no version at all) is read by today's code. A spec from a newer r2v fails its task
cleanly instead of being guessed at."""

from __future__ import annotations

import json

import pytest

from r2v.clock import FakeClock
from r2v.config import Settings
from r2v.errors import INTERNAL_ERROR
from r2v.protocol.job import SPEC_VERSION, JobSpec
from r2v.protocol.validate import parse_create
from r2v.tasks.model import Task, TaskStatus
from r2v.wiring import build, runner_for
from tests.conftest import KEY

pytestmark = pytest.mark.unit

# Exactly what r2v 0.1 (before versioned specs) stored for the guide's simplest request; the URL is filled in.
SPEC_V1 = (
    '{"model": "wan2.7-r2v", "generation": "wan2.7", "prompt": "图1在弹吉他", "media": [{"kind": "reference_image", '
    '"url": "URL", "field": "input.media[0].url", "voice_url": null, "voice_field": null, "description": null}], '
    '"width": 1280, "height": 720, "resolution": "720P", "ratio": "16:9", "duration": 2, "seed": 7, '
    '"negative_prompt": null, "prompt_extend": true, "watermark": false, "audio": true, "shot_type": null, '
    '"size_from_first_frame": false, "extras": {}}'
)


def _stored(tmp_path, spec_json: str):
    parts = build(Settings(data_dir=tmp_path, api_keys=(KEY,), allow_private_urls=True), FakeClock())
    parts.tasks.create(Task(task_id="old-task", owner="env-x", request_id="r", model="wan2.7-r2v",
                            status=TaskStatus.PENDING, submit_ms=parts.clock.now_ms(), spec_json=spec_json,
                            orig_prompt="图1在弹吉他", region="cn-beijing"))  # fmt: skip
    runner_for(parts).run(parts.tasks.claim_next("w", parts.clock.now_ms(), None))
    return parts, parts.tasks.get("old-task")


def test_a_task_stored_by_the_previous_release_runs(tmp_path, media):
    parts, task = _stored(tmp_path, SPEC_V1.replace("URL", media.url("girl.png")))
    assert task.status == TaskStatus.SUCCEEDED, (task.code, task.message)
    assert json.loads(task.usage_json)["output_video_duration"] == 2
    assert parts.blobs.exists(task.result_name)


def test_the_old_format_reads_as_the_same_job_and_new_ones_carry_their_version():
    url = "http://cdn.example.com/girl.png"
    old = JobSpec.from_dict(json.loads(SPEC_V1.replace("URL", url)))
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1在弹吉他", "media": [
        {"type": "reference_image", "url": url}]}, "parameters": {"resolution": "720P", "duration": 2, "seed": 7}}  # fmt: skip
    today = parse_create(body, region="cn-beijing", oss_resolve=False).spec
    assert old == today
    stored = today.to_dict()
    assert stored["version"] == SPEC_VERSION == 2
    assert JobSpec.from_dict(json.loads(json.dumps(stored))) == today


def test_a_field_an_older_release_kept_is_dropped_and_a_missing_optional_one_defaults():
    data = json.loads(SPEC_V1)
    data["retired_option"] = 1  # a field some older format had and this one no longer knows
    del data["extras"], data["shot_type"]  # fields an older format did not have yet
    spec = JobSpec.from_dict(data)
    assert spec.extras == {} and spec.shot_type is None and spec.seed == 7


def test_a_spec_from_a_newer_release_fails_its_task_instead_of_being_guessed(tmp_path, media, caplog):
    newer = json.loads(SPEC_V1.replace("URL", media.url("girl.png")))
    newer["version"] = SPEC_VERSION + 1
    with pytest.raises(ValueError, match="newer r2v"):
        JobSpec.from_dict(newer)
    with caplog.at_level("ERROR"):
        _, task = _stored(tmp_path, json.dumps(newer))
    assert (task.status, task.code) == (TaskStatus.FAILED, INTERNAL_ERROR)
    assert "stored by a newer r2v" in caplog.text
