"""Tiny random models with locally trained tokenizers, for tests, demos and benchmarks.

They are saved in Hugging Face format, so everything downstream loads them through the same
``from_pretrained`` path as a real model (a local directory or a hub id). Nothing is downloaded:
the tokenizer is a byte-level BPE trained here on a small built-in corpus.

Example::

    python -m training.ml tiny --output-dir /tmp/tiny-lm            # causal LM (Llama-style)
    python -m training.ml tiny --kind encoder --output-dir /tmp/tiny-enc

    >>> from transformers import AutoModelForCausalLM
    >>> path = build_tiny_causal_lm("/tmp/tiny-lm")          # doctest: +SKIP
    >>> AutoModelForCausalLM.from_pretrained(path)           # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)
from transformers import set_seed as hf_set_seed

VOCAB_SIZE = 512
PAD, EOS, BOS, UNK = "<|pad|>", "<|endoftext|>", "<|startoftext|>", "<|unk|>"
CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"

# A ChatML-style template, for tests of the chat-template path.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = (
    "the a an and or but if then so because yes no good bad great terrible kind rude happy sad "
    "helpful harmful honest safe please thank you sorry hello hi question answer human assistant "
    "what why how when where who which can could would should will do does did is are was were "
    "i me my we our it its this that these those there here one two three four five six seven "
    "eight nine ten zero number math plus minus times equals apple banana cherry red green blue "
    "cat dog bird fish tree house car road city river sun moon star water fire earth air "
    "think know help tell explain write read say make go come see look find give take use want "
    "need like love hate feel try ask work play run walk talk sleep eat drink learn teach"
).split()


def _corpus() -> list[str]:
    """Deterministic sentences mixing the words, HH-style turns, digits and punctuation."""
    lines = []
    for i, (a, b, c) in enumerate(itertools.product(_WORDS[:60], _WORDS[60:90], _WORDS[90:110])):
        if i % 7 == 0:
            lines.append(f"\n\nHuman: {a} {b} {c}?\n\nAssistant: {c} {b} {a}. {i % 100}")
        else:
            lines.append(f"{a.capitalize()} {b}, {c}! {i % 1000} + {i % 13} = {i % 1000 + i % 13}")
    return lines


def _train_bpe(special: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok


def build_tiny_tokenizer(
    output_dir: str | Path | None = None, chat_template: bool = False
) -> PreTrainedTokenizerFast:
    """Byte-level BPE (512 tokens) for causal LMs: pad and EOS tokens, no BOS added."""
    special = [PAD, EOS, BOS, UNK, "<|im_start|>", "<|im_end|>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(special, VOCAB_SIZE),
        pad_token=PAD,
        eos_token=EOS,
        bos_token=BOS,
        unk_token=UNK,
        model_max_length=1024,
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    if output_dir is not None:
        tokenizer.save_pretrained(output_dir)
    return tokenizer


def build_tiny_causal_lm(
    output_dir: str | Path,
    seed: int = 0,
    chat_template: bool = False,
    hidden_size: int = 64,
    num_layers: int = 2,
) -> Path:
    """Save a random Llama-style causal LM (hidden 64, 2 layers) and its tokenizer; return the path.

    ``chat_template`` gives the tokenizer a ChatML template (default: none, so the HH format is
    used). ``hidden_size``/``num_layers`` let benchmarks build a bigger random model.
    """
    output_dir = Path(output_dir)
    tokenizer = build_tiny_tokenizer(output_dir, chat_template=chat_template)
    hf_set_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2 if hidden_size <= 64 else hidden_size * 8 // 3,
        num_hidden_layers=num_layers,
        num_attention_heads=max(4, hidden_size // 64),
        num_key_value_heads=max(4, hidden_size // 64),
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(output_dir)
    return output_dir


def build_tiny_encoder(output_dir: str | Path, seed: int = 0) -> Path:
    """Save a random BERT-style encoder (hidden 64, 2 layers) with a scalar head and its
    tokenizer ([CLS] text [SEP]); return the path."""
    output_dir = Path(output_dir)
    special = [PAD, UNK, CLS, SEP, MASK]
    tok = _train_bpe(special, VOCAB_SIZE)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B {SEP}",
        special_tokens=[(CLS, tok.token_to_id(CLS)), (SEP, tok.token_to_id(SEP))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        unk_token=UNK,
        cls_token=CLS,
        sep_token=SEP,
        mask_token=MASK,
        model_max_length=512,
    )
    tokenizer.save_pretrained(output_dir)
    hf_set_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=1,  # type: ignore[call-arg]  # a PretrainedConfig kwarg
    )
    BertForSequenceClassification(config).save_pretrained(output_dir)
    return output_dir
