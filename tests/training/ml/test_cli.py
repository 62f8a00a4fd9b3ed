"""``python -m training.ml``: JSON lines on stdout, cancel file, clear errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import preference_rows, write_jsonl

ROOT = Path(__file__).resolve().parents[3]


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _args(command: str, config: dict | str | Path, data: Path, out: Path) -> list[str]:
    """The arguments after ``python -m training.ml``; a dict config is passed as JSON."""
    config = json.dumps(config) if isinstance(config, dict) else str(config)
    return [command, "--config", config, "--data", str(data), "--output-dir", str(out)]


def _run_module(
    args: list[str], *, launcher: tuple[str, ...] = (sys.executable,), **kwargs
) -> subprocess.CompletedProcess[str]:
    """``python -m training.ml ARGS`` (or under another launcher) in a child process, from the
    repository root, with stdout and stderr captured as text."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kwargs.pop("env", {})}
    command = [*launcher, "-m", "training.ml", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, **kwargs)


def test_bad_config_exits_2_naming_the_field(tmp_path: Path, capsys) -> None:
    from training.ml.__main__ import main

    data = write_jsonl(tmp_path / "rows.jsonl", preference_rows(2))
    assert main(_args("reward", '{"base_model": "m", "lr": 1}', data, tmp_path)) == 2
    (event,) = _lines(capsys.readouterr().out)
    assert event == {
        "event": "error",
        "kind": "config",
        "message": "RewardConfig: unknown field 'lr' (did you mean 'learning_rate'?)",
    }
    config = tmp_path / "config.json"
    config.write_text('{"base_model": "m", "batch_size": "big"}')
    assert main(_args("sft", config, data, tmp_path)) == 2
    assert "field 'batch_size' must be int" in _lines(capsys.readouterr().out)[0]["message"]


@pytest.mark.slow
def test_bad_data_exits_2_naming_line_and_field(tiny_lm: str, tmp_path: Path, capsys) -> None:
    from training.ml.__main__ import main

    data = write_jsonl(tmp_path / "rows.jsonl", preference_rows(3))
    lines = data.read_text().splitlines()
    lines[2] = lines[2].replace('"weight": 1.0', '"weight": -1')
    data.write_text("\n".join(lines))
    assert main(_args("dpo", {"base_model": tiny_lm}, data, tmp_path / "o")) == 2
    *before, event = _lines(capsys.readouterr().out)
    assert [e["phase"] for e in before] == ["setup"]  # the memory estimate, then the error
    assert event["kind"] == "data"
    assert event["message"].endswith(
        "rows.jsonl: line 3: field 'weight' must be a number > 0, got -1"
    )


@pytest.mark.slow
def test_train_emits_progress_and_result_and_honours_cancel(
    tiny_lm: str, tmp_path: Path, capsys
) -> None:
    from training.ml.__main__ import main

    data = write_jsonl(tmp_path / "rows.jsonl", preference_rows(64))
    config = {"base_model": tiny_lm, "batch_size": 8, "max_length": 48}
    assert main(_args("reward", config, data, tmp_path / "run")) == 0
    events = _lines(capsys.readouterr().out)
    assert {e["event"] for e in events[:-1]} == {"progress"}
    assert events[-1]["event"] == "result" and events[-1]["cancelled"] is False
    assert events[-1]["steps"] == events[-2]["total_steps"]
    assert any("train/loss" in e.get("metrics", {}) for e in events)

    out2 = tmp_path / "cancelled"
    out2.mkdir()
    (out2 / "CANCEL").touch()
    assert main(_args("reward", config, data, out2)) == 0
    result = _lines(capsys.readouterr().out)[-1]
    assert result["cancelled"] is True and result["steps"] == 1
    assert (out2 / "model.safetensors").exists()


@pytest.mark.slow
def test_subprocess_stdout_is_only_json(tmp_path: Path) -> None:
    tiny = _run_module(["tiny", "--output-dir", str(tmp_path / "tiny")], check=True)
    assert _lines(tiny.stdout) == [{"event": "result", "output_dir": str(tmp_path / "tiny")}]
    data = tmp_path / "demos.jsonl"
    data.write_text(
        json.dumps({"prompt": [{"role": "user", "content": "hi"}], "completion": "hello"}) + "\n"
    )
    config = {"base_model": str(tmp_path / "tiny"), "eval_fraction": 0}
    run = _run_module(_args("sft", config, data, tmp_path / "sft"))
    assert run.returncode == 0, run.stderr
    events = _lines(run.stdout)  # every line parses
    assert events[-1]["event"] == "result" and events[-1]["steps"] == 1


@pytest.mark.slow
def test_two_processes_under_torchrun_split_the_batches(tiny_lm: str, tmp_path: Path) -> None:
    """DDP through Accelerate (gloo on CPU): each process takes half the batches."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed beside this Python")
    data = write_jsonl(tmp_path / "rows.jsonl", preference_rows(64, eval_every=4))
    config = {"base_model": tiny_lm, "batch_size": 8, "max_length": 48}
    run = _run_module(
        _args("dpo", config, data, tmp_path / "out"),
        launcher=(str(torchrun), "--nproc_per_node", "2"),
        env={"ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    events = _lines(run.stdout)  # rank 0 alone writes
    assert events[-1]["event"] == "result" and events[-1]["steps"] == 3  # 48 pairs / 8 / 2
    assert events[-1]["metrics"]["eval/pairs"] == 16
    assert (tmp_path / "out" / "model.safetensors").exists()


# --- generate and score --------------------------------------------------------------------

PROMPT = [{"role": "user", "content": "tell me about cats"}]


def _prompts(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"prompt": PROMPT}) + "\n" for _ in range(n)))
    return path


def test_generate_from_an_endpoint_writes_rows_and_progress(tmp_path: Path, capsys) -> None:
    from tests.training.openai_stub import openai_stub, stub_url
    from training.ml.__main__ import main

    data = _prompts(tmp_path / "prompts.jsonl", 3)
    with openai_stub() as server:
        config = {
            "endpoint": stub_url(server), "api_model": "served", "samples_per_prompt": 2,
            "sampling": {"batch_size": 2},
        }  # fmt: skip
        assert main(_args("generate", config, data, tmp_path / "out")) == 0
    events = _lines(capsys.readouterr().out)
    assert [(e["event"], e.get("step"), e.get("total_steps")) for e in events] == [
        ("progress", 4, 6),
        ("progress", 6, 6),
        ("result", None, None),
    ]
    assert events[-1] == {
        "event": "result", "output": str(tmp_path / "out" / "generated.jsonl"),
        "cancelled": False, "rows": 6,
    }  # fmt: skip
    rows = _lines((tmp_path / "out" / "generated.jsonl").read_text())
    assert [(r["prompt_index"], r["sample"]) for r in rows] == [
        (p, s) for p in range(3) for s in (0, 1)
    ]
    assert rows[0]["text"].startswith("reply 0 to") and rows[0]["finished"] is True


def test_generate_stops_at_the_cancel_file_and_writes_nothing(tmp_path: Path, capsys) -> None:
    from tests.training.openai_stub import openai_stub, stub_url
    from training.ml.__main__ import main

    data = _prompts(tmp_path / "prompts.jsonl", 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "CANCEL").touch()
    with openai_stub() as server:
        config = {"endpoint": stub_url(server), "api_model": "m", "sampling": {"batch_size": 1}}
        assert main(_args("generate", config, data, out)) == 0
    assert len(server.requests) == 1  # it stopped after the first batch
    events = _lines(capsys.readouterr().out)
    assert events[-1] == {"event": "result", "output": None, "cancelled": True, "rows": 0}
    assert not (out / "generated.jsonl").exists()


@pytest.mark.parametrize(
    ("command", "config", "line", "message"),
    [
        ("generate", {"model": "m"}, '{"prompt": []}', "line 2: field 'prompt' must hold at least one message"),
        ("generate", {"model": "m"}, '{"prompt": [{"role": "robot", "content": "x"}]}', "line 2: field 'prompt[0]'.role must be one of"),
        ("score", {"model": "m"}, json.dumps({"prompt": PROMPT}), "line 2: missing field 'completion'"),
    ],
)  # fmt: skip
def test_generate_and_score_exit_2_naming_the_bad_line_and_field(
    tmp_path: Path, capsys, command: str, config: dict, line: str, message: str
) -> None:
    from training.ml.__main__ import main

    good = {"prompt": PROMPT, "completion": "hi"}
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(good) + "\n" + line + "\n")
    assert main(_args(command, config, data, tmp_path / "out")) == 2
    (event,) = _lines(capsys.readouterr().out)
    assert event["kind"] == "data" and f"rows.jsonl: {message}" in event["message"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": "m", "temperature": 1}, "unknown field 'temperature'"),
        ({"samples_per_prompt": 2}, "give one of the fields 'model' or 'endpoint'"),
        ({"model": "m", "samples_per_prompt": "2"}, "field 'samples_per_prompt' must be int"),
        ({"model": "m", "sampling": {"top_p": 0}}, "field 'sampling': top_p must be > 0.0"),
    ],
)
def test_generate_exits_2_naming_a_bad_config_field(
    tmp_path: Path, capsys, config, message
) -> None:
    from training.ml.__main__ import main

    data = _prompts(tmp_path / "prompts.jsonl", 1)
    assert main(_args("generate", config, data, tmp_path / "out")) == 2
    (event,) = _lines(capsys.readouterr().out)
    assert event["kind"] == "config" and message in event["message"]


@pytest.mark.slow
def test_generate_and_score_a_local_model_in_a_subprocess(tiny_lm: str, tmp_path: Path) -> None:
    data = _prompts(tmp_path / "prompts.jsonl", 3)
    config = {
        "model": tiny_lm,
        "samples_per_prompt": 2,
        "sampling": {"max_new_tokens": 4, "batch_size": 4},
    }
    generate = _run_module(_args("generate", config, data, tmp_path / "gen"))
    assert generate.returncode == 0, generate.stderr
    events = _lines(generate.stdout)
    assert [e["step"] for e in events[:-1]] == [4, 6] and events[-1]["rows"] == 6
    rows = _lines((tmp_path / "gen" / "generated.jsonl").read_text())
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(json.dumps({"prompt": PROMPT, "completion": r["text"]}) + "\n" for r in rows)
    )
    score = _run_module(
        _args("score", {"model": tiny_lm, "batch_size": 4}, pairs, tmp_path / "score")
    )
    assert score.returncode == 0, score.stderr
    assert [e["phase"] for e in _lines(score.stdout)[:-1]] == ["score", "score"]
    scores = _lines((tmp_path / "score" / "scores.jsonl").read_text())
    assert len(scores) == 6 and all(isinstance(s["score"], float) for s in scores)
