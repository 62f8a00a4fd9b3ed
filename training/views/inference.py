"""Server-sent events of a live reply: GET /live/replies/<id>/events.

The stream polls the reply's row every POLL_SECONDS (the inference worker writes its text there,
throttled) and sends what is new:

- `token`  {"text": the new text}, with `id:` the characters sent so far (a browser that
  reconnects sends it back as Last-Event-ID and gets only the rest);
- `done`   {"text": the whole reply, "tokens": n}: the reply is complete;
- `error`  {"message": for the user, "status": failed|cancelled}: the model failed, its worker
  went silent, the reply was stopped, or the stream ran past its time-out.

Then the stream ends (the page closes its EventSource on `done` and `error`). Only the user who
asked for the reply may read it (404 for everyone else); no model name is ever sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from training.models import ReplyStatus, ReplyStream
from training.selectors.inference import reply_get_for_user, reply_read

POLL_SECONDS = 0.1  # how often the stream reads the reply's row
KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing a quiet stream
TIMED_OUT = "The reply took too long; the stream was closed. Try again."


def _event(name: str, data: dict[str, object], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n"


def stream_deadline_seconds() -> float:
    """The stream's total time-out: past it no worker could still be on the reply."""
    return float(
        settings.CHORUS_INFERENCE_QUEUE_SECONDS
        + settings.CHORUS_INFERENCE_REPLY_SECONDS
        + settings.CHORUS_INFERENCE_STALE_SECONDS
    )


def reply_event_stream(reply: ReplyStream, sent: int = 0) -> Iterator[str]:
    """The events of `reply` from character `sent` on, until it ends or the time-out."""
    yield "retry: 2000\n\n"
    deadline = time.monotonic() + stream_deadline_seconds()
    quiet_since = time.monotonic()
    while True:
        state = reply_read(reply)
        if len(state.text) > sent:
            yield _event("token", {"text": state.text[sent:]}, len(state.text))
            sent, quiet_since = len(state.text), time.monotonic()
        if state.status == ReplyStatus.DONE:
            yield _event("done", {"text": state.text, "tokens": state.token_count}, sent)
            return
        if state.ended:
            yield _event("error", {"message": state.error, "status": state.status}, sent)
            return
        if time.monotonic() > deadline:
            yield _event("error", {"message": TIMED_OUT, "status": ReplyStatus.FAILED}, sent)
            return
        if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            yield ": waiting\n\n"
            quiet_since = time.monotonic()
        time.sleep(POLL_SECONDS)


def _last_event_id(request: HttpRequest) -> int:
    value = request.headers.get("Last-Event-ID", "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


@login_required
@require_GET
def reply_events(request: HttpRequest, reply_id: uuid.UUID) -> StreamingHttpResponse:
    reply = reply_get_for_user(request.user, reply_id)
    response = StreamingHttpResponse(
        reply_event_stream(reply, _last_event_id(request)), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
