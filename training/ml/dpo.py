"""Direct Preference Optimization: the policy as its own reward model, no sampling.

    loss = -log sigmoid(beta [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])

Paper: Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is Secretly a
Reward Model" (arXiv:2305.18290).

The reference is the base model, frozen. Its log-probs never change, so they are computed once,
in one no-grad pass over every pair before training, and cached in a file (default
``<output_dir>/ref_logps.pt``, reused when its fingerprint of model, data and max_length
matches): no second model sits in memory while training. The implicit reward of a completion
is ``beta (log pi - log pi_ref)``; metrics report it for chosen and rejected completions, their
margin and how often the chosen one wins ("rewards/accuracies"). Each pair's loss is weighted
by the row's weight (1/C(K, 2) for ranking pairs) times, with ``group_balance``, a factor giving
every labeler group the same total weight (``training.ml.data.row_weights``).

Issue 11 changes: (1) each batch's weighted loss sum is divided by one global constant, the
mean training weight times the batch size (``data.loss_denominator``), not by the batch's own
weight sum, so group balance and ranking weights survive length-grouped batching;
``train/influence/<group>`` records each group's share. The training "rewards/accuracies" and
the evaluation loss and accuracy are weighted the same way (the eval set's own weights, over the
whole set). (2) A pair's chosen and rejected share one truncated prompt
(``batches.encode_pairs``). (4) Dropout is off in the policy (``runtime.disable_dropout``), as
TRL's DPOTrainer does: the reference log-probs are taken in eval mode, so with dropout on in
training the log-ratio was not 0 before any update (|ratio - 1| ~ 0.04 with dropout 0.1).
(10) Total steps are planned from every epoch's real batches, so the learning rate reaches
zero at the last step. (7) The 8-point strength (the row's optional ``strength``, 0..1,
``annotation.preferences.scale_strength``) can be used, by ``strength`` (default "ignore", the
loss above): "margin" subtracts an offset, as ODPO does (Amini et al. 2024, "Direct Preference
Optimization with an Offset"), the DPO analogue of Llama 2's reward-model margin,

    loss_i = -log sigmoid(beta [log-ratio(y_w) - log-ratio(y_l)] - m_i),   m_i = margin_scale * strength_i

(in implicit-reward units; applied to the eval loss too); "weight" multiplies each row's weight
by (1 + 3 strength) / 4 before balancing and the global normalisation (``data.row_weights``).
Rows without a strength get offset 0 and factor 1.

Group-robust DPO (issue 15, ``group_robust``): the loss becomes the worst-case mixture of the
labeler groups' losses, sum_g alpha_g L_g with alpha updated by ``robust_eta`` each step
(training.ml.robust_dpo, Ramesh et al. 2024); alpha and each group's loss are logged
(``train/robust/alpha/<group>``, ``train/robust/loss/<group>``), the final alpha is
``final["robust_alpha"]``.

Controls (issue 11, ``controls``, on by default): the held-out implicit-reward accuracy overall
and per labeler group beside a length-only baseline fitted on the same split
(training.ml.controls), in ``final["controls"]`` and ``eval/length_accuracy``; the run page's
verdict reads them. (No shuffled-label control: that one is for reward-model runs.)

Example::

    python -m training.ml tiny --output-dir /tmp/tiny
    python -m training.ml dpo --config '{"base_model": "/tmp/tiny", "beta": 0.1}' \\
        --data pairs.jsonl --output-dir /tmp/dpo

    >>> result = train_dpo(DPOConfig(base_model="/tmp/tiny"), "pairs.jsonl", "/tmp/dpo")
    ...                                                                      # doctest: +SKIP
    >>> AutoModelForCausalLM.from_pretrained("/tmp/dpo")                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import gather_object
from transformers import AutoModelForCausalLM

from training.ml import controls as ctl
from training.ml.adapters import adapters_off, load_trainable, save_trained
from training.ml.batches import (
    EncodedPair,
    collate_pairs,
    encode_pairs,
    length_grouped_batches,
    shard,
    to_device,
)
from training.ml.config import DPOConfig
from training.ml.data import (
    DataError,
    PreferenceRow,
    as_rows,
    influence_shares,
    loss_denominator,
    row_groups,
    row_margins,
    row_weights,
    split_rows,
)
from training.ml.packing import SequenceLogProbs, packing_for
from training.ml.progress import ProgressCallback, StopCheck, TrainResult
from training.ml.robust_dpo import GroupRobust, membership, robust_groups
from training.ml.runtime import (
    Reporter,
    compile_backbone,
    finish,
    last_train_metrics,
    load_tokenizer,
    make_accelerator,
    make_optimizer,
    planned_steps,
    resolve_callbacks,
    steps_per_epoch,
    train_loop,
)

log = logging.getLogger(__name__)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
    weights: torch.Tensor | None = None,
    denominator: float | None = None,
    margins: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, chosen_rewards, rejected_rewards) from sequence log-probs.

    Rewards are ``beta * (log pi - log pi_ref)``, detached. Unweighted, the loss is the batch
    mean, as TRL's DPOTrainer ("sigmoid" loss); weighted, sum(w * l) / ``denominator``: one
    global constant when training in batches (``data.loss_denominator``), or None for sum(w),
    right only when the batch is the whole set. ``margins`` (ODPO's offset; None = 0) are
    subtracted from each pair's beta-scaled log-ratio difference.
    """
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    losses = pair_losses(chosen_logratios, rejected_logratios, beta, margins)
    if weights is None:
        loss = losses.mean()
    else:
        loss = (losses * weights).sum() / (weights.sum() if denominator is None else denominator)
    return loss, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()


def pair_losses(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    beta: float,
    margins: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each pair's -log sigmoid(beta (chosen - rejected log-ratio) - margin), unreduced."""
    logits = beta * (chosen_logratios - rejected_logratios)
    return -F.logsigmoid(logits if margins is None else logits - margins)


def reward_metrics(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    weights: torch.Tensor | None = None,
    denominator: float | None = None,
) -> dict[str, float]:
    """Implicit-reward metrics; "rewards/accuracies" is weighted like the loss when given
    weights (sum(w * [chosen > rejected]) / denominator, sum(w) by default)."""
    wins = (chosen > rejected).float()
    if weights is None:
        accuracy = wins.mean().item()
    else:
        total = weights.sum().item() if denominator is None else denominator
        accuracy = (wins * weights.to(wins.device)).sum().item() / total
    return {
        "rewards/chosen": chosen.mean().item(),
        "rewards/rejected": rejected.mean().item(),
        "rewards/margins": (chosen - rejected).mean().item(),
        "rewards/accuracies": accuracy,
    }


@torch.no_grad()
def sequence_logps(
    accelerator: Accelerator,
    model: torch.nn.Module,
    pairs: Sequence[EncodedPair],
    pad_id: int,
    batch_size: int,
    on_batch: Callable[[int, int], None] | None = None,
    pack: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) summed completion log-probs of every pair, indexed like ``pairs``;
    ``on_batch(done, total)`` after each batch (pairs scored so far, over all processes);
    ``model`` is a ``packing.SequenceLogProbs``, fed padding-free batches with ``pack``."""
    packing = packing_for(accelerator.unwrap_model(model).lm) if pack else None
    was_training = model.training
    model.eval()
    batches = length_grouped_batches([len(p) for p in pairs], batch_size, 0, shuffle=False)
    local: list[tuple[int, float, float]] = []
    mine = batches[accelerator.process_index :: accelerator.num_processes]
    for k, indices in enumerate(mine, start=1):
        batch = collate_pairs([pairs[i] for i in indices], pad_id, packing)
        seq = model(to_device(batch, accelerator.device))
        chosen, rejected = seq[batch["chosen_index"]], seq[batch["rejected_index"]]
        local += zip(batch["pair_index"].tolist(), chosen.tolist(), rejected.tolist(), strict=True)
        if on_batch is not None:
            done = sum(len(b) for b in batches[: k * accelerator.num_processes])
            on_batch(done, len(pairs))
    model.train(was_training)
    found = gather_object(local) if accelerator.num_processes > 1 else local
    position = {p.index: k for k, p in enumerate(pairs)}
    chosen_out, rejected_out = torch.zeros(len(pairs)), torch.zeros(len(pairs))
    for index, c, r in found:
        chosen_out[position[index]], rejected_out[position[index]] = c, r
    return chosen_out, rejected_out


def fingerprint(config: DPOConfig, pairs: Sequence[EncodedPair], bf16: bool) -> str:
    """Identifies what the reference log-probs depend on: the model files, data and settings."""
    held = "lora" if config.lora_r else "full"  # LoRA holds the base in the compute dtype
    h = hashlib.sha256(f"{config.base_model}|{config.max_length}|bf16={bf16}|{held}".encode())
    model_dir = Path(config.base_model)
    if model_dir.is_dir():
        for f in sorted(model_dir.iterdir()):
            if f.suffix in (".json", ".safetensors", ".bin"):
                stat = f.stat()
                h.update(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for p in pairs:
        for e in (p.chosen, p.rejected):
            h.update(f"{len(e.prompt_ids)}:{e.ids}".encode())
    return h.hexdigest()


def reference_logps(
    accelerator: Accelerator,
    model: torch.nn.Module,
    pairs: Sequence[EncodedPair],
    pad_id: int,
    config: DPOConfig,
    cache: Path,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference log-probs, from ``cache`` when it matches, else one pass of the (untrained) model
    (``on_batch`` as in ``sequence_logps``)."""
    key = fingerprint(config, pairs, accelerator.mixed_precision == "bf16")
    if cache.exists():
        stored = torch.load(cache, weights_only=True)
        if stored.get("fingerprint") == key:
            log.info("reusing reference log-probs from %s", cache)
            return stored["chosen"], stored["rejected"]
        log.info("%s was made for other model/data: recomputing", cache)
    chosen, rejected = sequence_logps(
        accelerator, model, pairs, pad_id, config.batch_size, on_batch, config.packing
    )
    if accelerator.is_main_process:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"fingerprint": key, "chosen": chosen, "rejected": rejected}, cache)
    accelerator.wait_for_everyone()
    return chosen, rejected


def dpo_controls(
    tokenizer: Any,
    train_rows: Sequence[PreferenceRow],
    eval_rows: Sequence[PreferenceRow],
    margins: torch.Tensor,
) -> dict[str, object]:
    """Held-out implicit-reward accuracy (``margins``: chosen minus rejected implicit reward per
    eval row) overall and per group, beside the length-only baseline (training.ml.controls)."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    groups = [row_groups(r) for r in eval_rows]
    eval_w = [r.weight for r in eval_rows]
    theta, length = ctl.length_baseline(
        ctl.length_diffs(train_rows, count), [r.weight for r in train_rows],
        ctl.length_diffs(eval_rows, count), eval_w, groups,
    )  # fmt: skip
    model = ctl.by_group(margins.detach().float().cpu().tolist(), eval_w, groups)
    table = ctl.controls_table(model=model, n=ctl.group_n(eval_w, groups), length=length)
    return {
        "controls": table,
        "controls/length_coef": theta,
        "eval/length_accuracy": table[ctl.OVERALL]["length"],
    }


def robust_setup(
    accelerator: Accelerator,
    config: DPOConfig,
    rows: Sequence[PreferenceRow],
    weights: Sequence[float],
) -> GroupRobust | None:
    """The adversary of group-robust DPO over the training rows' groups (None when off); with
    several processes its per-group sums are added over them."""
    if not config.group_robust:
        return None

    def reduce(t: torch.Tensor) -> torch.Tensor:
        if accelerator.num_processes == 1:
            return t
        return accelerator.reduce(t.to(accelerator.device), reduction="sum").cpu()

    groups = robust_groups(rows)
    mass = (membership(rows, groups) * torch.tensor(weights).unsqueeze(1)).sum(0)
    return GroupRobust(groups, config.robust_eta, mass, reduce)


def train_dpo(
    config: DPOConfig,
    data: Sequence[PreferenceRow] | str | Path,
    output_dir: str | Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainResult:
    """Fine-tune ``config.base_model`` with DPO; the policy is saved in ``output_dir``."""
    on_progress, should_stop = resolve_callbacks(on_progress, should_stop)
    output_dir = Path(output_dir)
    rows = as_rows(data, PreferenceRow)
    train_rows, eval_rows = split_rows(rows, config.eval_fraction, config.seed)
    if not train_rows:
        raise DataError("no training rows (every row has split 'eval')")
    accelerator = make_accelerator(config)
    tokenizer = load_tokenizer(config.base_model)
    pad_id = tokenizer.pad_token_id
    pairs = encode_pairs(tokenizer, [*train_rows, *eval_rows], config.max_length)
    train_pairs, eval_pairs = pairs[: len(train_rows)], pairs[len(train_rows) :]
    train_weights = row_weights(
        train_rows, group_balance=config.group_balance, strength=config.strength
    )
    use_margins = config.strength == "margin"
    margins = torch.tensor(
        row_margins(
            [*train_rows, *eval_rows], strength=config.strength, margin_scale=config.margin_scale
        ),
        device=accelerator.device,
    )
    weights = torch.tensor(train_weights, device=accelerator.device)
    denominator = loss_denominator(train_weights, config.batch_size)
    robust = robust_setup(accelerator, config, train_rows, train_weights)
    member = membership(train_rows, robust.groups).to(accelerator.device) if robust else None

    lengths, keys = [len(p) for p in train_pairs], [p.prompt_id for p in train_pairs]

    def plan(epoch: int) -> list[list[int]]:
        batches = length_grouped_batches(lengths, config.batch_size, config.seed + epoch, keys)
        return shard(batches, accelerator.process_index, accelerator.num_processes)

    per_epoch = steps_per_epoch(config, len(plan(0)))
    total_steps = planned_steps(config, [len(plan(e)) for e in range(config.epochs)])
    reporter = Reporter(accelerator, on_progress, total_steps, per_epoch)
    reporter.emit(0, {}, "setup", f"{len(train_rows)} train / {len(eval_rows)} eval pairs")

    lm = load_trainable(AutoModelForCausalLM, config, accelerator)
    policy = SequenceLogProbs(compile_backbone(lm, config.torch_compile))
    packing = packing_for(lm) if config.packing else None
    optimizer, scheduler = make_optimizer(policy.parameters(), config, total_steps)
    policy, optimizer = accelerator.prepare(policy, optimizer)

    def ref_progress(done: int, total: int) -> None:
        reporter.emit(0, {}, "ref_logps", f"computing reference log-probs {done}/{total} pairs")

    ref_progress(0, len(pairs))
    cache = Path(output_dir) / "ref_logps.pt"
    with adapters_off(lm):  # LoRA: the reference is the base model, no second copy
        ref_chosen, ref_rejected = reference_logps(
            accelerator, policy, pairs, pad_id, config, cache, ref_progress
        )
    ref_chosen, ref_rejected = (
        ref_chosen.to(accelerator.device),
        ref_rejected.to(accelerator.device),
    )

    def step(indices: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        batch = to_device(
            collate_pairs([train_pairs[i] for i in indices], pad_id, packing), accelerator.device
        )
        seq = policy(batch)
        chosen, rejected = seq[batch["chosen_index"]], seq[batch["rejected_index"]]
        idx = batch["pair_index"]
        w = weights[idx]
        loss, chosen_rewards, rejected_rewards = dpo_loss(
            chosen,
            rejected,
            ref_chosen[idx],
            ref_rejected[idx],
            config.beta,
            w,
            denominator,
            margins[idx] if use_margins else None,
        )
        extra: dict[str, float] = {}
        if robust is not None and member is not None:  # group-robust DPO (robust_dpo.py)
            losses = pair_losses(
                chosen - ref_chosen[idx], rejected - ref_rejected[idx], config.beta,
                margins[idx] if use_margins else None,
            )  # fmt: skip
            loss, _ = robust.step(losses, w, member[idx])
            extra = robust.metrics()
        return loss, {
            "loss": loss.item(),
            **reward_metrics(chosen_rewards, rejected_rewards, w, denominator),
            "logps/chosen": chosen.detach().mean().item(),
            "logps/rejected": rejected.detach().mean().item(),
            **extra,
        }

    steps, cancelled = train_loop(
        accelerator=accelerator,
        model=policy,
        optimizer=optimizer,
        scheduler=scheduler,
        config=config,
        plan=plan,
        step_fn=step,
        reporter=reporter,
        should_stop=should_stop,
        total_steps=total_steps,
    )

    final: dict[str, object] = {"train/pairs": len(train_rows), "eval/pairs": len(eval_rows)}
    shares = influence_shares(train_rows, train_weights)
    final.update({f"train/influence/{g}": share for g, share in shares.items()})
    if robust is not None:
        final["robust_alpha"] = dict(zip(robust.groups, robust.alpha.tolist(), strict=True))
    if eval_pairs:
        chosen, rejected = sequence_logps(
            accelerator, policy, eval_pairs, pad_id, config.batch_size, pack=config.packing
        )
        n = len(train_pairs)
        ref_c, ref_r = ref_chosen[n:].cpu(), ref_rejected[n:].cpu()
        # The whole eval set is one batch: sum(w) is the global normaliser.
        eval_weights = torch.tensor(
            row_weights(eval_rows, group_balance=config.group_balance, strength=config.strength)
        )
        eval_margins = margins[n:].cpu() if use_margins else None
        with torch.no_grad():
            loss, chosen_rewards, rejected_rewards = dpo_loss(
                chosen, rejected, ref_c, ref_r, config.beta, eval_weights, None, eval_margins
            )
        evals = {
            "loss": loss.item(),
            **reward_metrics(chosen_rewards, rejected_rewards, eval_weights),
        }
        evals = {f"eval/{k}": v for k, v in evals.items()}
        reporter.emit(steps, evals, phase="eval")
        final.update(evals)
        if config.controls:
            final.update(
                dpo_controls(tokenizer, train_rows, eval_rows, chosen_rewards - rejected_rewards)
            )
    final.update(last_train_metrics(reporter))
    reporter.emit(steps, {}, phase="save", message=f"saving to {output_dir}")
    save_trained(accelerator, accelerator.unwrap_model(policy).lm, tokenizer, output_dir, config)
    return finish(
        accelerator, reporter, config, output_dir, cancelled=cancelled, steps=steps, final=final
    )
