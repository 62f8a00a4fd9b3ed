"""The run API: a PPO/GRPO run names the reward run and which of its models (issue 11, defect 9)."""

from __future__ import annotations

import pytest

from tests.access import PERSONAS, RESEARCH_CREATE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_ppo_on_a_group_model(as_persona, persona, judged_project, base_model_dir, runs_dir, group_reward_run):  # fmt: skip
    payload = {
        "kind": "ppo",
        "base_model": base_model_dir,
        "projects": [judged_project.pk],
        "reward_run": group_reward_run.pk,
        "reward_group": "young",
    }
    response = as_persona(persona).post(
        "/api/training/runs/", payload, content_type="application/json"
    )
    assert response.status_code == RESEARCH_CREATE[persona]
    if response.status_code == 201:
        body = as_persona(persona).get(f"/api/training/runs/{response.json()['id']}/").json()
        assert body["reward_run"] == group_reward_run.pk and body["reward_group"] == "young"
        assert body["config"]["reward_model"].endswith("groups/01-young")


def test_api_refuses_a_small_groups_model(as_persona, judged_project, base_model_dir, runs_dir, group_reward_run):  # fmt: skip
    payload = {
        "kind": "grpo",
        "base_model": base_model_dir,
        "projects": [judged_project.pk],
        "reward_run": group_reward_run.pk,
        "reward_group": "senior",
    }
    response = as_persona("researcher").post(
        "/api/training/runs/", payload, content_type="application/json"
    )
    assert response.status_code == 400 and "reward_group" in response.json()


def test_a_small_group_cannot_be_picked_by_id(as_persona, judged_project, base_model_dir, runs_dir, groups, settings):  # fmt: skip
    """A group below CHORUS_MIN_GROUP_SIZE is refused like an id that does not exist, so trying
    ids reveals neither its name nor that it exists, and nothing is created."""
    from training.models import TrainingRun

    settings.CHORUS_MIN_GROUP_SIZE = 2  # 'young' and 'senior' have one labeler each
    client = as_persona("researcher")
    missing = max(g.pk for g in groups.values()) + 100
    answers = []
    for pk in (groups["young"].pk, missing):
        payload = {
            "kind": "reward",
            "base_model": base_model_dir,
            "projects": [judged_project.pk],
            "labeler_groups": [pk],
        }
        response = client.post("/api/training/runs/", payload, content_type="application/json")
        assert response.status_code == 400
        answers.append(response.json()["labeler_groups"][0].replace(str(pk), "N"))
    assert answers[0] == answers[1] and "young" not in answers[0]
    assert not TrainingRun.objects.exists()
    settings.CHORUS_MIN_GROUP_SIZE = 1
    payload["labeler_groups"] = [groups["young"].pk]
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 201, response.json()
