"""Training runs: pretrain learns basis + weights, fit only one character's weights; CPU runs are deterministic."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from corpus.errors import CorpusError
from training import checkpoint
from training.config import DataConfig, SoftPromptConfig, TrainConfig
from training.evaluate import EvalConfig, evaluate_run
from training.modeling import load_base_model, resolve_device
from training.soft_prompt import SoftPromptBasis, word_token_ids
from training.trainer import fit, pretrain, tune_prompts, untouched_rows_kept
from tests.training_fixtures import persona_shards, pretrained_run  # noqa: F401

DATA = DataConfig(heldout_fraction=0.0, context_tokens=16, utterance_tokens=16, sheet_tokens=32)
PROMPT = SoftPromptConfig(k=4, length=3)


def _train(shards: Path, model: Path, out: Path, **train) -> list[float]:
    config = TrainConfig(**{"steps": 4, "batch_size": 4, "lr": 0.05, "device": "cpu", **train})
    return pretrain(shards, str(model), out, DATA, PROMPT, config).losses


def test_pretrain_learns_basis_and_all_weights_and_leaves_the_model(persona_shards, tiny_model_dir, tmp_path) -> None:
    # one batch holds every training line, so each step sees the same data and the loss must fall
    losses = _train(persona_shards, tiny_model_dir, tmp_path / "run", steps=5, batch_size=128, objective="mix")
    run = checkpoint.read_persona(tmp_path / "run")
    assert run.kind == "pretrain" and run.step == 5 and len(run.character_ids) == 5
    assert run.basis.shape == (4, 3, 32) and run.mixture_logits.shape == (5, 4)
    assert (run.mixture_logits != 0).all(), "every character's weights moved"
    fresh = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    initial = SoftPromptBasis(4, 3, 32)
    initial.initialise(fresh.get_input_embeddings(), word_token_ids(AutoTokenizer.from_pretrained(tiny_model_dir)),
                       PROMPT.init_seed)
    assert not torch.equal(run.basis, initial.prompts.detach())
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0]
    metrics = [json.loads(line) for line in (tmp_path / "run" / checkpoint.METRICS_FILE).read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, 6))
    assert {"loss", "nll", "kl", "tokens_per_s"} <= set(metrics[0])
    assert run.meta["heldout"] == [] and run.meta["characters"][0]["name"] == "Alice Smith"


def test_cpu_runs_are_deterministic(persona_shards, tiny_model_dir, tmp_path) -> None:
    first = _train(persona_shards, tiny_model_dir, tmp_path / "a", grad_accumulation=2)
    second = _train(persona_shards, tiny_model_dir, tmp_path / "b", grad_accumulation=2)
    assert first == second
    weights = [load_file(str(tmp_path / r / checkpoint.PERSONA_WEIGHTS)) for r in ("a", "b")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_mixture_lr_moves_the_weights_and_lr_the_basis(persona_shards, tiny_model_dir, tmp_path) -> None:
    _train(persona_shards, tiny_model_dir, tmp_path / "run", steps=1, lr=1e-6, mixture_lr=0.5)
    run = checkpoint.read_persona(tmp_path / "run")
    initial = SoftPromptBasis(4, 3, 32)
    initial.initialise(AutoModelForCausalLM.from_pretrained(tiny_model_dir).get_input_embeddings(),
                       word_token_ids(AutoTokenizer.from_pretrained(tiny_model_dir)), PROMPT.init_seed)
    assert (run.basis - initial.prompts.detach()).abs().max() < 1e-5  # one Adam step moves a value by about lr
    assert run.mixture_logits.abs().max() > 0.4  # the characters in the batch moved by about mixture_lr
    with pytest.raises(CorpusError, match="--mixture-lr"):
        TrainConfig(mixture_lr=-1.0).validate()


def test_characters_in_no_batch_keep_their_weights() -> None:
    def two_steps(keep: bool) -> torch.Tensor:
        logits = torch.nn.Parameter(torch.zeros(3, 2))
        optimizer = torch.optim.AdamW([logits], lr=0.1, weight_decay=0.0)
        for grad in (torch.ones(3, 2), torch.tensor([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]])):
            logits.grad = grad
            with untouched_rows_kept(logits) if keep else contextlib.nullcontext():
                optimizer.step()
        return logits.detach()

    kept, dense = two_steps(True), two_steps(False)
    assert torch.allclose(kept[1:], torch.full((2, 2), -0.1), atol=1e-6)  # moved by the first step only
    assert (dense[1:] - kept[1:]).abs().min() > 0.05  # plain Adam moves them again on momentum alone
    assert torch.equal(kept[0], dense[0])


def test_fit_learns_only_the_new_characters_weights(pretrained_run, tmp_path) -> None:
    result = fit(pretrained_run, tmp_path / "fit", character="Dora Grey",
                 train_config=TrainConfig(steps=3, batch_size=2, shots=4, lr=0.1, device="cpu", objective="mix"))
    basis, fitted = checkpoint.read_persona(pretrained_run), checkpoint.read_persona(tmp_path / "fit")
    assert result.character_ids == ["200:dora-grey"] and fitted.meta["shots"] == {"200:dora-grey": 4}
    assert torch.equal(fitted.basis, basis.basis), "the basis stays frozen in fit"
    start = basis.mixture_logits.mean(dim=0, keepdim=True)
    assert fitted.mixture_logits.shape == (1, 4) and not torch.equal(fitted.mixture_logits, start)


def test_fit_from_a_lines_file_and_zero_shots(pretrained_run, tmp_path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("I will not go to the ball.\nMy dear sister, how you tease me!\nIt is a truth.\n", encoding="utf-8")
    fit(pretrained_run, tmp_path / "new", character="Newcomer", lines_file=lines,
        train_config=TrainConfig(steps=2, batch_size=2, device="cpu"))
    assert checkpoint.read_persona(tmp_path / "new").character_ids == ["custom:newcomer"]
    fit(pretrained_run, tmp_path / "zero", character="Evan Hart", train_config=TrainConfig(shots=0, device="cpu"))
    zero = checkpoint.read_persona(tmp_path / "zero")
    assert zero.step == 0
    assert torch.allclose(zero.mixture_logits, checkpoint.read_persona(pretrained_run).mixture_logits.mean(0, keepdim=True))


def _tune(shards: Path, model: Path, out: Path, speaker_weight: float) -> list[dict]:
    tune_prompts(shards, str(model), out, ["Alice Smith", "Bob Jones", "Carol King"], DATA, 3,
                 TrainConfig(steps=3, batch_size=4, shots=8, lr=0.05, device="cpu", speaker_weight=speaker_weight,
                             speaker_rivals=2))
    return [json.loads(line) for line in (out / checkpoint.METRICS_FILE).read_text().splitlines()]


def test_tune_prompts_trains_one_free_prompt_per_character_with_the_speaker_term(persona_shards, tiny_model_dir,
                                                                                 tmp_path) -> None:
    metrics = _tune(persona_shards, tiny_model_dir, tmp_path / "speaker", 2.0)
    run = checkpoint.read_persona(tmp_path / "speaker")
    assert run.kind == "prompts" and run.step == 3 and run.meta["shots"] == dict.fromkeys(run.character_ids, 8)
    assert run.prompt_config.k == 3 and run.prompt_config.mixture == "linear" and run.basis.shape == (3, 3, 32)
    assert torch.equal(run.mixture_logits, torch.eye(3)), "each character reads its own prompt, unmixed"
    initial = SoftPromptBasis(3, 3, 32)
    initial.initialise(AutoModelForCausalLM.from_pretrained(tiny_model_dir).get_input_embeddings(),
                       word_token_ids(AutoTokenizer.from_pretrained(tiny_model_dir)), PROMPT.init_seed)
    assert ((run.basis - initial.prompts.detach()).abs().amax(dim=(1, 2)) > 0).all(), "every prompt was trained"
    for m in metrics:  # the loss is the NLL plus the weighted cross-entropy over the book's speakers
        assert m["loss"] == pytest.approx(m["nll"] + 2.0 * m["speaker"], rel=1e-5) and m["speaker"] > 0
    plain = _tune(persona_shards, tiny_model_dir, tmp_path / "plain", 0.0)
    assert "speaker" not in plain[0] and plain[0]["loss"] == pytest.approx(metrics[0]["nll"], rel=1e-5)
    assert not torch.allclose(checkpoint.read_persona(tmp_path / "plain").basis, run.basis)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_runs_in_bf16_track_the_cpu_run_and_save_float32_weights(persona_shards, pretrained_run, tiny_model_dir,
                                                                      tmp_path) -> None:
    cpu = _train(persona_shards, tiny_model_dir, tmp_path / "cpu", steps=5, batch_size=128)
    torch.cuda.reset_peak_memory_stats()
    cuda = _train(persona_shards, tiny_model_dir, tmp_path / "cuda", steps=5, batch_size=128, device="cuda")
    assert torch.cuda.max_memory_allocated() > 0, "the run after a CPU run in this process is on CUDA"
    assert cuda[0] == pytest.approx(cpu[0], rel=0.02), "bf16 autocast gives the CPU loss to bf16 precision"
    assert cuda[-1] < cuda[0]
    run = checkpoint.read_persona(tmp_path / "cuda")
    assert run.basis.dtype == torch.float32 and run.basis.device.type == "cpu"
    fit(pretrained_run, tmp_path / "fit", character="Dora Grey",
        train_config=TrainConfig(steps=3, batch_size=2, shots=4, lr=0.1, device="cuda"))
    fitted = checkpoint.read_persona(tmp_path / "fit")
    assert torch.equal(fitted.basis, checkpoint.read_persona(pretrained_run).basis), "the basis stays frozen on CUDA too"
    assert torch.isfinite(fitted.mixture_logits).all()
    reports = [evaluate_run(pretrained_run, config=EvalConfig(max_lines=2), train_config=TrainConfig(device=device))
               for device in ("cpu", "cuda")]
    for on_cpu, on_cuda in zip(*(r["methods"] for r in reports)):
        assert on_cuda["nll_per_token"] == pytest.approx(on_cpu["nll_per_token"], rel=1e-3)


def test_model_and_device_errors_are_corpus_errors(tmp_path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusError, match="cannot load model"):
        load_base_model(str(broken))
    with pytest.raises(CorpusError, match="not found"):
        load_base_model(str(tmp_path / "absent"))
    if not torch.cuda.is_available():
        with pytest.raises(CorpusError, match="no CUDA"):
            resolve_device("cuda")
    assert resolve_device("cpu") == "cpu"


def test_a_second_run_into_the_same_folder_is_refused(persona_shards, tiny_model_dir, tmp_path) -> None:
    _train(persona_shards, tiny_model_dir, tmp_path / "run", steps=1)
    with pytest.raises(CorpusError, match="already holds a run"):
        _train(persona_shards, tiny_model_dir, tmp_path / "run", steps=1)
    with pytest.raises(CorpusError, match="nothing to resume"):
        pretrain(persona_shards, str(tiny_model_dir), tmp_path / "empty", DATA, PROMPT, TrainConfig(device="cpu"),
                 resume=True)
