"""How a task is shown on the wire: the query answer, the list row, and the time formats of each."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from r2v.tasks.model import Task, TaskStatus

CHINA = timezone(timedelta(hours=8))


def wire_time(ms: int) -> str:
    """`YYYY-MM-DD HH:mm:ss.SSS` in UTC+8, no zone suffix (as the cloud answers)."""
    moment = datetime.fromtimestamp(ms / 1000, CHINA)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def unknown(task_id: str, request_id: str) -> dict:
    return {"request_id": request_id, "output": {"task_id": task_id, "task_status": TaskStatus.UNKNOWN.value}}


def query_answer(task: Task, request_id: str, video_url: str | None) -> dict:
    output: dict = {"task_id": task.task_id, "task_status": task.status.value, "submit_time": wire_time(task.submit_ms)}
    if task.scheduled_ms is not None:
        output["scheduled_time"] = wire_time(task.scheduled_ms)
    if task.end_ms is not None and task.status.terminal:
        output["end_time"] = wire_time(task.end_ms)
    output["orig_prompt"] = task.orig_prompt
    if task.status == TaskStatus.SUCCEEDED:
        if video_url:
            output["video_url"] = video_url
        if task.actual_prompt:
            output["actual_prompt"] = task.actual_prompt
    if task.status == TaskStatus.FAILED:
        output["code"] = task.code
        output["message"] = task.message
    # r2v extension (the SDK keeps unknown keys): render progress 0..100
    output["progress"] = 100 if task.status == TaskStatus.SUCCEEDED else task.progress
    answer: dict = {"request_id": request_id, "output": output}
    if task.status == TaskStatus.SUCCEEDED and task.usage_json:
        answer["usage"] = json.loads(task.usage_json)
    return answer


def list_row(task: Task) -> dict:
    row = {
        "task_id": task.task_id,
        "request_id": task.request_id,
        "model_name": task.model,
        "status": task.status.value,
        "gmt_create": task.submit_ms,
    }
    if task.scheduled_ms is not None:
        row["start_time"] = task.scheduled_ms
    if task.end_ms is not None and task.status.terminal:
        row["end_time"] = task.end_ms
    row.update(
        region=task.region,
        api_key_id=task.owner,
        user_api_unique_key=f"apikey:v1:aigc:video-generation:video-synthesis:{task.model}",
    )
    return row
