"""Command line: ``python -m training.ml {reward,dpo,ppo,grpo,sft,tiny} ...``

    python -m training.ml reward --config config.json --data rows.jsonl --output-dir DIR
    accelerate launch -m training.ml dpo --config config.json --data rows.jsonl --output-dir DIR
    python -m training.ml tiny [--kind causal|encoder] [--chat-template] --output-dir DIR

``--config`` is a JSON file or an inline JSON object. stdout carries only JSON lines, one per
event (the main process only):

    {"event": "progress", "step": 3, "total_steps": 40, "epoch": 0.075, "metrics": {...},
     "phase": "train", "message": ""}
    {"event": "result", "output_dir": "DIR", "cancelled": false, "steps": 40, ...}
    {"event": "error", "kind": "config"|"data"|"internal", "message": "..."}

Logs go to stderr. Creating a file named ``CANCEL`` in the output directory stops the run at
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

CANCEL_FILE = "CANCEL"


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
    p = sub.add_parser("tiny", help="build a tiny random model + tokenizer (tests, demos)")
    p.add_argument("--output-dir", required=True, type=Path)
    p.add_argument("--kind", choices=["causal", "encoder"], default="causal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--chat-template", action="store_true", help="give the tokenizer a ChatML template"
    )
    return parser


def _emit(out: TextIO, event: str, payload: dict[str, Any]) -> None:
    if os.environ.get("RANK", "0") == "0":
        out.write(json.dumps({"event": event, **payload}, default=str) + "\n")
        out.flush()


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

    cls = CONFIG_CLASSES[args.command]
    if args.config.lstrip().startswith("{"):
        try:
            config = from_dict(cls, json.loads(args.config))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--config: invalid JSON: {exc.msg} at column {exc.colno}") from exc
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
    result = trainers[args.command](
        config,
        args.data,
        output_dir,
        on_progress=lambda event: _emit(out, "progress", event.to_dict()),
        should_stop=lambda: (output_dir / CANCEL_FILE).exists(),
    )
    return result.to_dict()  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # Only our JSON lines may reach stdout: anything a library prints goes to stderr.
    out, sys.stdout = sys.stdout, sys.stderr
    try:
        _emit(out, "result", _run(args, out))
        return 0
    except (ConfigError, DataError) as exc:
        kind = "config" if isinstance(exc, ConfigError) else "data"
        _emit(out, "error", {"kind": kind, "message": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the caller needs a parseable line whatever went wrong
        traceback.print_exc(file=sys.stderr)
        _emit(out, "error", {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        sys.stdout = out


if __name__ == "__main__":
    sys.exit(main())
