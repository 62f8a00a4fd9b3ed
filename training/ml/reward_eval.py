"""What a reward run measures of its product model besides its accuracy: the controls and the
method's own figures.

Controls (issue 11, ``controls``, on by default): on the same split, a length-only baseline
(logistic regression on the token-length difference chosen - rejected) and a shuffled-label
control (a linear head on the frozen base model's mean-pooled features, fitted on shuffled
labels ``control_shuffles`` times); their held-out accuracy, beside the pooled model's, is
``final["controls"]`` (overall and per group) and ``eval/length_accuracy``,
``eval/shuffled_accuracy`` (mean) and ``eval/shuffled_accuracy_std``. See training.ml.controls
for the method and its cost.

Method figures (``method_figures``; the numbers themselves are computed in
training.ml.reward_methods): the conditioned model's group-by-group matrix, DPL's
highest-sigma pairs, ODIN's length correlations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import PreTrainedTokenizerBase

from training.ml import controls as ctl
from training.ml.batches import EncodedPair, collate_sequences, length_grouped_batches, to_device
from training.ml.config import RewardConfig
from training.ml.data import PreferenceRow, row_groups
from training.ml.reward_conditioned import conditioned_pairs
from training.ml.reward_methods import CONDITIONED, dpl_figures, odin_figures
from training.ml.reward_model import accuracy, eval_margins, eval_outputs, load_reward_backbone


@torch.no_grad()
def frozen_features(
    accelerator: Accelerator,
    config: RewardConfig,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[EncodedPair],
) -> np.ndarray:
    """(len(pairs), hidden) chosen-minus-rejected features of the frozen base model: its last
    hidden state, mean-pooled over each sequence's real tokens (no gradients, one pass)."""
    set_seed(config.seed)
    model = load_reward_backbone(config.base_model, tokenizer).to(accelerator.device).eval()
    lengths = [len(p) for p in pairs]
    out: dict[int, np.ndarray] = {}
    for indices in length_grouped_batches(lengths, config.batch_size, seed=0, shuffle=False):
        seqs = [e for i in indices for e in (pairs[i].chosen, pairs[i].rejected)]
        batch = to_device(collate_sequences(seqs, tokenizer.pad_token_id), accelerator.device)
        hidden = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            output_hidden_states=True,
        ).hidden_states[-1]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu().numpy()
        for k, i in enumerate(indices):
            out[i] = pooled[2 * k] - pooled[2 * k + 1]
    del model
    return np.stack([out[i] for i in range(len(pairs))]) if out else np.zeros((0, 1))


def fit_controls(
    *,
    accelerator: Accelerator,
    config: RewardConfig,
    tokenizer: PreTrainedTokenizerBase,
    train_rows: Sequence[PreferenceRow],
    eval_rows: Sequence[PreferenceRow],
    train_pairs: Sequence[EncodedPair],
    eval_pairs: Sequence[EncodedPair],
    model_margins: dict[int, float],
) -> dict[str, object]:
    """The length-only and shuffled-label controls beside the pooled model's held-out accuracy
    (training.ml.controls), as final metrics."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    groups = [row_groups(r) for r in eval_rows]
    eval_w = [r.weight for r in eval_rows]
    train_w = [r.weight for r in train_rows]
    theta, length = ctl.length_baseline(
        ctl.length_diffs(train_rows, count), train_w, ctl.length_diffs(eval_rows, count),
        eval_w, groups,
    )  # fmt: skip
    rng = np.random.default_rng(config.seed)
    keep = list(range(len(train_pairs)))
    if len(keep) > ctl.MAX_CONTROL_PAIRS:
        keep = sorted(int(i) for i in rng.choice(len(keep), ctl.MAX_CONTROL_PAIRS, replace=False))
    train_x = frozen_features(accelerator, config, tokenizer, [train_pairs[i] for i in keep])
    eval_x = frozen_features(accelerator, config, tokenizer, eval_pairs)
    shuffled = ctl.shuffled_control(
        train_x, [train_w[i] for i in keep], eval_x, eval_w, groups,
        shuffles=config.control_shuffles, seed=config.seed,
    )  # fmt: skip
    model = ctl.by_group([model_margins[i] for i in range(len(eval_rows))], eval_w, groups)
    table = ctl.controls_table(
        model=model, n=ctl.group_n(eval_w, groups), length=length, shuffled=shuffled
    )
    overall = table[ctl.OVERALL]
    return {
        "controls": table,
        "controls/length_coef": theta,
        "eval/length_accuracy": overall["length"],
        "eval/shuffled_accuracy": overall["shuffled"],
        "eval/shuffled_accuracy_std": overall["shuffled_std"],
    }


def method_figures(
    config: RewardConfig,
    accelerator: Accelerator,
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    token_of: dict[str, int],
    *,
    rows: tuple[list[PreferenceRow], list[PreferenceRow]],
    pairs: tuple[list[EncodedPair], list[EncodedPair]],
    outputs: dict[int, tuple[list[float], list[float]]],
    groups: list[str],
) -> dict[str, object]:
    """What the product model's method adds to the final metrics (training.ml.reward_methods):
    the conditioned matrix, DPL's highest-sigma pairs, ODIN's length correlations."""
    (train_rows, eval_rows), (train_pairs, eval_pairs) = rows, pairs
    pad, size = tokenizer.pad_token_id, config.batch_size
    if config.method == CONDITIONED:
        matrix = {}
        for g in token_of:
            given = conditioned_pairs(eval_pairs, eval_rows, token_of, g)
            margins = eval_margins(accelerator, model, given, pad, size)
            matrix[g] = {h: accuracy(eval_rows, margins, h) for h in groups}
        return {"conditioned_matrix": matrix}
    if config.method == "dpl":
        # every pair, training ones too: the report describes the data's disagreement
        seen = eval_outputs(accelerator, model, train_pairs, pad, size)
        both = {i: v for i, v in seen.items()}
        both.update({len(train_rows) + i: v for i, v in outputs.items()})
        return {"dpl": dpl_figures([*train_rows, *eval_rows], both, config.dpl_top_pairs)}
    if config.method == "odin":
        lengths = {
            p.index: (len(p.chosen.completion_ids), len(p.rejected.completion_ids))
            for p in eval_pairs
        }
        return {"odin": odin_figures(outputs, lengths)}
    return {}
