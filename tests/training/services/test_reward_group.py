"""PPO/GRPO runs optimise against any model of a finished reward run: its pooled model or one of
its per-group models (issue 11, defect 9); small groups' models are never accepted."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["ppo", "grpo"])
def test_a_group_model_becomes_the_reward_model(make_run, group_reward_run, kind):
    run = make_run(kind=kind, reward_run=group_reward_run, reward_group="young")
    assert run.reward_group == "young"
    assert run.config["reward_model"] == str(group_reward_run.run_dir / "groups" / "01-young")


@pytest.mark.parametrize("group", ["", "pooled"])
def test_the_pooled_model_is_the_default(make_run, group_reward_run, group):
    run = make_run(kind="ppo", reward_run=group_reward_run, reward_group=group)
    assert run.reward_group == ""
    assert run.config["reward_model"] == str(group_reward_run.run_dir)


@pytest.mark.parametrize(
    ("group", "why"),
    [
        ("senior", "has no model for group 'senior'"),  # 1 labeler < CHORUS_MIN_GROUP_SIZE
        ("nobody", "has no model for group 'nobody'"),
    ],
)
def test_a_group_without_a_usable_model_is_refused(make_run, group_reward_run, group, why):
    with pytest.raises(ValidationError) as raised:
        make_run(kind="ppo", reward_run=group_reward_run, reward_group=group)
    message = raised.value.message_dict["reward_group"][0]
    assert why in message and "young" in message and "senior" not in message.split(":")[-1]


def test_a_group_model_missing_on_disk_is_refused(make_run, group_reward_run):
    (group_reward_run.run_dir / "groups" / "01-young" / "config.json").unlink()
    with pytest.raises(ValidationError) as raised:
        make_run(kind="grpo", reward_run=group_reward_run, reward_group="young")
    assert "reward_group" in raised.value.message_dict


def test_a_group_needs_a_reward_run(make_run, group_reward_run):
    with pytest.raises(ValidationError) as raised:
        make_run(kind="grpo", reward_rule="exact_answer", reward_group="young")
    assert "needs a reward run" in raised.value.message_dict["reward_group"][0]
