"""Sampling K completions per prompt: from a local causal LM (batched ``generate``) or from the
OpenAI-compatible HTTP endpoint of an inference server (vLLM, TGI, llama.cpp ...).

Both paths take conversations (``[{"role": ..., "content": ...}]``) and return one
``Generated`` per (prompt, sample), in prompt order. The local path formats prompts like the
trainers do (``format_example``: the chat template, else the HH format), left-pads them, sorts
them by length so a batch wastes little padding, and seeds every batch (``seed + batch index``)
so a job is reproducible on the same hardware. The HTTP path uses only the standard library.

Example::

    >>> s = SamplingSettings(max_new_tokens=16, temperature=0.8)
    >>> out = generate_local("/tmp/tiny-lm", [[{"role": "user", "content": "hi"}]], 2, s)  # doctest: +SKIP
    >>> out = generate_http("http://127.0.0.1:8000/v1", "my-model", prompts, 2, s)         # doctest: +SKIP
"""

from __future__ import annotations

import http
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from training.ml.config import SamplingSettings
from training.ml.data import Message, format_example, hh_prompt
from training.ml.protocol import Generated

# An HH-format model continues the dialogue; its next "Human:" turn is not part of the answer.
HH_STOP = "\n\nHuman:"
# on_batch(done, total): (prompt, sample) pairs generated so far, of all of them.
BatchCallback = Callable[[int, int], None]
# An endpoint's answer is read up to this many bytes (a larger one is not valid JSON).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class GenerationError(RuntimeError):
    """The model or the endpoint could not produce completions; the message says why."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Without control characters (tiny random models emit them; databases refuse NUL)."""
    return _CONTROL.sub("", text).strip()


def _cut_hh(text: str) -> tuple[str, bool]:
    at = text.find(HH_STOP)
    return (text[:at], True) if at >= 0 else (text, False)


def _jobs(
    n_prompts: int, k: int, lengths: Sequence[int], batch_size: int
) -> list[list[tuple[int, int]]]:
    """(prompt, sample) pairs sorted by prompt length (longest first), cut into batches."""
    pairs = sorted(
        ((p, s) for p in range(n_prompts) for s in range(k)), key=lambda ps: (-lengths[ps[0]], ps)
    )
    return [pairs[i : i + batch_size] for i in range(0, len(pairs), batch_size)]


def load_causal_lm(path: str) -> tuple[Any, Any]:
    """(model, tokenizer) ready for generation: eval mode, GPU and bf16 when there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.runtime import load_tokenizer

    tokenizer = load_tokenizer(path)
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.bfloat16 if cuda else torch.float32
    )
    model.to(torch.device("cuda" if cuda else "cpu"))  # type: ignore[arg-type]  # stubs want a model
    return model.eval(), tokenizer


def generate_local(
    model: str | tuple[Any, Any],
    prompts: Sequence[Sequence[Message]],
    k: int,
    settings: SamplingSettings,
    on_batch: BatchCallback | None = None,
) -> list[Generated]:
    """K samples per prompt from a causal LM (a path / hub id, or an already loaded (model,
    tokenizer) pair), in batches of ``settings.batch_size``."""
    import torch

    from training.ml.batches import encode_prompt, pad_left

    lm, tokenizer = load_causal_lm(model) if isinstance(model, str) else model
    device = next(lm.parameters()).device
    encoded = [encode_prompt(tokenizer, list(m), settings.max_prompt_tokens) for m in prompts]
    hh = not getattr(tokenizer, "chat_template", None)
    batches = _jobs(len(prompts), k, [len(e) for e in encoded], settings.batch_size)
    out: list[Generated] = []
    total = len(prompts) * k
    for b, batch in enumerate(batches):
        ids = pad_left([encoded[p] for p, _ in batch], tokenizer.pad_token_id).to(device)
        mask = pad_left([[1] * len(encoded[p]) for p, _ in batch], 0).to(device)
        torch.manual_seed(settings.seed + b)
        sampling: dict[str, Any] = (
            {
                "do_sample": True,
                "temperature": settings.temperature,
                "top_p": settings.top_p,
                "top_k": 0,
            }
            if settings.temperature > 0
            else {"do_sample": False}
        )
        with torch.no_grad():
            new = lm.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=settings.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **sampling,
            )[:, ids.size(1) :]  # fmt: skip
        out += _decode(tokenizer, new, batch, hh)
        if on_batch is not None:
            on_batch(len(out), total)
    return sorted(out, key=lambda g: (g.prompt_index, g.sample))


def _decode(tokenizer: Any, new: Any, batch: list[tuple[int, int]], hh: bool) -> list[Generated]:
    eos = tokenizer.eos_token_id
    result = []
    for row, (p, s) in zip(new.tolist(), batch, strict=True):
        ended = eos in row
        row = row[: row.index(eos)] if ended else row
        row = [t for t in row if t != tokenizer.pad_token_id]
        text = tokenizer.decode(row, skip_special_tokens=True)
        if hh:
            text, stopped = _cut_hh(text)
            ended = ended or stopped
        result.append(Generated(p, s, clean_text(text), len(row), ended))
    return result


# --- OpenAI-compatible HTTP endpoint -------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: the request, and its Authorization header, stay on the
    endpoint's own host (a 3xx becomes an error)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, without credentials or path (safe to show)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _reason(code: int) -> str:
    """The standard phrase of a status code: the upstream's own text is never repeated."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "unknown status"


def _post(url: str, body: dict[str, Any], api_key: str, timeout: float) -> dict[str, Any]:
    """POST JSON to the endpoint and read its JSON answer. Errors say the endpoint's origin, the
    status code and its standard reason, never the upstream body (it may echo secrets)."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    origin = _origin(url)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return json.loads(response.read(MAX_RESPONSE_BYTES + 1)[:MAX_RESPONSE_BYTES].decode())
    except urllib.error.HTTPError as exc:
        exc.close()  # its body is not read: never repeated
        moved = " (redirects are not followed)" if 300 <= exc.code < 400 else ""
        raise GenerationError(f"{origin} answered {exc.code} {_reason(exc.code)}{moved}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, str) else type(exc.reason).__name__
        raise GenerationError(f"{origin}: cannot connect ({reason[:80]})") from None
    except TimeoutError:
        raise GenerationError(f"{origin}: no answer within {timeout:g} s") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GenerationError(f"{origin} answered with something other than JSON") from None


def endpoint_url(base_url: str, chat: bool) -> str:
    """The completions URL under a base such as ``http://host:8000/v1`` (or the full URL)."""
    base = base_url.rstrip("/")
    if base.endswith(("/completions", "/chat/completions")):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + ("/chat/completions" if chat else "/completions")


def _request_one(
    url: str, model: str, messages: Sequence[Message], k: int, settings: SamplingSettings,
    chat: bool, api_key: str, timeout: float, seed: int,
) -> list[tuple[str, int, bool]]:  # fmt: skip
    body: dict[str, Any] = {
        "model": model, "n": k, "max_tokens": settings.max_new_tokens,
        "temperature": settings.temperature, "top_p": settings.top_p, "seed": seed,
    }  # fmt: skip
    if chat:
        body["messages"] = [dict(m) for m in messages]
    else:
        body.update(prompt=hh_prompt(messages), stop=[HH_STOP])
    data = _post(url, body, api_key, timeout)
    if not isinstance(data, dict) or not isinstance(data.get("choices") or [], list):
        raise GenerationError(f"{_origin(url)} answered JSON without a list of choices")
    choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
    if len(choices) != k:
        raise GenerationError(f"{_origin(url)} returned {len(choices)} choices, asked for {k}")
    usage = (data.get("usage") or {}).get("completion_tokens")
    result = []
    for choice in choices:
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
        if not isinstance(text, str):
            raise GenerationError(f"{_origin(url)} returned a choice without text")
        tokens = round(usage / k) if isinstance(usage, int) else len(text.split())
        result.append((clean_text(text), tokens, choice.get("finish_reason") == "stop"))
    return result


def generate_http(
    base_url: str,
    model: str,
    prompts: Sequence[Sequence[Message]],
    k: int,
    settings: SamplingSettings,
    *,
    chat: bool = True,
    api_key: str = "",
    timeout: float = 120.0,
    on_batch: BatchCallback | None = None,
) -> list[Generated]:
    """K samples per prompt from an OpenAI-compatible server: one request per prompt (``n=K``),
    ``settings.batch_size`` requests in flight."""
    url = endpoint_url(base_url, chat)
    out: list[Generated] = []
    with ThreadPoolExecutor(max_workers=settings.batch_size) as pool:
        for start in range(0, len(prompts), settings.batch_size):
            indices = range(start, min(start + settings.batch_size, len(prompts)))
            futures = [
                pool.submit(
                    _request_one,
                    url,
                    model,
                    prompts[p],
                    k,
                    settings,
                    chat,
                    api_key,
                    timeout,
                    settings.seed + p,
                )
                for p in indices
            ]
            for p, future in zip(indices, futures, strict=True):
                out += [Generated(p, s, t, n, f) for s, (t, n, f) in enumerate(future.result())]
            if on_batch is not None:
                on_batch(len(out), len(prompts) * k)
    return out


def prompt_text(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The text a local model is prompted with (for logs and the benchmark)."""
    return format_example(tokenizer, list(messages), None)[0]
