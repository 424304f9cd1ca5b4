"""The OpenAI-style video API (`/v1/videos`) over the same tasks, keys, uploads and blobs as the DashScope API.

A video is a task: one made here is a DashScope task of the same key (queried, listed and canceled there), and
every task of a key is a video here, whichever API made it. Deleting a video removes its files and hides it from
this API; the DashScope task record stays until retention ends (its video_url then answers 404)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO

from r2v.errors import DATA_INSPECTION_FAILED, ApiError, invalid
from r2v.media import sniff
from r2v.media.fetch import INPUT_SCHEME
from r2v.moderation import MSG_INPUT_REFUSED
from r2v.protocol import catalog, refs
from r2v.protocol.fields import whole_number
from r2v.protocol.job import FIRST_FRAME, JobSpec
from r2v.protocol.openai_videos import MAX_VOICES, UPLOAD_PREFIX, Reference, reference_kind, to_dashscope
from r2v.protocol.validate import ParsedCreate, parse_create
from r2v.service.tasks import RETENTION_MS, TaskService
from r2v.storage.blobs import PREVIEW_FORMATS, delete_task_files, inputs_blob_dir, preview_blob
from r2v.tasks.model import ListFilter, Task, TaskStatus

NOT_FOUND = "not_found"
MAX_LIST = 100
DEFAULT_LIST = 20
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
assert set(VARIANTS) - {"video"} == set(PREVIEW_FORMATS)
_STATUS = {
    TaskStatus.PENDING: "queued",
    TaskStatus.RUNNING: "in_progress",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELED: "failed",  # OpenAI's video has no canceled state: a failure with code "canceled"
}


@dataclass
class Upload:
    """A file sent in a multipart create."""

    data: bytes
    field: str


def not_found(video_id: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"video_id: no video with id {video_id!r} for this API key")


class VideoService:
    def __init__(self, tasks: TaskService):
        self.service = tasks
        self.store, self.blobs, self.clock = tasks.tasks, tasks.blobs, tasks.clock

    # -- create, remix ------------------------------------------------------------------------------------

    def create(self, owner: str, values: dict, references: list[object], uploads: dict[str, Upload],
               request_id: str, extras: dict | None = None) -> dict:  # fmt: skip
        """`values`: the plain fields; `references`: each input_reference in order (an Upload, a URL string, or
        {"image_url"} / {"video_url"}); `uploads`: other files by field (first_frame, reference_voice_<n>);
        `extras`: r2v's own notes kept with the job (the emulator's scenario)."""
        files: dict[str, tuple[bytes, str]] = {}  # placeholder URL -> (data, extension)

        def upload(item: Upload, kinds: tuple[str, ...]) -> tuple[str, str]:
            kind, ext = _sniffed(item, kinds)
            url = f"{UPLOAD_PREFIX}{len(files)}"
            files[url] = (item.data, ext)
            return kind, url

        many = len(references) > 1
        listed: list[Reference] = []
        for i, item in enumerate(references):
            name = f"input_reference[{i}]" if many else "input_reference"
            kind, url = upload(item, ("image", "video")) if isinstance(item, Upload) else _reference_url(item, name)
            listed.append(Reference(kind=kind, url=url, field=name))
        for n in range(1, MAX_VOICES + 1):
            name = f"reference_voice_{n}"
            voice = uploads.get(name) or values.get(name)
            if voice in (None, ""):
                continue
            if n > len(listed):
                raise invalid(name, f"there is no reference {n} (the request has {len(listed)})")
            listed[n - 1].voice_url = upload(voice, ("audio",))[1] if isinstance(voice, Upload) else _url(voice, name)
        frame = uploads.get("first_frame") or values.get("first_frame")
        first = None
        if frame not in (None, ""):
            first = upload(frame, ("image",))[1] if isinstance(frame, Upload) else _url(frame, "first_frame")
        mapped = to_dashscope(values, listed, first, self.service.region)
        try:
            parsed = parse_create(mapped.body, region=self.service.region, oss_resolve=True)
        except ApiError as exc:
            raise mapped.rename(exc) from None
        return self._accept(owner, parsed, files, request_id, extras or {})

    def remix(self, owner: str, video_id: str, prompt: object, request_id: str, extras: dict | None = None) -> dict:
        """A new video of the same references, settings and seed, from a new prompt (with notes of its own)."""
        task = self._find(owner, video_id)
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid("prompt", "is required: a non-empty string")
        spec = JobSpec.from_dict(json.loads(task.spec_json))
        limit = catalog.MAX_PROMPT_27 if spec.generation == catalog.GEN_27 else catalog.MAX_PROMPT_26
        spec.prompt = prompt[:limit]
        kinds = [reference_kind(m.kind) for m in spec.media if m.kind != FIRST_FRAME]
        if spec.generation == catalog.GEN_27:
            problem = refs.missing_reference(spec.prompt, kinds.count("image"), kinds.count("video"))
        else:
            problem = refs.missing_character(spec.prompt, len(kinds))
        if problem:
            raise invalid("prompt", problem)
        files: dict[str, tuple[bytes, str]] = {}
        for ref in spec.media:  # files kept with the first video are copied: each task owns its inputs
            for attr in ("url", "voice_url"):
                url = getattr(ref, attr)
                if url and url.startswith(INPUT_SCHEME):
                    stream = self.blobs.open(url[len(INPUT_SCHEME) :])
                    if stream is None:
                        raise invalid("video_id", f"the references of {video_id} are no longer kept")
                    with stream:
                        placeholder = f"{UPLOAD_PREFIX}{len(files)}"
                        files[placeholder] = (stream.read(), url.rsplit(".", 1)[-1])
                    setattr(ref, attr, placeholder)
        spec.extras = {}  # the first video's notes are its own
        notes = {**(extras or {}), "remixed_from": video_id}
        return self._accept(owner, ParsedCreate(spec=spec), files, request_id, notes)

    def _accept(self, owner: str, parsed: ParsedCreate, files: dict[str, tuple[bytes, str]], request_id: str,
                extras: dict) -> dict:  # fmt: skip
        spec = parsed.spec
        moderator = self.service.moderator
        if moderator is not None and moderator.refuses_text(spec.prompt):
            raise ApiError(400, DATA_INSPECTION_FAILED, f"prompt: {MSG_INPUT_REFUSED}")
        spec.extras.update(extras)

        def keep_files(task_id: str) -> None:  # the files of a multipart create, kept as the task's inputs
            for n, ref in enumerate(spec.media):
                for attr in ("url", "voice_url"):
                    url = getattr(ref, attr)
                    if url in files:
                        data, ext = files[url]
                        name = f"{inputs_blob_dir(task_id)}/openai-{n}-{attr}.{ext}"
                        self.blobs.put_bytes(name, data)
                        setattr(ref, attr, INPUT_SCHEME + name)

        return video_object(self.service.accept(parsed, owner, request_id, stage=keep_files))

    # -- retrieve, list, delete, content ------------------------------------------------------------------

    def _find(self, owner: str, video_id: str) -> Task:
        task = self.service.visible(owner, video_id)
        if task is None:
            raise not_found(video_id)
        return task

    def retrieve(self, owner: str, video_id: str) -> dict:
        return video_object(self._find(owner, video_id))

    def list(self, owner: str, params: dict[str, str]) -> dict:
        limit = params.get("limit") or str(DEFAULT_LIST)
        if (count := whole_number(limit)) is None or not 1 <= count <= MAX_LIST:
            raise invalid("limit", f"must be a whole number from 1 to {MAX_LIST}, got {limit!r}")
        order = params.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise invalid("order", f"must be asc or desc, got {order!r}")
        tasks = self._all(owner)  # newest first, as the store lists them
        if order == "asc":
            tasks.reverse()
        after = params.get("after")
        if after:
            ids = [t.task_id for t in tasks]
            if after not in ids:
                raise invalid("after", f"no video with id {after!r} for this API key")
            tasks = tasks[ids.index(after) + 1 :]
        page = [video_object(t) for t in tasks[: int(limit)]]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(tasks) > int(limit),
        }

    def _all(self, owner: str) -> list[Task]:
        """Every video of the key still kept (a cursor needs the whole ordered list; retention keeps it short)."""
        now = self.clock.now_ms()
        found: list[Task] = []
        page_no = 1
        while True:
            flt = ListFilter(owner=owner, since_ms=now - RETENTION_MS, until_ms=now + 1000, page_no=page_no,
                             page_size=MAX_LIST)  # fmt: skip
            total, tasks = self.store.list(flt)
            found += tasks
            if not tasks or len(found) >= total:
                break
            page_no += 1
        return found

    def delete(self, owner: str, video_id: str) -> dict:
        """Delete the task (a queued one is never rendered) and its files, for both APIs: it is then unknown to the
        DashScope task API too. A video being rendered cannot be deleted until it ends (its worker owns it)."""
        self._find(owner, video_id)
        if not self.store.delete_task(video_id, owner):
            if self._find(owner, video_id).status == TaskStatus.RUNNING:  # (gone meanwhile: not found)
                raise invalid("video_id", "the video is in_progress: it can be deleted once it is completed or "
                                          "failed")  # fmt: skip
            raise not_found(video_id)
        delete_task_files(self.blobs, video_id)
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    def content(self, owner: str, video_id: str, variant: str | None) -> tuple[BinaryIO, str]:
        """The stream of one variant (video, thumbnail, spritesheet) and its media type."""
        variant = variant or "video"
        if variant not in VARIANTS:
            raise invalid("variant", f"must be one of {', '.join(VARIANTS)}, got {variant!r}")
        task = self._find(owner, video_id)
        if task.status != TaskStatus.SUCCEEDED or not task.result_name:
            raise ApiError(404, NOT_FOUND, f"video_id: the video is {video_object(task)['status']}, not completed")
        name = task.result_name if variant == "video" else preview_blob(task.result_name, variant)
        stream = self.blobs.open(name)
        if stream is None:  # a video made before previews were, or one whose preview failed
            raise ApiError(404, NOT_FOUND, f"variant: this video has no {variant}")
        return stream, VARIANTS[variant]


def video_object(task: Task) -> dict:
    """The task as OpenAI's Video object."""
    spec = json.loads(task.spec_json)
    usage = json.loads(task.usage_json) if task.usage_json else {}
    width, height = spec.get("width"), spec.get("height")
    if usage.get("ratio") and usage.get("SR"):  # wan2.7 with a first frame: the size the worker chose
        width, height = catalog.SIZES_27.get(f"{usage['SR']}P", {}).get(usage["ratio"], (width, height))
    status = _STATUS.get(task.status, "queued")
    video: dict = {
        "id": task.task_id,
        "object": "video",
        "model": task.model,
        "status": status,
        "progress": 100 if task.status == TaskStatus.SUCCEEDED else (task.progress if status != "queued" else 0),
        "created_at": task.submit_ms // 1000,
        "completed_at": task.end_ms // 1000 if task.status.terminal and task.end_ms is not None else None,
        "expires_at": (task.submit_ms + RETENTION_MS) // 1000,
        "seconds": str(spec.get("duration")),
        "size": f"{width}x{height}",
        "prompt": task.orig_prompt,
        "remixed_from_video_id": spec.get("extras", {}).get("remixed_from"),
        "error": None,
    }
    if task.status == TaskStatus.FAILED:
        video["error"] = {"code": task.code or "failed", "message": task.message or ""}
    elif task.status == TaskStatus.CANCELED:
        video["error"] = {"code": "canceled", "message": "the video was canceled before it was made"}
    return video


_KIND_OF_FORMAT = {**dict.fromkeys(sniff.IMAGE_FORMATS, "image"), **dict.fromkeys(sniff.VIDEO_FORMATS, "video"),
                   **dict.fromkeys(sniff.AUDIO_FORMATS, "audio")}  # fmt: skip


def _sniffed(item: Upload, kinds: tuple[str, ...]) -> tuple[str, str]:
    """(image | video | audio, file extension) of an uploaded file, by its bytes."""
    fmt = sniff.sniff_bytes(item.data[:64])
    kind = _KIND_OF_FORMAT.get(fmt or "")
    if kind not in kinds:
        wanted = {
            "image": "an image (JPEG, PNG, BMP, WEBP)",
            "video": "a video (MP4, MOV)",
            "audio": "a sound file (WAV, MP3)",
        }
        raise invalid(item.field, f"must be {' or '.join(wanted[k] for k in kinds)}")
    return kind, fmt


def _url(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(name, "must be a URL string or an uploaded file")
    return value


def _reference_url(item: object, name: str) -> tuple[str, str]:
    """A reference given by URL: a string (an image), {"image_url": ...} (OpenAI's shape) or {"video_url": ...}."""
    if isinstance(item, str):
        return "image", _url(item, name)
    if isinstance(item, dict):
        if item.get("file_id") is not None:
            raise invalid(name, "file_id is not supported by r2v: upload the file, or give image_url or video_url")
        if item.get("video_url") is not None:
            return "video", _url(item["video_url"], f"{name}.video_url")
        if item.get("image_url") is not None:
            return "image", _url(item["image_url"], f"{name}.image_url")
    raise invalid(name, "must be an uploaded file, a URL, or an object with image_url or video_url")
