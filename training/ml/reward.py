"""Reward model: a scalar head on any backbone, trained on human comparisons.

    loss = -sum_(i in batch) w_i log sigmoid(r(x_i, y_w,i) - r(x_i, y_l,i)) / (mean(w) B)
                                                                              (Bradley-Terry)

Paper: Ouyang et al. 2022, "Training language models to follow instructions with human
feedback" (InstructGPT), section 3.5; Stiennon et al. 2020; Bradley & Terry 1952.

The model is ``AutoModelForSequenceClassification`` with one label on a causal LM (reward read
at the last token) or an encoder ([CLS]). The C(K, 2) pairs of a K-way ranking share a
prompt_id, go in one batch, and each distinct completion is scored once. Weights are the rows'
(1/C(K, 2) for ranking pairs) times, with ``group_balance``, a factor giving every labeler group
the same total weight (``training.ml.data.row_weights``). Held-out accuracy is reported overall and per labeler group; with
``per_group``, one more model per group is trained and the cross-group accuracy matrix
(group g's model on group h's held-out pairs) lands in metrics.json; each group model's metrics
are keyed ``group/<name>/train/...`` and its steps count from 0 to its own total, so the run page
draws one curve per model and says "step N of M" per model (the result counts the pooled
model's steps).

Issue 11 changes: (1) each batch's weighted loss sum is divided by one global constant, the
mean training weight times the batch size (``data.loss_denominator``), not by the batch's own
weight sum, so group balance and ranking weights survive length-grouped batching (each pair's
influence is proportional to its weight; a K-way ranking counts as one judgment); the training
accuracy metric is weighted the same way, and ``train/influence/<group>`` records each group's
share of the influence. (2) A pair's chosen and rejected share one truncated prompt
(``batches.encode_pairs``). (4) Dropout is off in the backbone (``runtime.disable_dropout``), as
TRL's RewardTrainer does by default, so train-mode rewards are the rewards the model gives.
(10) Total steps are planned from the batches the trainer really makes (real lengths, every
epoch), so the learning rate reaches zero at the last step. (7) The 8-point strength
(the row's optional ``strength``, 0..1, ``annotation.preferences.scale_strength``) can be used,
by ``strength`` (default "ignore", the loss above): "margin" is Llama 2's margin loss (Touvron
et al. 2023, sec. 3.2.2),

    loss_i = -log sigmoid(r(x_i, y_w,i) - r(x_i, y_l,i) - m_i),   m_i = margin_scale * strength_i

(``margin_scale`` 1 gives Llama 2's small margins 1, 2/3, 1/3, 0 for "much better" ..
"marginally better"; 3 its large ones 3, 2, 1, 0), so a clear preference must be won by more;
"weight" multiplies each row's weight by (1 + 3 strength) / 4 before balancing and the global
normalisation (``data.row_weights``), so strong preferences pull harder. Rows without a
strength get margin 0 and factor 1.

Latent groups (issue 15, ``latent_groups`` K > 0): after the pooled model, MaxMin-RLHF's EM
clusters the labelers (the rows' pseudonymous ``labeler``) into K preference types with one
reward model each, saved under ``clusters/NN``; ``final["latent_groups"]`` is its report
(training.ml.latent_groups, ``run_latent_groups``).

Controls (issue 11, ``controls``, on by default): a length-only baseline and a shuffled-label
control fitted on the same split, their held-out accuracy beside the pooled model's
(``final["controls"]``; training.ml.reward_eval, training.ml.controls).

The loss, the rewards of a batch of pairs and the held-out margins are in
training.ml.reward_model, shared with the latent-group EM.

Example::

    python -m training.ml tiny --output-dir /tmp/tiny
    python -m training.ml reward --config '{"base_model": "/tmp/tiny"}' \\
        --data pairs.jsonl --output-dir /tmp/rm

    >>> result = train_reward(RewardConfig(base_model="/tmp/tiny"), "pairs.jsonl", "/tmp/rm")
    ...                                                                      # doctest: +SKIP
    >>> AutoModelForSequenceClassification.from_pretrained("/tmp/rm")        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerBase

from training.ml.adapters import load_trainable, save_trained
from training.ml.batches import (
    EncodedPair,
    collate_pairs,
    encode_pairs,
    length_grouped_batches,
    shard,
    to_device,
)
from training.ml.config import RewardConfig
from training.ml.data import (
    POOLED,
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
from training.ml.ensemble import member_dir
from training.ml.latent_groups import run_latent_groups
from training.ml.packing import packing_for
from training.ml.progress import ProgressCallback, StopCheck, TrainResult
from training.ml.reward_conditioned import add_group_tokens, check_groups, conditioned_pairs
from training.ml.reward_eval import fit_controls, method_figures
from training.ml.reward_methods import (
    CONDITIONED,
    ModelSpec,
    ensemble_figures,
    objective_for,
    plan_models,
)
from training.ml.reward_model import accuracy, bradley_terry_loss, eval_outputs, pair_rewards
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
from training.ml.score import RewardHead, write_head

log = logging.getLogger(__name__)

# A method's training step on (batch, num_labels) outputs of chosen and rejected, their
# weights, the global denominator and a context ("model", "chosen_length", "rejected_length"):
# (loss, metrics). None is the Bradley-Terry step.
Objective = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, float, dict[str, Any]],
    tuple[torch.Tensor, dict[str, float]],
]


@dataclass
class RewardResult(TrainResult):
    # Held-out accuracy of the pooled model on each labeler group's pairs (None: no eval pair).
    group_accuracy: dict[str, float | None] = field(default_factory=dict)
    # per_group only: {model: {group: accuracy}}, models being "pooled" and each group.
    cross_group_accuracy: dict[str, dict[str, float | None]] | None = None


def _fit(
    *,
    accelerator: Accelerator,
    config: RewardConfig,
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[EncodedPair],
    weights: list[float],
    margins: list[float],
    reporter: Reporter,
    should_stop: StopCheck,
    total_steps: int,
    objective: Objective | None = None,
    num_labels: int = 1,
    seed: int | None = None,
) -> tuple[torch.nn.Module, int, bool]:
    """Train one reward model on ``pairs``; returns (unwrapped model, steps, cancelled).

    ``weights`` and ``margins`` are indexed by ``pair.index`` (the position in the full
    training rows). ``objective`` replaces the Bradley-Terry step for the other methods
    (training.ml.dpl, training.ml.odin), on ``num_labels`` outputs per response; ``seed``
    (default config.seed) seeds the head and the batch order (ensemble members differ)."""
    seed = config.seed if seed is None else seed
    set_seed(seed)
    model = load_trainable(
        AutoModelForSequenceClassification, config, accelerator,
        num_labels=num_labels, ignore_mismatched_sizes=num_labels > 1,
    )  # fmt: skip
    model.config.pad_token_id = tokenizer.pad_token_id  # type: ignore[union-attr]
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:  # type: ignore[operator]
        # a conditioned model's group tokens (full fine-tuning only: RewardConfig checks it)
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # type: ignore[operator]
    model = compile_backbone(model, config.torch_compile)
    optimizer, scheduler = make_optimizer(model.parameters(), config, total_steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    weight_of = torch.tensor(weights, dtype=torch.float32, device=accelerator.device)
    margin_of = torch.tensor(margins, dtype=torch.float32, device=accelerator.device)
    denominator = loss_denominator([weights[p.index] for p in pairs], config.batch_size)
    plan = _planner(accelerator, config, pairs, seed)
    # padding-free batches for the one-output objectives (bt, conditioned); dpl and odin read
    # per-sequence lengths from padded batches
    packing = packing_for(model) if config.packing and objective is None else None

    def step(indices: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        batch = collate_pairs([pairs[i] for i in indices], tokenizer.pad_token_id, packing)
        batch = to_device(batch, accelerator.device)
        chosen, rejected = pair_rewards(model, batch)
        w = weight_of[batch["pair_index"]]
        if objective is not None:
            lengths = batch["completion_mask"].sum(-1).float()
            context = {
                "model": model,
                "chosen_length": lengths[batch["chosen_index"]],
                "rejected_length": lengths[batch["rejected_index"]],
            }
            return objective(chosen, rejected, w, denominator, context)
        m = margin_of[batch["pair_index"]] if config.strength == "margin" else None
        loss = bradley_terry_loss(chosen, rejected, w, denominator, m)
        with torch.no_grad():
            margin = chosen - rejected
            return loss, {
                "loss": loss.item(),
                "accuracy": ((margin > 0).float() * w).sum().item() / denominator,
                "margin": margin.mean().item(),
            }

    steps, cancelled = train_loop(
        accelerator=accelerator,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        config=config,
        plan=plan,
        step_fn=step,
        reporter=reporter,
        should_stop=should_stop,
        total_steps=total_steps,
    )
    unwrapped = accelerator.unwrap_model(model)
    accelerator.free_memory(model, optimizer)
    return unwrapped, steps, cancelled


def _planner(
    accelerator: Accelerator,
    config: RewardConfig,
    pairs: Sequence[EncodedPair],
    seed: int | None = None,
) -> Callable[[int], list[list[int]]]:
    """This process's batches of each epoch (indices into ``pairs``): what ``_fit`` trains on
    and what its steps are planned from."""
    lengths = [len(p) for p in pairs]
    keys = [p.prompt_id for p in pairs]
    seed = config.seed if seed is None else seed

    def plan(epoch: int) -> list[list[int]]:
        batches = length_grouped_batches(lengths, config.batch_size, seed + epoch, keys)
        return shard(batches, accelerator.process_index, accelerator.num_processes)

    return plan


def _slug(name: str, i: int) -> str:
    return f"{i:02d}-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:40] or "group")


def train_reward(
    config: RewardConfig,
    data: Sequence[PreferenceRow] | str | Path,
    output_dir: str | Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> RewardResult:
    """Train the product reward model (saved in ``output_dir``; with ``ensemble_size`` N, its
    other members in ``output_dir/ensemble/NN``) and, with ``per_group``, one per labeler
    group (saved in ``output_dir/groups/NN-name``); see the module docstring."""
    on_progress, should_stop = resolve_callbacks(on_progress, should_stop)
    output_dir = Path(output_dir)
    rows = as_rows(data, PreferenceRow)
    train_rows, eval_rows = split_rows(rows, config.eval_fraction, config.seed)
    if not train_rows:
        raise DataError("no training rows (every row has split 'eval')")
    accelerator = make_accelerator(config)
    tokenizer = load_tokenizer(config.base_model)
    groups = sorted({g for r in rows for g in row_groups(r)})
    token_of: dict[str, int] = {}
    if config.method == CONDITIONED:
        token_of = add_group_tokens(tokenizer, check_groups(rows))
    train_pairs = encode_pairs(tokenizer, train_rows, config.max_length)
    eval_pairs = encode_pairs(tokenizer, eval_rows, config.max_length)
    weights = row_weights(train_rows, group_balance=config.group_balance, strength=config.strength)
    pair_margins = row_margins(
        train_rows, strength=config.strength, margin_scale=config.margin_scale
    )

    def fit_pairs(
        spec: ModelSpec, pairs: list[EncodedPair], of: list[PreferenceRow]
    ) -> list[EncodedPair]:
        """A conditioned model's pairs carry their row's group token."""
        return conditioned_pairs(pairs, of, token_of) if spec.method == CONDITIONED else pairs

    specs = plan_models(config, train_rows, groups, output_dir, _slug)
    plans = [
        _planner(accelerator, config, [train_pairs[i] for i in s.members], s.seed) for s in specs
    ]
    batches_of = [[len(plan(e)) for e in range(config.epochs)] for plan in plans]
    run_steps = [planned_steps(config, n) for n in batches_of]
    per_epoch = steps_per_epoch(config, batches_of[0][0])
    reporter = Reporter(accelerator, on_progress, run_steps[0], per_epoch)
    reporter.emit(0, {}, "setup", f"{len(train_rows)} train / {len(eval_rows)} eval pairs")

    final: dict[str, object] = {"train/pairs": len(train_rows), "eval/pairs": len(eval_rows)}
    shares = influence_shares(train_rows, weights)
    final.update({f"train/influence/{g}": share for g, share in shares.items()})
    cross: dict[str, dict[str, float | None]] = {}
    group_dirs: dict[str, str] = {}
    costs: dict[str, dict[str, float]] = {}
    member_scores: list[dict[int, tuple[float, float]]] = []
    pooled_steps = 0
    cancelled = False
    pooled_margins: dict[int, float] = {}
    for k, (spec, total) in enumerate(zip(specs, run_steps, strict=True)):
        if spec.members == [] or cancelled:
            continue
        name, where = spec.name, spec.where
        reporter.model(spec.prefix, total)
        what = "model" if name == POOLED else f"model for group {name!r}"
        what = f"ensemble member {name[-2:]}" if name.startswith("ensemble/") else what
        counted = f" ({k + 1} of {len(specs)})" if len(specs) > 1 else ""
        reporter.emit(0, {}, phase="train", message=f"training {what}{counted}")
        num_labels, objective = objective_for(config, spec.method)
        started = time.monotonic()
        model, steps, cancelled = _fit(
            accelerator=accelerator,
            config=config,
            tokenizer=tokenizer,
            pairs=fit_pairs(spec, [train_pairs[i] for i in spec.members], train_rows),
            weights=row_weights(train_rows, group_balance=False, strength=config.strength)
            if spec.prefix.startswith("group/")
            else weights,
            margins=pair_margins,
            reporter=reporter,
            should_stop=should_stop,
            total_steps=total,
            objective=objective,
            num_labels=num_labels,
            seed=spec.seed,
        )
        costs[name] = {
            "seconds": round(time.monotonic() - started, 3),
            "parameters": sum(p.numel() for p in model.parameters()),
            "steps": steps,
        }
        pooled_steps = steps if name == POOLED else pooled_steps
        reporter.emit(steps, {}, phase="save", message=f"saving {what}{counted} to {where}")
        save_trained(accelerator, model, tokenizer, where, config)
        if spec.prefix.startswith("group/"):
            group_dirs[name] = str(where.relative_to(output_dir))
        if eval_pairs:
            outputs = eval_outputs(
                accelerator, model, fit_pairs(spec, eval_pairs, eval_rows),
                tokenizer.pad_token_id, config.batch_size, config.packing,
            )  # fmt: skip
            margins = {i: c[0] - r[0] for i, (c, r) in outputs.items()}
            if spec.prefix.startswith("ensemble/") or name == POOLED:
                member_scores.append({i: (c[0], r[0]) for i, (c, r) in outputs.items()})
            if not spec.prefix.startswith("ensemble/"):
                row = CONDITIONED if name == POOLED and spec.method == CONDITIONED else name
                cross[row] = {g: accuracy(eval_rows, margins, g) for g in groups}
            if name == POOLED:
                final["eval/accuracy"] = accuracy(eval_rows, margins, None)
                final["eval/margin"] = sum(margins.values()) / len(margins)
                final.update(
                    method_figures(
                        config, accelerator, model, tokenizer, token_of,
                        rows=(train_rows, eval_rows), pairs=(train_pairs, eval_pairs),
                        outputs=outputs, groups=groups,
                    )
                )  # fmt: skip
                reporter.emit(steps, {"eval/accuracy": final["eval/accuracy"]}, phase="eval")  # type: ignore[dict-item]
        del model  # before the controls load the frozen base model
        if name == POOLED and eval_pairs:
            pooled_margins = margins
        if name == POOLED and eval_pairs and config.controls and not cancelled:
            reporter.emit(steps, {}, phase="eval", message="fitting the controls")
            final.update(
                fit_controls(
                    accelerator=accelerator,
                    config=config,
                    tokenizer=tokenizer,
                    train_rows=train_rows,
                    eval_rows=eval_rows,
                    train_pairs=train_pairs,
                    eval_pairs=eval_pairs,
                    model_margins=margins,
                )
            )
    latent: dict[str, Any] = {}
    if config.latent_groups and not cancelled:
        latent, cancelled = run_latent_groups(
            accelerator, config, tokenizer, train_rows, train_pairs, eval_rows, eval_pairs,
            reporter, should_stop, run_steps[0], output_dir, pooled_margins,
        )  # fmt: skip
        final["latent_groups"] = latent
    reporter.model("", run_steps[0])  # the result counts the product model's steps

    final.update(last_train_metrics(reporter))
    product = CONDITIONED if config.method == CONDITIONED else POOLED
    group_accuracy = cross.get(product, {})
    final.update({f"eval/accuracy/{g}": a for g, a in group_accuracy.items()})
    final["group_accuracy"] = group_accuracy
    final["method"] = config.method
    final["model_costs"] = costs
    if config.ensemble_size > 1 and len(member_scores) == config.ensemble_size:
        final["ensemble"] = ensemble_figures(
            member_scores, eval_rows, groups, config.ensemble_mode, config.ensemble_lambda,
            accuracy,
        )  # fmt: skip
    if config.per_group:
        final["cross_group_accuracy"] = cross
        final["group_dirs"] = group_dirs
    if accelerator.is_main_process and not cancelled:
        head = RewardHead(
            method=config.method,
            members=[member_dir(k) for k in range(config.ensemble_size)],
            ensemble_mode=config.ensemble_mode,
            ensemble_lambda=config.ensemble_lambda,
            group_tokens=token_of,
            clusters=sorted(latent["dirs"].values()) if config.latent_groups else [],
        )
        write_head(output_dir, head)
    result = finish(
        accelerator,
        reporter,
        config,
        output_dir,
        cancelled=cancelled,
        steps=pooled_steps,
        final=final,
    )
    return RewardResult(
        **result.to_dict(),
        group_accuracy=group_accuracy,
        cross_group_accuracy=cross if config.per_group else None,
    )
