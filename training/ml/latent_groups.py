"""Latent preference groups: cluster labelers by their judgments into K types, one reward model
each, by expectation-maximisation (EM) over a mixture of Bradley-Terry models.

    P(judgments of labeler u) = sum_k pi_k prod_(i of u) sigmoid(r_k(x_i, y_w,i) - r_k(x_i, y_l,i))^(w_i)
    E-step: gamma_uk = pi_k prod_i sigmoid(m_ik)^(w_i) / sum_h (same for h),  pi_k = mean_u gamma_uk
    M-step: train r_k on every pair i with weight w_i gamma_(u(i),k)   (Bradley-Terry loss)

Paper: Chakraborty, Qiu, Yuan, Koppel, Huang, Manocha, Bedi, Wang 2024, "MaxMin-RLHF: Alignment
with Diverse Human Preferences" (arXiv:2402.08925), section 4 and Algorithm 2 ("learning
rewards with EM"): there the E-step assigns each user to the cluster under which their
judgments are most likely (hard assignment); here the E-step keeps the responsibilities gamma
(the EM of a mixture model, of which the hard assignment is the limit, reached as soon as a
labeler has a few pairs) and the final clusters are argmax_k gamma_uk.

Used when group attributes are missing or wrong: no group attribute is read. A labeler is the
row's ``labeler`` (a project pseudonym written by the snapshot); a row without one (an imported
or adjudicated judgment) is a unit of its own. The E-step starts from the labelers' raw votes:
each labeler's +-1 vote on every comparison (a prompt and an unordered pair of completions)
they judged, rows scaled to unit length, clustered by k-means (k-means++ seeding, best of
several restarts); with no comparison judged by two labelers the start is a seeded random
assignment. Then ``iterations`` rounds of M-step (each cluster model trains
ceil(total_steps / iterations) optimizer steps, continuing from the last round) and E-step. The
cluster models together get K times the pooled model's steps.

Against the declared groups (each labeler's most frequent group in the rows, data.NO_GROUP for
none): the contingency table of labelers and the adjusted Rand index (``adjusted_rand_index``,
Hubert & Arabie 1985). Each cluster model's held-out accuracy on its own labelers' eval pairs
is reported beside the pooled model's on the same pairs.

A reward run with ``latent_groups`` K > 0 (training.ml.reward) calls ``run_latent_groups`` after
its pooled model: the cluster models are saved under ``clusters/NN`` and its
``final["latent_groups"]`` holds the clusters' sizes, the contingency table against the declared
groups, the adjusted Rand index, each labeler pseudonym's cluster, the EM history and each
cluster model's held-out accuracy on its labelers' pairs beside the pooled model's.

Example::

    >>> import numpy as np
    >>> adjusted_rand_index([0, 0, 1, 1], ["a", "a", "b", "b"])
    1.0
    >>> g = responsibilities(np.log([[0.9, 0.1], [0.8, 0.3], [0.1, 0.9]]), np.array([0, 0, 1]),
    ...                      np.ones(3), 2, np.log([0.5, 0.5]))
    >>> np.round(g, 3).tolist()
    [[0.96, 0.04], [0.1, 0.9]]
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import PreTrainedTokenizerBase

from training.ml import reward_model as rm
from training.ml.batches import EncodedPair, collate_pairs, length_grouped_batches, to_device
from training.ml.config import RewardConfig
from training.ml.data import PreferenceRow, loss_denominator, row_groups, row_weights
from training.ml.progress import StopCheck
from training.ml.runtime import Reporter, make_optimizer, save_pretrained

log = logging.getLogger(__name__)

KMEANS_RESTARTS = 10
MIN_PRIOR = 1e-6  # pi_k never reaches 0, so an emptied cluster can win labelers back


# --- bookkeeping (numpy only) ------------------------------------------------------------------


def labeler_units(rows: Sequence[PreferenceRow]) -> tuple[list[str], np.ndarray]:
    """(unit names, unit index of each row): one unit per labeler pseudonym, and one per row
    without a labeler (named "row-<i>")."""
    names: dict[str, int] = {}
    unit_of = np.zeros(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        name = row.labeler if row.labeler is not None else f"row-{i}"
        unit_of[i] = names.setdefault(name, len(names))
    return list(names), unit_of


def vote_matrix(rows: Sequence[PreferenceRow], unit_of: np.ndarray, n_units: int) -> np.ndarray:
    """(units, comparisons shared by 2+ units): each unit's mean +-1 vote on each comparison (a
    prompt and an unordered pair of completions; +1 when the alphabetically first completion
    won), 0 where it did not judge it."""
    columns: dict[tuple[str, str, str], int] = {}
    votes: dict[tuple[int, int], list[float]] = {}
    for i, row in enumerate(rows):
        first, second = sorted((row.chosen, row.rejected))
        column = columns.setdefault((row.prompt_id, first, second), len(columns))
        votes.setdefault((int(unit_of[i]), column), []).append(1.0 if row.chosen == first else -1.0)
    x = np.zeros((n_units, len(columns)))
    for (u, c), v in votes.items():
        x[u, c] = sum(v) / len(v)
    shared = (x != 0).sum(0) >= 2
    return x[:, shared]


def kmeans(x: np.ndarray, k: int, seed: int, restarts: int = KMEANS_RESTARTS) -> np.ndarray:
    """Cluster labels of the rows of ``x`` (Lloyd's algorithm, k-means++ seeding), the best of
    ``restarts`` by inertia."""
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), dtype=np.int64), math.inf
    for _ in range(restarts):
        centers = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d = np.min([((x - c) ** 2).sum(1) for c in centers], axis=0)
            p = d / d.sum() if d.sum() > 0 else np.full(len(x), 1 / len(x))
            centers.append(x[rng.choice(len(x), p=p)])
        c = np.array(centers)
        for _ in range(100):
            labels = ((x[:, None, :] - c[None]) ** 2).sum(2).argmin(1)
            new = np.array(
                [x[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)]
            )
            if np.allclose(new, c):
                break
            c = new
        inertia = float(((x - c[labels]) ** 2).sum())
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels, inertia
    return best


def initial_clusters(
    rows: Sequence[PreferenceRow], unit_of: np.ndarray, n_units: int, k: int, seed: int
) -> np.ndarray:
    """Each unit's starting cluster: k-means on the unit-length vote vectors, or a seeded
    random assignment (every cluster used) when no comparison is shared."""
    x = vote_matrix(rows, unit_of, n_units)
    if x.shape[1] == 0 or n_units <= k:
        rng = np.random.default_rng(seed)
        return rng.permutation(np.arange(n_units) % k)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return kmeans(x / np.where(norms > 0, norms, 1.0), k, seed)


def responsibilities(
    loglik: np.ndarray,
    unit_of: np.ndarray,
    weights: np.ndarray,
    n_units: int,
    log_prior: np.ndarray,
) -> np.ndarray:
    """E-step: (units, K) gamma_uk from each row's log-likelihood under each cluster
    ``loglik`` (rows, K) = log sigmoid(m_ik), weighted by the row ``weights``."""
    total = np.zeros((n_units, loglik.shape[1]))
    np.add.at(total, unit_of, loglik * weights[:, None])
    logits = total + log_prior[None, :]
    logits -= logits.max(1, keepdims=True)
    gamma = np.exp(logits)
    return gamma / gamma.sum(1, keepdims=True)


def mixing_weights(gamma: np.ndarray) -> np.ndarray:
    """pi_k = the mean responsibility, floored at MIN_PRIOR and renormalised."""
    pi = np.maximum(gamma.mean(0), MIN_PRIOR)
    return pi / pi.sum()


def cluster_row_weights(gamma: np.ndarray, unit_of: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """M-step weights (rows, K): w_i gamma_(u(i),k)."""
    return weights[:, None] * gamma[unit_of]


def adjusted_rand_index(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Adjusted Rand index of two labelings of the same items (Hubert & Arabie 1985): 1 for
    the same partition, about 0 for independent ones. Both with a single cluster: 1."""
    if len(a) != len(b):
        raise ValueError("the labelings have different lengths")
    _, ia = np.unique(np.asarray(a, dtype=object).astype(str), return_inverse=True)
    _, ib = np.unique(np.asarray(b, dtype=object).astype(str), return_inverse=True)
    table = np.zeros((ia.max(initial=-1) + 1, ib.max(initial=-1) + 1))
    np.add.at(table, (ia, ib), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    total = pairs(np.array([len(a)]))
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def declared_groups(rows: Sequence[PreferenceRow], unit_of: np.ndarray, n_units: int) -> list[str]:
    """Each unit's most frequent declared group in the rows (ties: the first by name)."""
    counts: list[Counter[str]] = [Counter() for _ in range(n_units)]
    for i, row in enumerate(rows):
        counts[int(unit_of[i])].update(row_groups(row))
    return [min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for c in counts]


def contingency(clusters: Sequence[int], groups: Sequence[str], k: int) -> dict[str, list[int]]:
    """declared group -> labelers in each of the K clusters."""
    table: dict[str, list[int]] = {}
    for c, g in zip(clusters, groups, strict=True):
        table.setdefault(g, [0] * k)[c] += 1
    return dict(sorted(table.items()))


# --- EM with reward models ---------------------------------------------------------------------


@dataclass
class LatentResult:
    """What ``train_latent_groups`` found: the models, each labeler's cluster and the report."""

    models: list[torch.nn.Module]
    # Each training unit's cluster (labelers first, in the order of ``labeler_units``).
    clusters: list[int]
    report: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    cancelled: bool = False


def train_latent_groups(
    *,
    accelerator: Accelerator,
    config: RewardConfig,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[PreferenceRow],
    pairs: Sequence[EncodedPair],
    weights: Sequence[float],
    load_model: Callable[[], torch.nn.Module],
    score: Callable[[torch.nn.Module, Sequence[EncodedPair]], dict[int, float]],
    pair_rewards: Callable[[torch.nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, ...]],
    loss_fn: Callable[..., torch.Tensor],
    reporter: Reporter,
    should_stop: StopCheck,
    total_steps: int,
) -> LatentResult:
    """EM over the training ``rows`` (``pairs`` encoded alike, ``weights`` their raw weights):
    K = config.latent_groups reward models from ``load_model``; see the module docstring.
    ``score(model, pairs)`` gives pair.index -> r_chosen - r_rejected."""
    k, iterations = config.latent_groups, config.latent_iterations
    names, unit_of = labeler_units(rows)
    w = np.asarray(weights, dtype=np.float64)
    start = initial_clusters(rows, unit_of, len(names), k, config.seed)
    gamma = np.eye(k)[start]
    log_prior = np.log(mixing_weights(gamma))
    models, optimizers = [], []
    per_round = max(1, math.ceil(total_steps / iterations))
    for j in range(k):
        set_seed(config.seed + 1 + j)
        model = load_model().to(accelerator.device)
        optimizer, scheduler = make_optimizer(model.parameters(), config, per_round * iterations)
        models.append(model)
        optimizers.append((optimizer, scheduler))
    history: list[dict[str, float]] = []
    steps, cancelled = 0, False
    for it in range(1, iterations + 1):
        row_w = cluster_row_weights(gamma, unit_of, w)
        for j in range(k):
            reporter.model(f"cluster/{j + 1}/", per_round * iterations)
            cancelled = _m_step(
                models[j], optimizers[j], pairs, row_w[:, j], config, accelerator, pair_rewards,
                loss_fn, reporter, steps, per_round, pad_id=tokenizer.pad_token_id,
                seed=config.seed + 1000 * it + j,
                should_stop=should_stop,
            )  # fmt: skip
            if cancelled:
                break
        steps += per_round
        scored = [score(m, pairs) for m in models]
        margins = np.array([[found[i] for found in scored] for i in range(len(rows))])
        loglik = -np.logaddexp(0.0, -margins)  # log sigmoid
        old = gamma.argmax(1)
        gamma = responsibilities(loglik, unit_of, w, len(names), log_prior)
        log_prior = np.log(mixing_weights(gamma))
        entry = {
            "iteration": it,
            "loglik": float((loglik * gamma[unit_of]).sum(1).dot(w) / w.sum()),
            "changed": int((gamma.argmax(1) != old).sum()),
        }
        history.append(entry)
        reporter.model("latent/", iterations)
        reporter.emit(it, {"loglik": entry["loglik"], "changed": entry["changed"]}, phase="train")
        log.info("EM round %d: %s", it, entry)
        if cancelled:
            break
    clusters = [int(c) for c in gamma.argmax(1)]
    declared = declared_groups(rows, unit_of, len(names))
    labelers = [u for u, n in enumerate(names) if not n.startswith("row-")]
    report = {
        "k": k,
        "labelers": len(labelers),
        "anonymous_rows": len(names) - len(labelers),
        "sizes": [sum(1 for u in labelers if clusters[u] == j) for j in range(k)],
        "mixing": [float(p) for p in np.exp(log_prior)],
        "contingency": contingency(
            [clusters[u] for u in labelers], [declared[u] for u in labelers], k
        ),
        "ari": adjusted_rand_index([clusters[u] for u in labelers], [declared[u] for u in labelers])
        if labelers
        else None,
        "assignments": {names[u]: clusters[u] + 1 for u in labelers},
        "history": history,
    }
    return LatentResult(models, clusters, report, steps, cancelled)


def _m_step(
    model: torch.nn.Module,
    optimizer: tuple[Any, Any],
    pairs: Sequence[EncodedPair],
    weights: np.ndarray,
    config: RewardConfig,
    accelerator: Accelerator,
    pair_rewards: Callable[..., tuple[torch.Tensor, ...]],
    loss_fn: Callable[..., torch.Tensor],
    reporter: Reporter,
    done: int,
    steps: int,
    *,
    pad_id: int,
    seed: int,
    should_stop: StopCheck,
) -> bool:
    """``steps`` optimizer steps of one cluster's model on every pair with its cluster weights
    (Bradley-Terry, one global denominator); returns whether a stop was requested."""
    opt, scheduler = optimizer
    weight_of = torch.tensor(weights, dtype=torch.float32, device=accelerator.device)
    denominator = loss_denominator(list(weights), config.batch_size)
    lengths, keys = [len(p) for p in pairs], [p.prompt_id for p in pairs]
    batches: list[list[int]] = []
    model.train()
    for step in range(steps):
        if not batches:
            batches = length_grouped_batches(lengths, config.batch_size, seed + step, keys)
        indices = batches.pop()
        batch = collate_pairs([pairs[i] for i in indices], pad_id)
        batch = to_device(batch, accelerator.device)
        chosen, rejected = pair_rewards(model, batch)
        loss = loss_fn(chosen, rejected, weight_of[batch["pair_index"]], denominator)
        loss.backward()
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        opt.step()
        scheduler.step()
        opt.zero_grad(set_to_none=True)
        if (done + step + 1) % config.log_every == 0:
            reporter.emit(done + step + 1, {"train/loss": loss.item()})
        if should_stop():
            return True
    return False


def save_models(
    result: LatentResult, output_dir: Path, save: Callable[[torch.nn.Module, Path], None]
) -> dict[str, str]:
    """Save each cluster's model under clusters/NN; cluster number (from 1) -> directory."""
    dirs = {}
    for j, model in enumerate(result.models, start=1):
        where = output_dir / "clusters" / f"{j:02d}"
        save(model, where)
        dirs[str(j)] = str(where.relative_to(output_dir))
    return dirs


# --- a reward run's latent-group stage --------------------------------------------------------


def run_latent_groups(
    accelerator: Accelerator,
    config: RewardConfig,
    tokenizer: PreTrainedTokenizerBase,
    train_rows: list[PreferenceRow],
    train_pairs: list[EncodedPair],
    eval_rows: list[PreferenceRow],
    eval_pairs: list[EncodedPair],
    reporter: Reporter,
    should_stop: StopCheck,
    total_steps: int,
    output_dir: Path,
    pooled_margins: dict[int, float],
) -> tuple[dict[str, object], bool]:
    """A reward run's latent groups (RewardConfig.latent_groups): the K cluster models trained by
    EM, saved under clusters/NN, and the report (with each cluster model's held-out accuracy on
    its labelers' pairs beside the pooled model's); (report, cancelled)."""
    reporter.emit(0, {}, phase="train", message=f"EM over labelers: {config.latent_groups} types")

    def score(model: torch.nn.Module, pairs: Sequence[EncodedPair]) -> dict[int, float]:
        return rm.eval_margins(
            accelerator, model, pairs, tokenizer.pad_token_id, config.batch_size, config.packing
        )

    result = train_latent_groups(
        accelerator=accelerator, config=config, tokenizer=tokenizer, rows=train_rows,
        pairs=train_pairs,
        weights=row_weights(train_rows, group_balance=False, strength=config.strength),
        load_model=lambda: rm.load_reward_backbone(config.base_model, tokenizer),
        score=score, pair_rewards=rm.pair_rewards, loss_fn=rm.bradley_terry_loss,
        reporter=reporter, should_stop=should_stop, total_steps=total_steps,
    )  # fmt: skip
    report = dict(result.report)
    report["dirs"] = save_models(
        result, output_dir, lambda m, where: save_pretrained(accelerator, m, tokenizer, where)
    )
    assigned = report["assignments"]
    members = [assigned.get(r.labeler) if r.labeler else None for r in eval_rows]
    by_cluster: dict[str, dict[str, float | None]] = {}
    for j, model in enumerate(result.models, start=1):
        rows = [i for i, c in enumerate(members) if c == j]
        if not rows:
            continue
        own = score(model, [eval_pairs[i] for i in rows])
        subset = [eval_rows[i] for i in rows]
        by_cluster[str(j)] = {
            "cluster_model": rm.accuracy(subset, {k: own[i] for k, i in enumerate(rows)}, None),
            "pooled_model": rm.accuracy(
                subset, {k: pooled_margins[i] for k, i in enumerate(rows)}, None
            )
            if pooled_margins
            else None,
            "pairs": float(len(rows)),
        }
    report["eval_accuracy"] = by_cluster
    return report, result.cancelled
