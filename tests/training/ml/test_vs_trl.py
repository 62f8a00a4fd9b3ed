"""Our DPO and reward losses (and their gradients) equal TRL's on identical inputs.

TRL (test-only dependency) computes its losses inside ``DPOTrainer._compute_loss`` and
``RewardTrainer.compute_loss``; we build each trainer on the same tiny model and data, take a
batch from TRL's own collator, and compare TRL's loss with ours on that batch.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.slow,
    # transformers' Trainer warns that the tiny tokenizer's pad token differs from the model
    # config's when it aligns them; irrelevant to the comparison.
    pytest.mark.filterwarnings("ignore:.*pad_token_id.*:UserWarning"),
    # TRL 1.16's configs still set the `gradient_checkpointing` alias that transformers 5
    # deprecates; nothing we can change from here.
    pytest.mark.filterwarnings("ignore:`(is_)?gradient_checkpointing` is deprecated:FutureWarning"),
]


def _grads(loss, params):
    import torch

    return torch.autograd.grad(loss, params)


def test_dpo_loss_and_gradients_match_trl(tiny_lm: str, tmp_path) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from training.ml.dpo import dpo_loss
    from training.ml.logprobs import completion_logprobs

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm)
    data = Dataset.from_list(
        [
            {"prompt": "Human: tell me about the cat", "chosen": " happy cat", "rejected": " sad"},
            {"prompt": "Human: the dog?", "chosen": " a good dog, happy", "rejected": " sad dog"},
            {"prompt": "Human: hello", "chosen": " hi there", "rejected": " go away now please"},
        ]
    )
    args = DPOConfig(
        output_dir=str(tmp_path),
        beta=0.3,
        report_to=[],
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=3,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    policy, ref = trainer.model, trainer.ref_model
    torch.manual_seed(0)
    with torch.no_grad():  # move the policy away from the reference, so the loss is not ln 2
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    params = [p for p in policy.parameters() if p.requires_grad]

    policy.train()
    trl_loss = trainer.compute_loss(policy, dict(batch))
    trl_grads = _grads(trl_loss, params)

    ids, attn, comp = batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    seq = completion_logprobs(policy, ids, attn, comp, chunk_size=7).logps.sum(-1)
    with torch.no_grad():
        ref_seq = completion_logprobs(ref, ids, attn, comp).logps.sum(-1)
    ours, _, _ = dpo_loss(*seq.chunk(2), *ref_seq.chunk(2), beta=0.3)
    our_grads = _grads(ours, params)

    assert abs(trl_loss.item() - 0.6931) > 1e-3  # a non-trivial point
    torch.testing.assert_close(ours, trl_loss, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(our_grads, trl_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)


def test_reward_loss_and_gradients_match_trl(tiny_lm: str, tmp_path) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from training.ml.reward import bradley_terry_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_lm, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(0)
    with torch.no_grad():
        model.score.weight.normal_(0, 0.5)  # non-trivial rewards
    data = Dataset.from_list(
        [
            {
                "chosen": "Human: cat? Assistant: happy cat",
                "rejected": "Human: cat? Assistant: sad",
            },
            {"chosen": "Human: hi Assistant: hello there", "rejected": "Human: hi Assistant: no"},
        ]
    )
    args = RewardConfig(
        output_dir=str(tmp_path),
        report_to=[],
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=2,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    params = [p for p in trainer.model.parameters() if p.requires_grad]

    trainer.model.train()
    trl_loss = trainer.compute_loss(trainer.model, dict(batch))
    trl_grads = _grads(trl_loss, params)

    rewards = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    chosen, rejected = rewards.logits.squeeze(-1).chunk(2)
    ours = bradley_terry_loss(chosen, rejected)
    our_grads = _grads(ours, params)

    torch.testing.assert_close(ours, trl_loss)
    for mine, theirs in zip(our_grads, trl_grads, strict=True):
        torch.testing.assert_close(mine, theirs)
    # Unit weights are the unweighted mean.
    torch.testing.assert_close(bradley_terry_loss(chosen, rejected, torch.ones(2)), trl_loss)
