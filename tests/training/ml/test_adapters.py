"""LoRA through peft (issue 17): reward and DPO learn with adapters, save adapters that load with
peft and give the trained model's outputs, merge into a plain transformers model, and keep one
model in memory (the reference is the base with the adapters off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import preference_rows

pytestmark = pytest.mark.slow

LORA = {"lora_r": 8, "lora_alpha": 16}


def _ids(tokenizer_dir: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    return tok(["tell me about the cat happy", "the sad dog"], return_tensors="pt", padding=True)


def test_lora_reward_learns_and_adapters_load_with_peft(tiny_lm: str, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from training.ml.config import RewardConfig
    from training.ml.reward import train_reward

    config = RewardConfig(
        base_model=tiny_lm, learning_rate=3e-3, batch_size=16, epochs=3, max_length=48,
        controls=False, **LORA,
    )  # fmt: skip
    events: list = []
    result = train_reward(
        config, preference_rows(160, eval_every=5), tmp_path, on_progress=events.append
    )
    assert result.metrics["eval/accuracy"] > 0.85
    losses = [e.metrics["train/loss"] for e in events if "train/loss" in e.metrics]
    assert losses[-1] < losses[0] - 0.2
    assert (tmp_path / "adapter_config.json").exists()
    assert not (tmp_path / "model.safetensors").exists()  # adapters only, no full copy

    batch = _ids(tiny_lm)
    base = AutoModelForSequenceClassification.from_pretrained(tiny_lm, num_labels=1)
    base.config.pad_token_id = 0
    loaded = PeftModel.from_pretrained(base, tmp_path).eval()
    auto = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=1).eval()
    auto.config.pad_token_id = 0
    with torch.no_grad():
        a = loaded(**batch).logits
        b = auto(**batch).logits
    torch.testing.assert_close(a, b)
    # the score head was trained along with the adapters: the adapters change the output
    with torch.no_grad(), loaded.disable_adapter():
        assert not torch.allclose(loaded(**batch).logits, a)


def test_lora_dpo_learns_one_model_copy_and_merges(
    tiny_lm: str, tmp_path: Path, monkeypatch
) -> None:
    import math

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    import training.ml.adapters as adapters
    import training.ml.dpo as dpo
    from training.ml.config import DPOConfig

    loads: list[str] = []
    original = AutoModelForCausalLM.from_pretrained

    def counting(*args, **kwargs):
        loads.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", counting)
    switched: list[bool] = []
    real_off = adapters.adapters_off

    def spy(model):
        switched.append(adapters.has_adapters(model))
        return real_off(model)

    monkeypatch.setattr(dpo, "adapters_off", spy)
    config = DPOConfig(
        base_model=tiny_lm, learning_rate=5e-3, beta=0.1, batch_size=16, epochs=2,
        max_length=48, controls=False, merge_adapters=True, **LORA,
    )  # fmt: skip
    events: list = []
    result = dpo.train_dpo(
        config, preference_rows(160, eval_every=5), tmp_path, on_progress=events.append
    )
    train = [e.metrics for e in events if e.phase == "train" and e.metrics]
    assert train[0]["train/loss"] == pytest.approx(math.log(2), abs=1e-4)  # policy == reference
    assert train[-1]["train/loss"] < 0.5
    assert result.metrics["eval/rewards/accuracies"] > 0.85
    # one model loaded while training; the reference pass ran with the adapters off
    assert loads == [tiny_lm] and switched == [True]
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", original)

    # output_dir: the merged, plain transformers model; adapter/: the adapters
    assert not (tmp_path / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert not any("lora" in name for name, _ in merged.named_parameters())
    base = AutoModelForCausalLM.from_pretrained(tiny_lm)
    peft_model = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    batch = _ids(tiny_lm)
    with torch.no_grad():
        a = peft_model(**batch).logits
        b = merged(**batch).logits
        with peft_model.disable_adapter():
            c = peft_model(**batch).logits
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert (a - c).abs().max() > 1e-3  # the adapters learned something


def test_lora_sft_and_grpo_train_and_save_adapters(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import GRPOConfig, SFTConfig
    from training.ml.grpo import train_grpo
    from training.ml.sft import train_sft

    from .conftest import prompt_rows, sft_rows

    sft = SFTConfig(
        base_model=tiny_lm, learning_rate=5e-3, batch_size=8, max_steps=3, max_length=48,
        gradient_checkpointing=True, **LORA,
    )  # fmt: skip
    result = train_sft(sft, sft_rows(40), tmp_path / "sft")
    assert result.steps == 3 and (tmp_path / "sft" / "adapter_config.json").exists()
    grpo = GRPOConfig(
        base_model=tiny_lm, learning_rate=5e-3, batch_size=2, num_generations=2, max_steps=2,
        max_new_tokens=6, max_length=48, reward_rule="final_answer", **LORA,
    )  # fmt: skip
    result = train_grpo(grpo, prompt_rows(8), tmp_path / "grpo")
    assert result.steps == 2 and (tmp_path / "grpo" / "adapter_config.json").exists()


def test_reference_view_runs_with_adapters_off(tiny_lm: str) -> None:
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    from training.ml.adapters import Reference
    from training.ml.logprobs import completion_logprobs

    lm = AutoModelForCausalLM.from_pretrained(tiny_lm)
    plain = AutoModelForCausalLM.from_pretrained(tiny_lm)
    lm.add_adapter(LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    mask, comp = torch.ones_like(ids), torch.tensor([[0, 0, 1, 1, 1]])
    with torch.no_grad():
        ref = completion_logprobs(Reference(lm), ids, mask, comp).logps
        base = completion_logprobs(plain, ids, mask, comp).logps
        policy = completion_logprobs(lm, ids, mask, comp).logps
    torch.testing.assert_close(ref, base)
    assert (policy - base).abs().max() > 1e-4  # and the adapters are back on afterwards


def test_qlora_and_8bit_adam_refused_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from training.ml.adapters import check_support
    from training.ml.config import ConfigError, DPOConfig

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as here; also on a GPU host
    with pytest.raises(ConfigError, match="qlora needs a CUDA GPU") as exc:
        check_support(DPOConfig(base_model="m", lora_r=8, qlora=True))
    assert exc.value.field == "qlora"
    with pytest.raises(ConfigError, match="adamw_8bit") as exc:
        check_support(DPOConfig(base_model="m", optimizer="adamw_8bit"))
    assert exc.value.field == "optimizer"
