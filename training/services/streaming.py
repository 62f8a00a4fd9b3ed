"""The inference worker's side of a reply (training.tasks.reply_task, on the inference queue).

`reply_execute` claims a queued reply (queued -> streaming in one conditional UPDATE, so a
message delivered twice streams once), streams it from its source (training/ml/stream.py: a
local or run model kept loaded in this process, or an endpoint's server-sent events) and writes
the text shown so far to the row at most every CHORUS_INFERENCE_FLUSH_SECONDS, with the token
count and the time of the first token. A thread beats `heartbeat_at` meanwhile (a model still
loading is alive too). Every write is conditional on the reply being alive (streaming, with a
fresh heartbeat: selectors.inference.alive_q): when its requester cancels it, or readers already
count it lost, the write changes nothing and the model stops at its next token. A reply that
took longer than CHORUS_INFERENCE_REPLY_SECONDS, or whose model failed, is failed with a
message for the user (naming no model or host); the full reason goes to the worker's log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from training.ml.config import SamplingSettings
from training.models import ReplyStatus, ReplyStream, SourceKind
from training.paths import inside_roots
from training.selectors.inference import alive_q, lost_q

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = 60.0  # seconds an endpoint may take to answer, and between two chunks
FAILED_UNKNOWN = "The model failed while answering. Try again."


def reply_execute(*, reply_id: str, hostname: str) -> None:
    """Stream a queued reply to its end (done, failed, or stopped by a cancel)."""
    from training.ml.stream import StreamError

    now = timezone.now()
    claimed = (
        ReplyStream.objects.filter(pk=reply_id, status=ReplyStatus.QUEUED)
        .exclude(lost_q(now))
        .update(status=ReplyStatus.STREAMING, heartbeat_at=now, updated_at=now,
                worker_hostname=hostname[:200])
    )  # fmt: skip
    if not claimed:
        logger.info("reply %s is not queued (or waited too long); not streaming it", reply_id)
        return
    reply = ReplyStream.objects.select_related("source__run", "source__endpoint").get(pk=reply_id)
    stop = threading.Event()
    with _heartbeat(reply.pk, stop):
        try:
            _stream(reply, stop)
        except StreamError as exc:
            logger.warning("reply %s (source %s) failed: %s", reply.pk, reply.source.name, exc)
            _fail(reply, f"The model could not answer: {exc}.")
        except Exception:
            logger.exception("reply %s (source %s) failed", reply.pk, reply.source.name)
            _fail(reply, FAILED_UNKNOWN)


def _stream(reply: ReplyStream, stop: threading.Event) -> None:
    from training.ml.stream import StreamError, visible_text

    pieces, hh = _open(reply, stop)
    writer = _Writer(reply.pk)
    limit = settings.CHORUS_INFERENCE_REPLY_SECONDS
    deadline = time.monotonic() + limit
    raw, tokens = "", 0
    with contextlib.closing(pieces):
        for piece in pieces:
            raw, tokens = raw + piece.text, piece.tokens
            shown, turn_ended = visible_text(raw, hh)
            if turn_ended:
                break
            if time.monotonic() > deadline:
                raise StreamError(f"it took longer than {limit} s")
            if stop.is_set() or not writer.flush(shown, tokens):
                stop.set()
                return  # cancelled, or counted lost: nothing more is written
    writer.finish(visible_text(raw, hh)[0], tokens)


def _open(reply: ReplyStream, stop: threading.Event) -> tuple[Iterator[Any], bool]:
    """The reply's pieces and whether its text is HH format (cut at the next Human: turn)."""
    from training.ml.stream import MODELS, stream_http, stream_local

    source, p = reply.source, reply.params
    sampling = SamplingSettings(
        max_new_tokens=p["max_new_tokens"], temperature=p["temperature"], top_p=p["top_p"],
        seed=p["seed"], batch_size=1,
    )  # fmt: skip
    if source.kind == SourceKind.ENDPOINT:
        endpoint = source.endpoint
        # The key is read here, on the worker, and sent only to the endpoint's own URL.
        key = os.environ.get(endpoint.key_env, "") if endpoint.key_env else ""
        pieces = stream_http(
            endpoint.base_url, source.api_model, reply.messages, sampling, stop,
            chat=source.chat, api_key=key, timeout=HTTP_TIMEOUT,
        )  # fmt: skip
        return pieces, not source.chat
    lm = MODELS.get(_model_path(reply), capacity=settings.CHORUS_INFERENCE_MAX_MODELS)
    return stream_local(lm, reply.messages, sampling, stop), not getattr(
        lm[1], "chat_template", None
    )


def _model_path(reply: ReplyStream) -> str:
    from training.ml.stream import StreamError

    source = reply.source
    path = str(source.run.run_dir) if source.kind == SourceKind.RUN else source.model_path
    if not (Path(path) / "config.json").is_file() or (
        source.kind == SourceKind.LOCAL and not inside_roots(path)
    ):
        logger.warning("source %s: no model at %s", source.name, path)
        raise StreamError("this model is not available")
    return path


class _Writer:
    """Writes the text shown so far, at most every CHORUS_INFERENCE_FLUSH_SECONDS."""

    def __init__(self, pk: Any) -> None:
        self.pk = pk
        self.every = settings.CHORUS_INFERENCE_FLUSH_SECONDS
        self.last = float("-inf")
        self.first_token_at = None

    def _update(self, **fields: Any) -> bool:
        now = timezone.now()
        if self.first_token_at is None and fields.get("text"):
            self.first_token_at = fields["first_token_at"] = now
        rows = ReplyStream.objects.filter(alive_q(now), pk=self.pk).update(
            heartbeat_at=now, updated_at=now, **fields
        )
        return bool(rows)

    def flush(self, text: str, tokens: int) -> bool:
        """Whether the reply is still alive (False: stop generating)."""
        if time.monotonic() - self.last < self.every:
            return True
        self.last = time.monotonic()
        return self._update(text=text, token_count=tokens)

    def finish(self, text: str, tokens: int) -> None:
        done = self._update(
            text=text, token_count=tokens, status=ReplyStatus.DONE, finished_at=timezone.now()
        )
        if not done:
            logger.info("reply %s ended meanwhile (cancelled or lost); not marked done", self.pk)


def _fail(reply: ReplyStream, message: str) -> None:
    now = timezone.now()
    ReplyStream.objects.filter(pk=reply.pk, status=ReplyStatus.STREAMING).update(
        status=ReplyStatus.FAILED, error=message[:2000], finished_at=now, updated_at=now
    )


@contextlib.contextmanager
def _heartbeat(pk: Any, stop: threading.Event) -> Iterator[None]:
    """Beat the reply's heartbeat from a thread while it streams; a reply that is no longer
    alive (cancelled, or counted lost) sets `stop`."""
    done = threading.Event()
    every = max(0.2, settings.CHORUS_INFERENCE_STALE_SECONDS / 4)

    def beat() -> None:
        try:
            while not done.wait(every):
                now = timezone.now()
                if not ReplyStream.objects.filter(alive_q(now), pk=pk).update(heartbeat_at=now):
                    stop.set()
                    return
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"reply-beat-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
