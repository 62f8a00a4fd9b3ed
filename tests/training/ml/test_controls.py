"""The "what did the model learn?" controls (issue 11) on hand-made data: the length-only
baseline, the shuffled-label head, the effective n and the verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.ml import controls as ctl


def test_accuracy_counts_ties_half_and_weights() -> None:
    assert ctl.weighted_accuracy([1.0, -1.0, 0.0, 2.0]) == pytest.approx(2.5 / 4)
    assert ctl.weighted_accuracy([1.0, -1.0], [3.0, 1.0]) == pytest.approx(0.75)
    assert ctl.weighted_accuracy([]) is None


def test_effective_n_of_a_ranking() -> None:
    # one K=4 ranking's 6 pairs at 1/6 each count as 6 (equal weights); mixed weights count less
    assert ctl.effective_n([1 / 6] * 6) == pytest.approx(6.0)
    assert ctl.effective_n([1.0, 1.0, 1 / 6, 1 / 6]) == pytest.approx(
        (2 + 1 / 3) ** 2 / (2 + 2 / 36)
    )


def test_length_baseline_finds_longer_wins() -> None:
    # Chosen is longer in 3 of 4 training pairs: theta > 0, so "prefer the longer" on held-out.
    theta = ctl.fit_length_baseline([5.0, 3.0, 2.0, -1.0])
    assert theta > 0
    # Newton's optimum: the gradient of the penalised log-likelihood is ~0 there.
    x = np.array([5.0, 3.0, 2.0, -1.0]) / 2.75
    t = theta * 2.75
    grad = float(((1 - 1 / (1 + np.exp(-t * x))) * x).sum()) - 1e-3 * 4 * t
    assert abs(grad) < 1e-8
    coef, acc = ctl.length_baseline(
        [5.0, 3.0, 2.0, -1.0], [1.0] * 4, [4.0, -2.0, 0.0, 1.0], [1.0] * 4,
        [["a"], ["a"], ["b"], ["b"]],
    )  # fmt: skip
    assert coef == pytest.approx(theta)
    # held-out: +, -, tie, + -> (1 + 0 + 0.5 + 1) / 4; group a: 1/2; group b: 1.5/2
    assert acc == {"overall": pytest.approx(0.625), "a": 0.5, "b": 0.75}


def test_length_baseline_shorter_wins_and_no_signal() -> None:
    assert ctl.fit_length_baseline([-4.0, -2.0, 1.0]) < 0
    assert ctl.fit_length_baseline([0.0, 0.0]) == 0.0  # equal lengths: every pair a tie
    _, acc = ctl.length_baseline([0.0], [1.0], [3.0, -3.0], [1.0, 1.0], [["g"], ["g"]])
    assert acc["overall"] == 0.5


def test_linear_head_learns_real_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    direction = np.array([1.0, -2.0, 0, 0, 0, 0, 0, 0.5])
    y = np.sign(x @ direction)
    theta = ctl.fit_linear_head(x, y)
    assert np.mean(np.sign(x @ theta) == y) > 0.95


def test_shuffled_control_is_chance_even_when_the_signal_is_easy() -> None:
    # Real labels are perfectly linear in the features (chosen - rejected has feature 0 > 0),
    # yet with labels shuffled the held-out accuracy sits at 0.5 within its spread.
    rng = np.random.default_rng(1)
    train = rng.normal(size=(400, 6))
    train[:, 0] = np.abs(train[:, 0]) + 0.5
    held = rng.normal(size=(400, 6))
    held[:, 0] = np.abs(held[:, 0]) + 0.5
    groups = [["a"] if i % 2 else ["b"] for i in range(400)]
    out = ctl.shuffled_control(train, [1.0] * 400, held, [1.0] * 400, groups, shuffles=8, seed=3)
    mean, std = out["overall"]
    assert abs(mean - 0.5) < 0.12 and std > 0
    assert set(out) == {"overall", "a", "b"}
    # the same head on the real labels gets it all right
    theta = ctl.fit_linear_head(train, np.ones(400))
    assert ctl.weighted_accuracy((held @ theta).tolist()) == 1.0


def test_controls_table_and_group_n() -> None:
    n = ctl.group_n([1.0, 1.0, 1.0], [["a"], ["a"], ["b"]])
    assert n == {"overall": 3.0, "a": 2.0, "b": 1.0}
    table = ctl.controls_table(
        model={"overall": 0.9, "a": 1.0}, n=n, length={"overall": 0.6, "a": 0.5},
        shuffled={"overall": (0.5, 0.02)},
    )  # fmt: skip
    assert list(table) == ["overall", "a"]
    assert table["overall"] == {
        "model": 0.9, "n": 3.0, "length": 0.6, "shuffled": 0.5, "shuffled_std": 0.02,
    }  # fmt: skip
    assert table["a"]["shuffled"] is None


@pytest.mark.parametrize(
    ("model", "n", "length", "level"),
    [
        (0.55, 100, None, "chance"),  # se 0.05: 0.55 is 1 s.e. above 0.5
        (0.61, 100, None, "learned"),  # 2.2 s.e. above
        (0.40, 100, None, "chance"),  # below chance is not learning either
        (0.70, 400, 0.67, "length"),  # se 0.025: 1.2 s.e. above length
        (0.70, 400, 0.64, "learned"),  # 2.4 s.e. above length
        (0.70, 0, 0.64, "none"),
        (None, 100, 0.64, "none"),
    ],
)
def test_verdict(model, n, length, level) -> None:
    verdict = ctl.learning_verdict(model=model, n=n, length=length)
    assert verdict["level"] == level
    if level != "none":
        assert verdict["se"] == pytest.approx(math.sqrt(0.25 / n))
        assert "learned nothing" in verdict["text"] or level == "learned"


def test_control_verdict() -> None:
    # reward std 0.5 over 64 samples: se 0.0625
    assert ctl.control_verdict(run_value=0.6, control_value=0.5, spread=0.5, n=64)["level"] == (
        "control"
    )
    assert ctl.control_verdict(run_value=0.7, control_value=0.5, spread=0.5, n=64)["level"] == (
        "learned"
    )
    assert ctl.control_verdict(run_value=0.7, control_value=None, spread=0.5, n=64)["level"] == (
        "none"
    )
