"""Live inference: time to first token and tokens/s per conversation with N concurrent replies
through the inference queue, beside plain batched ``transformers`` generation of the same replies.

Queue = what a live conversation gets: ``reply_start`` for N conversations at once, a real
Celery worker on the inference queue (a threads pool of 8, the model loaded once at its start,
as `make run` starts it) streaming each reply into its row. Times come from the rows: time to
first token = first_token_at - created_at (broker, worker and prefill included); tokens/s per
conversation = tokens / (finished_at - created_at). Plain = the same N prompts as one batch,
``model.generate`` with the same settings, timed in this process; its first token is the first
decoding step of the batch (what a streamer would show), its tokens/s per conversation = each
reply's tokens / the batch's time. Medians over the conversations, of the best of --repeats.

    python bench/bench_inference.py                                # tiny random model, CPU
    python bench/bench_inference.py --hidden 256 --layers 4 --tokens 128
    python bench/bench_inference.py --model /models/Qwen2.5-0.5B-Instruct   # on a GPU host
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 python bench/bench_inference.py

The embedded broker polls its folder every 0.1 s; with Redis the broker adds ~1 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORDS = "the cat dog sun moon river tree house why how what tell me about please explain".split()


def _prompt(i: int) -> list[dict[str, str]]:
    words = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(6 + i % 10))
    return [{"role": "user", "content": words}]


def _start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "inference", "--pool", "threads",
        "--concurrency", "8", "-n", f"bench-{os.getpid()}@%h", "-l", "INFO", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # the model is loaded before the worker says ready
        if " ready." in line:
            return proc
    raise RuntimeError("the inference worker did not start")


def _queue_round(source, user, n: int, tokens: int) -> dict[str, float]:  # noqa: ANN001
    from training.models import ReplyStatus, ReplyStream
    from training.services.inference import reply_start

    replies = [
        reply_start(source=source, user=user, messages=_prompt(i), max_new_tokens=tokens, seed=i)
        for i in range(n)
    ]
    ids = [r.pk for r in replies]
    deadline = time.monotonic() + 600
    while ReplyStream.objects.filter(pk__in=ids, status__in=["queued", "streaming"]).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("replies did not finish")
        time.sleep(0.05)
    rows = list(ReplyStream.objects.filter(pk__in=ids))
    failed = [r.error for r in rows if r.status != ReplyStatus.DONE]
    if failed:
        raise RuntimeError(f"replies failed: {failed[:2]}")
    ttft = [(r.first_token_at - r.created_at).total_seconds() for r in rows]
    rate = [r.token_count / (r.finished_at - r.created_at).total_seconds() for r in rows]
    return {
        "ttft": statistics.median(ttft),
        "rate": statistics.median(rate),
        "tokens": statistics.mean(r.token_count for r in rows),
    }


def _plain_round(lm, tokenizer, n: int, tokens: int) -> dict[str, float]:  # noqa: ANN001
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    from training.ml.data import hh_prompt

    first: list[float] = []

    class FirstStep(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001, ANN003, ANN204
            if not first:
                first.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    tokenizer.padding_side = "left"
    batch = tokenizer([hh_prompt(_prompt(i)) for i in range(n)], return_tensors="pt", padding=True)
    batch = batch.to(next(lm.parameters()).device)
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        out = lm.generate(
            **batch, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=tokens,
            pad_token_id=tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([FirstStep()]),
        )[:, batch["input_ids"].size(1) :]  # fmt: skip
    elapsed = time.perf_counter() - start
    counts = []
    for row in out.tolist():
        row = row[: row.index(tokenizer.eos_token_id) + 1] if tokenizer.eos_token_id in row else row
        counts.append(sum(t != tokenizer.pad_token_id for t in row))
    return {
        "ttft": first[0] - start,
        "rate": statistics.median(c / elapsed for c in counts),
        "tokens": statistics.mean(counts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a causal LM directory (default: a tiny random one)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=64, help="max_new_tokens per reply")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    models_dir = Path(tempfile.mkdtemp(prefix="chorus-bench-models-"))
    if args.model:
        model = str(Path(args.model).resolve())
        os.environ["CHORUS_MODEL_ROOTS"] = str(Path(model).parent)
    else:
        from training.ml.tiny import build_tiny_causal_lm

        model = str(
            build_tiny_causal_lm(models_dir / "lm", hidden_size=args.hidden, num_layers=args.layers)
        )
        os.environ["CHORUS_MODEL_ROOTS"] = str(models_dir)

    from bench._django import setup

    var = setup()
    from django.contrib.auth import get_user_model

    from training.ml.generate import load_causal_lm
    from training.models import InferenceSource

    user = get_user_model().objects.create(username="bench")
    source = InferenceSource.objects.create(
        name="bench", kind="local", model_path=model, max_new_tokens=args.tokens, temperature=1.0
    )
    env = {**os.environ, "CHORUS_VAR_DIR": str(var), "CHORUS_INFERENCE_MAX_ACTIVE": "1000"}
    os.environ["CHORUS_INFERENCE_MAX_ACTIVE"] = "1000"
    from django.conf import settings

    settings.CHORUS_INFERENCE_MAX_ACTIVE = 1000
    worker = _start_worker(env)
    lm, tokenizer = load_causal_lm(model)
    broker = "embedded" if settings.EMBEDDED_BROKER else settings.CELERY_BROKER_URL.split(":")[0]
    print(f"model {model}  max_new_tokens {args.tokens}  broker {broker}  cpus {os.cpu_count()}")
    print(
        f"{'N':>3} | {'queue: first token s':>20} {'tok/s per conv':>14} | {'plain batch: first token s':>26} {'tok/s per conv':>14} | tokens"
    )
    try:
        _queue_round(source, user, 1, 4)  # warm-up
        for n in args.concurrency:
            queue = min(
                (_queue_round(source, user, n, args.tokens) for _ in range(args.repeats)),
                key=lambda r: r["ttft"],
            )
            plain = min(
                (_plain_round(lm, tokenizer, n, args.tokens) for _ in range(args.repeats)),
                key=lambda r: r["ttft"],
            )
            print(
                f"{n:>3} | {queue['ttft']:>20.3f} {queue['rate']:>14.1f} | {plain['ttft']:>26.3f} "
                f"{plain['rate']:>14.1f} | {queue['tokens']:.0f} / {plain['tokens']:.0f}"
            )
    finally:
        worker.terminate()
        worker.wait(timeout=30)


if __name__ == "__main__":
    main()
