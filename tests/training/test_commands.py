"""`manage.py chorus_tiny_model`: the demo base model."""

import pytest
from django.core.management import call_command


@pytest.mark.slow
def test_chorus_tiny_model_builds_a_loadable_model_once(tmp_path, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = tmp_path / "tiny-lm"
    call_command("chorus_tiny_model", output_dir=target)
    model = AutoModelForCausalLM.from_pretrained(target)
    assert (
        AutoTokenizer.from_pretrained(target)("hello")["input_ids"]
        and model.config.hidden_size == 64
    )
    call_command("chorus_tiny_model", output_dir=target)
    assert "already in" in capsys.readouterr().out
