"""Emulator scenarios: what `r2v serve --emulate` is told to make of a request, in the `X-R2V-Scenario` header or in
a rule's `scenario` (service/emulator.py). A scenario is a `;`-separated list of directives:

    fail=CODE[:message]   the task ends FAILED with that code (and message)
    http=STATUS[:CODE]    this call itself answers STATUS in the API's error envelope
    pending=SECONDS       the task stays PENDING this long before it runs
    running=SECONDS       the task stays RUNNING this long (its progress rising) before it ends
    expire                the task answers UNKNOWN and its result URL is refused, as 24 h later

Parsing is strict: a directive the emulator does not know, or a value it cannot read, is an ApiError (400) that
names it, so that a typo in a test never passes as the default outcome."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace

from r2v.errors import (
    ACCESS_DENIED,
    DATA_INSPECTION_FAILED,
    INTERNAL_ERROR,
    INVALID_API_KEY,
    INVALID_PARAMETER,
    MSG_INTERNAL,
    MSG_INVALID_API_KEY,
    MSG_NOT_FOUND,
    NOT_FOUND,
    SERVICE_UNAVAILABLE,
    THROTTLED,
    ApiError,
    invalid,
)
from r2v.ratelimits import MSG_THROTTLED

HEADER = "X-R2V-Scenario"
EXTRAS_KEY = "emulator_scenario"  # where a created task keeps its scenario (JobSpec.extras), for the emulated worker
DIRECTIVES = ("fail", "http", "pending", "running", "expire")
MAX_WAIT_S = 3600.0  # pending= and running= at most an hour: a test double, not a scheduler
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Scenario:
    """Parsed directives; None (or False) for each one not given."""

    fail_code: str | None = None
    fail_message: str | None = None
    http_status: int | None = None
    http_code: str | None = None
    pending_s: float | None = None
    running_s: float | None = None
    expire: bool = False

    @property
    def empty(self) -> bool:
        return self == Scenario()

    def over(self, base: Scenario) -> Scenario:
        """This scenario's directives laid over `base`'s (a header over a rule): each directive given here wins."""
        # `is`, not `in (None, False)`: 0.0 == False, and pending=0 or running=0 in a header is given all the same
        given = {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None and v is not False}
        if self.fail_code is not None:
            given["fail_message"] = self.fail_message  # a code comes with its own message (or none)
        if self.http_status is not None:
            given["http_code"] = self.http_code
        return replace(base, **given)

    def text(self) -> str:
        """The scenario written back as directives (how it is stored with a task and shown in the recorder)."""
        parts = []
        if self.fail_code:
            parts.append(f"fail={self.fail_code}" + (f":{self.fail_message}" if self.fail_message else ""))
        if self.http_status:
            parts.append(f"http={self.http_status}" + (f":{self.http_code}" if self.http_code else ""))
        if self.pending_s is not None:
            parts.append(f"pending={self.pending_s:g}")
        if self.running_s is not None:
            parts.append(f"running={self.running_s:g}")
        if self.expire:
            parts.append("expire")
        return ";".join(parts)


def parse(text: str, source: str = HEADER) -> Scenario:
    """The directives of `text`; `source` names where it came from in error messages (the header, a rule field)."""
    values: dict = {}
    seen: set[str] = set()
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        name, has_value, value = (part.strip() for part in item.partition("="))
        name = name.lower()
        if name not in DIRECTIVES:
            raise invalid(source, f"unknown directive {name!r}; the emulator knows {', '.join(DIRECTIVES)}")
        if name in seen:
            raise invalid(source, f"the directive {name!r} is given twice")
        seen.add(name)
        if name == "expire":
            if has_value:
                raise invalid(source, f"expire takes no value, got {item!r}")
            values["expire"] = True
        elif not has_value or not value:
            raise invalid(source, f"{name} needs a value ({_USAGE[name]})")
        elif name == "fail":
            values["fail_code"], values["fail_message"] = _code_and_text(value, source, "fail")
        elif name == "http":
            values["http_status"], values["http_code"] = _status(value, source)
        else:
            values[f"{name}_s"] = _seconds(value, source, name)
    return Scenario(**values)


_USAGE = {"fail": "fail=CODE[:message]", "http": "http=STATUS[:CODE]", "pending": "pending=SECONDS",
          "running": "running=SECONDS"}  # fmt: skip


def _code_and_text(value: str, source: str, name: str) -> tuple[str, str | None]:
    code, _, message = value.partition(":")
    code = code.strip()
    if not _CODE.match(code):
        raise invalid(source, f"{name}: {code!r} is not an error code (letters, digits, '.', '_' or '-')")
    return code, message.strip() or None


def _status(value: str, source: str) -> tuple[int, str | None]:
    status_text, _, code = value.partition(":")
    status_text = status_text.strip()
    if not (status_text.isascii() and status_text.isdigit()) or not 400 <= int(status_text) <= 599:
        raise invalid(source, f"http: the status must be an error status from 400 to 599, got {status_text!r}")
    code = code.strip()
    if code and not _CODE.match(code):
        raise invalid(source, f"http: {code!r} is not an error code (letters, digits, '.', '_' or '-')")
    return int(status_text), code or None


def _seconds(value: str, source: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_WAIT_S):
        raise invalid(source, f"{name}: must be a number of seconds from 0 to {MAX_WAIT_S:g}, got {value!r}")
    return seconds


def check(text: object, source: str) -> Scenario:
    """A scenario given as JSON (a rule's `scenario`): a string of directives."""
    if not isinstance(text, str):
        raise invalid(source, 'must be a string of directives such as "fail=InternalError;pending=2"')
    return parse(text, source)


# What an injected error says when the scenario names no code or message: the cloud's own words, so that an app's
# handling of real errors is what gets tested.
HTTP_CODES = {
    400: (INVALID_PARAMETER, "The request is invalid."),
    401: (INVALID_API_KEY, MSG_INVALID_API_KEY),
    403: (ACCESS_DENIED, "Access denied."),
    404: (NOT_FOUND, MSG_NOT_FOUND),
    429: (THROTTLED, MSG_THROTTLED),
    500: (INTERNAL_ERROR, MSG_INTERNAL),
    503: (SERVICE_UNAVAILABLE, "The service is temporarily unavailable; retry later."),
    504: ("RequestTimeOut", "Request timed out, please try again later."),
}
FAIL_MESSAGES = {
    DATA_INSPECTION_FAILED: "Input data may contain inappropriate content.",
    INTERNAL_ERROR: MSG_INTERNAL,
    "InternalError.Timeout": "An internal timeout error has occured during execution, please try again later.",
    THROTTLED: MSG_THROTTLED,
}


def injected_error(scenario: Scenario) -> ApiError:
    """The error an `http=` directive answers with."""
    status = scenario.http_status or 500
    default_code, message = HTTP_CODES.get(status, (INTERNAL_ERROR if status >= 500 else INVALID_PARAMETER,
                                                    f"HTTP {status} (injected by {HEADER})"))  # fmt: skip
    code = scenario.http_code or default_code
    if scenario.http_code and scenario.http_code != default_code:
        message = FAIL_MESSAGES.get(code, f"{code} (injected by {HEADER})")
    return ApiError(status, code, message)


def failure(scenario: Scenario) -> tuple[str, str]:
    """(code, message) of a task that a `fail=` directive ends FAILED."""
    code = scenario.fail_code or INTERNAL_ERROR
    return code, scenario.fail_message or FAIL_MESSAGES.get(code, f"{code} (injected by {HEADER})")
