"""Command line: ``python -m training.ml {reward,dpo,ppo,grpo,sft,generate,score,icai,tiny} ...``

    python -m training.ml reward --config config.json --data rows.jsonl --output-dir DIR
    accelerate launch -m training.ml dpo --config config.json --data rows.jsonl --output-dir DIR
    python -m training.ml generate --config '{"model": "DIR", "samples_per_prompt": 2}' \
        --data prompts.jsonl --output-dir OUT
    python -m training.ml score --config '{"model": "RUN_DIR"}' --data pairs.jsonl --output-dir OUT
    python -m training.ml icai --config config.json --data pairs.jsonl --output-dir OUT
    python -m training.ml tiny [--kind causal|encoder] [--chat-template] --output-dir DIR

``generate`` samples K completions per prompt (rows ``{"prompt": [messages]}``) from a local
model (``"model"``) or an OpenAI-compatible server (``"endpoint"``, ``"api_model"``,
``"chat"``; the key, if any, in the environment variable CHORUS_CHILD_ENDPOINT_KEY), with
``"sampling"`` as in config.SamplingSettings; it writes OUT/generated.jsonl, one
``{"prompt_index", "sample", "text", "tokens", "finished"}`` per (prompt, sample) in prompt
order. ``score`` scores rows ``{"prompt": [messages], "completion": "..."}`` with a reward
model (``"batch_size"``, ``"max_length"`` optional) and writes OUT/scores.jsonl, one
``{"score": x, "uncertainty": u}`` per row in order (u: an ensemble's std or a DPL model's
sigma, else null; training.ml.score.RewardReader). Their progress lines count rows: ``{"event": "progress",
"step": done, "total_steps": total, "phase": "generate"|"score"}``; a cancelled one writes
no output file. ``icai`` searches each group's constitution (training/ml/icai_cli.py gives its
config) and writes OUT/constitution.json.

``--config`` is a JSON file or an inline JSON object. stdout carries only JSON lines, one per
event (the main process only):

    {"event": "progress", "step": 3, "total_steps": 40, "epoch": 0.075, "metrics": {...},
     "phase": "train", "message": ""}
    {"event": "result", "output_dir": "DIR", "cancelled": false, "steps": 40, ...}
    {"event": "error", "kind": "config"|"data"|"internal", "message": "..."}

The event lines, the CANCEL file and the key variable are defined in protocol.py, shared with
the worker. Logs go to stderr. Creating a file named ``CANCEL`` in the output directory stops the run at
the next step; what was trained is saved and the result says ``"cancelled": true``.
Exit status: 0 finished or cancelled, 2 bad config or data, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

from training.ml.config import CONFIG_CLASSES, ConfigError, from_dict, load_config
from training.ml.data import DataError
from training.ml.protocol import API_KEY_ENV, CANCEL_FILE, ERROR, PROGRESS, RESULT, emit

GENERATED_FILE, SCORES_FILE = "generated.jsonl", "scores.jsonl"


class _Cancelled(Exception):
    """The CANCEL file appeared: stop after this batch and write nothing."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.ml", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in CONFIG_CLASSES:
        p = sub.add_parser(name, help=f"train with {name}")
        p.add_argument("--config", required=True, help="JSON file, or an inline JSON object")
        p.add_argument("--data", required=True, help="JSONL rows (optionally .gz)")
        p.add_argument("--output-dir", required=True, type=Path)
    for name, what in (("generate", "sample completions"), ("score", "score with a reward model")):
        p = sub.add_parser(name, help=what)
        p.add_argument("--config", required=True, help="JSON file, or an inline JSON object")
        p.add_argument("--data", required=True, help="JSONL rows (optionally .gz)")
        p.add_argument("--output-dir", required=True, type=Path)
    p = sub.add_parser("icai", help="each group's constitution (Inverse Constitutional AI)")
    p.add_argument("--config", required=True, help="JSON file, or an inline JSON object")
    p.add_argument("--data", required=True, help="JSONL preference rows (optionally .gz)")
    p.add_argument("--output-dir", required=True, type=Path)
    p = sub.add_parser("tiny", help="build a tiny random model + tokenizer (tests, demos)")
    p.add_argument("--output-dir", required=True, type=Path)
    p.add_argument("--kind", choices=["causal", "encoder"], default="causal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--chat-template", action="store_true", help="give the tokenizer a ChatML template"
    )
    return parser


def _run(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    if args.command == "tiny":
        from training.ml.tiny import build_tiny_causal_lm, build_tiny_encoder

        if args.kind == "encoder":
            path = build_tiny_encoder(args.output_dir, seed=args.seed)
        else:
            path = build_tiny_causal_lm(
                args.output_dir, seed=args.seed, chat_template=args.chat_template
            )
        return {"output_dir": str(path)}

    if args.command in ("generate", "score"):
        return _infer(args, out)
    if args.command == "icai":
        from training.ml.icai_cli import run_icai

        return run_icai(_infer_config(args.config), args.data, args.output_dir, out)
    cls = CONFIG_CLASSES[args.command]
    if args.config.lstrip().startswith("{"):
        config = from_dict(cls, _json_config(args.config))
    else:
        config = load_config(cls, args.config)
    if not Path(args.data).exists():
        raise DataError(f"{args.data}: no such file")

    import transformers

    transformers.utils.logging.disable_progress_bar()
    from training.ml.dpo import train_dpo
    from training.ml.grpo import train_grpo
    from training.ml.ppo import train_ppo
    from training.ml.reward import train_reward
    from training.ml.sft import train_sft

    trainers: dict[str, Any] = {
        "reward": train_reward,
        "dpo": train_dpo,
        "ppo": train_ppo,
        "grpo": train_grpo,
        "sft": train_sft,
    }
    output_dir: Path = args.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    from training.ml.adapters import check_memory

    found = check_memory(args.command, config)  # ConfigError when it cannot fit this device
    if found is not None:
        emit(out, PROGRESS, {
            "step": 0, "total_steps": None, "epoch": 0.0, "phase": "setup",
            "metrics": {"memory/estimate_gb": round(found.total / 2**30, 4)},
            "message": f"memory estimate: {found.summary()}",
        })  # fmt: skip
    result = trainers[args.command](
        config,
        args.data,
        output_dir,
        on_progress=lambda event: emit(out, PROGRESS, event.to_dict()),
        should_stop=lambda: (output_dir / CANCEL_FILE).exists(),
    )
    return result.to_dict()  # type: ignore[no-any-return]


def _json_config(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config: invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise ConfigError("--config: expected a JSON object")
    return data


def _infer_config(text: str) -> dict[str, Any]:
    """The generate/score config: inline JSON or a file."""
    if text.lstrip().startswith("{"):
        return _json_config(text)
    try:
        return _json_config(Path(text).read_text())
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {text}: {exc.strerror}") from exc


def _option(config: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = config.get(name, default)
    if value is None or not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ConfigError(f"--config: field {name!r} must be {kind.__name__}, got {value!r:.60}")
    return value


def _generate(config: dict[str, Any], data: str, on_batch: Any) -> list[dict[str, Any]]:
    from dataclasses import asdict

    from training.ml.config import SamplingSettings
    from training.ml.data import load_prompt_rows
    from training.ml.generate import generate_http, generate_local

    fields = {"model", "endpoint", "api_model", "chat", "samples_per_prompt", "sampling"}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ConfigError(f"--config: unknown field {unknown[0]!r}")
    if ("model" in config) == ("endpoint" in config):
        raise ConfigError("--config: give one of the fields 'model' or 'endpoint'")
    k = _option(config, "samples_per_prompt", int, 1)
    try:
        settings = SamplingSettings(**_option(config, "sampling", dict, {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--config: field 'sampling': {exc}") from exc
    prompts = [row.prompt for row in load_prompt_rows(data)]
    if "model" in config:
        out = generate_local(_option(config, "model", str), prompts, k, settings, on_batch=on_batch)
    else:
        out = generate_http(
            _option(config, "endpoint", str), _option(config, "api_model", str), prompts, k,
            settings, chat=_option(config, "chat", bool, True),
            api_key=os.environ.get(API_KEY_ENV, ""), on_batch=on_batch,
        )  # fmt: skip
    return [asdict(g) for g in out]


def _score(config: dict[str, Any], data: str, on_batch: Any) -> list[dict[str, Any]]:
    from training.ml.data import load_sft_rows
    from training.ml.score import score_local_with_uncertainty

    unknown = sorted(set(config) - {"model", "batch_size", "max_length"})
    if unknown:
        raise ConfigError(f"--config: unknown field {unknown[0]!r}")
    model = _option(config, "model", str)
    batch_size, max_length = (
        _option(config, "batch_size", int, 16),
        _option(config, "max_length", int, 512),
    )
    pairs = [(row.prompt, row.completion) for row in load_sft_rows(data)]
    scores = score_local_with_uncertainty(
        model, pairs, batch_size=batch_size, max_length=max_length, on_batch=on_batch
    )
    return [{"score": s, "uncertainty": u} for s, u in scores]


def _infer(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    """generate / score: rows in, rows out, progress per batch, CANCEL checked per batch."""
    config = _infer_config(args.config)
    output_dir: Path = args.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    phase = args.command

    def on_batch(done: int, total: int) -> None:
        emit(out, PROGRESS, {"step": done, "total_steps": total, "phase": phase})
        if (output_dir / CANCEL_FILE).exists():
            raise _Cancelled

    run = _generate if phase == "generate" else _score
    try:
        rows = run(config, args.data, on_batch)
    except _Cancelled:
        return {"output": None, "cancelled": True, "rows": 0}
    path = output_dir / (GENERATED_FILE if phase == "generate" else SCORES_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return {"output": str(path), "cancelled": False, "rows": len(rows)}


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run a command; JSON lines go to `out` (stdout when None). The exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # Only our JSON lines may reach stdout: anything a library prints goes to stderr.
    saved = sys.stdout
    out, sys.stdout = out or sys.stdout, sys.stderr
    try:
        emit(out, RESULT, _run(args, out))
        return 0
    except (ConfigError, DataError) as exc:
        kind = "config" if isinstance(exc, ConfigError) else "data"
        emit(out, ERROR, {"kind": kind, "message": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the caller needs a parseable line whatever went wrong
        traceback.print_exc(file=sys.stderr)
        emit(out, ERROR, {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        sys.stdout = saved


if __name__ == "__main__":
    sys.exit(main())
