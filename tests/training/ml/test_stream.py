"""training/ml/stream.py: what a reader may see of a reply so far, a local model streaming the
same reply that batched generation writes, a cancel stopping it, and the process's model cache
keeping models loaded (bounded)."""

from __future__ import annotations

import threading

import pytest

from training.ml.config import SamplingSettings
from training.ml.stream import ModelCache, visible_text

PROMPT = [{"role": "user", "content": "tell me about the cat"}]


def test_visible_text_only_grows_and_stops_at_the_next_human_turn():
    raw = "Sure, a cat.\n\nHuman: and now?"
    shown = [visible_text(raw[:n], hh=True) for n in range(len(raw) + 1)]
    texts = [text for text, _ in shown]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    assert visible_text(raw[:16], hh=True) == ("Sure, a cat.", False)  # "\n\nHu" held back
    assert visible_text(raw, hh=True) == ("Sure, a cat.", True)
    assert visible_text("a\n\nHug me", hh=True) == ("a\n\nHug me", False)
    assert visible_text(" x\x00y\n\nHu", hh=False) == ("xy\n\nHu", False)


@pytest.mark.slow
def test_a_streamed_reply_is_the_reply_batched_generation_writes(tiny_lm):
    from training.ml.generate import generate_local, load_causal_lm
    from training.ml.stream import stream_local

    lm = load_causal_lm(tiny_lm)
    greedy = SamplingSettings(max_new_tokens=24, temperature=0.0, batch_size=1)
    pieces = list(stream_local(lm, PROMPT, greedy, threading.Event()))
    assert len(pieces) >= 2 and all(p.text for p in pieces)  # several pieces, not one
    assert [p.tokens for p in pieces] == sorted(p.tokens for p in pieces)
    [batched] = generate_local(lm, [PROMPT], 1, greedy)
    shown, _ = visible_text("".join(p.text for p in pieces), hh=True)
    assert shown == batched.text
    assert pieces[-1].tokens <= 24


@pytest.mark.slow
def test_a_set_stop_event_ends_generation_at_the_next_token(tiny_lm):
    from training.ml.generate import load_causal_lm
    from training.ml.stream import stream_local

    lm = load_causal_lm(tiny_lm)
    stop = threading.Event()
    settings = SamplingSettings(max_new_tokens=2000, temperature=1.0, batch_size=1)
    pieces = stream_local(lm, PROMPT, settings, stop)
    first = next(pieces)
    stop.set()
    rest = list(pieces)
    assert first.tokens + sum(1 for _ in rest) < 50  # far from the 2000 asked for


@pytest.mark.slow
def test_the_model_cache_loads_once_and_drops_the_least_recently_used(tiny_lm, tiny_chat_lm):
    cache = ModelCache()
    first = cache.get(tiny_lm, capacity=1)
    assert cache.get(tiny_lm, capacity=1) is first and cache.loads == 1
    cache.get(tiny_chat_lm, capacity=1)  # tiny_lm is dropped
    assert cache.get(tiny_lm, capacity=1) is not first and cache.loads == 3
    cache.clear()
