"""Imports: every format, real data, and broken files that must change nothing."""

import gzip
import json
from pathlib import Path

import pytest

from annotation.formats.base import ImportFileError
from annotation.models import Completion, Item, Judgment, JudgmentRank, Prompt, Turn
from annotation.services.imports import items_import
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db
SHARED_HH = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "hh-rlhf-harmless-base-test.jsonl.gz"
)


def write(tmp_path, rows, name="data.jsonl", raw=None, gz=False):
    text = raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows)
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def counts():
    return (
        Prompt.objects.count(),
        Turn.objects.count(),
        Completion.objects.count(),
        Item.objects.count(),
        Judgment.objects.count(),
    )


def hh_row(i):
    return {
        "chosen": f"\n\nHuman: hi {i}\n\nAssistant: hello {i}",
        "rejected": f"\n\nHuman: hi {i}\n\nAssistant: go away {i}",
    }


def test_chorus_jsonl_pairwise_with_judgments(tmp_path):
    project = ProjectFactory()
    rows = [
        {
            "id": "p1",
            "prompt": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "2+2?"},
            ],
            "completions": [
                {"text": "4", "model": "m1", "generation_settings": {"temperature": 0.7}},
                "5",
            ],
            "judgments": [{"source": "vendor", "choice": "a", "scale": 2}],
        },
        {"prompt": "Hi", "completions": ["Hello", "Go away"], "purpose": "gold", "gold_best": 0},
    ]
    result = items_import(project=project, path=write(tmp_path, rows), fmt="chorus")
    assert (result.items, result.judgments) == (2, 1)
    item = Item.objects.get(prompt__external_id="p1")
    assert [t.role for t in item.prompt.turns.all()] == ["system", "user"]
    assert [s.completion.text for s in item.slots.all()] == ["4", "5"]
    assert item.slots.first().completion.generation_settings == {"temperature": 0.7}
    judgment = item.judgments.get()
    assert (
        judgment.source,
        judgment.pairwise_choice,
        judgment.scale,
        judgment.preferred_position,
    ) == ("external", "a", 2, 0)
    assert Item.objects.get(purpose="gold").gold_best_position == 0


def test_chorus_jsonl_ranking(tmp_path):
    project = ProjectFactory(kind="ranking", ranking_size=4)
    rows = [
        {
            "prompt": "Pick",
            "completions": ["a", "b", "c"],
            "judgments": [{"source": "s", "ranks": [2, 1, 2]}],
        }
    ]
    items_import(project=project, path=write(tmp_path, rows), fmt="chorus")
    ranks = dict(JudgmentRank.objects.values_list("position", "rank"))
    assert ranks == {0: 2, 1: 1, 2: 2}


def test_hh_rlhf_gzip(tmp_path):
    project = ProjectFactory()
    multi = {
        "chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: good",
        "rejected": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: bad",
    }
    items_import(
        project=project,
        path=write(tmp_path, [hh_row(0), multi], gz=True, name="x.jsonl.gz"),
        fmt="hh_rlhf",
    )
    item = Item.objects.last()
    assert [(t.role, t.content) for t in item.prompt.turns.all()] == [
        ("user", "a"),
        ("assistant", "b"),
        ("user", "c"),
    ]
    assert [s.completion.text for s in item.slots.all()] == ["good", "bad"]
    assert item.judgments.get().external_source == "hh-rlhf"


def test_trl_plain_conversational_and_implicit(tmp_path):
    project = ProjectFactory()
    rows = [
        {"prompt": "Sky?", "chosen": "Blue", "rejected": "Green"},
        {
            "prompt": [{"role": "user", "content": "Sky?"}],
            "chosen": [{"role": "assistant", "content": "Blue"}],
            "rejected": [{"role": "assistant", "content": "Red"}],
        },
        {
            "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}],
            "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "bad"}],
        },
    ]
    result = items_import(project=project, path=write(tmp_path, rows), fmt="trl")
    assert result.items == 3
    assert list(Completion.objects.values_list("text", flat=True)) == [
        "Blue",
        "Green",
        "Blue",
        "Red",
        "good",
        "bad",
    ]


def test_oasst_trees_become_rankings(tmp_path):
    project = ProjectFactory(kind="ranking", ranking_size=3)
    tree = {
        "message_tree_id": "t1",
        "prompt": {
            "message_id": "m0", "role": "prompter", "text": "Tell a joke",
            "replies": [
                {"message_id": "m1", "role": "assistant", "text": "second", "rank": 1, "replies": [
                    {"message_id": "m4", "role": "prompter", "text": "another", "replies": [
                        {"message_id": "m5", "role": "assistant", "text": "x", "rank": 0},
                        {"message_id": "m6", "role": "assistant", "text": "y", "rank": 1},
                    ]},
                ]},
                {"message_id": "m2", "role": "assistant", "text": "first", "rank": 0},
                {"message_id": "m3", "role": "assistant", "text": "third", "rank": 2},
                {"message_id": "m7", "role": "assistant", "text": "fourth", "rank": 3},
                {"message_id": "m8", "role": "assistant", "text": "unranked"},
            ],
        },
    }  # fmt: skip
    result = items_import(project=project, path=write(tmp_path, [tree]), fmt="oasst")
    assert result.items == 2
    first, second = Item.objects.order_by("id")
    assert [s.completion.text for s in first.slots.all()] == [
        "first",
        "second",
        "third",
    ]  # K=3 best kept
    assert [r.rank for r in first.judgments.get().ranks.order_by("position")] == [1, 2, 3]
    assert [t.content for t in second.prompt.turns.all()] == ["Tell a joke", "second", "another"]


def test_oasst_accepts_one_root_message_per_line(tmp_path):
    """The message-tree export's root message alone per line (oasst_data's ExportMessageNode):
    the same items as the {"message_tree_id", "prompt"} wrapper."""
    project = ProjectFactory(kind="ranking", ranking_size=3)
    root = {
        "message_id": "r1", "parent_id": None, "role": "prompter", "text": "Say hi", "lang": "en",
        "replies": [
            {"message_id": "a1", "role": "assistant", "text": "hello", "rank": 1, "labels": {}},
            {"message_id": "a2", "role": "assistant", "text": "hi!", "rank": 0},
        ],
    }  # fmt: skip
    wrapped = {"message_tree_id": "t2", "prompt": {**root, "message_id": "r2", "text": "Again"}}
    result = items_import(project=project, path=write(tmp_path, [root, wrapped]), fmt="oasst")
    assert (result.items, result.judgments) == (2, 2)
    first, second = Item.objects.order_by("id")
    assert [s.completion.text for s in first.slots.all()] == ["hi!", "hello"]
    assert first.prompt.external_id == "r1:r1" and second.prompt.external_id == "t2:r2"
    assert [t.content for t in second.prompt.turns.all()] == ["Again"]


@pytest.mark.parametrize(
    ("fmt", "content", "expected"),
    [
        ("hh_rlhf", "", "the file is empty"),
        ("hh_rlhf", "{not json\n", "line 1: not valid JSON"),
        (
            "hh_rlhf",
            '{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b"}\n',
            "line 1, field 'rejected': missing",
        ),
        (
            "hh_rlhf",
            '{"chosen": 3, "rejected": "x"}\n',
            "line 1, field 'chosen': expected str, got int",
        ),
        ("trl", '{"prompt": "p", "chosen": "a"}\n', "line 1, field 'rejected': missing"),
        (
            "chorus",
            '{"prompt": "p", "completions": ["a"]}\n',
            "line 1, field 'completions': a pairwise project needs exactly 2",
        ),
        (
            "chorus",
            '{"prompt": "p", "completions": ["a", "b"], "judgments": [{"source": "s", "choice": "a", "scale": 7}]}\n',
            "line 1, field 'judgments[0].scale'",
        ),
        (
            "chorus",
            '{"prompt": [{"role": "robot", "content": "x"}], "completions": ["a", "b"]}\n',
            "line 1, field 'prompt[0].role'",
        ),
        (
            "oasst",
            '{"prompt": {"role": "prompter", "text": "q", "replies": [{"role": "assistant", "text": "a", "rank": "high"}]}}\n',
            "field 'prompt.replies[0].rank'",
        ),
        (
            "oasst",
            '{"message_id": "m0", "role": "prompter", "text": "q", "replies": [{"role": "assistant", "text": "a", "rank": -1}]}\n',
            "line 1, field 'replies[0].rank'",
        ),
        (
            "chorus",
            '{"prompt": "p", "completions": ["a", "b"], "judgments": [{"source": " ", "choice": "a"}]}\n',
            "line 1, field 'judgments[0].source': must name where the judgment came from",
        ),
        (
            "chorus",
            '{"prompt": "p", "completions": [{"text": "a", "model": "m"}, {"text": "b", "model": "m"}]}\n',
            "line 1, field 'completions[1].model': the same model 'm' on both sides",
        ),
        ("nope", '{"a": 1}\n', "unknown format"),
    ],
)
def test_broken_files_name_line_and_field_and_change_nothing(tmp_path, fmt, content, expected):
    project = ProjectFactory(kind="ranking", ranking_size=3) if fmt == "oasst" else ProjectFactory()
    before = counts()
    with pytest.raises(ImportFileError) as info:
        items_import(project=project, path=write(tmp_path, [], raw=content), fmt=fmt)
    assert expected in str(info.value)
    assert counts() == before


def test_missing_field_on_line_1000_changes_nothing(tmp_path):
    project = ProjectFactory()
    rows = [hh_row(i) for i in range(1500)]
    del rows[999]["rejected"]
    before = counts()
    with pytest.raises(ImportFileError, match="line 1000, field 'rejected': missing"):
        items_import(project=project, path=write(tmp_path, rows), fmt="hh_rlhf")
    assert counts() == before


def test_truncated_gzip_changes_nothing(tmp_path):
    project = ProjectFactory()
    data = gzip.compress("".join(json.dumps(hh_row(i)) + "\n" for i in range(3000)).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    before = counts()
    with pytest.raises(ImportFileError, match="truncated or corrupt"):
        items_import(project=project, path=path, fmt="hh_rlhf")
    assert counts() == before


def test_error_while_writing_rolls_everything_back(tmp_path, monkeypatch):
    """A failure in the write pass (after validation) still leaves nothing behind."""
    from annotation.services import imports

    project = ProjectFactory()
    calls = {"n": 0}
    real_write = imports._write

    def failing_write(project, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_write(project, batch)

    monkeypatch.setattr(imports, "_write", failing_write)
    before = counts()
    with pytest.raises(RuntimeError):
        items_import(
            project=project, path=write(tmp_path, [hh_row(i) for i in range(1200)]), fmt="hh_rlhf"
        )
    assert counts() == before


@pytest.mark.skipif(
    not SHARED_HH.exists(), reason="../shared/data is not present (only the dev machine has it)"
)
def test_real_hh_rlhf_harmless_base_all_pairs():
    project = ProjectFactory()
    result = items_import(project=project, path=SHARED_HH, fmt="hh_rlhf")
    assert (result.items, result.judgments) == (2312, 2312)
    assert Completion.objects.filter(text="").count() == 4  # real rows with an empty chosen reply


def test_upload_through_api_reports_located_error(as_persona, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = as_persona("researcher")
    bad = SimpleUploadedFile("bad.jsonl", b'{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b"}\n')
    response = client.post(
        f"/api/projects/{project.pk}/imports/", {"format": "hh_rlhf", "file": bad}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "line 1, field 'rejected': missing"
    good = SimpleUploadedFile("good.jsonl", (json.dumps(hh_row(1)) + "\n").encode())
    response = client.post(
        f"/api/projects/{project.pk}/imports/", {"format": "hh_rlhf", "file": good}
    )
    assert response.status_code == 201 and response.json()["items_created"] == 1
