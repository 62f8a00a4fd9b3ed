"""Each group's constitution: Inverse Constitutional AI (ICAI) on one project's judgments.

Findeis, Kaufmann, Hüllermeier, Albanie & Mullins (2024), "Inverse Constitutional AI:
Compressing Preferences into Principles", arXiv:2406.06560. Given preference pairs (a
conversation, the chosen and the rejected response), ICAI looks for a short list of natural
language principles from which an LLM judge, given only a principle, reconstructs the choices.
Here it runs once per labeler group, so each group gets its own constitution, and the
principles are compared across groups.

Steps (``icai_run``):

1. **Propose.** For each of up to ``pairs_per_group`` pairs of every group, the LLM reads the
   pair (prompt file ``icai_propose_v1.txt``) and proposes up to ``principles_per_pair``
   principles ("Select the response that ...") that would explain why the chosen one won.
   ``parse_proposals`` reads its answer (a JSON list, else a bulleted or numbered list).
2. **Merge.** Near-duplicates are merged by embedding clustering (``merge_principles``): every
   candidate is embedded without its shared instruction "Select the response that"
   (``principle_core``; MiniLM by default, ``llm.sentence_encoder``), candidates are visited from the most
   often proposed down, and each joins the first cluster whose representative has cosine
   similarity >= ``merge_similarity``, else starts one. The ``max_principles`` largest clusters
   (most support) are kept, each represented by its most frequent wording.
3. **Test.** For each principle and each of up to ``test_pairs_per_group`` pairs of every group,
   the judge (``icai_judge_v1.txt``) answers which response better follows the principle: A, B
   or N. It is asked twice, with the chosen response first and then second, to cancel position
   bias (``pair_vote``): the principle *agrees* with the pair when both answers pick the chosen
   response, *disagrees* when both pick the rejected one, and is *not relevant* otherwise.
4. **Filter.** Per group: relevance = relevant / tested, agreement = agrees / relevant, net =
   (agrees - disagrees) / tested. A principle is kept for a group when agreement >= ``threshold``
   and relevance >= ``min_relevance`` (``principle_stats``); the constitution is the kept ones
   by net, best first.
5. **Separate.** For two groups A and B, the principles kept for A ranked by net(A) - net(B):
   high for A, low or reversed (agreement below 0.5) for B (``separating``).

The LLM is any chat function ``list[str] -> list[str]`` (``Chat``): an OpenAI-compatible
endpoint (``http_chat``) or a local causal LM (``local_chat``). Prompts are versioned files
under ``prompts/``; their names and sha256 go in the result.

Example::

    >>> cfg = ICAIConfig(pairs_per_group=8, test_pairs_per_group=16)
    >>> result = icai_run(cfg, pairs, propose=chat, judge=chat, embed=minilm())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parent / "prompts"
PROPOSE_PROMPT, JUDGE_PROMPT = "icai_propose_v1", "icai_judge_v1"
MAX_PRINCIPLE_CHARS = 200

# A chat model: prompts (one user turn each) -> answers, in order.
Chat = Callable[[list[str]], list[str]]
# An encoder: texts -> one row per text (any width; rows are L2-normalised here).
Embed = Callable[[list[str]], Any]
# on_progress(phase, done, total): LLM calls made so far of the phase's total.
Progress = Callable[[str, int, int], None]


class ICAIError(ValueError):
    """The configuration or the data cannot give a constitution; the message says why, and
    `field` names the configuration field to blame, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, kw_only=True)
class ICAIConfig:
    """How a constitution is searched for. Every field has a default."""

    # Pairs per group the LLM proposes principles from.
    pairs_per_group: int = 24
    # Pairs per group every merged principle is tested on (held out from the proposals when
    # the group has enough pairs).
    test_pairs_per_group: int = 40
    # Principles asked for per pair.
    principles_per_pair: int = 3
    # Principles kept after merging (the largest clusters), tested on every group.
    max_principles: int = 30
    # Cosine similarity at or above which two candidate principles are one (merge step). Sentence
    # encoders put antonyms close (MiniLM: "more formal tone" vs "more casual tone" 0.81), so
    # keep it high: an unmerged near-duplicate only costs judge calls.
    merge_similarity: float = 0.85
    # A principle is kept for a group when its agreement (agrees / relevant pairs) is at least this.
    threshold: float = 0.7
    # ... and it tells at least this share of the group's tested pairs apart.
    min_relevance: float = 0.1
    # Groups with fewer preference pairs get no constitution.
    min_pairs: int = 4
    # Encoder for the merge step: "minilm" (the packaged all-MiniLM-L6-v2) or a local directory
    # of a Hugging Face encoder (mean pooling).
    encoder: str = "minilm"
    # Sampling of the proposals (some variety helps) and tokens per answer.
    propose_temperature: float = 0.7
    propose_max_tokens: int = 256
    # Tokens of a judge's answer (one letter is enough; some models say a few words first).
    judge_max_tokens: int = 8
    # Requests in flight (HTTP) or prompts per batch (local model).
    concurrency: int = 8
    # Seed for sampling pairs and for the proposals' sampling.
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low, high in (
            ("pairs_per_group", 1, 10_000), ("test_pairs_per_group", 1, 10_000),
            ("principles_per_pair", 1, 20), ("max_principles", 1, 500), ("min_pairs", 1, 10_000),
            ("propose_max_tokens", 16, 8192), ("judge_max_tokens", 1, 512),
            ("concurrency", 1, 256), ("seed", 0, 2**31 - 1),
            ("merge_similarity", 0.0, 1.0), ("threshold", 0.0, 1.0), ("min_relevance", 0.0, 1.0),
            ("propose_temperature", 0.0, 2.0),
        ):  # fmt: skip
            value = getattr(self, name)
            integer = isinstance(low, int)
            ok_type = isinstance(value, int if integer else (int, float))
            if isinstance(value, bool) or not ok_type or not math.isfinite(value):
                raise ICAIError(f"{name} must be {'an integer' if integer else 'a number'}", name)
            if not low <= value <= high:
                raise ICAIError(f"{name} must be between {low} and {high}, got {value}", name)
        if not isinstance(self.encoder, str) or not self.encoder.strip():
            raise ICAIError("encoder must be 'minilm' or a model directory", "encoder")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ICAIConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            names = ", ".join(sorted(known))
            raise ICAIError(f"unknown field {unknown[0]!r}; fields: {names}", unknown[0])
        try:
            return cls(**data)
        except TypeError as exc:
            raise ICAIError(str(exc)) from exc

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Pair:
    """One preference pair of a group: the conversation as text, the chosen and the rejected."""

    group: str
    conversation: str
    chosen: str
    rejected: str


def conversation_text(messages: Sequence[dict[str, str]]) -> str:
    """A conversation as the prompts quote it: one "role: content" paragraph per turn."""
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


# --- prompts --------------------------------------------------------------------------------


def load_prompt(name: str) -> Template:
    return Template((PROMPTS / f"{name}.txt").read_text(encoding="utf-8"))


def prompt_versions() -> dict[str, dict[str, str]]:
    """The prompt files used, with the sha256 of their text (recorded with every result)."""
    out = {}
    for step, name in (("propose", PROPOSE_PROMPT), ("judge", JUDGE_PROMPT)):
        text = (PROMPTS / f"{name}.txt").read_bytes()
        out[step] = {"name": name, "sha256": hashlib.sha256(text).hexdigest()}
    return out


def propose_prompt(template: Template, pair: Pair, n: int) -> str:
    return template.safe_substitute(
        conversation=pair.conversation, chosen=pair.chosen, rejected=pair.rejected, n=n
    )


def judge_prompt(template: Template, principle: str, pair: Pair, chosen_first: bool) -> str:
    a, b = (pair.chosen, pair.rejected) if chosen_first else (pair.rejected, pair.chosen)
    return template.safe_substitute(principle=principle, conversation=pair.conversation, a=a, b=b)


# --- 1. propose: parsing the proposals ------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s+")
_JSON_LIST = re.compile(r"\[.*\]", re.DOTALL)


def clean_principle(text: str) -> str:
    """One principle: bullets, numbering, quotes and surrounding space removed ("" if unusable)."""
    text = _BULLET.sub("", str(text)).strip().strip("\"'`").strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) < 8 or len(text) > MAX_PRINCIPLE_CHARS or not re.search(r"[A-Za-z]", text):
        return ""
    return text


def parse_proposals(answer: str, limit: int) -> list[str]:
    """The principles in an LLM's answer: a JSON list of strings (anywhere in the text), else
    one per bulleted or numbered line. Cleaned, case-insensitive duplicates dropped, at most
    `limit`."""
    found: list[str] = []
    match = _JSON_LIST.search(answer)
    if match:
        try:
            data = json.loads(match.group(0))
            found = [str(x) for x in data if isinstance(x, str)] if isinstance(data, list) else []
        except json.JSONDecodeError:
            found = []
    if not found:
        found = [line for line in answer.splitlines() if _BULLET.match(line)]
    out: list[str] = []
    seen: set[str] = set()
    for raw in found:
        text = clean_principle(raw)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out[:limit]


# --- 2. merge -------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Near-duplicate principles: the representative wording, every wording with its count,
    and which groups' pairs proposed them."""

    text: str
    members: Counter[str]
    groups: Counter[str]

    @property
    def support(self) -> int:
        return sum(self.members.values())


_INSTRUCTION = re.compile(
    r"^(?:select|choose|prefer|pick)\s+the\s+(?:response|answer|reply|output|one)\s*"
    r"(?:that|which|who)?\s*",
    re.IGNORECASE,
)


def principle_core(text: str) -> str:
    """What a principle says without its instruction ("Select the response that"): embedded
    in its place, since the shared instruction would make every principle look alike."""
    core = _INSTRUCTION.sub("", text).strip().rstrip(".")
    return core or text


def merge_principles(
    proposals: Sequence[tuple[str, str]], embed: Embed, similarity: float, limit: int
) -> list[Cluster]:
    """Cluster (group, principle) proposals by cosine similarity of their embeddings (leader
    clustering, most frequent wording first); the `limit` clusters with the most support, each
    named by its most frequent wording."""
    counts = Counter(text for _, text in proposals)
    if not counts:
        return []
    texts = sorted(counts, key=lambda t: (-counts[t], t))
    vectors = np.asarray(embed([principle_core(t) for t in texts]), dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    leaders: list[int] = []
    cluster_of: dict[str, int] = {}
    for i, text in enumerate(texts):
        sims = vectors[leaders] @ vectors[i] if leaders else np.zeros(0)
        best = int(np.argmax(sims)) if sims.size else -1
        if best >= 0 and sims[best] >= similarity:
            cluster_of[text] = best
        else:
            cluster_of[text] = len(leaders)
            leaders.append(i)
    clusters = [Cluster(texts[i], Counter(), Counter()) for i in leaders]
    for group, text in proposals:
        cluster = clusters[cluster_of[text]]
        cluster.members[text] += 1
        cluster.groups[group] += 1
    ranked = sorted(clusters, key=lambda c: (-c.support, c.text))
    return ranked[:limit]


# --- 3. test --------------------------------------------------------------------------------

_LETTER = re.compile(r"\b(A|B|N)\b")


def parse_choice(answer: str) -> str | None:
    """The judge's letter: "A", "B", or None (N, neither, or no letter). The first standalone
    capital A, B or N counts ("Response A", "A.", "**B**")."""
    match = _LETTER.search(answer.replace("*", " "))
    if match is None or match.group(1) == "N":
        return None
    return match.group(1)


def pair_vote(chosen_first: str | None, chosen_second: str | None) -> int:
    """+1 when both orders pick the chosen response (A, then B), -1 when both pick the rejected
    one, 0 otherwise (not relevant, or an answer that follows the position)."""
    if chosen_first == "A" and chosen_second == "B":
        return 1
    if chosen_first == "B" and chosen_second == "A":
        return -1
    return 0


def principle_stats(votes: Sequence[int], threshold: float, min_relevance: float) -> dict[str, Any]:
    """A principle on one group's tested pairs: agreement, relevance, net and whether it is kept."""
    n = len(votes)
    agree, disagree = sum(v > 0 for v in votes), sum(v < 0 for v in votes)
    relevant = agree + disagree
    agreement = agree / relevant if relevant else None
    relevance = relevant / n if n else 0.0
    kept = agreement is not None and agreement >= threshold and relevance >= min_relevance
    return {
        "agreement": None if agreement is None else round(agreement, 4),
        "relevance": round(relevance, 4),
        "net": round((agree - disagree) / n, 4) if n else 0.0,
        "agrees": agree,
        "disagrees": disagree,
        "tested": n,
        "kept": kept,
    }


# --- 5. separate ----------------------------------------------------------------------------


def separating(
    stats: dict[str, dict[str, dict[str, Any]]], a: str, b: str, limit: int = 10
) -> list[dict[str, Any]]:
    """Principles kept for group `a`, ranked by net(a) - net(b), that are not also kept for `b`:
    high for A, low or reversed for B (`reversed`: B's agreement is below one half)."""
    rows = []
    for text, by_group in stats.items():
        sa, sb = by_group.get(a), by_group.get(b)
        if not sa or not sb or not sa["kept"] or sb["kept"]:
            continue
        reversed_ = sb["agreement"] is not None and sb["agreement"] < 0.5
        gap = round(sa["net"] - sb["net"], 4)
        if gap > 0:
            rows.append({"principle": text, "a": sa, "b": sb, "gap": gap, "reversed": reversed_})
    return sorted(rows, key=lambda r: (-r["gap"], r["principle"]))[:limit]


# --- the whole search -----------------------------------------------------------------------


def _split(pairs: list[Pair], cfg: ICAIConfig, rng: random.Random) -> tuple[list[Pair], list[Pair]]:
    """(pairs to propose from, pairs to test on): disjoint when the group has enough."""
    shuffled = pairs[:]
    rng.shuffle(shuffled)
    p, t = cfg.pairs_per_group, cfg.test_pairs_per_group
    propose = shuffled[:p]
    held_out = shuffled[p : p + t]
    return propose, (held_out if len(held_out) >= min(t, len(pairs) // 2) else shuffled[:t])


def _calls(chat: Chat, prompts: list[str], phase: str, on_progress: Progress | None, size: int) -> list[str]:  # fmt: skip
    """Answers to `prompts`, `size` at a time, reporting progress after each chunk."""
    answers: list[str] = []
    for start in range(0, len(prompts), size):
        answers += chat(prompts[start : start + size])
        if on_progress is not None:
            on_progress(phase, len(answers), len(prompts))
    return answers


def icai_run(
    cfg: ICAIConfig,
    pairs: Sequence[Pair],
    *,
    propose: Chat,
    judge: Chat,
    embed: Embed,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Steps 1-5 of the module doc on `pairs` (every group's): the result as JSON types."""
    rng = random.Random(cfg.seed)
    by_group: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_group.setdefault(pair.group, []).append(pair)
    groups = sorted(g for g, ps in by_group.items() if len(ps) >= cfg.min_pairs)
    if not groups:
        raise ICAIError(f"no group has {cfg.min_pairs} or more preference pairs")
    splits = {g: _split(by_group[g], cfg, rng) for g in groups}
    chunk = cfg.concurrency * 4

    template = load_prompt(PROPOSE_PROMPT)
    asked = [(g, p) for g in groups for p in splits[g][0]]
    prompts = [propose_prompt(template, p, cfg.principles_per_pair) for _, p in asked]
    answers = _calls(propose, prompts, "propose", on_progress, chunk)
    proposals = [
        (g, text)
        for (g, _), answer in zip(asked, answers, strict=True)
        for text in parse_proposals(answer, cfg.principles_per_pair)
    ]
    if on_progress is not None:
        on_progress("merge", 0, 1)
    clusters = merge_principles(proposals, embed, cfg.merge_similarity, cfg.max_principles)

    template = load_prompt(JUDGE_PROMPT)
    tests = [(c.text, g, p) for c in clusters for g in groups for p in splits[g][1]]
    prompts = [judge_prompt(template, t, p, first) for t, _, p in tests for first in (True, False)]
    answers = _calls(judge, prompts, "test", on_progress, chunk)
    votes: dict[str, dict[str, list[int]]] = {c.text: {g: [] for g in groups} for c in clusters}
    for i, (text, g, _) in enumerate(tests):
        first, second = parse_choice(answers[2 * i]), parse_choice(answers[2 * i + 1])
        votes[text][g].append(pair_vote(first, second))
    stats = {
        text: {g: principle_stats(v, cfg.threshold, cfg.min_relevance) for g, v in per.items()}
        for text, per in votes.items()
    }
    return {
        "prompts": prompt_versions(),
        "config": cfg.as_dict(),
        "calls": {"propose": len(asked), "judge": len(tests) * 2},
        "groups": {g: _group_result(g, by_group[g], splits[g], stats, clusters) for g in groups},
        "principles": [
            {
                "text": c.text,
                "support": c.support,
                "groups": dict(c.groups),
                "wordings": [t for t, _ in c.members.most_common(5)],
            }
            for c in clusters
        ],  # fmt: skip
        "separation": [
            {"a": a, "b": b, "rows": separating(stats, a, b)}
            for a in groups
            for b in groups
            if a != b
        ],
    }


def _group_result(
    group: str,
    pairs: list[Pair],
    split: tuple[list[Pair], list[Pair]],
    stats: dict[str, dict[str, dict[str, Any]]],
    clusters: list[Cluster],
) -> dict[str, Any]:
    rows = [{"principle": c.text, **stats[c.text][group]} for c in clusters]
    rows.sort(key=lambda r: (not r["kept"], -r["net"], r["principle"]))
    return {
        "pairs": len(pairs),
        "proposal_pairs": len(split[0]),
        "test_pairs": len(split[1]),
        "held_out": not set(map(id, split[0])) & set(map(id, split[1])),
        "kept": sum(r["kept"] for r in rows),
        "principles": rows,
    }
