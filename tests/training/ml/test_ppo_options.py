"""PPO's reward scale and KL options (issue 11, defect 6): running reward normalisation, the
adaptive KL controller (Ziegler et al. 2019) and a separate critic initialised from the reward
model (InstructGPT). Hand computations first (no torch), then short runs on the tiny model."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from .conftest import prompt_rows


def test_adaptive_kl_controller_by_hand() -> None:
    from training.ml.kl import AdaptiveKLController, FixedKLController, kl_controller

    ctl = AdaptiveKLController(0.2, target=4.0, horizon=100)
    # KL 5 vs target 4: error 0.25, clipped to 0.2; 10 samples over a horizon of 100
    assert ctl.update(5.0, n_steps=10) == pytest.approx(0.2 * (1 + 0.2 * 10 / 100))  # 0.204
    # KL 3: error -0.25, clipped to -0.2
    assert ctl.update(3.0, n_steps=10) == pytest.approx(0.204 * (1 - 0.2 * 10 / 100))
    # KL 4.4: error 0.1, inside the clip
    assert ctl.update(4.4, n_steps=10) == pytest.approx(0.19992 * (1 + 0.1 * 10 / 100))
    assert ctl.value == pytest.approx(0.2019192)
    # on target: unchanged
    assert ctl.update(4.0, n_steps=50) == pytest.approx(0.2019192)
    fixed = kl_controller(0.05, None, 100)
    assert isinstance(fixed, FixedKLController) and fixed.update(100.0, 10) == 0.05
    assert isinstance(kl_controller(0.05, 6.0, 100), AdaptiveKLController)


def test_running_moments_by_hand() -> None:
    from training.ml.kl import RunningMoments

    m = RunningMoments()
    assert (m.count, m.mean, m.std) == (0, 0.0, 1.0)  # nothing seen: the identity scale
    m.update([1.0, 2.0, 3.0])
    assert (m.mean, m.std) == (2.0, pytest.approx(math.sqrt(2 / 3)))
    m.update([4.0, 5.0])
    assert m.count == 5 and m.mean == pytest.approx(3.0)
    assert m.std == pytest.approx(math.sqrt(2.0))  # population std of 1..5
    batches = [[0.3, -1.2, 7.5], [2.0], [-4.0, 0.0, 0.5, 11.0]]
    m = RunningMoments()
    for b in batches:
        m.update(b)
    every = [x for b in batches for x in b]
    assert m.mean == pytest.approx(statistics.fmean(every))
    assert m.std == pytest.approx(statistics.pstdev(every))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reward_norm", "whiten"),
        ("reward_norm_samples", 1),
        ("target_kl", 0.0),
        ("kl_horizon", 0),
        ("critic", "separate"),
        ("critic_learning_rate", 0.0),
    ],
)
def test_options_are_checked(field: str, value: object) -> None:
    from training.ml.config import ConfigError, PPOConfig

    with pytest.raises(ConfigError, match=field):
        PPOConfig(base_model="m", reward_model="r", **{field: value})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_rm(tiny_lm: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny causal LM as a scalar reward model (a random score head), with its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.ml.runtime import load_tokenizer

    out = tmp_path_factory.mktemp("tiny-rm")
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_pretrained(tiny_lm, num_labels=1).save_pretrained(out)
    load_tokenizer(tiny_lm).save_pretrained(out)
    return str(out)


def _run(tiny_lm: str, tmp_path: Path, reward_model: str, **options: object):  # noqa: ANN202
    """Three PPO iterations of the tiny model against ``reward_model``; (result, train events)."""
    from training.ml.config import PPOConfig
    from training.ml.ppo import train_ppo

    config = PPOConfig(
        base_model=tiny_lm,
        reward_model=reward_model,
        learning_rate=1e-3,
        batch_size=8,
        mini_batch_size=4,
        ppo_epochs=1,
        max_new_tokens=6,
        max_steps=3,
        max_length=40,
        **options,  # type: ignore[arg-type]
    )
    events: list = []
    result = train_ppo(config, prompt_rows(16), tmp_path, on_progress=events.append)
    return result, [e for e in events if e.phase == "train" and e.metrics]


@pytest.mark.slow
def test_ppo_with_running_reward_normalisation(tiny_lm: str, tiny_rm: str, tmp_path: Path) -> None:
    _, events = _run(tiny_lm, tmp_path, tiny_rm, reward_norm="running")
    assert len(events) == 3
    first = events[0].metrics
    # the first batch is whitened by its own statistics: the running mean is its raw mean and
    # the normalised rewards average 0
    assert first["train/reward/norm_mean"] == pytest.approx(first["train/reward/mean_raw"])
    assert first["train/reward/mean"] == pytest.approx(0.0, abs=1e-5)
    assert first["train/reward/norm_std"] > 0
    # afterwards the running mean is the mean over every batch so far (equal batch sizes)
    raw = [e.metrics["train/reward/mean_raw"] for e in events]
    for k, e in enumerate(events):
        assert e.metrics["train/reward/norm_mean"] == pytest.approx(statistics.fmean(raw[: k + 1]))
        assert "train/kl_coef" in e.metrics


@pytest.mark.slow
def test_ppo_with_reference_reward_normalisation(
    tiny_lm: str, tiny_rm: str, tmp_path: Path
) -> None:
    """InstructGPT / lm-human-preferences: the scale is measured once, on reference samples
    before training, and every score is shifted and scaled by it."""
    from training.ml.config import PPOConfig
    from training.ml.ppo import train_ppo

    config = PPOConfig(
        base_model=tiny_lm,
        reward_model=tiny_rm,
        batch_size=8,
        mini_batch_size=8,
        ppo_epochs=1,
        max_new_tokens=6,
        max_steps=2,
        max_length=40,
        reward_norm="reference",
        reward_norm_samples=12,
    )
    events: list = []
    train_ppo(config, prompt_rows(16), tmp_path, on_progress=events.append)
    assert any("over 12 samples" in (e.message or "") for e in events if e.phase == "setup")
    train = [e.metrics for e in events if e.phase == "train" and e.metrics]
    assert len(train) == 2
    mean, std = train[0]["train/reward/norm_mean"], train[0]["train/reward/norm_std"]
    assert std > 0
    for m in train:
        assert (m["train/reward/norm_mean"], m["train/reward/norm_std"]) == (mean, std)
        expected = (m["train/reward/mean_raw"] - mean) / (std + 1e-8)
        assert m["train/reward/mean"] == pytest.approx(expected, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_ppo_with_the_adaptive_kl_controller(tiny_lm: str, tiny_rm: str, tmp_path: Path) -> None:
    _, events = _run(tiny_lm, tmp_path, tiny_rm, kl_coef=0.1, target_kl=0.5, kl_horizon=40)
    coefs = [e.metrics["train/kl_coef"] for e in events]
    kls = [e.metrics["train/kl"] for e in events]
    assert len(coefs) == 3 and coefs[0] == 0.1
    for k in range(2):  # each step's coefficient from the previous one and its KL, 8 samples
        error = min(max(kls[k] / 0.5 - 1, -0.2), 0.2)
        assert coefs[k + 1] == pytest.approx(coefs[k] * (1 + error * 8 / 40))
    assert coefs[1] != coefs[0]
    # the fixed default logs its constant coefficient every step
    _, fixed = _run(tiny_lm, tmp_path / "fixed", tiny_rm, kl_coef=0.1)
    assert [e.metrics["train/kl_coef"] for e in fixed] == [0.1, 0.1, 0.1]
    assert "train/reward/norm_mean" not in fixed[-1].metrics


@pytest.mark.slow
def test_ppo_with_a_separate_critic_from_the_reward_model(
    tiny_lm: str, tiny_rm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.ml import ppo

    built: list[ppo.PolicyWithValue] = []

    class Recorded(ppo.PolicyWithValue):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(ppo, "PolicyWithValue", Recorded)
    before_policy: dict[str, torch.Tensor] = {}
    before_critic: dict[str, torch.Tensor] = {}
    real_optimizer = ppo._optimizer

    def snapshot(model, config, total):  # noqa: ANN001, ANN202
        before_policy.update({k: v.detach().clone() for k, v in model.lm.state_dict().items()})
        before_critic.update({k: v.detach().clone() for k, v in model.critic.state_dict().items()})
        optimizer, scheduler = real_optimizer(model, config, total)
        lrs = [g["lr"] for g in optimizer.param_groups]  # the critic has its own group
        assert len(lrs) == 2 and lrs[1] == pytest.approx(2 * lrs[0])
        return optimizer, scheduler

    monkeypatch.setattr(ppo, "_optimizer", snapshot)
    result, events = _run(
        tiny_lm, tmp_path, tiny_rm, critic="reward_model", critic_learning_rate=2e-3
    )
    assert len(events) == 3 and "train/loss/value" in result.metrics
    (model,) = built
    critic = model.critic
    assert critic is not None and not hasattr(model, "value_head")
    policy_ids = {id(p) for p in model.lm.parameters()}
    critic_ids = {id(p) for p in critic.parameters()}
    assert policy_ids and critic_ids and not policy_ids & critic_ids
    assert not {p.data_ptr() for p in model.lm.parameters()} & {
        p.data_ptr() for p in critic.parameters()
    }

    def changed(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> bool:
        return any(not torch.equal(v, before[k]) for k, v in module.state_dict().items())

    assert changed(model.lm, before_policy)
    assert changed(critic, before_critic)
    # the head started as the reward model's score head
    rm = AutoModelForSequenceClassification.from_pretrained(tiny_rm)
    assert torch.equal(before_critic["head.weight"], rm.score.weight.detach())


@pytest.mark.slow
def test_a_separate_critic_needs_the_policy_tokenizer(
    tiny_lm: str, tiny_encoder: str, tmp_path: Path
) -> None:
    from training.ml.config import ConfigError

    with pytest.raises(ConfigError, match="tokenizer"):
        _run(tiny_lm, tmp_path, tiny_encoder, critic="reward_model")


def test_kl_module_examples_run() -> None:
    from tests.docstrings import check_examples_run
    from training.ml import kl

    check_examples_run(kl)
