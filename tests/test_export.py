"""Export: a PEFT PromptTuning adapter that PeftModel.from_pretrained loads and that gives our logits."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from training.export import export_adapter, persona_model
from training.generate import blend_weights, generate_line, parse_blend
from training.config import GenerateConfig
from tests.training_fixtures import persona_shards, pretrained_run  # noqa: F401


def test_peft_adapter_gives_the_same_logits(pretrained_run: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    out = export_adapter(pretrained_run, "Bob Jones", tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "PROMPT_TUNING" and config["num_virtual_tokens"] == 3

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    peft_model = PeftModel.from_pretrained(base, out).eval()
    ours, _, run = persona_model(pretrained_run)
    ids = torch.tensor([[5, 17, 99, 230, 7, 64]])
    index = torch.tensor([run.character_ids.index("100:bob-jones")])
    with torch.no_grad():
        expected = ours.logits(ids, torch.ones_like(ids), character_idx=index)
        got = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)


def test_generate_a_character_and_a_blend(pretrained_run: Path) -> None:
    config = GenerateConfig(max_new_tokens=8, temperature=0.0, device="cpu")
    line = generate_line(pretrained_run, "It was a cold night.", character="Alice Smith", config=config)
    assert isinstance(line, str) and '"' not in line
    assert generate_line(pretrained_run, "It was a cold night.", blend="Alice Smith=1", config=config) == line
    assert parse_blend("Alice Smith=0.7, Bob Jones=0.3") == [("Alice Smith", 0.7), ("Bob Jones", 0.3)]
    model, _, run = persona_model(pretrained_run)
    weights = blend_weights(model, run.names(), run.character_ids, parse_blend("alice-smith=3,bob-jones=1"))
    alice, bob = (model.mixture_weights(torch.tensor([run.character_ids.index(c)])) for c in ("100:alice-smith", "100:bob-jones"))
    assert torch.allclose(weights, 0.75 * alice + 0.25 * bob)
    assert torch.allclose(weights.sum(), torch.tensor(1.0))
