"""A reward model on preference pairs: what the reward trainer (training.ml.reward), its
latent-group EM (training.ml.latent_groups) and its held-out figures (training.ml.reward_eval)
share.

The Bradley-Terry loss, loading a sequence-classifier backbone, reading a batch's rewards of
chosen and rejected (padded or packed, exactly as the scorer reads them), the model's outputs
and margins on held-out pairs, and the weighted accuracy of those margins.

    loss = -sum_i w_i log sigmoid(r(x_i, y_w,i) - r(x_i, y_l,i) - m_i) / denominator
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import gather_object
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerBase

from training.ml.batches import EncodedPair, collate_pairs, length_grouped_batches, to_device
from training.ml.data import PreferenceRow, row_groups
from training.ml.packing import is_packed, packed_rewards, packing_for
from training.ml.runtime import disable_dropout
from training.ml.score import last_token_rewards


def bradley_terry_loss(
    chosen_rewards: torch.Tensor,
    rejected_rewards: torch.Tensor,
    weights: torch.Tensor | None = None,
    denominator: float | None = None,
    margins: torch.Tensor | None = None,
) -> torch.Tensor:
    """-log sigmoid(r_chosen - r_rejected - margin): the mean (= TRL's RewardTrainer)
    unweighted, else sum(w * loss) / ``denominator``. Training in batches passes one global
    denominator (``data.loss_denominator``); None uses sum(w), right only when the batch is the
    whole set. ``margins`` (Llama 2's m(strength); None = 0) per pair."""
    difference = chosen_rewards - rejected_rewards
    losses = -F.logsigmoid(difference if margins is None else difference - margins)
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / (weights.sum() if denominator is None else denominator)


def accuracy(
    rows: Sequence[PreferenceRow], margins: dict[int, float], group: str | None
) -> float | None:
    """Weighted share of rows (of ``group``, or all) whose chosen got the higher reward; ties
    count half. ``margins`` maps row index to r_chosen - r_rejected. None when no row."""
    hit = total = 0.0
    for i, row in enumerate(rows):
        if group is not None and group not in row_groups(row):
            continue
        m = margins[i]
        hit += row.weight * (1.0 if m > 0 else 0.5 if m == 0 else 0.0)
        total += row.weight
    return hit / total if total else None


def load_reward_backbone(
    path: str, tokenizer: PreTrainedTokenizerBase, num_labels: int = 1
) -> torch.nn.Module:
    """A sequence classifier with ``num_labels`` outputs on ``path``; tokens the tokenizer has
    beyond the model's vocabulary (a conditioned model's group tokens) get fresh embeddings."""
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=num_labels, dtype=torch.float32, ignore_mismatched_sizes=num_labels > 1
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return disable_dropout(model)


def pair_rewards(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(r_chosen, r_rejected) for a ``collate_pairs`` batch (each distinct sequence run once),
    read at each sequence's last real token exactly as the scorer reads them (padded), or at
    each segment's last token (packed: ``training.ml.packing``)."""
    if is_packed(batch):
        scores = packed_rewards(model, batch)
    else:
        scores = last_token_rewards(model, batch["input_ids"], batch["attention_mask"])
    return scores[batch["chosen_index"]], scores[batch["rejected_index"]]


@torch.no_grad()
def eval_outputs(
    accelerator: Accelerator,
    model: torch.nn.Module,
    pairs: Sequence[EncodedPair],
    pad_id: int,
    batch_size: int,
    pack: bool = False,
) -> dict[int, tuple[list[float], list[float]]]:
    """The model's outputs (one per label) on every pair's chosen and rejected, keyed by
    ``pair.index`` (all processes agree); ``pack``: padding-free batches where the model takes
    them (``packing.packing_for``) and has one output."""
    one_output = getattr(getattr(model, "config", None), "num_labels", 1) == 1
    packing = packing_for(model) if pack and one_output else None
    model.eval()
    lengths = [len(p) for p in pairs]
    batches = length_grouped_batches(lengths, batch_size, seed=0, shuffle=False)
    batches = batches[accelerator.process_index :: accelerator.num_processes]
    local: list[tuple[int, tuple[list[float], list[float]]]] = []
    for indices in batches:
        batch = to_device(
            collate_pairs([pairs[i] for i in indices], pad_id, packing), accelerator.device
        )
        chosen, rejected = pair_rewards(model, batch)
        n = len(indices)
        both = zip(chosen.view(n, -1).tolist(), rejected.view(n, -1).tolist(), strict=True)
        local += zip(batch["pair_index"].tolist(), both, strict=True)
    model.train()
    found = gather_object(local) if accelerator.num_processes > 1 else local
    return dict(found)


def eval_margins(
    accelerator: Accelerator,
    model: torch.nn.Module,
    pairs: Sequence[EncodedPair],
    pad_id: int,
    batch_size: int,
    pack: bool = False,
) -> dict[int, float]:
    """r_chosen - r_rejected (the first output) for every pair, keyed by ``pair.index``."""
    outputs = eval_outputs(accelerator, model, pairs, pad_id, batch_size, pack)
    return {i: c[0] - r[0] for i, (c, r) in outputs.items()}
