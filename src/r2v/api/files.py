"""Result files served by r2v itself, from any BlobStore stream: whole, or one byte range (players seek with
`Range: bytes=a-b`), as an object store would answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from fastapi.responses import Response, StreamingResponse

from r2v.errors import INVALID_RANGE, ApiError

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def stream_response(stream: BinaryIO, media_type: str, range_header: str | None, head: bool) -> Response:
    """The stream as a 200, or as a 206 of the one range asked for; a range past the end is a 416. A header
    asking for several ranges is answered with the whole file, which the HTTP spec allows."""
    size = stream.seek(0, 2)
    start, end, status = 0, size - 1, 200
    match = _RANGE.match(range_header.strip()) if range_header else None
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # bytes=-N: the last N bytes
            start = max(0, size - int(last))
        if start >= size or start > end:
            stream.close()
            raise ApiError(416, INVALID_RANGE, f"Range: {range_header} is not within the {size} bytes of the file")
        status = 206
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if head:
        stream.close()
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(_chunks(stream, start, end), status_code=status, headers=headers, media_type=media_type)


def _chunks(stream: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Read in a thread of the pool (Starlette iterates a sync generator there), closed when done or cut off."""
    try:
        stream.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        stream.close()
