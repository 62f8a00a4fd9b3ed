"""A run's resources before it starts (issue 17): its memory estimate (shown by the API, and a
refusal naming the fix when it exceeds CHORUS_TRAINING_MEMORY_GB) and its Accelerate config,
chosen by name among the server's files, never a path."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tests.access import PERSONAS, RESEARCH_API

pytestmark = pytest.mark.django_db


def _fake_model(root: Path, hidden: int = 2048, layers: int = 24, vocab: int = 32000) -> str:
    """config.json and a safetensors file holding only its header: a 1.74B-parameter shape."""
    root.mkdir(parents=True, exist_ok=True)
    inter = hidden * 4
    config = {"hidden_size": hidden, "num_hidden_layers": layers, "intermediate_size": inter,
              "vocab_size": vocab, "num_attention_heads": 16}  # fmt: skip
    (root / "config.json").write_text(json.dumps(config))
    header: dict = {"model.embed_tokens.weight": [vocab, hidden], "lm_head.weight": [vocab, hidden]}
    for i in range(layers):
        for name, shape in (("q_proj", [hidden, hidden]), ("k_proj", [hidden, hidden]),
                            ("v_proj", [hidden, hidden]), ("o_proj", [hidden, hidden]),
                            ("gate_proj", [inter, hidden]), ("up_proj", [inter, hidden]),
                            ("down_proj", [hidden, inter])):  # fmt: skip
            header[f"model.layers.{i}.{name}.weight"] = shape
    body = {k: {"dtype": "F32", "shape": v, "data_offsets": [0, 0]} for k, v in header.items()}
    raw = json.dumps(body).encode()
    (root / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
    return str(root)


def _payload(project, model: str, **hyperparameters) -> dict:
    return {"kind": "dpo", "base_model": model, "projects": [project.pk],
            "hyperparameters": {"max_steps": 2, **hyperparameters}}  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_estimate(as_persona, persona, judged_project, tmp_path, settings):
    settings.CHORUS_MODEL_ROOTS = [tmp_path]
    model = _fake_model(tmp_path / "m")
    response = as_persona(persona).post(
        "/api/training/runs/estimate/", _payload(judged_project, model),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        body = response.json()
        estimate = body["memory_estimate"]
        # 1.74B parameters, full fine-tune in float32 + AdamW: 8 bytes of state each
        params = 2 * 32000 * 2048 + 24 * (4 * 2048**2 + 3 * 8192 * 2048)
        assert estimate["parts_gib"]["optimizer"] == pytest.approx(params * 8 / 2**30, abs=1e-3)
        assert estimate["total_gib"] > 24 and body["fits"] is True  # no budget configured


def test_run_over_the_budget_is_refused_and_lora_fits(
    as_persona, judged_project, tmp_path, settings, runs_dir
):
    settings.CHORUS_MODEL_ROOTS = [tmp_path]
    settings.CHORUS_TRAINING_MEMORY_GB = 16
    model = _fake_model(tmp_path / "m")
    client = as_persona("researcher")
    full = _payload(judged_project, model, batch_size=4, max_length=512)
    response = client.post("/api/training/runs/", full, content_type="application/json")
    assert response.status_code == 400
    message = response.json()["hyperparameters"][0]
    assert (
        "The run needs about" in message and "more than the 16.00 GiB of a training GPU" in message
    )
    assert "lora_r" in message and "gradient_checkpointing" in message
    estimate = client.post("/api/training/runs/estimate/", full, content_type="application/json")
    assert estimate.json()["fits"] is False and estimate.json()["refusal"] == message

    lora = _payload(judged_project, model, batch_size=4, max_length=512, lora_r=16,
                    gradient_checkpointing=True)  # fmt: skip
    response = client.post("/api/training/runs/", lora, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["memory_estimate"]["total_gib"] < 16


def test_accelerate_config_is_a_name_from_the_server(
    as_persona, judged_project, base_model_dir, runs_dir, settings, tmp_path
):
    from training.models import TrainingRun
    from training.services.runs import trainer_command

    configs = tmp_path / "accelerate"
    configs.mkdir()
    (configs / "fsdp-4gpu.yaml").write_text("distributed_type: FSDP\nnum_processes: 4\n")
    settings.CHORUS_ACCELERATE_CONFIGS = configs
    client = as_persona("researcher")
    for bad, why in (("../../etc/passwd", "not a path"), ("nope", "no Accelerate config 'nope'")):
        payload = _payload(judged_project, base_model_dir, accelerate_config=bad)
        response = client.post("/api/training/runs/", payload, content_type="application/json")
        assert response.status_code == 400
        assert why in response.json()["hyperparameters.accelerate_config"][0]
    payload = _payload(judged_project, base_model_dir, accelerate_config="fsdp-4gpu")
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 201
    command = trainer_command(TrainingRun.objects.get(pk=response.json()["id"]))
    assert command[1:5] == ["-m", "accelerate.commands.launch", "--config_file",
                            str(configs / "fsdp-4gpu.yaml")]  # fmt: skip


def test_run_form_offers_the_server_configs_and_lora_boxes(as_persona, settings, tmp_path):
    configs = tmp_path / "accelerate"
    configs.mkdir()
    (configs / "fsdp-2gpu.yaml").write_text("num_processes: 2\n")
    settings.CHORUS_ACCELERATE_CONFIGS = configs
    from training.forms.runs import RunForm

    form = RunForm()
    assert ("fsdp-2gpu", "fsdp-2gpu") in form.fields["hp_dpo_accelerate_config"].choices
    for name in ("lora_r", "lora_target_modules", "gradient_checkpointing", "merge_adapters"):
        assert f"hp_reward_{name}" in form.fields
