"""Who may see the pages of generation jobs, evaluations and lineage: researchers and admins;
labelers and outsiders get 404; anonymous visitors go to the login page."""

from __future__ import annotations

import pytest

from tests.access import PERSONAS, RESEARCH_PAGE, RESEARCH_POST

pytestmark = pytest.mark.django_db


def _pages(generated):  # noqa: ANN001, ANN202
    return [
        "/training/loop/",
        f"/training/loop/jobs/{generated['job'].pk}/",
        f"/training/loop/projects/{generated['project'].pk}/",
        f"/training/{generated['run'].pk}/lineage/",
        "/training/loop/jobs/new/",
        "/training/loop/evaluations/new/",
        f"/training/loop/scoring/new/?project={generated['project'].pk}",
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages(as_persona, generated, persona):
    client = as_persona(persona)
    for url in _pages(generated):
        response = client.get(url)
        assert response.status_code == RESEARCH_PAGE[persona], url
        if persona == "anonymous":
            assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_form_posts(as_persona, generated, persona):
    """The create forms and the cancel button: researchers are sent on to the job page."""
    client = as_persona(persona)
    posts = {
        "/training/loop/jobs/new/": {
            "project": generated["project"].pk, "models": generated["dir"], "samples_per_prompt": 2,
            "max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8,
        },
        "/training/loop/evaluations/new/": {
            "name": f"eval by {persona}", "prompts": "hi\nbye", "overlap_target": 3,
            "runs": generated["run"].pk, "models": generated["dir"],
            "max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8,
        },
        "/training/loop/scoring/new/": {
            "project": generated["project"].pk, "reward_run": generated["reward"].pk
        },
        f"/training/loop/jobs/{generated['job'].pk}/cancel/": {},
    }  # fmt: skip
    for url, data in posts.items():
        response = client.post(url, data)
        expected = RESEARCH_POST[persona]
        assert response.status_code == expected, (url, response.content[-2000:])
        if persona == "anonymous":
            assert response["Location"].startswith("/accounts/login/")
        elif expected == 302:
            assert response["Location"].startswith("/training/loop/jobs/"), url


def test_missing_objects_are_404_for_researchers(as_persona, generated):
    client = as_persona("researcher")
    assert client.get("/api/training/generation-jobs/999999/").status_code == 404
    assert client.post("/api/training/generation-jobs/999999/cancel/").status_code == 404
    assert client.post("/training/loop/jobs/999999/cancel/").status_code == 404
    assert client.get("/training/loop/projects/999999/").status_code == 404
    assert client.get("/api/training/runs/999999/lineage/").status_code == 404
