"""The arena leaderboard: live battles -> Bradley-Terry with length and side held fixed,
overall and per labeler group; red-team projects left out; researchers only."""

import numpy as np
import pytest

from annotation.models import Judgment
from annotation.services.labelers import labeler_group_create
from tests.access import PERSONAS, RESEARCH_PAGE
from tests.factories import ProjectFactory, item_create
from training.evaluation import Comparison, controlled_leaderboard
from training.selectors.arena import arena_battles, arena_report

pytestmark = pytest.mark.django_db


def battle(project, labeler, choice, order, models=("alpha", "beta"), texts=("one two", "one")):
    item = item_create(project, texts=texts, models_=list(models))
    scale = {"a": 2, "b": 7}.get(choice)
    return Judgment.objects.create(
        item=item, labeler=labeler, pairwise_choice=choice, scale=scale, display_order=order
    )


def test_battles_record_side_and_skip_red_team_and_self_battles(labeler):
    live = ProjectFactory()
    live.live = True
    live.save()
    red = ProjectFactory(red_team=True)
    red.live = True
    red.save()
    battle(live, labeler, "a", [0, 1])
    battle(live, labeler, "tie", [1, 0])
    battle(live, labeler, "b", [1, 0], models=("alpha", "alpha"))
    battle(red, labeler, "a", [0, 1])
    battle(ProjectFactory(), labeler, "a", [0, 1])  # not live
    battles = arena_battles()
    assert [(b.score_a, b.a_first) for b in battles] == [(1.0, 1.0), (0.5, -1.0), (0.0, -1.0)]
    report = arena_report(live)
    assert report["battles"] == 2
    assert {r["model"] for r in report["overall"]["board"]} == {"alpha", "beta"}


def test_position_bias_is_held_fixed():
    """Two equal models, the left reply wins 80 %: the plain board would favour whichever was
    shown left more often; the controlled one sees equal strengths and a positive side effect."""
    rng = np.random.default_rng(0)
    comparisons = []
    for _ in range(400):
        a_left = rng.random() < 0.75  # alpha is mostly shown on the left
        left_wins = rng.random() < 0.8
        score = 1.0 if a_left == left_wins else 0.0
        comparisons.append(
            Comparison("alpha", "beta", score, 10, 10, a_first=1.0 if a_left else -1.0)
        )
    board = controlled_leaderboard(comparisons, ["alpha", "beta"], n_resamples=50)
    strengths = {r["model"]: r["strength"] for r in board["board"]}
    assert abs(strengths["alpha"] - strengths["beta"]) < 0.4
    assert board["gamma"]["low"] > 0.5  # log-odds of the left reply winning


def test_groups_below_minimum_hidden(labeler, other_labeler, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    live = ProjectFactory()
    live.live = True
    live.save()
    for who in (labeler, other_labeler):
        battle(live, who, "a", [0, 1])
    battle(live, labeler, "b", [1, 0])
    report = arena_report()
    assert report["groups"] == [] and report["hidden_groups"] == 1
    settings.CHORUS_MIN_GROUP_SIZE = 1
    (young,) = arena_report()["groups"]
    assert young["group"] == "young" and len(young["board"]["board"]) == 2


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_access(as_persona, persona):
    live = ProjectFactory()
    assert as_persona(persona).get("/training/loop/arena/").status_code == RESEARCH_PAGE[persona]
    response = as_persona(persona).get(f"/training/loop/arena/?project={live.pk}")
    assert response.status_code == (
        404 if RESEARCH_PAGE[persona] == 200 else RESEARCH_PAGE[persona]
    )


def test_page_bad_project_is_400(as_persona):
    response = as_persona("researcher").get("/training/loop/arena/?project=abc")
    assert response.status_code == 400 and b"project" in response.content
