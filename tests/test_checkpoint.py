"""Checkpoints: exact resume, a kill loses at most one interval, nothing partial is ever left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from corpus.errors import CorpusError
from training import checkpoint, trainer
from training.config import DataConfig, SoftPromptConfig, TrainConfig
from tests.training_fixtures import persona_shards  # noqa: F401

DATA = DataConfig(heldout_fraction=0.0, context_tokens=16, utterance_tokens=16, sheet_tokens=32)
PROMPT = SoftPromptConfig(k=4, length=3)


def _config(steps: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=4, lr=0.05, device="cpu", checkpoint_every=3, objective="mix",
                       grad_accumulation=2)


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / checkpoint.METRICS_FILE).read_text().splitlines()]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / checkpoint.PERSONA_WEIGHTS))


def test_a_killed_run_resumes_exactly(persona_shards, tiny_model_dir, tmp_path, monkeypatch) -> None:
    straight = trainer.pretrain(persona_shards, str(tiny_model_dir), tmp_path / "straight", DATA, PROMPT, _config(8))

    calls = {"n": 0}
    real_loss = trainer.persona_loss

    def dies_in_step_five(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4 * 2:  # four steps of two micro-batches
            raise RuntimeError("killed")
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(trainer, "persona_loss", dies_in_step_five)
    with pytest.raises(RuntimeError, match="killed"):
        trainer.pretrain(persona_shards, str(tiny_model_dir), tmp_path / "killed", DATA, PROMPT, _config(8))
    monkeypatch.setattr(trainer, "persona_loss", real_loss)

    killed = tmp_path / "killed"
    assert not (killed / checkpoint.PERSONA_CONFIG).exists(), "no finished persona after a kill"
    assert checkpoint.latest_checkpoint(killed).name == "step-00000003", "at most one interval is lost"
    assert not [p for p in (killed / checkpoint.CHECKPOINTS).iterdir() if p.name.startswith(".")]
    with pytest.raises(CorpusError, match="--resume"):
        checkpoint.read_persona(killed)

    resumed = trainer.pretrain(persona_shards, str(tiny_model_dir), killed, DATA, PROMPT, _config(8), resume=True)
    assert resumed.losses == straight.losses[3:], "the next loss after resume is the uninterrupted one"
    assert [m["step"] for m in _metrics(killed)] == list(range(1, 9))
    assert [m["loss"] for m in _metrics(killed)] == [m["loss"] for m in _metrics(tmp_path / "straight")]
    expected, got = _weights(tmp_path / "straight"), _weights(killed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_a_failed_checkpoint_write_leaves_nothing_partial(persona_shards, tiny_model_dir, tmp_path, monkeypatch) -> None:
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.pretrain(persona_shards, str(tiny_model_dir), tmp_path / "run", DATA, PROMPT, _config(3))
    root = tmp_path / "run" / checkpoint.CHECKPOINTS
    assert not root.exists() or not list(root.iterdir())
    assert not (tmp_path / "run" / checkpoint.PERSONA_CONFIG).exists()


def test_optimizer_state_round_trips_through_safetensors() -> None:
    parameter = torch.nn.Parameter(torch.randn(3, 2))
    optimizer = torch.optim.AdamW([parameter], lr=0.1)
    parameter.sum().backward()
    optimizer.step()
    tensors, groups = checkpoint.optimizer_tensors(optimizer)
    restored = torch.optim.AdamW([torch.nn.Parameter(parameter.detach().clone())], lr=0.5)
    restored.load_state_dict(checkpoint.optimizer_state(tensors, json.loads(json.dumps(groups))))
    original, loaded = optimizer.state_dict(), restored.state_dict()
    assert loaded["param_groups"][0]["lr"] == 0.1
    assert all(torch.equal(original["state"][0][k], loaded["state"][0][k]) for k in original["state"][0])


def test_a_damaged_run_is_reported(persona_shards, tiny_model_dir, tmp_path) -> None:
    trainer.pretrain(persona_shards, str(tiny_model_dir), tmp_path / "run", DATA, PROMPT, _config(1))
    weights = tmp_path / "run" / checkpoint.PERSONA_WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-7] + b"garbage")
    with pytest.raises(CorpusError, match="damaged"):
        checkpoint.read_persona(tmp_path / "run")
