"""One reply, token by token: from a local causal LM kept loaded between replies, or from an
OpenAI-compatible server streaming server-sent events (vLLM, TGI, llama.cpp server ...).

Both yield ``Piece``s (the new text and the tokens generated so far) until the model stops, the
token budget is spent or ``stop`` is set (the caller's cancel; the local model stops at its next
token). ``visible_text`` turns the raw text into what a reader may see so far: control
characters removed, and for HH-format models the text cut at the next ``Human:`` turn, with a
partial ``\\n\\nHum`` held back, so what is shown only ever grows.

The local path formats prompts like generate.py (``encode_prompt``: the chat template, else the
HH format) and generates in a thread with transformers' ``TextIteratorStreamer``. ``MODELS`` is
this process's cache of loaded models (least recently used dropped beyond its capacity): a
worker process keeps its models between replies, and its threads share them. The HTTP path
follows generate.py's rules: requests go to the endpoint's own URL only, redirects are not
followed, the key is sent only there, and the server's own error text is never repeated.
Errors are ``StreamError``s whose message names no host (labelers may read it).

Example::

    >>> lm = MODELS.get("/tmp/tiny-lm", capacity=2)                               # doctest: +SKIP
    >>> for piece in stream_local(lm, [{"role": "user", "content": "hi"}], SamplingSettings(),
    ...                           threading.Event()):                            # doctest: +SKIP
    ...     print(piece.text, end="")
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from training.ml.config import SamplingSettings
from training.ml.data import Message, hh_prompt
from training.ml.generate import _OPENER, HH_STOP, _reason, clean_text, endpoint_url, load_causal_lm

logger = logging.getLogger(__name__)

# A server-sent event line longer than this is refused (a chunk carries a few tokens).
MAX_LINE_BYTES = 1 << 20
DONE = "[DONE]"  # the last event of an OpenAI-compatible stream


class StreamError(RuntimeError):
    """The model or its server could not answer; the message is fit for the user."""


@dataclass(frozen=True)
class Piece:
    text: str  # new text since the previous piece
    tokens: int  # tokens generated so far (for a server: its chunks, or its usage count)


def visible_text(raw: str, hh: bool) -> tuple[str, bool]:
    """(what a reader may see of `raw` so far, whether the model began the next HH turn)."""
    if hh:
        at = raw.find(HH_STOP)
        if at >= 0:
            return clean_text(raw[:at]), True
        for keep in range(min(len(HH_STOP) - 1, len(raw)), 0, -1):
            if HH_STOP.startswith(raw[-keep:]):
                raw = raw[:-keep]
                break
    return clean_text(raw), False


# --- local models ---------------------------------------------------------------------------


class ModelCache:
    """Loaded (model, tokenizer) pairs by path, least recently used dropped past `capacity`.
    Thread-safe; a model is loaded once even when several threads ask for it at once."""

    def __init__(self) -> None:
        self._models: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was loaded (tests: kept warm means 1)

    def get(self, path: str, capacity: int) -> tuple[Any, Any]:
        with self._lock:
            if path in self._models:
                self._models.move_to_end(path)
                return self._models[path]
            logger.info("loading %s for inference", path)
            lm = load_causal_lm(path)
            self.loads += 1
            self._models[path] = lm
            while len(self._models) > max(1, capacity):
                dropped, _ = self._models.popitem(last=False)
                logger.info("dropping %s from the inference cache", dropped)
                _free_gpu_memory()
            return lm

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            _free_gpu_memory()


def _free_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


MODELS = ModelCache()  # this worker process's models


def _streamer(tokenizer: Any) -> Any:
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        """Puts Pieces (text and the tokens so far) on the queue instead of bare text."""

        tokens = 0

        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                self.tokens += int(value.numel())
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            self.text_queue.put(Piece(text, self.tokens), timeout=self.timeout)
            if stream_end:
                self.text_queue.put(self.stop_signal, timeout=self.timeout)

    return CountingStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _stopping(stop: threading.Event) -> Any:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopWhenAsked(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), stop.is_set(), device=input_ids.device)

    return StoppingCriteriaList([StopWhenAsked()])


def stream_local(
    lm: tuple[Any, Any],
    messages: Sequence[Message],
    settings: SamplingSettings,
    stop: threading.Event,
) -> Iterator[Piece]:
    """Stream one reply of a loaded (model, tokenizer) to `messages`."""
    import torch

    from training.ml.batches import encode_prompt

    model, tokenizer = lm
    device = next(model.parameters()).device
    ids = encode_prompt(tokenizer, list(messages), settings.max_prompt_tokens)
    input_ids = torch.tensor([ids], device=device)
    streamer = _streamer(tokenizer)
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}
        if settings.temperature > 0
        else {"do_sample": False}
    )  # fmt: skip
    failure: list[BaseException] = []

    def run() -> None:
        try:
            torch.manual_seed(settings.seed)  # reproducible when one reply runs at a time
            model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                max_new_tokens=settings.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id, streamer=streamer,
                stopping_criteria=_stopping(stop), **sampling,
            )  # fmt: skip
        except BaseException as exc:  # re-raised in the reading thread
            failure.append(exc)
            streamer.end()

    thread = threading.Thread(target=run, name="chorus-generate", daemon=True)
    thread.start()
    try:
        for piece in streamer:
            if piece.text:
                yield piece
    finally:
        stop.set()
        thread.join()
    if failure:
        raise StreamError(f"the model failed while answering ({type(failure[0]).__name__})")


# --- OpenAI-compatible servers --------------------------------------------------------------


def _open(url: str, body: dict[str, Any], api_key: str, timeout: float) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        return _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()  # its body is not read: never repeated
        moved = " (redirects are not followed)" if 300 <= exc.code < 400 else ""
        raise StreamError(
            f"the inference server answered {exc.code} {_reason(exc.code)}{moved}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, str) else type(exc.reason).__name__
        raise StreamError(f"cannot connect to the inference server ({reason[:80]})") from None
    except TimeoutError:
        raise StreamError(f"the inference server did not answer within {timeout:g} s") from None


def _chunk_text(chunk: Any, chat: bool) -> str:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    text = (choices[0].get("delta") or {}).get("content") if chat else choices[0].get("text")
    return text if isinstance(text, str) else ""


def _events(response: Any) -> Iterator[Any]:
    """The JSON payloads of a server-sent event stream, then DONE at `data: [DONE]`."""
    while True:
        line = response.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            raise StreamError("the inference server sent an event too long to read")
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("data:"):
            continue  # blank separators, comments (":"), event: and id: fields
        data = text[5:].strip()
        if data == DONE:
            yield DONE
            return
        try:
            yield json.loads(data)
        except json.JSONDecodeError:
            raise StreamError("the inference server sent an event that is not JSON") from None


def stream_http(
    base_url: str,
    model: str,
    messages: Sequence[Message],
    settings: SamplingSettings,
    stop: threading.Event,
    *,
    chat: bool = True,
    api_key: str = "",
    timeout: float = 60.0,
) -> Iterator[Piece]:
    """Stream one reply from an OpenAI-compatible server (`"stream": true`). `timeout` bounds
    the wait for the answer and for each chunk after it."""
    body: dict[str, Any] = {
        "model": model, "max_tokens": settings.max_new_tokens, "temperature": settings.temperature,
        "top_p": settings.top_p, "seed": settings.seed, "stream": True,
    }  # fmt: skip
    if chat:
        body["messages"] = [dict(m) for m in messages]
    else:
        body.update(prompt=hh_prompt(messages), stop=[HH_STOP])
    response = _open(endpoint_url(base_url, chat), body, api_key, timeout)
    tokens, finished = 0, False
    try:
        with response:
            if "json" in (response.headers.get("Content-Type") or ""):  # ignored `stream`
                events: Iterator[Any] = iter([_whole(response, chat), DONE])
            else:
                events = _events(response)
            for chunk in events:
                if chunk == DONE:
                    finished = True
                    break
                text = _chunk_text(chunk, chat)
                usage = (chunk.get("usage") or {}) if isinstance(chunk, dict) else {}
                tokens = max(tokens + bool(text), int(usage.get("completion_tokens") or 0))
                if text:
                    yield Piece(text, tokens)
                if stop.is_set():
                    return
    except TimeoutError:
        raise StreamError(f"the inference server sent nothing for {timeout:g} s") from None
    except OSError as exc:
        raise StreamError(f"the inference server broke off ({type(exc).__name__})") from None
    if not finished and not stop.is_set():  # the connection ended before the stream did
        raise StreamError("the inference server broke off in the middle of the reply")


def _whole(response: Any, chat: bool) -> dict[str, Any]:
    """A server that ignored `stream` answers with one JSON body: one chunk of it."""
    try:
        data = json.loads(response.read(64 * MAX_LINE_BYTES))
        choice = data["choices"][0]
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise StreamError("the inference server answered with something unreadable") from None
    delta = {"delta": {"content": text}} if chat else {"text": text}
    return {"choices": [delta], "usage": data.get("usage") or {}}
