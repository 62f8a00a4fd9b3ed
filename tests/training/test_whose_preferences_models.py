"""The whose-preferences page's reward-model sections (issue 15): the group-conditioned model's
accuracy per group beside the pooled model's, and DPL's mean spread per group with its widest
pairs linked to their items; small groups never shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.training.test_constitutions import page_url, planted  # noqa: F401 (fixture)
from training.models import RunKind, RunStatus, TrainingRun

pytestmark = pytest.mark.django_db
SIZES = {"labelers_per_group": {"brief": 5, "thorough": 5, "tiny": 1}}


def _reward_run(project, method, final):  # noqa: ANN001, ANN202
    run = TrainingRun.objects.create(
        kind=RunKind.REWARD, base_model="m", status=RunStatus.SUCCEEDED, name=f"rm {method}",
        config={"method": method}, final_metrics={"method": method, **final},
        dataset_counts=SIZES,
    )  # fmt: skip
    run.projects.add(project)
    return run


def test_the_conditioned_model_beside_the_pooled_one(planted, as_persona):  # noqa: F811
    matrix = {g: {g: a, "x": 0.1} for g, a in (("brief", 0.91), ("thorough", 0.82), ("tiny", 0.77))}
    run = _reward_run(planted, "conditioned", {"conditioned_matrix": matrix})
    html = as_persona("researcher").get(page_url(planted)).content.decode()
    assert 'id="conditioned"' in html and "Group-conditioned reward model" in html
    assert "91%</strong> held-out accuracy told the group" in html
    assert "82%</strong> held-out accuracy told the group" in html
    assert "pooled model:" not in html and "none trained yet" in html
    assert "77%" not in html and "tiny" not in html and f"/training/{run.pk}/" in html
    accuracy = {"brief": 0.55, "thorough": 0.45, "tiny": 0.9}
    _reward_run(planted, "bt", {"group_accuracy": accuracy})
    html = as_persona("researcher").get(page_url(planted)).content.decode()
    assert "pooled model: 55%" in html and "pooled model: 45%" in html and "90%" not in html


def test_dpl_spread_per_group_with_its_widest_pairs(planted, as_persona):  # noqa: F811
    item = planted.items.order_by("pk").first()
    pair = {
        "sigma": 2.5,
        "prompt": "Tell me about rain",
        "item_id": item.pk,
        "votes_a": 6.0,
        "votes_b": 5.0,
        "groups": {"brief": [6.0, 0.0], "thorough": [0.0, 5.0], "tiny": [1, 0]},
    }
    calm = {**pair, "sigma": 0.3, "item_id": None, "groups": {"brief": [5.0, 0.0]}}
    figures = {"top_pairs": [pair, calm], "sigma_mean": 1.4,
               "group_sigma": {"brief": 1.4, "thorough": 2.5, "tiny": 2.0}}  # fmt: skip
    _reward_run(planted, "dpl", {"dpl": figures})
    html = as_persona("researcher").get(page_url(planted)).content.decode()
    assert 'id="dpl"' in html and "mean σ <strong>1.40</strong>" in html
    assert "mean σ <strong>2.50</strong>" in html and "2.00" not in html and "tiny" not in html
    assert reverse("annotation:report_item", args=[planted.pk, item.pk]) in html
    assert "this group: 6–0 · everyone: 6–5" in html and "this group: 0–5" in html
    assert html.count("σ 0.30") == 1  # only brief judged the calm pair


def test_labelers_cannot_open_the_page(planted, as_persona):  # noqa: F811
    _reward_run(planted, "dpl", {"dpl": {"top_pairs": [], "group_sigma": {"brief": 1.0}}})
    assert as_persona("labeler").get(page_url(planted)).status_code in (403, 404)
