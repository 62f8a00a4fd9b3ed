"""The server-sent events of a live reply (GET /live/replies/<id>/events) and its JSON API:
tokens as they are written, done, errors with a message, the time-out, resuming after
Last-Event-ID; only the requester reads a reply (an access test per persona)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.access import PERSONAS, RESEARCH_API, RESEARCH_CREATE
from training.models import InferenceSource, ReplyStatus, ReplyStream, SourceKind
from training.selectors.inference import STOPPED_ANSWERING
from training.views import inference as views

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    monkeypatch.setattr(views, "POLL_SECONDS", 0.01)


@pytest.fixture
def source(tmp_path):
    return InferenceSource.objects.create(
        name="secret-model-name", kind=SourceKind.LOCAL, model_path=str(tmp_path)
    )


@pytest.fixture
def reply(source, labeler):
    return ReplyStream.objects.create(
        source=source, requested_by=labeler, messages=[{"role": "user", "content": "hi"}]
    )


def _set(reply, **fields) -> None:  # noqa: ANN001, ANN003
    fields.setdefault("heartbeat_at", timezone.now())
    ReplyStream.objects.filter(pk=reply.pk).update(**fields)


def _parse(chunk: bytes | str) -> dict | None:
    text = chunk.decode() if isinstance(chunk, bytes) else chunk
    fields = dict(
        line.split(": ", 1) for line in text.strip().splitlines() if not line.startswith(":")
    )
    if "event" not in fields:
        return None
    return {"event": fields["event"], "id": fields.get("id"), **json.loads(fields["data"])}


def _events(client, reply, **headers) -> tuple[object, object]:  # noqa: ANN001, ANN003
    response = client.get(f"/live/replies/{reply.pk}/events", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    chunks = iter(response.streaming_content)

    def following() -> dict:
        for chunk in chunks:
            event = _parse(chunk)
            if event is not None:
                return event
        raise AssertionError("the stream ended")

    return response, following


def test_tokens_arrive_as_they_are_written_then_done(as_persona, reply):
    response, following = _events(as_persona("labeler"), reply)
    _set(reply, status=ReplyStatus.STREAMING, text="Hello")
    assert following() == {"event": "token", "id": "5", "text": "Hello"}
    _set(reply, text="Hello, wor")
    assert following() == {"event": "token", "id": "10", "text": ", wor"}
    _set(reply, text="Hello, world.", status=ReplyStatus.DONE, token_count=4)
    assert following() == {"event": "token", "id": "13", "text": "ld."}
    assert following() == {"event": "done", "id": "13", "text": "Hello, world.", "tokens": 4}
    assert list(response.streaming_content) == []  # the stream ends after done


def test_a_reconnecting_browser_gets_only_the_rest(as_persona, reply):
    _set(reply, status=ReplyStatus.DONE, text="Hello, world.")
    _, following = _events(as_persona("labeler"), reply, last_event_id="7")
    assert following()["text"] == "world."
    assert following()["event"] == "done"


def test_a_silent_worker_ends_the_stream_with_a_message(as_persona, reply, settings):
    settings.CHORUS_INFERENCE_STALE_SECONDS = 5
    _, following = _events(as_persona("labeler"), reply)
    _set(reply, status=ReplyStatus.STREAMING, text="partial")
    assert following()["text"] == "partial"
    _set(reply, heartbeat_at=timezone.now() - timedelta(seconds=6))
    assert following() == {
        "event": "error",
        "id": "7",
        "message": STOPPED_ANSWERING,
        "status": ReplyStatus.FAILED,
    }


def test_failed_and_cancelled_replies_end_with_their_message(as_persona, reply, source, labeler):
    _set(reply, status=ReplyStatus.FAILED, error="The model could not answer: boom.")
    _, following = _events(as_persona("labeler"), reply)
    assert following()["message"] == "The model could not answer: boom."
    other = ReplyStream.objects.create(source=source, requested_by=labeler, messages=[])
    as_persona("labeler").post(f"/api/training/replies/{other.pk}/cancel/")
    _, following = _events(as_persona("labeler"), other)
    assert following() == {
        "event": "error",
        "id": "0",
        "message": "Stopped.",
        "status": "cancelled",
    }


def test_the_stream_times_out_with_a_clear_message(as_persona, reply, monkeypatch):
    monkeypatch.setattr(views, "stream_deadline_seconds", lambda: 0.05)
    _set(reply, status=ReplyStatus.STREAMING)
    _, following = _events(as_persona("labeler"), reply)
    event = following()
    assert event["event"] == "error" and event["message"] == views.TIMED_OUT


# --- access -----------------------------------------------------------------------------------

OWNER_ONLY_PAGE = {p: 404 for p in PERSONAS} | {"labeler": 200, "anonymous": 302}
OWNER_ONLY_API = {p: 404 for p in PERSONAS} | {"labeler": 200, "anonymous": 403}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_requester_reads_a_reply(as_persona, reply, persona):
    _set(reply, status=ReplyStatus.DONE, text="fine")
    client = as_persona(persona)
    events = client.get(f"/live/replies/{reply.pk}/events")
    assert events.status_code == OWNER_ONLY_PAGE[persona]
    detail = client.get(f"/api/training/replies/{reply.pk}/")
    assert detail.status_code == OWNER_ONLY_API[persona]
    cancel = client.post(f"/api/training/replies/{reply.pk}/cancel/")
    assert cancel.status_code == OWNER_ONLY_API[persona]
    if detail.status_code == 200:
        body = detail.json()
        assert (body["status"], body["text"]) == ("done", "fine")
        assert body["events_url"] == f"/live/replies/{reply.pk}/events"
        assert "secret-model-name" not in detail.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_sources_are_listed_to_researchers_and_admins_only(as_persona, source, persona):
    response = as_persona(persona).get("/api/training/inference-sources/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        assert [s["name"] for s in response.json()] == ["secret-model-name"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_researchers_and_admins_start_replies_from_a_source(
    as_persona, source, persona, django_capture_on_commit_callbacks
):
    body = {"source": source.name, "messages": [{"role": "user", "content": "hi"}]}
    with django_capture_on_commit_callbacks():
        response = as_persona(persona).post(
            "/api/training/replies/", body, content_type="application/json"
        )
    assert response.status_code == RESEARCH_CREATE[persona]
    if response.status_code == 201:
        assert response.json()["status"] == "queued"


def test_reply_create_names_the_bad_field(as_persona, source):
    client = as_persona("researcher")
    for body, field in [
        ({"source": "nope", "messages": [{"role": "user", "content": "hi"}]}, "source"),
        ({"source": source.name, "messages": []}, "messages"),
        ({"source": source.name, "messages": [{"role": "bot", "content": "x"}]}, "messages"),
        ({"source": source.name, "messages": [{"role": "assistant", "content": "x"}]}, "messages"),
        ({"source": source.name, "messages": "hi"}, "messages"),
        (
            {
                "source": source.name,
                "messages": [{"role": "user", "content": "x"}],
                "max_new_tokens": 0,
            },
            "max_new_tokens",
        ),
    ]:
        response = client.post("/api/training/replies/", body, content_type="application/json")
        assert response.status_code == 400, body
        assert field in response.json(), (body, response.json())
