"""Generation-job throughput: Chorus's generation code vs plain batched ``transformers``.

The same job both ways: N prompts x K samples, the same model, sampling settings, batch size and
max_new_tokens. Chorus = ``training.ml.generate.generate_local`` (what a generation job runs:
prompts formatted as in training, sorted by length into batches, seeded per batch, EOS and HH
stop handling, text cleaned). Plain = the prompts in their given order, left-padded by the
tokenizer, ``model.generate`` per batch, ``batch_decode``. The model is loaded once, outside the
timings. Prints completions/s and generated tokens/s (tokens up to and including EOS), median
of --repeats.

    python bench/bench_generation.py                                  # tiny random model, CPU
    python bench/bench_generation.py --hidden 256 --layers 4 --prompts 64 --k 4
    python bench/bench_generation.py --model /models/Qwen2.5-0.5B     # a real model
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = "the cat dog sun moon river tree house why how what tell me about please explain".split()


def _prompts(n: int) -> list[list[dict[str, str]]]:
    """Prompts of varied length (3..30 words), deterministic."""
    return [
        [
            {
                "role": "user",
                "content": " ".join(
                    WORDS[(i * 7 + j) % len(WORDS)] for j in range(3 + (i * 11) % 28)
                ),
            }
        ]
        for i in range(n)
    ]


def _plain(lm, tokenizer, prompts, k, settings):  # noqa: ANN001, ANN202
    """Plain batched transformers generation: (completions, generated tokens)."""
    import torch

    from training.ml.data import hh_prompt

    texts = [hh_prompt(m) for m in prompts for _ in range(k)]
    tokenizer.padding_side = "left"
    completions = tokens = 0
    for start in range(0, len(texts), settings.batch_size):
        batch = tokenizer(
            texts[start : start + settings.batch_size], return_tensors="pt", padding=True
        )
        torch.manual_seed(settings.seed + start)
        with torch.no_grad():
            out = lm.generate(
                **batch, do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=0,
                max_new_tokens=settings.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
            )[:, batch["input_ids"].size(1) :]  # fmt: skip
        decoded = tokenizer.batch_decode(out, skip_special_tokens=True)
        for row in out.tolist():
            row = (
                row[: row.index(tokenizer.eos_token_id) + 1]
                if tokenizer.eos_token_id in row
                else row
            )
            tokens += sum(t != tokenizer.pad_token_id for t in row)
        completions += len(decoded)
    return completions, tokens


def _chorus(loaded, prompts, k, settings):  # noqa: ANN001, ANN202
    from training.ml.generate import generate_local

    out = generate_local(loaded, prompts, k, settings)
    return len(out), sum(g.tokens + int(g.finished) for g in out)


def _time(fns: dict, repeats: int) -> dict[str, tuple[float, int, int]]:  # noqa: ANN001
    """Median (seconds, completions, tokens) of each; the paths alternate, so load from other
    processes on a shared machine falls on both alike."""
    runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            completions, tokens = fn()
            runs[name].append((time.perf_counter() - start, completions, tokens))
    return {name: sorted(r)[len(r) // 2] for name, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="", help="a model directory or hub id (default: a tiny random model)"
    )
    parser.add_argument("--hidden", type=int, default=64, help="tiny model: hidden size")
    parser.add_argument("--layers", type=int, default=2, help="tiny model: layers")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--k", type=int, default=4, help="samples per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from training.ml.config import SamplingSettings
    from training.ml.generate import load_causal_lm
    from training.ml.tiny import build_tiny_causal_lm

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or str(
            build_tiny_causal_lm(tmp, hidden_size=args.hidden, num_layers=args.layers)
        )
        lm, tokenizer = load_causal_lm(path)
        prompts = _prompts(args.prompts)
        settings = SamplingSettings(
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            temperature=1.0,
            top_p=1.0,
        )
        _chorus((lm, tokenizer), prompts[:2], 1, settings)  # warm-up
        fns = {
            "chorus (training.ml.generate)": lambda: _chorus(
                (lm, tokenizer), prompts, args.k, settings
            ),
            "plain transformers": lambda: _plain(lm, tokenizer, prompts, args.k, settings),
        }
        results = _time(fns, args.repeats)
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    model = args.model or f"tiny random Llama (hidden {args.hidden}, {args.layers} layers)"
    print(
        f"{model} on {device}: {args.prompts} prompts x K={args.k}, max_new_tokens={args.max_new_tokens}, batch {args.batch_size}, median of {args.repeats}"
    )
    print(
        f"{'path':32} {'seconds':>8} {'completions':>12} {'completions/s':>14} {'tokens':>8} {'tokens/s':>10}"
    )
    for name, (seconds, completions, tokens) in results.items():
        print(
            f"{name:32} {seconds:8.2f} {completions:12d} {completions / seconds:14.1f} {tokens:8d} {tokens / seconds:10.1f}"
        )


if __name__ == "__main__":
    main()
