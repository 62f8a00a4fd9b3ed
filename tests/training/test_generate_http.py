"""The OpenAI-compatible HTTP path of generation, against a stdlib stub server."""

from __future__ import annotations

import pytest

from tests.training.openai_stub import openai_stub, stub_url
from training.ml.config import SamplingSettings
from training.ml.generate import GenerationError, endpoint_url, generate_http

PROMPTS = [
    [{"role": "user", "content": "hello there"}],
    [{"role": "user", "content": "why is the sky blue"}],
]


@pytest.mark.parametrize("chat", [True, False])
def test_k_samples_per_prompt_come_back_in_prompt_order(chat):
    settings = SamplingSettings(max_new_tokens=7, temperature=0.7, top_p=0.9, seed=3, batch_size=2)
    with openai_stub() as server:
        out = generate_http(stub_url(server), "stub-model", PROMPTS, 2, settings, chat=chat)
    assert [(g.prompt_index, g.sample) for g in out] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert out[0].text.startswith("reply 0 to") and out[1].text.endswith("longer")
    assert all(g.finished and g.tokens == 5 for g in out)
    bodies = sorted((r["body"] for r in server.requests), key=lambda b: b["seed"])
    assert [r["path"] for r in server.requests] == [
        ("/v1/chat/completions" if chat else "/v1/completions")
    ] * 2
    assert (
        bodies[0]["n"],
        bodies[0]["max_tokens"],
        bodies[0]["temperature"],
        bodies[0]["top_p"],
    ) == (2, 7, 0.7, 0.9)
    assert [b["seed"] for b in bodies] == [3, 4]
    if not chat:
        assert bodies[0]["prompt"].endswith("\n\nAssistant:") and bodies[0]["stop"] == [
            "\n\nHuman:"
        ]


def test_endpoint_errors_name_the_url():
    with openai_stub() as server:
        url = stub_url(server).replace("/v1", "/nope")
        with pytest.raises(GenerationError, match="404"):
            generate_http(url + "/completions", "m", PROMPTS, 1, SamplingSettings(), chat=False)


def test_endpoint_url_accepts_bases_and_full_urls():
    assert endpoint_url("http://h:8000", True) == "http://h:8000/v1/chat/completions"
    assert endpoint_url("http://h:8000/v1/", False) == "http://h:8000/v1/completions"
    assert endpoint_url("http://h/v1/chat/completions", False) == "http://h/v1/chat/completions"
