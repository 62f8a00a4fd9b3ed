"""Live replies on a real Celery worker of the inference queue (a threads pool, as `make run`
and docker-compose start it): a tiny local model streams replies token by token through the
server-sent events view, two at once, loaded once and kept warm; an OpenAI-compatible stand-in
server streams the same way; a worker killed mid-reply leaves a failed reply with a clear
message and its text never marked done."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from tests.training.openai_stub import openai_stub, stub_url
from tests.worker import celery_worker, wait_for
from training.models import InferenceEndpoint, InferenceSource, ReplyStatus, ReplyStream
from training.selectors.inference import STOPPED_ANSWERING, reply_read
from training.services.inference import replies_fail_stale, reply_start
from training.views import inference as views

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STALE = 2  # seconds without a heartbeat before a reply counts as lost (worker and test)
WORKER_ARGS = ["--pool", "threads", "--concurrency", "4"]


@pytest.fixture
def inference_worker(settings, monkeypatch):
    settings.CHORUS_INFERENCE_STALE_SECONDS = STALE
    monkeypatch.setattr(views, "POLL_SECONDS", 0.01)
    with celery_worker(
        queues=settings.CHORUS_INFERENCE_QUEUE,
        args=WORKER_ARGS,
        CHORUS_INFERENCE_STALE_SECONDS=str(STALE),
        # the worker checks a local model is inside the roots again: pytest's folders are one
        CHORUS_MODEL_ROOTS=",".join(str(root) for root in settings.CHORUS_MODEL_ROOTS),
    ) as worker:
        yield worker


def _ask(source, user, text: str = "tell me about the cat", **kw) -> ReplyStream:  # noqa: ANN001, ANN003
    return reply_start(source=source, user=user, messages=[{"role": "user", "content": text}], **kw)


def _sse(user, reply: ReplyStream, close: bool = False) -> list[dict]:  # noqa: ANN001
    """Every event of the reply's stream, read as a browser would, until it ends (`close`:
    then close this thread's database connection)."""
    try:
        return _read_events(user, reply)
    finally:
        if close:
            connection.close()


def _read_events(user, reply: ReplyStream) -> list[dict]:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    response = client.get(f"/live/replies/{reply.pk}/events")
    assert response.status_code == 200
    events, buffer = [], ""
    for chunk in response.streaming_content:
        buffer += chunk.decode()
        *blocks, buffer = buffer.split("\n\n")
        for block in blocks:
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
            if "event" in fields:
                events.append({"event": fields["event"], **json.loads(fields["data"])})
    return events


def _assert_progressive(events: list[dict], reply: ReplyStream) -> str:
    tokens = [e["text"] for e in events if e["event"] == "token"]
    assert len(tokens) >= 3, events  # several intermediate states, not one final text
    assert events[-1]["event"] == "done", events
    row = ReplyStream.objects.get(pk=reply.pk)
    assert "".join(tokens) == events[-1]["text"] == row.text
    assert row.status == ReplyStatus.DONE and row.first_token_at <= row.finished_at
    return row.text


def test_a_tiny_local_model_streams_replies_side_by_side_and_stays_loaded(
    inference_worker, tiny_base_model, labeler
):
    source = InferenceSource.objects.create(
        name="tiny", kind="local", model_path=tiny_base_model, max_new_tokens=96, temperature=1.0
    )
    first, second = _ask(source, labeler, seed=1), _ask(source, labeler, seed=2)
    with ThreadPoolExecutor(2) as pool:  # two browser streams at once, as side by side
        streams = list(pool.map(lambda r: _sse(labeler, r, close=True), (first, second)))
    texts = [
        _assert_progressive(events, r) for events, r in zip(streams, (first, second), strict=True)
    ]
    assert texts[0] != texts[1]  # two samples, streamed at once
    rows = ReplyStream.objects.filter(pk__in=[first.pk, second.pk])
    assert all(r.token_count > 3 for r in rows)
    third = _ask(source, labeler, seed=3)
    _assert_progressive(_sse(labeler, third), third)
    log = inference_worker.log
    assert "inference worker warmed up: 0 model(s) loaded" in log  # torch imported before ready
    assert log.count(f"loading {tiny_base_model} for inference") == 1, log[-3000:]  # kept warm


def test_an_openai_compatible_server_streams_through_the_worker(inference_worker, labeler):
    with openai_stub(stream_words=15, stream_delay=0.03) as server:
        endpoint = InferenceEndpoint.objects.create(name="stub", base_url=stub_url(server))
        source = InferenceSource.objects.create(
            name="stub-chat", kind="endpoint", endpoint=endpoint, api_model="served"
        )
        reply = _ask(source, labeler, text="hello")
        text = _assert_progressive(_sse(labeler, reply), reply)
    assert text == "reply to hello: " + " ".join(f"word{i}" for i in range(15))
    assert server.requests[0]["body"]["stream"] is True


def test_a_failing_server_gives_the_stream_a_clear_error(inference_worker, labeler):
    with openai_stub(fail_with="upstream secret") as server:
        endpoint = InferenceEndpoint.objects.create(name="stub", base_url=stub_url(server))
        source = InferenceSource.objects.create(
            name="stub-chat", kind="endpoint", endpoint=endpoint, api_model="served"
        )
        reply = _ask(source, labeler)
        events = _sse(labeler, reply)
    assert [e["event"] for e in events] == ["error"]
    assert "500 Internal Server Error" in events[0]["message"]
    assert "secret" not in events[0]["message"]


def test_a_worker_killed_mid_reply_fails_it_with_a_message_never_done(inference_worker, labeler):
    with openai_stub(stream_words=400, stream_delay=0.05) as server:
        endpoint = InferenceEndpoint.objects.create(name="stub", base_url=stub_url(server))
        source = InferenceSource.objects.create(
            name="slow", kind="endpoint", endpoint=endpoint, api_model="served"
        )
        reply = _ask(source, labeler)
        wait_for(
            lambda: "word3" in ReplyStream.objects.get(pk=reply.pk).text,
            timeout=60,
            worker=inference_worker,
        )
        os.killpg(inference_worker.proc.pid, signal.SIGKILL)  # the worker and its threads die
        events = _sse(labeler, reply)  # ends once the heartbeat is STALE seconds old
    assert events[-1] == {"event": "error", "message": STOPPED_ANSWERING, "status": "failed"}
    state = reply_read(reply)
    assert state.status == ReplyStatus.FAILED and "word3" in state.text
    assert replies_fail_stale() == 1
    row = ReplyStream.objects.get(pk=reply.pk)
    assert (row.status, row.error) == (ReplyStatus.FAILED, STOPPED_ANSWERING)
    assert "word399" not in row.text
