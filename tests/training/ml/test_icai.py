"""Inverse Constitutional AI (training/ml/icai.py): the bookkeeping on hand-written inputs, and
the whole search against a stand-in chat server whose judge follows the principle's text."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from tests.training.icai_stub import icai_stub, planted_rows, stub_url
from training.ml.icai import (
    ICAIConfig,
    ICAIError,
    Pair,
    icai_run,
    merge_principles,
    pair_vote,
    parse_choice,
    parse_proposals,
    principle_core,
    principle_stats,
    prompt_versions,
    separating,
)
from training.ml.llm import http_chat

# --- 1. proposals ---------------------------------------------------------------------------


def test_proposals_are_read_from_a_json_list_anywhere_in_the_answer():
    answer = 'Sure! ["Select the response that is concise.", "  select the response that is concise. ", 3, "ok"]'
    assert parse_proposals(answer, 5) == ["Select the response that is concise."]


def test_proposals_fall_back_to_bulleted_or_numbered_lines_and_are_capped():
    answer = "Principles:\n1. Select the polite one\n- Select the formal one\n* Select the short one\nthanks"
    assert parse_proposals(answer, 2) == ["Select the polite one", "Select the formal one"]
    assert parse_proposals("no principles here", 3) == []
    assert parse_proposals('["x", "' + "y" * 300 + '"]', 3) == []  # too short, too long


# --- 2. merge -------------------------------------------------------------------------------

VECTORS = {
    "be concise": [1.0, 0.0, 0.0],
    "be brief": [0.95, 0.1, 0.0],
    "be detailed": [0.0, 1.0, 0.0],
    "be formal": [0.0, 0.0, 1.0],
}


def fake_embed(texts):
    return np.array([VECTORS[t] for t in texts])


def test_the_shared_instruction_is_not_embedded():
    assert principle_core("Select the response that is more concise.") == "is more concise"
    assert principle_core("Prefer the answer which avoids jargon") == "avoids jargon"
    assert principle_core("Be kind") == "Be kind"


def test_near_duplicates_merge_under_the_most_frequent_wording_and_big_clusters_win():
    proposals = [("g1", "be brief"), ("g1", "be concise"), ("g2", "be concise")]
    proposals += [("g2", "be detailed"), ("g1", "be formal")]
    clusters = merge_principles(proposals, fake_embed, similarity=0.9, limit=2)
    assert [c.text for c in clusters] == ["be concise", "be detailed"]  # formal: cut (1 vs 1)
    assert clusters[0].support == 3 and dict(clusters[0].members) == {
        "be concise": 2,
        "be brief": 1,
    }
    assert dict(clusters[0].groups) == {"g1": 2, "g2": 1}
    apart = merge_principles(proposals, fake_embed, similarity=0.999, limit=10)
    assert len(apart) == 4  # a stricter similarity keeps brief and concise apart
    assert merge_principles([], fake_embed, 0.8, 5) == []


# --- 3. test and 4. filter ------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, letter",
    [("A", "A"), ("**B**", "B"), ("Response B.", "B"), ("N", None), ("Neither", None), ("", None),
     ("A and B are equal: N", "A")],
)  # fmt: skip
def test_the_judges_letter(answer, letter):
    assert parse_choice(answer) == letter


def test_both_orders_cancel_position_bias():
    assert pair_vote("A", "B") == 1  # chosen first then second: picked both times
    assert pair_vote("B", "A") == -1  # the rejected one both times
    assert pair_vote("A", "A") == 0 and pair_vote("B", "B") == 0  # followed the position
    assert pair_vote(None, "B") == 0


def test_stats_and_the_threshold():
    votes = [1, 1, 1, -1, 0, 0, 0, 0, 0, 0]
    s = principle_stats(votes, threshold=0.7, min_relevance=0.3)
    assert (s["agreement"], s["relevance"], s["net"], s["kept"]) == (0.75, 0.4, 0.2, True)
    assert not principle_stats(votes, threshold=0.8, min_relevance=0.3)["kept"]
    assert not principle_stats(votes, threshold=0.7, min_relevance=0.5)["kept"]
    assert principle_stats([0, 0], 0.7, 0.0)["agreement"] is None


def test_separating_lists_what_is_high_for_a_and_low_or_reversed_for_b():
    def st(net, agreement, kept):
        return {"net": net, "agreement": agreement, "kept": kept}

    stats = {
        "concise": {"a": st(0.9, 1.0, True), "b": st(-0.8, 0.05, False)},
        "polite": {"a": st(0.5, 0.8, True), "b": st(0.1, 0.6, False)},
        "shared": {"a": st(0.9, 1.0, True), "b": st(0.9, 1.0, True)},
        "b only": {"a": st(-0.9, 0.0, False), "b": st(0.9, 1.0, True)},
    }
    rows = separating(stats, "a", "b")
    assert [(r["principle"], r["gap"], r["reversed"]) for r in rows] == [
        ("concise", 1.7, True), ("polite", 0.4, False),
    ]  # fmt: skip
    assert [r["principle"] for r in separating(stats, "b", "a")] == ["b only"]


def test_bad_config_names_the_field():
    with pytest.raises(ICAIError, match="threshold"):
        ICAIConfig(threshold=1.5)
    with pytest.raises(ICAIError, match="unknown field 'treshold'"):
        ICAIConfig.from_dict({"treshold": 0.5})


# --- the whole search, against the stand-in ---------------------------------------------------


def word_embed(texts):
    """A bag-of-words encoder (no model): enough to merge the stand-in's wordings in tests."""
    vocab = sorted({w for t in texts for w in re.findall(r"[a-z]+", t.lower())})
    rows = np.zeros((len(texts), len(vocab)))
    for i, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            rows[i, vocab.index(w)] += 1
    return rows


def planted_pairs():
    return [
        Pair(r["groups"][0], r["prompt"][0]["content"], r["chosen"], r["rejected"])
        for r in planted_rows()
    ]


def _search(url, embed, **options):
    cfg = ICAIConfig(pairs_per_group=6, test_pairs_per_group=6, concurrency=4, **options)
    chat = http_chat(url, "stand-in", api_key="", max_tokens=64, temperature=0.0)
    progress = []
    result = icai_run(
        cfg, planted_pairs(), propose=chat, judge=chat, embed=embed,
        on_progress=lambda *a: progress.append(a),
    )  # fmt: skip
    return result, progress


def kept(result, group):
    return [r["principle"] for r in result["groups"][group]["principles"] if r["kept"]]


def test_the_kept_principles_separate_two_planted_groups():
    with icai_stub() as server:
        result, progress = _search(stub_url(server), word_embed)
    brief, thorough = kept(result, "brief"), kept(result, "thorough")
    assert brief and thorough and not set(brief) & set(thorough)
    assert all(re.search("concise|shorter", p) for p in brief)
    assert all(re.search("detailed|longer", p) for p in thorough)
    # the vague principle every pair got follows the position only: never relevant, never kept
    helpful = next(
        r for r in result["groups"]["brief"]["principles"] if "helpful" in r["principle"]
    )
    assert helpful["relevance"] == 0 and not helpful["kept"]
    concise = next(r for r in result["groups"]["brief"]["principles"] if r["principle"] in brief)
    assert concise["agreement"] == 1.0 and concise["tested"] == 6
    separation = {(s["a"], s["b"]): s["rows"] for s in result["separation"]}
    top = separation["brief", "thorough"][0]
    assert top["principle"] in brief and top["reversed"] and top["b"]["agreement"] == 0.0
    assert separation["thorough", "brief"][0]["principle"] in thorough
    assert result["prompts"] == prompt_versions()
    assert result["prompts"]["judge"]["name"] == "icai_judge_v1"
    # 12 proposals (6 pairs x 2 groups), then every merged principle x 12 pairs x 2 orders
    assert result["calls"]["propose"] == 12
    assert result["calls"]["judge"] == len(result["principles"]) * 12 * 2
    assert len(server.requests) == 12 + result["calls"]["judge"]
    assert {p for p, *_ in progress} == {"propose", "merge", "test"}
    assert progress[-1][1:] == (result["calls"]["judge"], result["calls"]["judge"])


def test_a_threshold_above_what_any_principle_reaches_keeps_none():
    with icai_stub() as server:
        result, _ = _search(stub_url(server), word_embed, min_relevance=1.0)
    # the stand-in's length principles tell every pair apart: relevance 1, so they stay
    assert kept(result, "brief")
    with icai_stub() as server:
        result, _ = _search(stub_url(server), word_embed, threshold=1.0, min_relevance=1.0)
        assert kept(result, "brief")  # agreement is exactly 1.0 on planted data
    with pytest.raises(ICAIError, match="no group has 50"):
        _search("http://127.0.0.1:9/v1", word_embed, min_pairs=50)


@pytest.mark.slow
def test_the_command_with_the_minilm_encoder_writes_the_constitution(tmp_path):
    from training.ml.__main__ import main

    data = tmp_path / "pairs.jsonl"
    rows = planted_rows() + [{**planted_rows(1)[0], "groups": []}]  # no group: left out
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = io.StringIO()
    with icai_stub() as server:
        config = {
            "llm": {"endpoint": stub_url(server), "api_model": "stand-in"},
            "icai": {"pairs_per_group": 6, "test_pairs_per_group": 6},
        }
        rc = main(
            ["icai", "--config", json.dumps(config), "--data", str(data),
             "--output-dir", str(tmp_path / "out")], out=out,
        )  # fmt: skip
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rc == 0, lines[-1]
    result = json.loads((tmp_path / "out" / "constitution.json").read_text())
    assert result["llm"] == "stand-in" and set(result["groups"]) == {"brief", "thorough"}
    brief, thorough = kept(result, "brief"), kept(result, "thorough")
    assert brief and thorough and not set(brief) & set(thorough)
    # MiniLM merges "more concise" with "concise" (cosine 0.88 without the instruction), not
    # "more detailed" with "longer, detailed answer": 4 principles are tested, not 5
    wordings = sorted(sorted(p["wordings"]) for p in result["principles"])
    assert len(wordings) == 4
    assert [
        "Prefer the response that is concise.",
        "Select the response that is more concise.",
    ] in wordings
