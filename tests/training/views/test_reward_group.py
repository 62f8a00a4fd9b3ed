"""The run page: a PPO/GRPO run picks the reward run and which of its models (issue 11, defect 9);
small groups' models are neither offered nor accepted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.access import PERSONAS, RESEARCH_PAGE, RESEARCH_POST
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_form_offers_visible_group_models(as_persona, persona, judged_project, group_reward_run):  # fmt: skip
    response = as_persona(persona).get(reverse("training:run_new"))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        page = response.content.decode()
        assert 'name="reward_group"' in page and '<option value="young">' in page
        assert f"reward runs {group_reward_run.pk}" in page
        assert '<option value="senior">' not in page


def _form(judged_project, base_model_dir, reward_run, group):  # noqa: ANN001, ANN202
    return {
        "kind": "ppo", "base_model": base_model_dir, "projects": [judged_project.pk],
        "tie_policy": "skip", "both_bad_policy": "skip", "hyperparameters": "{}",
        "reward_run": reward_run.pk, "reward_group": group,
    }  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_form_creates_a_run_on_a_group_model(as_persona, persona, judged_project, base_model_dir, runs_dir, group_reward_run):  # fmt: skip
    data = _form(judged_project, base_model_dir, group_reward_run, "young")
    response = as_persona(persona).post(reverse("training:run_new"), data)
    assert response.status_code == RESEARCH_POST[persona]
    created = TrainingRun.objects.exclude(pk=group_reward_run.pk)
    assert created.exists() == (response.status_code == 302 and persona != "anonymous")
    if created.exists():
        run = created.get()
        assert run.reward_group == "young"
        assert run.config["reward_model"] == str(group_reward_run.run_dir / "groups" / "01-young")
        page = as_persona(persona).get(reverse("training:run_detail", args=[run.pk])).content
        assert b"the model of group <strong>young</strong>" in page


def test_the_form_refuses_a_small_groups_model(as_persona, judged_project, base_model_dir, runs_dir, group_reward_run):  # fmt: skip
    data = _form(judged_project, base_model_dir, group_reward_run, "senior")
    response = as_persona("researcher").post(reverse("training:run_new"), data)
    assert response.status_code == 400 and "no model for group" in response.content.decode()
    assert not TrainingRun.objects.exclude(pk=group_reward_run.pk).exists()
