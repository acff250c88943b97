"""Export a character's persona prompt as a PEFT PromptTuning adapter that `PeftModel.from_pretrained` loads."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

from training import checkpoint
from training.data import resolve_character
from training.modeling import load_base_model
from training.soft_prompt import PersonaPromptModel

ADAPTER_NAME = "default"


def persona_model(run_dir: Path, model_ref: str | None = None) -> tuple[PersonaPromptModel, object, checkpoint.PersonaRun]:
    """The run's persona model (base model loaded, basis and weights restored), its tokenizer and the run."""
    run = checkpoint.read_persona(run_dir)
    base, tokenizer, _ = load_base_model(model_ref or run.model)
    model = PersonaPromptModel.from_weights(base, run.prompt_config, run.basis, run.mixture_logits, str(run_dir))
    return model, tokenizer, run


def export_adapter(run_dir: Path, character: str, out: Path, model_ref: str | None = None) -> Path:
    """Write `character`'s prompt as adapter_config.json + adapter_model.safetensors in `out`."""
    model, _, run = persona_model(run_dir, model_ref)
    index = run.character_ids.index(resolve_character(character, run.names()))
    with torch.no_grad():
        prompt = model.prompt_embeds(torch.tensor([index]))[0]
    config = PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM, num_virtual_tokens=run.prompt_config.length, token_dim=prompt.shape[-1],
        prompt_tuning_init=PromptTuningInit.RANDOM, base_model_name_or_path=model_ref or run.model,
    )
    with warnings.catch_warnings():  # PEFT calls a transformers API that is deprecated in this version
        warnings.simplefilter("ignore", FutureWarning)
        peft_model = get_peft_model(model.base, config)
    with torch.no_grad():
        peft_model.prompt_encoder[ADAPTER_NAME].embedding.weight.copy_(prompt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".export."))
    try:
        peft_model.save_pretrained(staging)
        for item in staging.iterdir():  # each file lands whole, by rename
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
