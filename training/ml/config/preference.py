"""Configs of the preference trainers: RewardConfig and DPOConfig.

Reward and DPO can use a pair's 8-point strength (``strength``: "ignore" by default, "margin"
or "weight", with ``margin_scale``; issue 11), described in ``training.ml.reward`` / ``dpo``.
Reward runs choose a method (``method``: Bradley-Terry, group-conditioned, distributional or
length-disentangled) and may train an ensemble (``ensemble_size``; issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.ml.config.checks import _check
from training.ml.config.train import TrainConfig

# How RewardConfig / DPOConfig use a pair's 8-point strength (issue 11; see their `strength`).
STRENGTH_MODES = ("ignore", "margin", "weight")
# Reward-model methods (issue 15; RewardConfig.method): Bradley-Terry, group-conditioned,
# distributional (mean and variance), length-disentangled.
REWARD_METHODS = ("bt", "conditioned", "dpl", "odin")
# How an ensemble's members' scores become one score (RewardConfig.ensemble_mode).
ENSEMBLE_MODES = ("mean_std", "min")


@dataclass(frozen=True, kw_only=True)
class RewardConfig(TrainConfig):
    """Reward model: a scalar head on any backbone, trained with the Bradley-Terry loss."""

    learning_rate: float = 1e-5
    # Reweight pairs so that every labeler group carries the same total weight, rather than
    # counting in proportion to how many pairs it labeled.
    group_balance: bool = False
    # Also train one reward model per labeler group (besides the pooled one) and report the
    # cross-group accuracy matrix: group g's model on group h's held-out pairs.
    per_group: bool = False
    # How a pair's 8-point strength (the row's optional `strength`, 0..1) is used: "ignore"
    # (default), "margin" (loss -log s(r_c - r_r - margin_scale * strength), Llama 2) or
    # "weight" (the pair's weight times (1 + 3 * strength) / 4). Rows without one: margin 0,
    # factor 1.
    strength: str = "ignore"
    # With strength "margin": the margin of a "much better" pair (strength 1). 1.0 gives
    # Llama 2's small margins 1, 2/3, 1/3, 0; 3.0 its large ones 3, 2, 1, 0.
    margin_scale: float = 1.0
    # Also fit the controls of training.ml.controls on the same split: a length-only baseline
    # and a shuffled-label linear head on the frozen base model's features (issue 11).
    controls: bool = True
    # How many label shuffles the shuffled-label control averages (mean and spread).
    control_shuffles: int = 5
    # The model: "bt" (one scalar, Bradley-Terry), "conditioned" (one model r(x, y, g) for
    # every group, the group a token of the input; training.ml.reward_conditioned), "dpl" (a
    # mean and a log std per response, distributional preference learning; training.ml.dpl) or
    # "odin" (a quality head and a length head, RL uses quality; training.ml.odin).
    method: str = "bt"
    # Reward models trained with seeds seed, seed+1, ... and scored together, with the spread
    # as the uncertainty (Coste et al. 2023; training.ml.ensemble); 1 is no ensemble.
    ensemble_size: int = 1
    # How the ensemble's scores become one: "mean_std" (mean - ensemble_lambda x std) or "min"
    # (the worst case over members).
    ensemble_mode: str = "mean_std"
    # The uncertainty penalty lambda of ensemble_mode "mean_std" (0 scores by the mean).
    ensemble_lambda: float = 1.0
    # ODIN: weight of the length term |corr(quality, length)| - corr(length head, length).
    odin_length_weight: float = 1.0
    # ODIN: weight of the orthogonality term |w_quality . w_length| of the two heads.
    odin_ortho_weight: float = 1.0
    # DPL: how many pairs with the highest sigma the run page lists.
    dpl_top_pairs: int = 20
    # Latent groups (MaxMin-RLHF's EM, Chakraborty et al. 2024): also cluster the labelers by
    # their judgments into this many preference types, one reward model each, without reading
    # any group attribute (training.ml.latent_groups); the run page compares the clusters with
    # the declared groups. 0 = off; needs at least this many labelers in the data.
    latent_groups: int = 0
    # Latent groups: EM rounds (each trains every cluster's model, then reassigns labelers).
    latent_iterations: int = 4
    # Padding-free packing (training.ml.packing): a micro-batch's sequences laid end to end in
    # a few rows, the prompt shared by the completions compared on it, with position_ids and a
    # block attention mask so no sequence sees another: the same rewards/log-probs as padded
    # batches, for less compute. Used with causal decoders (SDPA, eager or flash attention);
    # encoders and sliding-window models are padded whatever this says.
    packing: bool = True
    # Compile the backbone with torch.compile (dynamic shapes): the first steps are slower while
    # it compiles; pays on a GPU over a long run, not for small models on CPU (see the README's
    # benchmark).
    torch_compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_strength(self, allowed=STRENGTH_MODES)
        _check(self, self.control_shuffles < 1, "control_shuffles", "must be >= 1")
        _check(
            self, self.method not in REWARD_METHODS, "method", f"must be one of {REWARD_METHODS}"
        )
        _check(
            self,
            self.strength == "margin" and self.method in ("dpl", "odin"),
            "strength",
            "'margin' applies to methods bt and conditioned only",
        )
        _check(self, not 1 <= self.ensemble_size <= 16, "ensemble_size", "must be in 1..16")
        _check(
            self,
            self.ensemble_mode not in ENSEMBLE_MODES,
            "ensemble_mode",
            f"must be one of {ENSEMBLE_MODES}",
        )
        _check(self, self.ensemble_lambda < 0, "ensemble_lambda", "must be >= 0")
        _check(self, self.odin_length_weight < 0, "odin_length_weight", "must be >= 0")
        _check(self, self.odin_ortho_weight < 0, "odin_ortho_weight", "must be >= 0")
        _check(self, self.dpl_top_pairs < 1, "dpl_top_pairs", "must be >= 1")
        _check(
            self,
            self.latent_groups == 1 or self.latent_groups < 0,
            "latent_groups",
            "must be 0 (off) or at least 2",
        )
        _check(self, self.latent_iterations < 1, "latent_iterations", "must be >= 1")
        _check(
            self,
            self.latent_groups > 0 and self.method != "bt",
            "latent_groups",
            "applies to method bt only (one Bradley-Terry model per latent type)",
        )
        _check(
            self,
            self.method == "conditioned" and self.lora_r > 0,
            "lora_r",
            "method conditioned needs full fine-tuning (lora_r 0): its group tokens' embeddings "
            "must train",
        )
        _check(
            self,
            self.latent_groups > 0 and self.lora_r > 0,
            "lora_r",
            "latent groups train one full model per type: set lora_r 0 (or latent_groups 0)",
        )


@dataclass(frozen=True, kw_only=True)
class DPOConfig(TrainConfig):
    """Direct Preference Optimization against a frozen copy of the base model."""

    learning_rate: float = 1e-6
    # Inverse temperature of the implicit reward; smaller stays closer to the reference.
    beta: float = 0.1
    # Reweight pairs so that every labeler group carries the same total weight, rather than
    # counting in proportion to how many pairs it labeled.
    group_balance: bool = False
    # (The reference log-probs are cached in <output_dir>/ref_logps.pt, reused when their
    # fingerprint (model, data, max_length) matches; the path is not configurable, so a run
    # writes only inside its own directory.)
    # How a pair's 8-point strength (the row's optional `strength`, 0..1) is used: "ignore"
    # (default), "margin" (ODPO-style offset: -log s(beta * (chosen - rejected log-ratio) -
    # margin_scale * strength), Amini et al. 2024) or "weight" (the pair's weight times
    # (1 + 3 * strength) / 4). Rows without one: offset 0, factor 1.
    strength: str = "ignore"
    # With strength "margin": the offset of a "much better" pair (strength 1), in implicit
    # reward units (beta * log-ratio).
    margin_scale: float = 1.0
    # Also fit a length-only baseline on the same split and store the held-out implicit-reward
    # accuracy per group beside it (training.ml.controls; issue 11).
    controls: bool = True
    # Group-robust DPO (Ramesh et al. 2024): minimise the worst labeler group's loss, sum_g
    # alpha_g L_g with the group weights alpha raised each step toward the groups whose loss is
    # highest (training.ml.robust_dpo), instead of the average over pairs. Needs labeler groups in
    # the data; not with group_balance (alpha already weighs the groups).
    group_robust: bool = False
    # Group-robust DPO: step size of the group weights, alpha_g <- alpha_g exp(robust_eta L_g);
    # larger moves weight to the worst group faster (0 keeps alpha uniform: every group's mean
    # loss counts the same).
    robust_eta: float = 0.1
    # Padding-free packing (training.ml.packing): a micro-batch's sequences laid end to end in
    # a few rows, the prompt shared by the completions compared on it, with position_ids and a
    # block attention mask so no sequence sees another: the same rewards/log-probs as padded
    # batches, for less compute. Used with causal decoders (SDPA, eager or flash attention);
    # encoders and sliding-window models are padded whatever this says.
    packing: bool = True
    # Compile the backbone with torch.compile (dynamic shapes): the first steps are slower while
    # it compiles; pays on a GPU over a long run, not for small models on CPU (see the README's
    # benchmark).
    torch_compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self, self.beta <= 0, "beta", "must be > 0")
        _check_strength(self, allowed=STRENGTH_MODES)
        _check(self, self.robust_eta < 0, "robust_eta", "must be >= 0")
        _check(
            self,
            self.group_robust and self.group_balance,
            "group_robust",
            "cannot be used with group_balance (the group weights alpha replace balancing)",
        )


def _check_strength(config: Any, allowed: tuple[str, ...]) -> None:
    _check(config, config.strength not in allowed, "strength", f"must be one of {allowed}")
    _check(config, config.margin_scale < 0, "margin_scale", "must be >= 0")
