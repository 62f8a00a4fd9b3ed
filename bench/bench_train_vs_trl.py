"""Reward-model and DPO training: training.ml vs TRL, same model, data and hyperparameters.

Prints steps/s and tokens/s (steady state: from the end of the first optimizer step to the end
of the last), steps per CPU-second of the worker process (less sensitive to other load on a
shared machine), end-to-end wall time (model load, tokenisation and, for our DPO, the reference
pass included), peak memory, model FLOPs utilisation and final loss, side by side. Each run is a
fresh subprocess so that peak memory is its own; ``--repeats`` runs each side several times,
alternating which goes first, and prints the median with the spread (min-max) of steps/s.
MFU is 6 x parameters x tokens/s over a peak: the GPU's dense bf16 peak on CUDA, an assumed
``--cpu-peak-tflops`` (per thread, times torch's threads) on CPU. Tokens are the pairs' real
tokens (prompt counted with each completion) for both sides, so our shared-prompt packing
shows up as more tokens/s, not as fewer tokens; the policy's training FLOPs only, so TRL's
on-the-fly reference forward counts as overhead.

    python bench/bench_train_vs_trl.py --repeats 5           # tiny random model, CPU
    python bench/bench_train_vs_trl.py --no-packing          # ours with padded batches
    python bench/bench_train_vs_trl.py --device cuda --model random-0.5b --steps 30
    python bench/bench_train_vs_trl.py --device cuda --model random-1.5b --batch-size 16
    python bench/bench_train_vs_trl.py --device cuda --model /models/Qwen2.5-0.5B

``--model random-0.5b`` / ``random-1.5b`` build random models shaped like Qwen2.5-0.5B (24
layers, hidden 896) / Qwen2.5-1.5B (28 layers, hidden 1536), vocabulary 151,936, from their
public configs, with the tiny local tokenizer: no download needed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense bf16 peak TFLOP/s by device-name fragment, for MFU.
PEAK_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 125.0,
    "4090": 165.0,
}
# Public configs (config.json) of Qwen/Qwen2.5-0.5B and Qwen/Qwen2.5-1.5B, as Llama shapes.
SHAPES = {
    "random-0.5b": dict(
        hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2,
    ),
    "random-1.5b": dict(
        hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
        num_key_value_heads=2,
    ),
}  # fmt: skip
WORDS = "the a good kind great help think know cat dog tree house sun moon star water".split()


def make_rows(n: int, completion_words: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def sentence(marker: str) -> str:
        words = [
            rng.choice(WORDS) for _ in range(rng.randint(completion_words // 2, completion_words))
        ]
        words.insert(rng.randrange(len(words) + 1), marker)
        return " ".join(words)

    return [
        {
            "prompt": [
                {
                    "role": "user",
                    "content": "tell me about the " + " ".join(rng.choices(WORDS, k=8)),
                }
            ],
            "chosen": sentence("happy"),
            "rejected": sentence("sad"),
            "prompt_id": str(i),
            "split": "train",
        }
        for i in range(n)
    ]


def build_model(spec: str, workdir: Path) -> str:
    """A path to a model: ``tiny``, ``random-0.5b``, ``random-1.5b`` or an existing directory /
    hub id."""
    from training.ml.tiny import build_tiny_causal_lm, build_tiny_tokenizer

    if spec == "tiny":
        return str(build_tiny_causal_lm(workdir / "tiny"))
    if spec in SHAPES:
        from transformers import LlamaConfig, LlamaForCausalLM

        out = workdir / spec
        tok = build_tiny_tokenizer(out)
        config = LlamaConfig(
            vocab_size=151936,
            **SHAPES[spec],
            max_position_embeddings=4096,
            tie_word_embeddings=True,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
        )
        LlamaForCausalLM(config).save_pretrained(out)
        return str(out)
    return spec


# --- workers (one per subprocess) ----------------------------------------------------------


def _ours(args: argparse.Namespace, rows: list[dict], out: Path) -> dict:
    from training.ml.config import DPOConfig, RewardConfig
    from training.ml.data import parse_preference_lines
    from training.ml.dpo import train_dpo
    from training.ml.reward import train_reward

    data = parse_preference_lines([json.dumps(r) for r in rows])
    common = dict(
        base_model=args.model_path,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        max_steps=args.steps,
        max_length=args.max_length,
        eval_fraction=0.0,
        seed=0,
        bf16=args.device == "cuda",
        packing=args.packing,
    )
    stamps: list[float] = []
    cpu: list[float] = []

    def on_progress(event) -> None:
        if event.phase == "train" and "train/loss" in event.metrics:
            _sync(args)
            stamps.append(time.perf_counter())
            cpu.append(time.process_time())

    if args.algo == "reward":
        result = train_reward(RewardConfig(**common), data, out, on_progress=on_progress)
    else:
        result = train_dpo(DPOConfig(beta=0.1, **common), data, out, on_progress=on_progress)
    return {"stamps": stamps, "cpu": cpu, "final_loss": result.metrics["train/loss"]}


def _trl(args: argparse.Namespace, rows: list[dict], out: Path) -> dict:
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        TrainerCallback,
    )

    from training.ml.data import hh_prompt

    tok = AutoTokenizer.from_pretrained(args.model_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    # The same text our trainers see: HH-formatted prompt, completion with a leading space.
    data = Dataset.from_list(
        [
            {
                "prompt": hh_prompt(r["prompt"]),
                "chosen": " " + r["chosen"],
                "rejected": " " + r["rejected"],
            }
            for r in rows
        ]
    )
    stamps: list[float] = []
    cpu: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, *a, **k):
            _sync(args)
            stamps.append(time.perf_counter())
            cpu.append(time.process_time())

    common = dict(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        max_steps=args.steps,
        learning_rate=args.lr,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        seed=0,
        bf16=args.device == "cuda",
        use_cpu=args.device == "cpu",
        max_length=args.max_length,
        gradient_checkpointing=False,
        disable_tqdm=True,
        lr_scheduler_type="linear",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        dataloader_num_workers=0,
    )
    if args.algo == "reward":
        from trl import RewardConfig, RewardTrainer

        model = AutoModelForSequenceClassification.from_pretrained(args.model_path, num_labels=1)
        model.config.pad_token_id = tok.pad_token_id
        trainer = RewardTrainer(
            model=model,
            args=RewardConfig(**common),
            train_dataset=data,
            processing_class=tok,
            callbacks=[Stamp()],
        )
    else:
        from trl import DPOConfig, DPOTrainer

        model = AutoModelForCausalLM.from_pretrained(args.model_path)
        config = DPOConfig(beta=0.1, precompute_ref_log_probs=args.trl_precompute_ref, **common)
        trainer = DPOTrainer(
            model=model, args=config, train_dataset=data, processing_class=tok, callbacks=[Stamp()]
        )
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"stamps": stamps, "cpu": cpu, "final_loss": losses[-1]}


def _sync(args: argparse.Namespace) -> None:
    if args.device == "cuda":
        import torch

        torch.cuda.synchronize()


def worker(args: argparse.Namespace) -> None:
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    rows = make_rows(args.pairs, args.completion_words)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = (_ours if args.worker == "ours" else _trl)(args, rows, Path(tmp))
    wall = time.perf_counter() - started
    stamps, cpu = run.pop("stamps"), run.pop("cpu")
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    per_cpu_s = (len(cpu) - 1) / (cpu[-1] - cpu[0]) if len(cpu) > 1 else float("nan")
    if args.device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    print(
        json.dumps(
            {
                "steps_per_s": steady,
                "steps_per_cpu_s": per_cpu_s,
                "wall_s": wall,
                "peak_gib": peak,
                "steps": len(stamps),
                **run,
            }
        )
    )


# --- driver --------------------------------------------------------------------------------


def tokens_per_pair(model_path: str, rows: list[dict], max_length: int) -> float:
    from transformers import AutoTokenizer

    from training.ml.batches import encode_pairs
    from training.ml.data import parse_preference_lines

    tok = AutoTokenizer.from_pretrained(model_path)
    pairs = encode_pairs(tok, parse_preference_lines([json.dumps(r) for r in rows]), max_length)
    return sum(len(p.chosen) + len(p.rejected) for p in pairs) / len(pairs)


def count_params(model_path: str) -> int:
    """Parameters that do matrix work per token: all but the input embedding (a lookup), the
    LM head counted once even when tied to it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))
    total = sum(p.numel() for p in model.parameters())
    embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    return total if embed is head else total - embed.numel()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="tiny", help="tiny | random-0.5b | random-1.5b | a directory or hub id"
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--algo", choices=["reward", "dpo", "both"], default="both")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--completion-words", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--repeats", type=int, default=1, help="runs per side, alternated")
    parser.add_argument(
        "--packing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ours: padding-free packing (training.ml.packing)",
    )
    parser.add_argument(
        "--cpu-peak-tflops",
        type=float,
        default=0.15,
        help="assumed fp32 peak per CPU thread for MFU (0.15: AVX-512, 2 FMA units, ~2.4 GHz)",
    )
    parser.add_argument(
        "--trl-precompute-ref",
        action="store_true",
        help="TRL DPO: precompute reference log-probs too",
    )
    parser.add_argument("--worker", choices=["ours", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def run_worker(args: argparse.Namespace, who: str, algo: str, pairs: int) -> dict | str:
    """One fresh subprocess; its JSON line, or the tail of its stderr when it failed."""
    cmd = [
        sys.executable, __file__, "--worker", who, "--model-path", args.model_path,
        "--pairs", str(pairs), "--algo", algo, "--device", args.device,
        "--steps", str(args.steps), "--batch-size", str(args.batch_size),
        "--max-length", str(args.max_length), "--completion-words", str(args.completion_words),
        "--lr", str(args.lr), "--packing" if args.packing else "--no-packing",
    ]  # fmt: skip
    if args.trl_precompute_ref:
        cmd.append("--trl-precompute-ref")
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    import torch
    import trl

    workdir = Path(tempfile.mkdtemp(prefix="bench-train-"))
    args.model_path = build_model(args.model, workdir)
    pairs = args.steps * args.batch_size
    rows = make_rows(pairs, args.completion_words)
    per_pair = tokens_per_pair(args.model_path, rows, args.max_length)
    n_params = count_params(args.model_path)
    if args.device == "cuda":
        device_name = torch.cuda.get_device_name()
        peak_tflops = next((v for k, v in PEAK_TFLOPS.items() if k in device_name), None)
    else:
        threads = torch.get_num_threads()
        device_name = f"cpu, {threads} torch thread(s)"
        peak_tflops = args.cpu_peak_tflops * threads
    print(
        f"model {args.model} ({n_params / 1e6:.1f}M params in matmuls) on {device_name}; "
        f"{args.steps} steps x {args.batch_size} pairs, max_length {args.max_length}, "
        f"{per_pair:.0f} tokens/pair; ours with packing {'on' if args.packing else 'off'}; "
        f"{args.repeats} run(s) per side, alternated"
    )
    if peak_tflops and args.device == "cpu":
        print(f"MFU against an assumed CPU peak of {peak_tflops:.2f} TFLOP/s")
    print(
        f"{'':18}{'steps/s':>9}{'(min-max)':>13}{'steps/CPU-s':>12}{'tokens/s':>10}"
        f"{'wall s':>8}{'peak GiB':>9}{'MFU':>7}{'final loss':>11}"
    )
    labels = {"ours": "training.ml", "trl": f"TRL {trl.__version__}"}
    algos = ["reward", "dpo"] if args.algo == "both" else [args.algo]
    for algo in algos:
        runs: dict[str, list[dict]] = {"ours": [], "trl": []}
        for r in range(args.repeats):
            for who in ("ours", "trl") if r % 2 == 0 else ("trl", "ours"):
                found = run_worker(args, who, algo, pairs)
                if isinstance(found, str):
                    print(f"{algo} {labels[who]} failed:\n{found}")
                    continue
                runs[who].append(found)
        medians = {}
        for who, found in runs.items():
            if not found:
                continue
            speeds = [r["steps_per_s"] for r in found]
            med = {k: statistics.median(r[k] for r in found) for k in found[0]}
            medians[who] = med
            tokens = med["steps_per_s"] * args.batch_size * per_pair
            mfu = f"{6 * n_params * tokens / (peak_tflops * 1e12):7.1%}" if peak_tflops else ""
            spread = f"({min(speeds):.2f}-{max(speeds):.2f})"
            print(
                f"{algo + ' ' + labels[who]:18}{med['steps_per_s']:9.2f}{spread:>13}"
                f"{med['steps_per_cpu_s']:12.2f}{tokens:10.0f}{med['wall_s']:8.1f}"
                f"{med['peak_gib']:9.2f}{mfu:>7}{med['final_loss']:11.4f}",
                flush=True,
            )
        if len(medians) == 2:
            ratio = medians["ours"]["steps_per_s"] / medians["trl"]["steps_per_s"]
            per_cpu = medians["ours"]["steps_per_cpu_s"] / medians["trl"]["steps_per_cpu_s"]
            print(f"{algo}: ours / TRL = {ratio:.2f}x steps/s, {per_cpu:.2f}x steps per CPU-s")
    print("peak memory: CUDA max allocated, or process max RSS on CPU.", end=" ")
    print(
        "TRL DPO computes reference log-probs every step"
        + (" (precomputed here)." if args.trl_precompute_ref else "; ours once, before training.")
    )


if __name__ == "__main__":
    main()
