"""Verifiable rewards (issue 11): whole-answer matching, final-answer extraction, numeric
equivalence and the answer format, each against adversarial completions."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _rule(name: str, answer: str | None = "42", **args: object):  # noqa: ANN202
    from training.ml.data import PromptRow
    from training.ml.verifiers import make_rule

    fn = make_rule(name, dict(args))
    row = PromptRow(prompt=[], answer=answer)
    return lambda completion: fn(completion, row)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("it is 42.", 1.0),
        ("42", 1.0),
        ("The answer: 42, clearly", 1.0),
        ("142", 0.0),
        ("420", 0.0),
        ("-42", 0.0),
        ("42.5", 0.0),
        ("4 2", 0.0),
        ("x42y", 0.0),
        ("", 0.0),
    ],
)
def test_exact_answer_needs_the_whole_answer(completion: str, expected: float) -> None:
    assert _rule("exact_answer")(completion) == expected


def test_exact_answer_words_and_case() -> None:
    assert _rule("exact_answer", "Paris")("It is paris.") == 1.0
    assert _rule("exact_answer", "Paris", case_sensitive=True)("It is paris.") == 0.0
    assert _rule("exact_answer", "Paris")("Parisian food") == 0.0
    assert _rule("exact_answer", None)("42") == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{42}", "42"),
        ("\\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
        ("first \\boxed{1} then \\boxed{7}", "7"),
        ("\\boxed{unclosed", None),
        ("work...\n#### 1,234", "1,234"),
        ("3 apples and 5 pears, so 8", "8"),
        ("from -3 to -42.5", "-42.5"),
        ("no numbers here", None),
        ("", None),
    ],
)
def test_final_answer_extraction(text: str, expected: str | None) -> None:
    from training.ml.verifiers import extract_final_answer

    assert extract_final_answer(text) == expected


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("\\boxed{42}", 1.0),
        ("\\boxed{42.0}", 1.0),
        ("#### 42", 1.0),
        ("I get 40, then 41, and finally 42", 1.0),
        ("it is 42 or maybe 43", 0.0),  # the last number counts
        ("142", 0.0),
        ("-42", 0.0),
        ("42.5", 0.0),
        ("4 2", 0.0),  # the last number is 2
        ("\\boxed{{42}}", 1.0),  # nested braces
        ("\\boxed{42} but 7", 1.0),  # a boxed answer beats later numbers
        ("no answer", 0.0),
        ("", 0.0),
    ],
)
def test_final_answer_rule(completion: str, expected: float) -> None:
    assert _rule("final_answer")(completion) == expected


@pytest.mark.parametrize(
    ("answer", "completion", "expected"),
    [
        ("0.5", "\\boxed{1/2}", 1.0),
        ("1/2", "#### 0.5", 1.0),
        ("1234", "#### 1,234", 1.0),
        ("1,234", "so 1234", 1.0),
        ("12,34", "so 1234", 0.0),  # not a thousands separator
        ("3", "\\boxed{3.0000000001}", 1.0),  # within the tolerance
        ("3", "\\boxed{3.01}", 0.0),
        ("1/0", "\\boxed{1/0}", 1.0),  # not a number: compared as text
        ("Paris", "\\boxed{ paris }", 1.0),
        ("Paris", "the answer is Paris", 0.0),  # a word answer must be boxed or after ####
    ],
)
def test_final_answer_equivalence(answer: str, completion: str, expected: float) -> None:
    assert _rule("final_answer", answer)(completion) == expected


def test_final_answer_tolerance_is_an_argument() -> None:
    assert _rule("final_answer", "3", tolerance=0.01)("\\boxed{3.01}") == 1.0


@pytest.mark.parametrize(
    ("fmt", "completion", "expected"),
    [
        ("boxed", "so \\boxed{42}", 1.0),
        ("boxed", "so \\boxed{{4}2}", 1.0),
        ("boxed", "so \\boxed{}", 0.0),
        ("boxed", "so \\boxed{42", 0.0),
        ("boxed", "so 42", 0.0),
        ("hashes", "work\n#### 42", 1.0),
        ("hashes", "#### 42\nand more text after", 0.0),
        ("hashes", "##### 42", 0.0),
        ("hashes", "####", 0.0),
        ("hashes", "\\boxed{42}", 0.0),
    ],
)
def test_answer_format(fmt: str, completion: str, expected: float) -> None:
    assert _rule("answer_format", format=fmt)(completion) == expected


def test_answer_format_is_checked() -> None:
    from training.ml.config import ConfigError

    with pytest.raises(ConfigError, match="format"):
        _rule("answer_format", format="latex")


def test_the_web_side_offers_exactly_the_rules_the_trainer_knows():
    from training.ml.verifiers import RULES
    from training.models import REWARD_RULES

    assert sorted(REWARD_RULES) == sorted(RULES)
