"""The upload cap: uploads are counted while they stream in and stopped past
CHORUS_MAX_UPLOAD_BYTES, before more than that reaches memory or disk.

`CappedUploadHandler` runs first in FILE_UPLOAD_HANDLERS. Past the cap it marks the request and
stops the upload (the rest of the body is read and dropped, so the client gets an answer rather
than a reset connection); the file is then missing from request.FILES, and the view asks
`upload_refusal(request)` for the 413 message to show instead of "this field is required".
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

REFUSED = "_chorus_upload_refused"


def too_large_message(cap: int) -> str:
    return f"the file is larger than {cap} bytes (CHORUS_MAX_UPLOAD_BYTES)"


class CappedUploadHandler(FileUploadHandler):
    """Counts the bytes of every file in a request; stops the upload past the cap."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> None:
        self.cap = settings.CHORUS_MAX_UPLOAD_BYTES

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.cap:
            if self.request is not None:
                setattr(self.request, REFUSED, too_large_message(self.cap))
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers store the file


def upload_refusal(request: Any) -> str | None:
    """The reason a request's upload was stopped (too large), or None. Takes a Django or DRF
    request; read it after request.POST/FILES (or DRF's request.data) were parsed."""
    return getattr(getattr(request, "_request", request), REFUSED, None)
