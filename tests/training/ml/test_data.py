"""Row parsing, errors naming line and field, train/eval split, group balancing, chat formatting
(no torch)."""

from __future__ import annotations

import gzip
import json

import pytest

from training.ml.data import (
    NO_GROUP,
    DataError,
    PreferenceRow,
    SFTRow,
    as_rows,
    balanced_weights,
    format_example,
    hh_prompt,
    load_preference_rows,
    load_prompt_rows,
    load_sft_rows,
    row_groups,
    row_weights,
    split_rows,
)

PROMPT = [{"role": "user", "content": "2+2?"}]
GOOD = {
    "prompt": PROMPT,
    "chosen": "4",
    "rejected": "5",
    "weight": 0.5,
    "groups": ["a"],
    "prompt_id": "p1",
    "split": "eval",
}


def _write(tmp_path, lines, name="rows.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_preference_rows_load_with_all_fields(tmp_path) -> None:
    rows = load_preference_rows(
        _write(tmp_path, [GOOD, {"prompt": PROMPT, "chosen": "a", "rejected": "b"}])
    )
    assert rows[0] == PreferenceRow(
        prompt=PROMPT,
        chosen="4",
        rejected="5",
        weight=0.5,
        groups=["a"],
        prompt_id="p1",
        split="eval",
    )
    # Optional fields get defaults; the prompt_id defaults to the line.
    assert (rows[1].weight, rows[1].groups, rows[1].prompt_id, rows[1].split) == (
        1.0,
        [],
        "line-2",
        None,
    )


def test_gzip_and_blank_lines(tmp_path) -> None:
    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps(GOOD) + "\n\n" + json.dumps(GOOD) + "\n")
    assert len(load_preference_rows(path)) == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({**GOOD, "chosen": 3}, "line 2: field 'chosen' must be str, got 3"),
        ({k: v for k, v in GOOD.items() if k != "rejected"}, "line 2: missing field 'rejected'"),
        ({**GOOD, "weight": 0}, "line 2: field 'weight' must be a number > 0"),
        ({**GOOD, "weight": True}, "line 2: field 'weight' must be a number > 0"),
        ({**GOOD, "groups": "a"}, "line 2: field 'groups' must be a list of str"),
        ({**GOOD, "split": "test"}, "line 2: field 'split' must be 'train' or 'eval'"),
        ({**GOOD, "prompt": "hi"}, "line 2: field 'prompt' must be list"),
        ({**GOOD, "prompt": []}, "line 2: field 'prompt' must hold at least one message"),
        (
            {**GOOD, "prompt": [{"role": "bot", "content": "x"}]},
            r"line 2: field 'prompt\[0\]'.role must be one of",
        ),
        (
            {**GOOD, "prompt": [{"role": "user"}]},
            r"line 2: field 'prompt\[0\]'.content must be str",
        ),
        ("[1, 2]", "line 2: expected a JSON object, got list"),
        ('{"prompt": ', "line 2: invalid JSON"),
    ],
)
def test_bad_preference_row_names_file_line_and_field(tmp_path, bad, message) -> None:
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(DataError, match=f"rows.jsonl: {message}"):
        load_preference_rows(path)


def test_sft_and_prompt_rows(tmp_path) -> None:
    sft = load_sft_rows(_write(tmp_path, [{"prompt": PROMPT, "completion": "4", "split": "train"}]))
    assert sft == [SFTRow(prompt=PROMPT, completion="4", prompt_id="line-1", split="train")]
    with pytest.raises(DataError, match="line 1: missing field 'completion'"):
        load_sft_rows(_write(tmp_path, [{"prompt": PROMPT}], "s.jsonl"))
    prompts = load_prompt_rows(
        _write(tmp_path, [{"prompt": PROMPT, "prompt_id": "q", "answer": "4"}], "p.jsonl")
    )
    assert (prompts[0].prompt_id, prompts[0].answer) == ("q", "4")
    with pytest.raises(DataError, match="line 1: field 'answer' must be str"):
        load_prompt_rows(_write(tmp_path, [{"prompt": PROMPT, "answer": 4}], "p2.jsonl"))


def test_missing_and_empty_files(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_preference_rows(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="no rows"):
        load_preference_rows(_write(tmp_path, [""]))


def test_as_rows_checks_the_kind(tmp_path) -> None:
    rows = as_rows(_write(tmp_path, [GOOD]), PreferenceRow)
    assert as_rows(rows, PreferenceRow) == rows
    with pytest.raises(DataError, match="row 0: expected SFTRow, got PreferenceRow"):
        as_rows(rows, SFTRow)


def _row(pid: str, split: str | None = None) -> PreferenceRow:
    return PreferenceRow(prompt=PROMPT, chosen="a", rejected="b", prompt_id=pid, split=split)


def test_explicit_split_wins() -> None:
    train, held = split_rows([_row("1", "train"), _row("2", "eval"), _row("3")], 0.5, 0)
    assert [r.prompt_id for r in train] == ["1", "3"] and [r.prompt_id for r in held] == ["2"]


def test_hashed_split_keeps_a_prompts_pairs_together_and_is_seeded() -> None:
    rows = [_row(str(i // 3)) for i in range(3000)]  # 1000 prompts, 3 pairs each
    train, held = split_rows(rows, 0.2, seed=1)
    assert 0.15 < len(held) / len(rows) < 0.25
    assert not {r.prompt_id for r in train} & {r.prompt_id for r in held}
    assert split_rows(rows, 0.2, seed=1) == (train, held)
    assert split_rows(rows, 0.2, seed=2) != (train, held)
    assert split_rows(rows, 0.0, seed=1) == (rows, [])


def _grouped(groups: list[str], weight: float = 1.0) -> PreferenceRow:
    return PreferenceRow(prompt=PROMPT, chosen="", rejected="", groups=groups, weight=weight)


def test_balanced_weights_give_groups_equal_mass() -> None:
    rows = [_grouped(["big"])] * 6 + [_grouped(["small"])] * 2
    w = balanced_weights(rows)
    assert sum(w[:6]) == pytest.approx(sum(w[6:])) and sum(w) == pytest.approx(8)
    # Ranking weights are kept inside a group; a pair in two groups counts half in each.
    w = balanced_weights(
        [_grouped(["a"], 0.5), _grouped(["a"], 0.5), _grouped(["b"]), _grouped(["a", "b"])]
    )
    assert w[0] == w[1]
    assert w[0] + w[1] + w[3] / 2 == pytest.approx(w[2] + w[3] / 2)


def test_rows_in_no_group_are_one_more_bucket() -> None:
    rows = [_grouped([])] * 3 + [_grouped(["young"])]
    assert row_groups(rows[0]) == [NO_GROUP] and row_groups(rows[3]) == ["young"]
    assert balanced_weights(rows) == pytest.approx([2 / 3] * 3 + [2.0])


def test_row_weights_balance_only_when_asked() -> None:
    rows = [_grouped(["big"], 0.5)] * 3 + [_grouped(["small"])]
    assert row_weights(rows, group_balance=False) == [0.5, 0.5, 0.5, 1.0]
    assert row_weights(rows, group_balance=True) == pytest.approx([5 / 12] * 3 + [1.25])


def test_balancing_twice_is_not_balancing_once() -> None:
    """With rows in overlapping groups a second pass changes the weights again, so balancing
    must happen exactly once (in the trainer; snapshot files hold raw weights)."""
    rows = [_grouped(["a"])] * 4 + [_grouped(["a", "b"])] * 2 + [_grouped(["b"])]
    # Masses a = 4 + 2/2 = 5, b = 1 + 2/2 = 2, total 7: factors a = 7/10, b = 7/4.
    once = balanced_weights(rows)
    assert once == pytest.approx([0.7] * 4 + [(0.7 + 1.75) / 2] * 2 + [1.75])
    again = [_grouped(r.groups, w) for r, w in zip(rows, once, strict=True)]
    assert balanced_weights(again) != pytest.approx(once)


def test_hh_format() -> None:
    messages = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    assert hh_prompt(messages) == (
        "\n\nSystem: Be kind.\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant:"
    )


class _NoTemplate:
    chat_template = None
    eos_token = "</s>"

    def apply_chat_template(self, conversation, **kwargs):
        raise AssertionError("not used")


class _ChatML(_NoTemplate):
    chat_template = "chatml"

    def apply_chat_template(self, conversation, tokenize=False, add_generation_prompt=False):
        text = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in conversation)
        return text + ("<|assistant|>" if add_generation_prompt else "")


def test_format_without_template_is_hh_and_needs_eos() -> None:
    assert format_example(_NoTemplate(), PROMPT, "4") == (
        "\n\nHuman: 2+2?\n\nAssistant:",
        " 4",
        False,
    )
    assert format_example(_NoTemplate(), PROMPT, " 4")[1] == " 4"


def test_format_with_template_closes_the_turn() -> None:
    prompt, completion, closed = format_example(_ChatML(), PROMPT, "4")
    assert prompt == "<|user|>2+2?<|end|><|assistant|>"
    assert (completion, closed) == ("4<|end|>", True)
    assert format_example(_ChatML(), PROMPT, None) == (prompt, "", False)
