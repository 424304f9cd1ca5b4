"""The one place where DashScope error answers are defined and built.

Every error r2v returns over HTTP, and every failure recorded on a task, uses a code from this module, so the
wire vocabulary (code strings, HTTP statuses, fixed messages the SDKs know) lives in one file.
"""

from __future__ import annotations

import uuid

# Codes, as the cloud spells them.
INVALID_PARAMETER = "InvalidParameter"
INVALID_PARAMETER_OSS = "InvalidParameter.DataInspection"
INVALID_URL = "InvalidURL"
DATA_INSPECTION_FAILED = "DataInspectionFailed"
UNSUPPORTED_OPERATION = "UnsupportedOperation"
INVALID_API_KEY = "InvalidApiKey"
ACCESS_DENIED = "AccessDenied"
TOO_LARGE = "BadRequest.TooLarge"
UNSUPPORTED_FILE_FORMAT = "BadRequest.UnsupportedFileFormat"
INPUT_DOWNLOAD_FAILED = "BadRequest.InputDownloadFailed"
THROTTLED = "Throttling.RateQuota"
INTERNAL_ERROR = "InternalError"
NOT_FOUND = "NotFound"
METHOD_NOT_ALLOWED = "MethodNotAllowed"
FILE_ALREADY_EXISTS = "FileAlreadyExists"
INVALID_RANGE = "InvalidRange"
SERVICE_UNAVAILABLE = "ServiceUnavailable"

# Fixed messages the cloud uses (and SDK users grep for).
MSG_MODEL_NOT_EXIST = "Model not exist."
MSG_NO_API_KEY = "No API-key provided."
MSG_INVALID_API_KEY = "Invalid API-key provided."
MSG_SYNC_NOT_SUPPORTED = "current user api does not support synchronous calls"
MSG_CANCEL_NOT_PENDING = "Failed to cancel the task, please confirm if the task is in PENDING status."
MSG_INTERNAL = "An internal error has occured, please try again later or contact service support."
MSG_NOT_FOUND = "url error, please check url!"


class ApiError(Exception):
    """An error answered to the client in the DashScope envelope."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BackendUnavailable(Exception):
    """A backend (the database, the object store) cannot be reached right now. Answered 503 ServiceUnavailable,
    which the SDKs retry; a worker retries the task's bookkeeping later."""


def invalid(field: str, reason: str) -> ApiError:
    """400 InvalidParameter whose message starts with the offending field."""
    return ApiError(400, INVALID_PARAMETER, f"{field}: {reason}")


def invalid_url(field: str, reason: str) -> ApiError:
    return ApiError(400, INVALID_URL, f"{field}: {reason}")


class TaskFailure(Exception):
    """A media-dependent failure that ends a task FAILED with output.code/output.message."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def new_request_id() -> str:
    return str(uuid.uuid4())


def envelope(code: str, message: str, request_id: str) -> dict:
    """The error body the SDKs parse: exactly these three keys."""
    return {"code": code, "message": message, "request_id": request_id}
