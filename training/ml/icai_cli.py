"""``python -m training.ml icai``: the child process of a constitution job (training/ml/icai.py).

    python -m training.ml icai --config cfg.json --data pairs.jsonl --output-dir OUT

- ``--config``: ``{"icai": {ICAIConfig fields}, "llm": LLM}`` where LLM is
  ``{"endpoint": base URL, "api_model": name}`` (an OpenAI-compatible server; its key, if any,
  in the environment variable protocol.API_KEY_ENV) or ``{"model": local directory}``.
- ``--data``: preference rows (training/ml/data.py); a row's ``groups`` names the one labeler
  group it counts in; rows of no group are left out.
- Progress lines: ``{"step": calls done, "total_steps": calls, "phase": "propose"|"merge"|"test"}``.
  The CANCEL file is looked for after every chunk of calls; a cancelled search writes nothing.
- Output: OUT/constitution.json (``icai_run``'s result, plus ``"llm"``: the model's name);
  the result line is ``{"output": path, "cancelled": false}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from training.ml.config import ConfigError
from training.ml.data import load_preference_rows
from training.ml.icai import ICAIConfig, ICAIError, Pair, conversation_text, icai_run
from training.ml.protocol import API_KEY_ENV, CANCEL_FILE, PROGRESS, emit

OUTPUT_FILE = "constitution.json"


class _Cancelled(Exception):
    """The CANCEL file appeared."""


def _chats(llm: dict[str, Any], cfg: ICAIConfig) -> tuple[Any, Any, str]:
    """(proposer, judge, the model's name) for the configured LLM."""
    from training.ml.llm import http_chat, local_chat

    propose_opts: dict[str, Any] = {
        "max_tokens": cfg.propose_max_tokens,
        "temperature": cfg.propose_temperature,
    }
    judge_opts: dict[str, Any] = {"max_tokens": cfg.judge_max_tokens, "temperature": 0.0}
    if isinstance(llm.get("endpoint"), str) and isinstance(llm.get("api_model"), str):
        common: dict[str, Any] = {"api_key": os.environ.get(API_KEY_ENV, ""), "seed": cfg.seed}
        url, model = llm["endpoint"], llm["api_model"]
        return (
            http_chat(url, model, **common, **propose_opts, concurrency=cfg.concurrency),
            http_chat(url, model, **common, **judge_opts, concurrency=cfg.concurrency),
            model,
        )
    if isinstance(llm.get("model"), str):
        from training.ml.generate import load_causal_lm

        loaded = load_causal_lm(llm["model"])
        return (
            local_chat(loaded, **propose_opts, seed=cfg.seed, batch=cfg.concurrency),
            local_chat(loaded, **judge_opts, seed=cfg.seed, batch=cfg.concurrency),
            Path(llm["model"]).name,
        )
    raise ConfigError("--config: 'llm' needs 'endpoint' and 'api_model', or 'model'", "llm")


def load_pairs(data: str | Path) -> list[Pair]:
    """The grouped preference rows as ICAI pairs (rows of no group left out)."""
    return [
        Pair(row.groups[0], conversation_text(row.prompt), row.chosen, row.rejected)
        for row in load_preference_rows(data)
        if row.groups
    ]


def run_icai(config: dict[str, Any], data: str, output_dir: Path, out: TextIO) -> dict[str, Any]:
    """The command: search, then write OUT/constitution.json; the result line's payload."""
    from training.ml.llm import sentence_encoder

    try:
        cfg = ICAIConfig.from_dict(config.get("icai") or {})
        pairs = load_pairs(data)
        llm = config.get("llm")
        if not isinstance(llm, dict):
            raise ConfigError("--config: field 'llm' must be an object", "llm")
        output_dir.mkdir(parents=True, exist_ok=True)

        def on_progress(phase: str, done: int, total: int) -> None:
            emit(out, PROGRESS, {"step": done, "total_steps": total, "phase": phase})
            if (output_dir / CANCEL_FILE).exists():
                raise _Cancelled

        propose, judge, name = _chats(llm, cfg)
        embed = sentence_encoder(cfg.encoder)
        result = icai_run(
            cfg, pairs, propose=propose, judge=judge, embed=embed, on_progress=on_progress
        )
    except ICAIError as exc:
        raise ConfigError(str(exc)) from exc
    except _Cancelled:
        return {"output": None, "cancelled": True}
    path = output_dir / OUTPUT_FILE
    path.write_text(json.dumps({**result, "llm": name}, ensure_ascii=False))
    return {"output": str(path), "cancelled": False}
