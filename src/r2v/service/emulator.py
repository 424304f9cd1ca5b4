"""The emulator's control plane (`r2v serve --emulate`): which scenario each request gets, the rules that give
scenarios to requests that cannot carry a header, the recorder of requests received, `expire`, and reset.

Rules are kept in this process, in the order they were added. A request takes the first rule that matches it
(counting one use of it; a rule with `times` is gone once used up), and the directives of its X-R2V-Scenario
header are laid over the rule's. Like moto's recorder, the requests are kept oldest first, for a test to assert
on; secret headers (the API key) never are."""

from __future__ import annotations

import fnmatch
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from r2v.clock import Clock
from r2v.errors import invalid
from r2v.protocol import scenario as scenarios
from r2v.protocol.scenario import Scenario
from r2v.service.tasks import RETENTION_MS, past_retention
from r2v.storage.blobs import task_of_blob
from r2v.tasks.store import TaskStore

MATCH_FIELDS = ("model", "prompt_contains", "path")
MAX_RECORDED = 2000  # the oldest requests are let go past this many (a long test session must not grow forever)
MAX_RECORDED_TEXT = 512  # longer strings in a recorded body (a data: URI) are cut to this many characters
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "x-dashscope-api-key"})
# The calls that name one task: an `expire` sent with them expires that task.
_TASK_PATHS = (re.compile(r"^/api/v1/tasks/([^/]+)"), re.compile(r"^/v1/videos/([^/]+)"))


@dataclass
class Rule:
    id: str
    match: dict[str, str]
    scenario: Scenario
    times: int | None  # None: every matching request, for as long as the rule is kept
    used: int = 0

    def matches(self, path: str, model: str | None, prompt: str | None) -> bool:
        want = self.match
        if "path" in want and not (path == want["path"] or fnmatch.fnmatchcase(path, want["path"])):
            return False
        if "model" in want and model != want["model"]:
            return False
        return "prompt_contains" not in want or (prompt is not None and want["prompt_contains"] in prompt)

    def view(self) -> dict:
        remaining = None if self.times is None else self.times - self.used
        return {"id": self.id, "match": dict(self.match), "scenario": self.scenario.text(), "times": self.times,
                "used": self.used, "remaining": remaining}  # fmt: skip


class EmulatorService:
    def __init__(self, tasks: TaskStore, clock: Clock, reset_tasks: Callable[[], int]):
        """`reset_tasks`: stops every emulated task and deletes every task with its files (the composition root
        hands over the emulated workers' own); returns how many tasks were deleted."""
        self.tasks, self.clock, self.reset_tasks = tasks, clock, reset_tasks
        self._rules: list[Rule] = []
        self._recorded: deque[dict] = deque(maxlen=MAX_RECORDED)
        self._lock = threading.Lock()

    # -- scenarios --------------------------------------------------------------------------------------

    def scenario_for(self, path: str, header: str | None, body: object) -> Scenario | None:
        """The scenario of one request: its first matching rule (one use of it counted), under the directives of
        its header. None when neither gives any. A header the emulator cannot read is an ApiError naming it."""
        given = scenarios.parse(header) if header else Scenario()
        model, prompt = _model_and_prompt(body)
        with self._lock:
            rule = next((r for r in self._rules if r.matches(path, model, prompt)), None)
            if rule is not None:
                rule.used += 1
                if rule.times is not None and rule.used >= rule.times:
                    self._rules.remove(rule)
        chosen = given.over(rule.scenario) if rule else given
        return None if chosen.empty else chosen

    def expire_addressed(self, path: str) -> bool:
        """`expire` on a call that names a task (a query, a retrieve): that task is now 24 h old."""
        for pattern in _TASK_PATHS:
            found = pattern.match(path)
            if found:
                return self.expire(found.group(1))
        return False

    def expire(self, task_id: str) -> bool:
        """As if the task had been submitted (and had ended) a day ago: queries answer UNKNOWN, lists leave it
        out, retention deletes it, and its result URL is refused (file_expired)."""
        return self.tasks.backdate(task_id, RETENTION_MS + 1)

    def file_expired(self, blob_name: str) -> bool:
        """Whether a result file belongs to a task past retention (expired, or already deleted): its URL is then
        refused as the cloud refuses a URL after 24 h, however long the signature itself would have lived."""
        task_id = task_of_blob(blob_name)
        if task_id is None:
            return False
        task = self.tasks.get(task_id)
        return task is None or past_retention(task, self.clock.now_ms())

    # -- rules ------------------------------------------------------------------------------------------

    def add_rule(self, body: object) -> dict:
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object with match, scenario and times")
        unknown = sorted(set(body) - {"match", "scenario", "times"})
        if unknown:
            raise invalid(unknown[0], "unknown field; a rule has match, scenario and times")
        match = body.get("match") or {}
        if not isinstance(match, dict):
            raise invalid("match", "must be an object with any of " + ", ".join(MATCH_FIELDS))
        for key, value in match.items():
            if key not in MATCH_FIELDS:
                raise invalid(f"match.{key}", "unknown field; a rule matches on " + ", ".join(MATCH_FIELDS))
            if not isinstance(value, str) or not value:
                raise invalid(f"match.{key}", "must be a non-empty string")
        if "scenario" not in body:
            raise invalid("scenario", 'is required: directives such as "fail=InternalError"')
        scenario = scenarios.check(body["scenario"], "scenario")
        times = body.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise invalid("times", f"must be a whole number of at least 1 (or absent: always), got {times!r}")
        rule = Rule(id=str(uuid.uuid4()), match=dict(match), scenario=scenario, times=times)
        with self._lock:
            self._rules.append(rule)
        return rule.view()

    def rules(self) -> list[dict]:
        with self._lock:
            return [r.view() for r in self._rules]

    def delete_rules(self, rule_id: str | None = None) -> int:
        """Delete one rule (by id) or all of them; how many went."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if rule_id is not None and r.id != rule_id]
            return before - len(self._rules)

    # -- the recorder -----------------------------------------------------------------------------------

    def record(self, method: str, path: str, query: list[tuple[str, str]], body: object,
               headers: list[tuple[str, str]], status: int, scenario: Scenario | None) -> None:  # fmt: skip
        entry = {
            "method": method,
            "path": path,
            "query": _query_dict(query),
            "body": _shortened(body),
            # Without the secret ones (the API key): a recorder is for asserting on, and may end up in a CI log.
            "headers": {name.lower(): value for name, value in headers if name.lower() not in SECRET_HEADERS},
            "status": status,
            "scenario": scenario.text() if scenario else None,
            "time_ms": self.clock.now_ms(),
        }
        with self._lock:
            self._recorded.append(entry)

    def requests(self) -> list[dict]:
        with self._lock:
            return list(self._recorded)

    # -- reset ------------------------------------------------------------------------------------------

    def reset(self) -> dict:
        """Rules, recorder and tasks (with their files) are cleared: the emulator is as freshly started."""
        with self._lock:
            rules = len(self._rules)
            self._rules.clear()
            self._recorded.clear()
        return {"rules": rules, "tasks": self.reset_tasks()}


def _model_and_prompt(body: object) -> tuple[str | None, str | None]:
    """The model and prompt of a JSON create (DashScope's input.prompt, or the OpenAI-style prompt)."""
    if not isinstance(body, dict):
        return None, None
    model = body.get("model") if isinstance(body.get("model"), str) else None
    inputs = body.get("input")
    prompt = inputs.get("prompt") if isinstance(inputs, dict) else body.get("prompt")
    return model, prompt if isinstance(prompt, str) else None


def _query_dict(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """A query string as a dict; a name given more than once keeps all its values, in order."""
    out: dict[str, str | list[str]] = {}
    for name, value in pairs:
        if name in out:
            held = out[name]
            out[name] = [*held, value] if isinstance(held, list) else [held, value]
        else:
            out[name] = value
    return out


def _shortened(value: object) -> object:
    """A recorded body with its long strings (inline media) cut, so that the recorder stays small."""
    if isinstance(value, str) and len(value) > MAX_RECORDED_TEXT:
        return f"{value[:64]}…[{len(value)} characters]"
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value
