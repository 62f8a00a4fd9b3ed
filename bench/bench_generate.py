"""Generation throughput with plain batched ``transformers`` generate (the rollout path).

Prints completions/s and generated tokens/s for a few batch sizes, sampling like PPO/GRPO
rollouts (``training.ml.rollout.sample``). The Django side will add the Chorus serving path.

    python bench/bench_generate.py                                 # tiny random model, CPU
    python bench/bench_generate.py --model /models/Qwen2.5-0.5B --device cuda --batch-sizes 8 32 128
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="tiny", help="tiny | random-0.5b | a model directory or hub id"
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    import transformers
    from bench_train_vs_trl import build_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.ml.batches import encode_prompt
    from training.ml.rollout import sample

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    path = build_model(args.model, Path(tempfile.mkdtemp()))
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    lm = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(args.device).eval()
    # Never stop early, so every completion has max_new_tokens tokens.
    lm.generation_config.eos_token_id = None
    messages = [{"role": "user", "content": "tell me about the moon and the sun and the stars"}]
    prompt = encode_prompt(tok, messages, 128)
    print(
        f"model {args.model} on {args.device}, prompt {len(prompt)} tokens, {args.max_new_tokens} new tokens"
    )
    print(f"{'batch':>6}{'completions/s':>15}{'tokens/s':>11}")
    for batch in args.batch_sizes:
        sample(lm, _NoEos(tok), [prompt] * batch, 4)  # warm-up
        times = []
        for _ in range(args.repeats):
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            roll = sample(lm, _NoEos(tok), [prompt] * batch, args.max_new_tokens)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        best = min(times)
        new_tokens = int(roll.completion_mask.sum())
        print(f"{batch:6d}{batch / best:15.1f}{new_tokens / best:11.0f}")


class _NoEos:
    """The tokenizer with no EOS, so sampling always runs to max_new_tokens."""

    def __init__(self, tok):
        self._tok = tok
        self.eos_token_id = None

    def __getattr__(self, name):
        return getattr(self._tok, name)


if __name__ == "__main__":
    main()
