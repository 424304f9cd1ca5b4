"""The task service: create, query, cancel and list, as the DashScope API defines them.

It works on ports (TaskStore, UploadRegistry, BlobStore) and speaks in plain dicts and ApiErrors; the HTTP layer
only moves them on and off the wire."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import datetime

from r2v.clock import Clock
from r2v.errors import (
    DATA_INSPECTION_FAILED,
    INVALID_PARAMETER,
    MSG_CANCEL_NOT_PENDING,
    UNSUPPORTED_OPERATION,
    ApiError,
    invalid,
)
from r2v.media.fetch import INPUT_SCHEME
from r2v.moderation import MSG_INPUT_REFUSED, Moderator
from r2v.protocol.fields import whole_number
from r2v.protocol.validate import ParsedCreate, parse_create
from r2v.service import views
from r2v.storage.blobs import BlobStore, inputs_blob_dir
from r2v.storage.signing import UrlSigner
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.model import ListFilter, Task, TaskStatus
from r2v.tasks.store import TaskStore

RETENTION_MS = 24 * 3600 * 1000
RESULT_URL_TTL_S = 24 * 3600
MAX_PAGE_SIZE = 100
_LIST_TIME_FORMAT = "%Y%m%d%H%M%S"


FILES_PATH = "/files/"  # where the API serves blobs (signed); see api/app.py


def past_retention(task: Task, now_ms: int) -> bool:
    """Submitted more than 24 h ago: the task answers UNKNOWN, as the cloud's does (retention deletes it later)."""
    return task.submit_ms < now_ms - RETENTION_MS


def save_inline_inputs(parsed: ParsedCreate, blobs: BlobStore, task_id: str) -> None:
    """data: URIs are decoded once and kept as files beside the task, not inside the database row; the media
    resolver reads them back through INPUT_SCHEME."""
    for ref in parsed.spec.media:
        if ref.field in parsed.inline:
            data, ext = parsed.inline[ref.field]
            stem = ref.field.replace(".", "_").replace("[", "").replace("]", "")
            name = f"{inputs_blob_dir(task_id)}/{stem}.{ext}"
            blobs.put_bytes(name, data)
            ref.url = INPUT_SCHEME + name


class TaskService:
    def __init__(
        self,
        tasks: TaskStore,
        uploads: UploadRegistry,
        blobs: BlobStore,
        signer: UrlSigner,
        clock: Clock,
        region: str,
        moderator: Moderator | None = None,
        cancel_running: bool = False,  # R2V_CANCEL_RUNNING: cancel also stops RUNNING tasks (an r2v extension)
        serve_files: bool = False,  # --public-url: r2v serves result files itself, even from an object store
        on_accepted: Callable[[Task], None] | None = None,  # told of every task accepted (the emulator's workers)
    ):
        self.tasks, self.uploads, self.blobs, self.signer, self.clock = tasks, uploads, blobs, signer, clock
        self.region, self.moderator, self.cancel_running = region, moderator, cancel_running
        self.serve_files, self.on_accepted = serve_files, on_accepted

    def check(self) -> None:
        """Raise if the task store cannot be reached (health)."""
        self.tasks.check()

    # -- create -----------------------------------------------------------------------------------------

    def create(self, owner: str, body: object, oss_resolve: bool, request_id: str, extras: dict | None = None) -> dict:
        """`extras`: r2v's own notes kept with the job (the emulator's scenario), never read from the request."""
        parsed = parse_create(body, region=self.region, oss_resolve=oss_resolve)
        if self.moderator is not None and self.moderator.refuses_text(parsed.spec.prompt):
            raise ApiError(400, DATA_INSPECTION_FAILED, MSG_INPUT_REFUSED)
        parsed.spec.extras.update(extras or {})
        task = self.accept(parsed, owner, request_id)
        return {"request_id": request_id, "output": {"task_id": task.task_id, "task_status": task.status.value}}

    def accept(self, parsed: ParsedCreate, owner: str, request_id: str,
               stage: Callable[[str], None] | None = None) -> Task:  # fmt: skip
        """Keep a checked create's inputs and insert its task, PENDING (both APIs create through here).
        `stage(task_id)` first keeps files the request itself carried. Nothing is kept of a create that fails."""
        now = self.clock.now_ms()
        task_id = str(uuid.uuid4())
        try:
            if stage is not None:
                stage(task_id)
            self.check_uploads(parsed, owner, now)
            save_inline_inputs(parsed, self.blobs, task_id)
            task = self._insert(task_id, owner, request_id, now, parsed)
        except BaseException:
            self.blobs.delete(inputs_blob_dir(task_id))  # not accepted: keep nothing of it
            raise
        if self.on_accepted is not None:
            self.on_accepted(task)
        return task

    def _insert(self, task_id: str, owner: str, request_id: str, now: int, parsed: ParsedCreate) -> Task:
        spec = parsed.spec
        task = Task(
            task_id=task_id,
            owner=owner,
            request_id=request_id,
            model=spec.model,
            status=TaskStatus.PENDING,
            submit_ms=now,
            spec_json=json.dumps(spec.to_dict(), ensure_ascii=False),
            orig_prompt=spec.prompt,
            region=self.region,
        )
        self.tasks.create(task)
        return task

    def check_uploads(self, parsed: ParsedCreate, owner: str, now: int) -> None:
        """oss:// inputs must be live uploads of the same key: checked now, since it needs no download."""
        for ref in parsed.spec.media:
            for url, field in ((ref.url, ref.field), (ref.voice_url, ref.voice_field)):
                if url and url.startswith("oss://") and not self.uploads.find(url[6:], owner, now):
                    raise invalid(field, "the oss:// file does not exist, has expired or belongs to another API key")

    # -- query, cancel ----------------------------------------------------------------------------------

    def visible(self, owner: str, task_id: str) -> Task | None:
        """The task if this key may see it: unknown ids, other keys' tasks and expired tasks are all UNKNOWN."""
        task = self.tasks.get(task_id)
        if task is None or task.owner != owner or past_retention(task, self.clock.now_ms()):
            return None
        return task

    def query(self, owner: str, task_id: str, request_id: str, base_url: str) -> dict:
        task = self.visible(owner, task_id)
        if task is None:
            return views.unknown(task_id, request_id)
        video_url = None
        if task.status == TaskStatus.SUCCEEDED and task.end_ms is not None and task.result_name:
            expires = task.end_ms // 1000 + RESULT_URL_TTL_S
            # An object store's own URL (presigned), unless r2v is to proxy the files (its clients may not reach
            # the store).
            video_url = None if self.serve_files else self.blobs.download_url(task.result_name, expires)
            if video_url is None:  # else r2v serves the file itself, under a URL it signs
                path = FILES_PATH + task.result_name
                video_url = f"{base_url}{path}?{self.signer.query(path, expires)}"
        return views.query_answer(task, request_id, video_url)

    def plan(self, owner: str, task_id: str, request_id: str) -> dict:
        """The director's plan of a task (an r2v extension): null until the task has started rendering."""
        task = self.visible(owner, task_id)
        if task is None:
            return views.unknown(task_id, request_id)
        stored = self.tasks.get_plan(task_id)
        plan = json.loads(stored) if stored else None
        return {"request_id": request_id,
                "output": {"task_id": task_id, "task_status": task.status.value, "plan": plan}}  # fmt: skip

    def cancel(self, owner: str, task_id: str, request_id: str) -> dict:
        """As the cloud: a PENDING task is canceled at once, anything else is refused. With R2V_CANCEL_RUNNING=1
        (an r2v extension), a RUNNING task is stopped by its worker instead, which keeps its loaded model; the
        task then reads CANCELED."""
        task = self.visible(owner, task_id)
        tasks = self.tasks
        if task is not None and tasks.cancel_pending(task_id, owner, self.clock.now_ms()):
            return {"request_id": request_id}
        if task is not None and self.cancel_running and tasks.request_cancel_running(task_id, owner):
            return {"request_id": request_id}
        raise ApiError(400, UNSUPPORTED_OPERATION, MSG_CANCEL_NOT_PENDING)

    # -- list -------------------------------------------------------------------------------------------

    def list(self, owner: str, params: dict[str, str], request_id: str) -> dict:
        now = self.clock.now_ms()
        start = _list_time(params.get("start_time"), "start_time")
        end = _list_time(params.get("end_time"), "end_time")
        if start is None and end is None:
            start, end = now - RETENTION_MS, now
        elif start is None:
            start = end - RETENTION_MS
        elif end is None:
            end = start + RETENTION_MS
        if end < start:
            raise invalid("end_time", "must not be before start_time")
        if end - start > RETENTION_MS:
            raise invalid("end_time", "the span from start_time to end_time must be at most 24 hours")
        page_no = _positive_int(params.get("page_no"), "page_no", 1, 10**9)
        page_size = _positive_int(params.get("page_size"), "page_size", 10, MAX_PAGE_SIZE)
        status = params.get("status") or None
        if status and status not in {s.value for s in TaskStatus if s != TaskStatus.UNKNOWN}:
            raise invalid("status", "must be one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED")
        flt = ListFilter(
            owner=owner,
            since_ms=max(start, now - RETENTION_MS),
            until_ms=end + 999,  # the bound is given to the second; include that whole second
            task_id=params.get("task_id") or None,
            model=params.get("model_name") or None,
            status=status,
            page_no=page_no,
            page_size=page_size,
        )
        total, tasks = self.tasks.list(flt)
        return {
            "request_id": request_id,
            "total": total,
            "total_page": math.ceil(total / page_size) if total else 0,
            "page_no": page_no,
            "page_size": page_size,
            "data": [views.list_row(t) for t in tasks],
        }


def _list_time(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        moment = datetime.strptime(value, _LIST_TIME_FORMAT).replace(tzinfo=views.CHINA)
    except ValueError:
        raise invalid(name, f"must be YYYYMMDDhhmmss, got {value!r}") from None
    return int(moment.timestamp() * 1000)


def _positive_int(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    number = whole_number(value)
    if number is None or not 1 <= number <= maximum:
        raise ApiError(400, INVALID_PARAMETER, f"{name}: must be an integer from 1 to {maximum}, got {value!r}")
    return number
