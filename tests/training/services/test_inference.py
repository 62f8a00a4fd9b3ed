"""Live replies (issue 16, item 3), in process: sources are checked, replies are started,
cancelled and read with the lost-worker rule; an endpoint source streams from an
OpenAI-compatible stand-in server (stdlib only, no torch)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.training.fixtures import finished_run
from tests.training.openai_stub import openai_stub, stub_url
from training.models import (
    InferenceEndpoint,
    InferenceSource,
    ReplyStatus,
    ReplyStream,
    RunKind,
    SourceKind,
)
from training.selectors.inference import NOT_PICKED_UP, STOPPED_ANSWERING, reply_read
from training.services.inference import (
    replies_fail_orphaned,
    replies_fail_stale,
    reply_cancel,
    reply_start,
    source_check,
)
from training.services.streaming import reply_execute

pytestmark = pytest.mark.django_db

HI = [{"role": "user", "content": "hello there"}]
KEY = "sk-live-stub-key"


@pytest.fixture
def endpoint_source(monkeypatch):
    monkeypatch.setenv("CHORUS_TEST_LIVE_KEY", KEY)

    def make(url: str, chat: bool = True) -> InferenceSource:
        endpoint = InferenceEndpoint.objects.create(
            name="stub", base_url=url, key_env="CHORUS_TEST_LIVE_KEY"
        )
        return InferenceSource.objects.create(
            name="stub-chat", kind=SourceKind.ENDPOINT, endpoint=endpoint, api_model="served",
            chat=chat, max_new_tokens=32, temperature=0.5,
        )  # fmt: skip

    return make


@pytest.fixture
def local_source(tmp_path):
    (tmp_path / "lm").mkdir()
    return InferenceSource.objects.create(
        name="tiny", kind=SourceKind.LOCAL, model_path=str(tmp_path / "lm"), max_new_tokens=16
    )


def _start(source, user, **kw):  # noqa: ANN001, ANN003, ANN202
    return reply_start(source=source, messages=HI, user=user, **kw)


# --- sources --------------------------------------------------------------------------------


def test_a_local_source_must_be_a_directory_inside_the_model_roots(tmp_path, settings):
    settings.CHORUS_MODEL_ROOTS = [tmp_path / "models"]
    (tmp_path / "models" / "lm").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "models" / "escape").symlink_to(tmp_path / "elsewhere")
    ok = InferenceSource(name="ok", kind=SourceKind.LOCAL, model_path=str(tmp_path / "models/lm"))
    source_check(ok)
    assert ok.model_path == str((tmp_path / "models" / "lm").resolve())
    for path in (str(tmp_path / "elsewhere"), str(tmp_path / "models/escape"), "gpt2", ""):
        bad = InferenceSource(name="bad", kind=SourceKind.LOCAL, model_path=path)
        with pytest.raises(ValidationError) as error:
            source_check(bad)
        assert "model_path" in error.value.message_dict, path


def test_run_and_endpoint_sources_are_checked(tmp_path):
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    with pytest.raises(ValidationError, match="run"):
        source_check(InferenceSource(name="r", kind=SourceKind.RUN, run=reward))
    source_check(InferenceSource(name="p", kind=SourceKind.RUN, run=finished_run(tmp_path)))
    endpoint = InferenceEndpoint.objects.create(name="e", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValidationError) as error:
        source_check(InferenceSource(name="e", kind=SourceKind.ENDPOINT, endpoint=endpoint))
    assert "api_model" in error.value.message_dict
    mixed = InferenceSource(
        name="m", kind=SourceKind.ENDPOINT, endpoint=endpoint, api_model="x", model_path="/tmp"
    )
    with pytest.raises(ValidationError) as error:
        source_check(mixed)
    assert "model_path" in error.value.message_dict


# --- start, cancel, read --------------------------------------------------------------------


def test_reply_start_validates_the_conversation_and_queues_on_commit(
    local_source, labeler, django_capture_on_commit_callbacks
):
    bad = {
        "messages": [],
        "messages[0].role": [{"role": "robot", "content": "x"}],
        "messages[0].content": [{"role": "user", "content": "  "}],
    }
    for field, messages in bad.items():
        with pytest.raises(ValidationError) as error:
            reply_start(source=local_source, messages=messages, user=labeler)
        assert field in error.value.message_dict
    with pytest.raises(ValidationError, match="last turn"):
        reply_start(
            source=local_source, user=labeler,
            messages=[*HI, {"role": "assistant", "content": "hi"}],
        )  # fmt: skip
    with pytest.raises(ValidationError) as error:
        _start(local_source, labeler, max_new_tokens=0)
    assert "max_new_tokens" in error.value.message_dict
    with django_capture_on_commit_callbacks() as callbacks:
        reply = _start(local_source, labeler, max_new_tokens=500, seed=3)
    assert len(callbacks) == 1
    assert reply.status == ReplyStatus.QUEUED and reply.messages == HI
    assert reply.params == {"max_new_tokens": 16, "temperature": 0.7, "top_p": 1.0, "seed": 3}


def test_a_user_has_a_bounded_number_of_replies_on_their_way(local_source, labeler, settings):
    settings.CHORUS_INFERENCE_MAX_ACTIVE = 2
    first = _start(local_source, labeler)
    _start(local_source, labeler)
    with pytest.raises(ValidationError, match="Too many"):
        _start(local_source, labeler)
    reply_cancel(reply=first, user=labeler)
    _start(local_source, labeler)
    local_source.enabled = False
    local_source.save()
    with pytest.raises(ValidationError, match="switched off"):
        _start(local_source, labeler)


def test_only_the_requester_cancels_and_an_ended_reply_stays_ended(
    local_source, labeler, other_labeler
):
    reply = _start(local_source, labeler)
    with pytest.raises(ValidationError):
        reply_cancel(reply=reply, user=other_labeler)
    assert reply_cancel(reply=reply, user=labeler).status == ReplyStatus.CANCELLED
    ReplyStream.objects.filter(pk=reply.pk).update(status=ReplyStatus.DONE)
    assert reply_cancel(reply=reply, user=labeler).status == ReplyStatus.DONE
    reply_execute(reply_id=str(reply.pk), hostname="w")  # not queued: not streamed
    assert reply_read(reply).status == ReplyStatus.DONE


def test_a_silent_worker_reads_as_failed_at_once_and_the_sweep_writes_it(
    local_source, labeler, settings
):
    settings.CHORUS_INFERENCE_STALE_SECONDS = 10
    reply = _start(local_source, labeler)
    now = timezone.now()
    ReplyStream.objects.filter(pk=reply.pk).update(
        status=ReplyStatus.STREAMING, text="half a rep", heartbeat_at=now - timedelta(seconds=5)
    )
    assert reply_read(reply).status == ReplyStatus.STREAMING
    ReplyStream.objects.filter(pk=reply.pk).update(heartbeat_at=now - timedelta(seconds=11))
    state = reply_read(reply)
    assert (state.status, state.text, state.error) == (
        ReplyStatus.FAILED,
        "half a rep",
        STOPPED_ANSWERING,
    )
    assert ReplyStream.objects.get(pk=reply.pk).status == ReplyStatus.STREAMING  # reads never write
    assert replies_fail_stale() == 1
    row = ReplyStream.objects.get(pk=reply.pk)
    assert (row.status, row.error, row.text) == (
        ReplyStatus.FAILED,
        STOPPED_ANSWERING,
        "half a rep",
    )


def test_a_reply_no_worker_takes_fails_and_is_never_streamed_late(local_source, labeler, settings):
    settings.CHORUS_INFERENCE_QUEUE_SECONDS = 30
    reply = _start(local_source, labeler)
    ReplyStream.objects.filter(pk=reply.pk).update(
        created_at=timezone.now() - timedelta(seconds=31)
    )
    assert reply_read(reply).error == NOT_PICKED_UP
    reply_execute(reply_id=str(reply.pk), hostname="w")  # too late: not claimed
    assert ReplyStream.objects.get(pk=reply.pk).status == ReplyStatus.QUEUED
    assert replies_fail_stale() == 1
    assert ReplyStream.objects.get(pk=reply.pk).error == NOT_PICKED_UP


def test_a_restarted_worker_fails_the_replies_it_had(local_source, labeler):
    reply = _start(local_source, labeler)
    ReplyStream.objects.filter(pk=reply.pk).update(
        status=ReplyStatus.STREAMING, worker_hostname="w@h", heartbeat_at=timezone.now()
    )
    assert replies_fail_orphaned(hostname="other@h") == 0
    assert replies_fail_orphaned(hostname="w@h") == 1
    assert reply_read(reply).status == ReplyStatus.FAILED


# --- an endpoint source, streamed -----------------------------------------------------------


def test_an_endpoint_reply_streams_with_the_key_to_its_host_only(endpoint_source, labeler):
    with openai_stub(stream_words=6, stream_delay=0) as server:
        source = endpoint_source(stub_url(server))
        reply = _start(source, labeler, seed=5)
        reply_execute(reply_id=str(reply.pk), hostname="w")
    row = ReplyStream.objects.get(pk=reply.pk)
    assert row.status == ReplyStatus.DONE, row.error
    assert row.text == "reply to hello there: word0 word1 word2 word3 word4 word5"
    assert row.token_count == 7 and row.first_token_at and row.finished_at
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["stream"] is True and body["messages"] == HI
    assert (body["model"], body["max_tokens"], body["temperature"], body["seed"]) == (
        "served",
        32,
        0.5,
        5,
    )


def test_a_completions_endpoint_gets_the_hh_prompt(endpoint_source, labeler):
    with openai_stub(stream_words=2, stream_delay=0) as server:
        reply = _start(endpoint_source(stub_url(server), chat=False), labeler)
        reply_execute(reply_id=str(reply.pk), hostname="w")
    assert ReplyStream.objects.get(pk=reply.pk).text.endswith("word0 word1")
    assert server.requests[0]["body"]["prompt"] == "\n\nHuman: hello there\n\nAssistant:"


@pytest.mark.parametrize(
    ("stub", "message"),
    [
        ({"fail_with": "secret upstream trace"}, "answered 500 Internal Server Error"),
        ({"redirect_to": "http://127.0.0.1:9"}, "redirects are not followed"),
        ({"break_after": 3}, "broke off in the middle of the reply"),
    ],
)
def test_endpoint_failures_give_a_clear_message_and_no_done_reply(
    endpoint_source, labeler, stub, message
):
    with openai_stub(stream_delay=0, **stub) as server:
        reply = _start(endpoint_source(stub_url(server)), labeler)
        reply_execute(reply_id=str(reply.pk), hostname="w")
    row = ReplyStream.objects.get(pk=reply.pk)
    assert row.status == ReplyStatus.FAILED
    assert message in row.error and row.error.startswith("The model could not answer")
    assert "secret" not in row.error and "127.0.0.1" not in row.error


def test_an_unreachable_endpoint_fails_the_reply(endpoint_source, labeler):
    reply = _start(endpoint_source("http://127.0.0.1:9/v1"), labeler)
    reply_execute(reply_id=str(reply.pk), hostname="w")
    state = reply_read(reply)
    assert state.status == ReplyStatus.FAILED and "cannot connect" in state.error


def test_a_missing_local_model_fails_with_a_message(local_source, labeler):
    reply = _start(local_source, labeler)  # its directory holds no model
    reply_execute(reply_id=str(reply.pk), hostname="w")
    state = reply_read(reply)
    assert state.status == ReplyStatus.FAILED and "not available" in state.error
