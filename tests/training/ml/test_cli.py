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


def test_bad_config_exits_2_naming_the_field(tmp_path: Path, capsys) -> None:
    from training.ml.__main__ import main

    data = write_jsonl(tmp_path / "rows.jsonl", preference_rows(2))
    code = main(
        [
            "reward",
            "--config",
            '{"base_model": "m", "lr": 1}',
            "--data",
            str(data),
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    (event,) = _lines(capsys.readouterr().out)
    assert event == {
        "event": "error",
        "kind": "config",
        "message": "RewardConfig: unknown field 'lr' (did you mean 'learning_rate'?)",
    }
    config = tmp_path / "config.json"
    config.write_text('{"base_model": "m", "batch_size": "big"}')
    assert (
        main(["sft", "--config", str(config), "--data", str(data), "--output-dir", str(tmp_path)])
        == 2
    )
    assert "field 'batch_size' must be int" in _lines(capsys.readouterr().out)[0]["message"]


@pytest.mark.slow
def test_bad_data_exits_2_naming_line_and_field(tiny_lm: str, tmp_path: Path, capsys) -> None:
    from training.ml.__main__ import main

    data = write_jsonl(tmp_path / "rows.jsonl", preference_rows(3))
    lines = data.read_text().splitlines()
    lines[2] = lines[2].replace('"weight": 1.0', '"weight": -1')
    data.write_text("\n".join(lines))
    code = main(
        [
            "dpo",
            "--config",
            json.dumps({"base_model": tiny_lm}),
            "--data",
            str(data),
            "--output-dir",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    (event,) = _lines(capsys.readouterr().out)
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
    config = json.dumps({"base_model": tiny_lm, "batch_size": 8, "max_length": 48})
    out = tmp_path / "run"
    assert main(["reward", "--config", config, "--data", str(data), "--output-dir", str(out)]) == 0
    events = _lines(capsys.readouterr().out)
    assert {e["event"] for e in events[:-1]} == {"progress"}
    assert events[-1]["event"] == "result" and events[-1]["cancelled"] is False
    assert events[-1]["steps"] == events[-2]["total_steps"]
    assert any("train/loss" in e.get("metrics", {}) for e in events)

    out2 = tmp_path / "cancelled"
    out2.mkdir()
    (out2 / "CANCEL").touch()
    assert main(["reward", "--config", config, "--data", str(data), "--output-dir", str(out2)]) == 0
    result = _lines(capsys.readouterr().out)[-1]
    assert result["cancelled"] is True and result["steps"] == 1
    assert (out2 / "model.safetensors").exists()


@pytest.mark.slow
def test_subprocess_stdout_is_only_json(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tiny = subprocess.run(
        [sys.executable, "-m", "training.ml", "tiny", "--output-dir", str(tmp_path / "tiny")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert _lines(tiny.stdout) == [{"event": "result", "output_dir": str(tmp_path / "tiny")}]
    data = tmp_path / "demos.jsonl"
    data.write_text(
        json.dumps({"prompt": [{"role": "user", "content": "hi"}], "completion": "hello"}) + "\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.ml",
            "sft",
            "--config",
            json.dumps({"base_model": str(tmp_path / "tiny"), "eval_fraction": 0}),
            "--data",
            str(data),
            "--output-dir",
            str(tmp_path / "sft"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
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
    config = json.dumps({"base_model": tiny_lm, "batch_size": 8, "max_length": 48})
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",
    }
    run = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "-m",
            "training.ml",
            "dpo",
            "--config",
            config,
            "--data",
            str(data),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    events = _lines(run.stdout)  # rank 0 alone writes
    assert events[-1]["event"] == "result" and events[-1]["steps"] == 3  # 48 pairs / 8 / 2
    assert events[-1]["metrics"]["eval/pairs"] == 16
    assert (tmp_path / "out" / "model.safetensors").exists()
