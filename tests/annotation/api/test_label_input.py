"""The submit body read by hand (api.label_input) agrees with the input serializer that still
documents it: same values for every body it reads, and None (so the serializer answers, naming
the field) for every body the serializer would refuse or read differently."""

import uuid

import pytest

from annotation.api.label import JudgmentCreateApi
from annotation.api.label_input import submit_values

KEY = str(uuid.uuid4())
RATINGS = [{"criterion": 3, "response": 1, "value": 5}, {"criterion": 3, "response": 2, "value": 1}]

READ = [
    {"client_key": KEY},
    {"client_key": KEY, "choice": 2},
    {"client_key": KEY, "choice": "8", "ratings": RATINGS, "seconds_spent": 4},
    {"client_key": KEY, "choice": "tie", "rationale": " kept as typed \n", "guideline_version": 1},
    {"client_key": KEY, "choice": None, "guideline_version": None, "seconds_spent": None},
    {"client_key": KEY, "ranks": [2, 1, 2], "none_acceptable": True, "ranking_touched": True},
    {"client_key": KEY, "ranks": None, "ranking_touched": None, "none_acceptable": False},
    {
        "client_key": KEY,
        "demonstration": "A *reply*",
        "flags": [{"response": 2, "flag": "harmful"}],
    },
    {"client_key": KEY.upper(), "choice": "both_bad", "seconds_spent": 2.5, "unknown": [1]},
]
REFUSED_OR_COERCED = [
    {},
    [],
    {"client_key": "not-a-uuid"},
    {"client_key": 12},
    {"client_key": KEY, "choice": 9},
    {"client_key": KEY, "choice": True},
    {"client_key": KEY, "choice": 2.0},
    {"client_key": KEY, "choice": ""},
    {"client_key": KEY, "ranks": [1] * 10},
    {"client_key": KEY, "ranks": ["1", "2"]},
    {"client_key": KEY, "ranks": "12"},
    {"client_key": KEY, "none_acceptable": None},
    {"client_key": KEY, "none_acceptable": "true"},
    {"client_key": KEY, "ranking_touched": 1},
    {"client_key": KEY, "rationale": None},
    {"client_key": KEY, "rationale": 5},
    {"client_key": KEY, "demonstration": "nul \x00 inside"},
    {"client_key": KEY, "demonstration": "lone \ud800 surrogate"},
    {"client_key": KEY, "ratings": [{"criterion": 3, "response": 10, "value": 1}]},
    {"client_key": KEY, "ratings": [{"criterion": 3, "response": 0, "value": 1}]},
    {"client_key": KEY, "ratings": [{"criterion": "3", "response": 1, "value": 1}]},
    {"client_key": KEY, "ratings": [{"criterion": 3, "response": 1}]},
    {"client_key": KEY, "ratings": [{"criterion": True, "response": 1, "value": 1}]},
    {"client_key": KEY, "ratings": {"criterion": 3}},
    {"client_key": KEY, "ratings": None},
    {"client_key": KEY, "flags": [{"response": 1, "flag": "nonsense"}]},
    {"client_key": KEY, "flags": [{"response": 1}]},
    {"client_key": KEY, "flags": ["harmful"]},
    {"client_key": KEY, "seconds_spent": "3"},
    {"client_key": KEY, "seconds_spent": True},
    {"client_key": KEY, "seconds_spent": float("nan")},
    {"client_key": KEY, "guideline_version": "1"},
    {"client_key": KEY, "guideline_version": 1.5},
]


def _serializer(body):
    data = JudgmentCreateApi.JudgmentCreateInput(data=body)
    return dict(data.validated_data) if data.is_valid() else None


def _plain(values):
    """Nested ordered dicts as plain ones, for comparing."""
    return {k: [dict(e) for e in v] if k in ("ratings", "flags") else v for k, v in values.items()}


@pytest.mark.parametrize("body", READ)
def test_a_plainly_valid_body_reads_as_the_serializer_reads_it(body):
    expected = _serializer(body)
    assert expected is not None
    assert submit_values(body) == _plain(expected)


@pytest.mark.parametrize("body", REFUSED_OR_COERCED)
def test_anything_else_is_left_to_the_serializer(body):
    assert submit_values(body) is None
