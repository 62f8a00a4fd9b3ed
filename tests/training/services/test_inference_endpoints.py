"""Issue 10 (1): outbound inference calls go only to an admin's allow-list (InferenceEndpoint),
the key only to its own endpoint's host, redirects are not followed, upstream bodies are never
echoed; sampling settings are bounded. Stub servers on loopback record every request's headers."""

from __future__ import annotations

import pytest

from tests.training import fixtures
from tests.training.openai_stub import openai_stub, stub_url
from training.ml.protocol import API_KEY_ENV
from training.models import GenerationJob, InferenceEndpoint, RunStatus
from training.services.generation import generation_job_create, generation_job_execute

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]

KEY = "sk-secret-for-stub-only"
JOBS = "/api/training/generation-jobs/"


@pytest.fixture
def keyed(monkeypatch):
    """The key lives in an environment variable the endpoint names, never in the database."""
    monkeypatch.setenv("CHORUS_TEST_STUB_KEY", KEY)

    def make(url: str, name: str = "stub") -> InferenceEndpoint:
        return InferenceEndpoint.objects.create(
            name=name, base_url=url, key_env="CHORUS_TEST_STUB_KEY"
        )

    return make


def _run(researcher, project, name: str = "stub") -> GenerationJob:
    job = generation_job_create(
        created_by=researcher, project=project,
        sources=[{"endpoint": name, "api_model": "served"}],
    )  # fmt: skip
    generation_job_execute(job_id=job.pk, hostname="w")
    return GenerationJob.objects.get(pk=job.pk)


def test_a_free_url_is_refused_and_nothing_is_sent(as_persona, pairwise, keyed):
    with openai_stub() as server:
        keyed("http://127.0.0.1:9/v1")  # some listed endpoint exists; the URL is not it
        body = {
            "project": pairwise.pk,
            "sources": [{"endpoint": stub_url(server), "api_model": "m"}],
        }
        response = as_persona("researcher").post(JOBS, body, content_type="application/json")
    assert response.status_code == 400 and "sources[0].endpoint" in response.json()
    assert server.requests == [] and not GenerationJob.objects.exists()
    unknown = as_persona("researcher").post(
        JOBS, {"project": pairwise.pk, "sources": [{"endpoint": "nope", "api_model": "m"}]},
        content_type="application/json",
    )  # fmt: skip
    assert unknown.status_code == 400 and "sources[0].endpoint" in unknown.json()


def test_the_key_reaches_only_its_endpoint_through_the_child_environment(
    researcher, pairwise, keyed, monkeypatch
):
    launched: list[tuple[list[str], dict[str, str]]] = []

    def recording(command, *, env, **kwargs):  # noqa: ANN001, ANN003, ANN202
        launched.append((command, dict(env)))
        return fixtures.relay_in_process(command, env=env, **kwargs)

    monkeypatch.setattr("training.worker.relay_process", recording)
    with openai_stub() as listed, openai_stub() as other:
        keyed(stub_url(listed))
        InferenceEndpoint.objects.create(name="keyless", base_url=stub_url(other))
        assert _run(researcher, pairwise).status == RunStatus.SUCCEEDED
        assert _run(researcher, pairwise, "keyless").status == RunStatus.SUCCEEDED
    assert [r["headers"].get("Authorization") for r in listed.requests] == [f"Bearer {KEY}"] * 3
    assert [r["headers"].get("Authorization") for r in other.requests] == [None] * 3
    (command, env), (_, keyless_env) = launched
    assert env[API_KEY_ENV] == KEY and keyless_env[API_KEY_ENV] == ""
    assert not any(KEY in part for part in command)  # never on the command line


def test_a_redirect_to_another_host_is_not_followed(researcher, pairwise, keyed):
    with openai_stub("127.0.0.2") as elsewhere:
        origin = stub_url(elsewhere).removesuffix("/v1")
        with openai_stub(redirect_to=origin) as listed:
            keyed(stub_url(listed))
            job = _run(researcher, pairwise)
    assert listed.requests and all(r["headers"]["Authorization"] for r in listed.requests)
    assert elsewhere.requests == []  # neither the request nor the key went there
    assert job.status == RunStatus.FAILED and "302" in job.error and "redirect" in job.error


def test_an_error_page_is_never_echoed(researcher, pairwise, keyed):
    with openai_stub(fail_with="upstream-secret-body") as listed:
        keyed(stub_url(listed))
        job = _run(researcher, pairwise)
    assert job.status == RunStatus.FAILED and "500 Internal Server Error" in job.error
    assert "upstream-secret-body" not in job.error and KEY not in job.error


def test_researchers_see_endpoint_names_and_hosts_never_keys(as_persona, keyed):
    keyed("http://user:pw@vllm.internal:8000/v1", name="vllm")
    listed = as_persona("researcher").get("/api/training/inference-endpoints/")
    assert listed.status_code == 200
    assert listed.json() == [{"name": "vllm", "host": "http://vllm.internal:8000", "help_text": ""}]
    assert as_persona("labeler").get("/api/training/inference-endpoints/").status_code == 403
    page = as_persona("researcher").get("/training/loop/jobs/new/").content.decode()
    assert "vllm: http://vllm.internal:8000" in page and "CHORUS_TEST_STUB_KEY" not in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 1e308),
        ("temperature", -0.5),
        ("top_p", 1.5),
        ("top_p", 0),
        ("max_new_tokens", -1),
        ("max_new_tokens", 10**9),
        ("batch_size", 0),
        ("seed", -1),
        ("max_prompt_tokens", 10**12),
        ("temperature", "nan"),
    ],
)
def test_sampling_out_of_bounds_is_a_400_naming_the_field(
    as_persona, pairwise, model_dir, field, value
):
    body = {"project": pairwise.pk, "sources": [{"model": model_dir}], "sampling": {field: value}}
    response = as_persona("researcher").post(JOBS, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()["sampling"]
    form = as_persona("researcher").post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "models": model_dir, "samples_per_prompt": 2,
         "max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8,
         field: value},
    )  # fmt: skip
    if field != "max_prompt_tokens":  # not on the form
        assert form.status_code == 400 and field in form.context["form"].errors
        assert not GenerationJob.objects.exists()


def test_only_admins_manage_endpoints_in_the_django_admin(as_persona, researcher):
    from django.contrib.auth import get_user_model
    from django.test import Client

    url = "/django-admin/training/inferenceendpoint/add/"
    assert as_persona("researcher").get(url).status_code == 302  # to the admin login
    superuser = get_user_model().objects.create_superuser("root", password="x-test-only")
    client = Client()
    client.force_login(superuser)
    page = client.get(url)
    assert page.status_code == 200 and "key_env" in page.content.decode()
