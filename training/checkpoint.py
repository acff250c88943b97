"""Run folders: the finished persona (safetensors + JSON) and resumable checkpoints, all written atomically.

    RUN/persona.safetensors   basis [K, L, d] and mixture logits [n_characters, K]
    RUN/persona.json          configs, character index, model reference, step, weights checksum
    RUN/metrics.jsonl         one JSON line per logged step
    RUN/checkpoints/step-N/   persona + optimizer/RNG state of step N (only the latest is kept)
    RUN/checkpoints/latest    name of the latest complete checkpoint

A checkpoint folder is written under a temporary name and renamed, so a kill leaves either the previous
checkpoint or the new one, never a partial one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from corpus.errors import CorpusError
from corpus.shards.parquet import atomic_write_bytes
from training.config import SoftPromptConfig, config_from_dict, config_to_dict
from training.run_files import (  # noqa: F401  (re-exported: the trainer and tests name them through here)
    CHECKPOINTS,
    LATEST,
    METRICS_FILE,
    PERSONA_CONFIG,
    PERSONA_WEIGHTS,
    latest_checkpoint,
    require_finished_run,
)

TRAINER_STATE = "trainer_state.safetensors"
TRAINER_STATE_CONFIG = "trainer_state.json"
BASIS_KEY, MIXTURE_KEY = "basis", "mixture_logits"
FORMAT_VERSION = 1


@dataclass
class PersonaRun:
    """A persona basis with its characters' mixture logits and everything needed to use them again."""

    prompt_config: SoftPromptConfig
    character_ids: list[str]
    character_names: list[str]
    model: str  # HF model id or local path of the frozen base model
    kind: str  # "pretrain", "fit" or "prompts" (one free prompt per character, `trainer.tune_prompts`)
    basis: torch.Tensor  # [K, L, d]
    mixture_logits: torch.Tensor  # [n_characters, K]
    step: int = 0
    meta: dict[str, Any] = field(default_factory=dict)  # data/train configs, character metadata, sources

    def names(self) -> dict[str, str]:
        """Character id -> display name."""
        return dict(zip(self.character_ids, self.character_names))

    def to_json(self, weights_sha256: str) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION, "kind": self.kind, "model": self.model, "step": self.step,
            "soft_prompt": config_to_dict(self.prompt_config), "character_ids": self.character_ids,
            "character_names": self.character_names, "weights_sha256": weights_sha256, **self.meta,
        }


def _weights_bytes(run: PersonaRun) -> bytes:
    tensors = {BASIS_KEY: run.basis.detach().float().cpu().contiguous(),
               MIXTURE_KEY: run.mixture_logits.detach().float().cpu().contiguous()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / PERSONA_WEIGHTS
        save_file(tensors, str(path))
        return path.read_bytes()


def write_persona(folder: Path, run: PersonaRun) -> None:
    """Write the persona weights then its JSON (the JSON, written last, marks the run as complete)."""
    weights = _weights_bytes(run)
    atomic_write_bytes(Path(folder) / PERSONA_WEIGHTS, weights)
    document = run.to_json(hashlib.sha256(weights).hexdigest())
    atomic_write_bytes(Path(folder) / PERSONA_CONFIG, json.dumps(document, indent=2).encode())


def read_persona(folder: Path) -> PersonaRun:
    """Load a finished run (or one checkpoint folder); CorpusError when it is missing or damaged."""
    folder = Path(folder)
    config_path, weights_path = folder / PERSONA_CONFIG, folder / PERSONA_WEIGHTS
    require_finished_run(folder)
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
        weights = weights_path.read_bytes()
        if hashlib.sha256(weights).hexdigest() != document["weights_sha256"]:
            raise CorpusError(f"{weights_path} does not match {config_path}; the run folder is damaged")
        tensors = load_file(str(weights_path))
        prompt_config = config_from_dict(SoftPromptConfig, document["soft_prompt"])
        known = {"format_version", "kind", "model", "step", "soft_prompt", "character_ids", "character_names",
                 "weights_sha256"}
        return PersonaRun(
            prompt_config, document["character_ids"], document["character_names"], document["model"],
            document["kind"], tensors[BASIS_KEY], tensors[MIXTURE_KEY], document["step"],
            {k: v for k, v in document.items() if k not in known},
        )
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise CorpusError(f"cannot read persona run {folder}: {exc}") from exc


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state as flat tensors (for safetensors) plus its JSON-ready param groups."""
    state = optimizer.state_dict()
    tensors = {
        f"optimizer.{index}.{name}": (value if torch.is_tensor(value) else torch.tensor(value)).detach().cpu().contiguous()
        for index, entry in state["state"].items() for name, value in entry.items()
    }
    return tensors, {"param_groups": state["param_groups"]}


def optimizer_state(tensors: dict[str, torch.Tensor], groups: dict[str, Any]) -> dict[str, Any]:
    """Rebuild `optimizer.state_dict()` from `optimizer_tensors` output."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": groups["param_groups"]}


def write_checkpoint(run_dir: Path, run: PersonaRun, optimizer: torch.optim.Optimizer) -> Path:
    """Write checkpoint `step-<run.step>` atomically, point `latest` at it, drop older ones."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{run.step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
    try:
        write_persona(tmp, run)
        tensors, groups = optimizer_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        save_file(tensors, str(tmp / TRAINER_STATE))
        atomic_write_bytes(tmp / TRAINER_STATE_CONFIG, json.dumps({"step": run.step, **groups}).encode())
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_bytes(root / LATEST, name.encode())
    for old in root.glob("step-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_checkpoint(folder: Path) -> tuple[PersonaRun, dict[str, Any], dict[str, torch.Tensor]]:
    """A checkpoint's persona, optimizer state dict and RNG states."""
    run = read_persona(folder)
    try:
        tensors = load_file(str(Path(folder) / TRAINER_STATE))
        groups = json.loads((Path(folder) / TRAINER_STATE_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CorpusError(f"cannot read trainer state in {folder}: {exc}") from exc
    rng = {k: v for k, v in tensors.items() if k.startswith("rng.")}
    return run, optimizer_state(tensors, groups), rng


def restore_rng(rng: dict[str, torch.Tensor]) -> None:
    """Put back the RNG states saved with a checkpoint."""
    torch.set_rng_state(rng["rng.torch"])
    if "rng.cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["rng.cuda"])


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to the run's metrics log."""
    with (Path(run_dir) / METRICS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop logged steps after `step` (they are redone on resume), atomically."""
    path = Path(run_dir) / METRICS_FILE
    if path.exists():
        kept = [line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line)["step"] <= step]
        atomic_write_bytes(path, "".join(f"{line}\n" for line in kept).encode())
