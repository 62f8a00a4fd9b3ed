"""The PPO KL coefficient and reward scale: an adaptive KL controller and running reward moments.

Adaptive KL (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences",
section 2.2; lm-human-preferences' ``AdaptiveKLController``, TRL's of the same name): after each
rollout batch of ``n`` samples whose mean KL to the reference (nats per completion) is ``KL``,

    beta <- beta * (1 + clip((KL - target) / target, -0.2, 0.2) * n / horizon)

so beta grows while the policy drifts further than ``target`` and shrinks while it stays closer;
the clip bounds the change per batch. ``FixedKLController`` keeps beta constant.

Running moments (lm-human-preferences normalises the reward model's scale; TRL's
``RunningMoments`` whitens scores with running statistics): the mean and (population) standard
deviation of every value seen so far, merged batch by batch with Chan et al.'s parallel update.

Example::

    >>> ctl = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    >>> round(ctl.update(9.0, n_steps=64), 7)   # error clipped to 0.2: 0.1 * (1 + 0.2 * 64 / 10000)
    0.100128
    >>> m = RunningMoments(); m.update([1.0, 2.0, 3.0]); m.update([4.0, 5.0]); (m.mean, round(m.std ** 2, 9))
    (3.0, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class FixedKLController:
    """A constant KL coefficient."""

    def __init__(self, kl_coef: float):
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> float:
        return self.value


class AdaptiveKLController:
    """Ziegler et al. 2019's proportional controller of the KL coefficient towards ``target``."""

    def __init__(self, init_kl_coef: float, target: float, horizon: int):
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> float:
        """Update from one batch of ``n_steps`` samples with mean KL ``current_kl``; the new value."""
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
        return self.value


def kl_controller(
    kl_coef: float, target_kl: float | None, horizon: int
) -> FixedKLController | AdaptiveKLController:
    """Adaptive when ``target_kl`` is set, else fixed at ``kl_coef``."""
    if target_kl is None:
        return FixedKLController(kl_coef)
    return AdaptiveKLController(kl_coef, target_kl, horizon)


class RunningMoments:
    """Running mean and population standard deviation of all values passed to ``update``."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else 1.0

    def update(self, values: Iterable[float]) -> None:
        xs = [float(x) for x in values]
        if not xs:
            return
        n = len(xs)
        mean = sum(xs) / n
        m2 = sum((x - mean) ** 2 for x in xs)
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.count * n / total
        self.count = total
