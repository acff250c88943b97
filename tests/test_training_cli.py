"""The `training` commands: a whole pretrain -> fit -> export -> generate session, and every bad input
answered with one stderr line, exit code 1 and no run folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from corpus.shards import parquet
from training import cli
from tests.training_fixtures import persona_shards, pretrained_run, write_persona_shards  # noqa: F401

SMALL = ["--k", "4", "--length", "3", "--context-tokens", "16", "--utterance-tokens", "16", "--device", "cpu"]


def run_training(args: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """Run `training ARGS` in this process; return exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["training", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_a_whole_session(persona_shards, tiny_model_dir, tmp_path, capsys, monkeypatch) -> None:
    run, fitted, adapter = tmp_path / "run", tmp_path / "fit", tmp_path / "adapter"
    code, out, _ = run_training(["pretrain", "--shards", str(persona_shards), "--model", str(tiny_model_dir),
                                 "--out", str(run), "--steps", "2", "--batch-size", "4", *SMALL], capsys, monkeypatch)
    assert code == 0 and "pretrained" in out and (run / "persona.json").exists()
    code, out, _ = run_training(["fit", "--basis", str(run), "--out", str(fitted), "--character", "Alice Smith",
                                 "--shots", "4", "--steps", "2", "--objective", "kl", "--device", "cpu"], capsys, monkeypatch)
    assert code == 0 and "fitted 100:alice-smith" in out
    code, _, _ = run_training(["export", "--run", str(fitted), "--character", "Alice Smith", "--out", str(adapter)],
                              capsys, monkeypatch)
    assert code == 0 and (adapter / "adapter_model.safetensors").exists()
    code, out, _ = run_training(["generate", "--run", str(run), "--blend", "alice-smith=0.7,bob-jones=0.3",
                                 "--prompt", "The door opened.", "--max-new-tokens", "5", "--device", "cpu"],
                                capsys, monkeypatch)
    assert code == 0 and out.strip() != ""


def _pretrain_args(shard_dir: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return ["pretrain", "--shards", str(shard_dir), "--model", str(model), "--out", str(out), "--steps", "1", *SMALL, *extra]


def test_bad_pretrain_inputs(persona_shards, tiny_model_dir, tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "run"
    broken_model = tmp_path / "broken-model"
    broken_model.mkdir()
    (broken_model / "config.json").write_text('{"model_type": "no-such-architecture"}', encoding="utf-8")
    corrupt = write_persona_shards(tmp_path / "corrupt")
    parquet.utterance_shard_path(corrupt, "200").write_bytes(b"this is not parquet")
    cases = [
        (_pretrain_args(tmp_path / "absent", tiny_model_dir, out), "shard directory not found"),
        (_pretrain_args(corrupt, tiny_model_dir, out), "corrupt"),
        (_pretrain_args(persona_shards, broken_model, out), "cannot load model"),
        (_pretrain_args(persona_shards, tmp_path / "no-model", out), "model path not found"),
        (_pretrain_args(persona_shards, tiny_model_dir, out, "--k", "0"), "--k must be"),
        (_pretrain_args(persona_shards, tiny_model_dir, out, "--length", "100000"), "--length must be"),
        (_pretrain_args(persona_shards, tiny_model_dir, out, "--length", "250"), "no room for context"),
        (_pretrain_args(persona_shards, tiny_model_dir, out, "--min-lines", "1000"), "no characters to pretrain"),
    ]
    for args, fragment in cases:
        code, _, err = run_training(args, capsys, monkeypatch)
        assert_one_line_error(code, err, fragment)
        assert not out.exists(), f"no partial run after: {fragment}"


def test_cuda_asked_for_but_absent(persona_shards, tiny_model_dir, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_training(_pretrain_args(persona_shards, tiny_model_dir, tmp_path / "run", "--device", "cuda"),
                                capsys, monkeypatch)
    assert_one_line_error(code, err, "--device cuda", "no CUDA device")
    assert not (tmp_path / "run").exists()


def test_bad_fit_inputs(pretrained_run, tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "fit"
    cases = [
        (["--character", "Alise Smith"], "unknown character 'Alise Smith'; did you mean 'Alice Smith'"),
        (["--character", "Tiny Tim"], "only 3 lines"),
        (["--lines", str(tmp_path / "absent.txt"), "--character", "New"], "cannot read lines file"),
    ]
    for extra, fragment in cases:
        code, _, err = run_training(["fit", "--basis", str(pretrained_run), "--out", str(out), "--steps", "1",
                                     "--device", "cpu", *extra], capsys, monkeypatch)
        assert_one_line_error(code, err, fragment)
        assert not out.exists()
    code, _, err = run_training(["fit", "--basis", str(tmp_path / "no-run"), "--out", str(out), "--character", "x"],
                                capsys, monkeypatch)
    assert_one_line_error(code, err, "no finished persona run")
    code, _, err = run_training(["generate", "--run", str(pretrained_run), "--blend", "alice-smith=x",
                                 "--prompt", "Hi."], capsys, monkeypatch)
    assert_one_line_error(code, err, "--blend wants NAME=WEIGHT")


def test_the_console_script_reports_one_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("training")
    result = subprocess.run([str(script), "export", "--run", str(tmp_path / "none"), "--character", "x",
                             "--out", str(tmp_path / "adapter")], capture_output=True, text=True, timeout=120)
    assert_one_line_error(result.returncode, result.stderr, "no finished persona run")
    assert not (tmp_path / "adapter").exists()


# Runs the console script's main() in a fresh interpreter and reports, at exit, whether torch was imported.
_PROBE = ("import atexit, sys; atexit.register(lambda: print('torch imported' if 'torch' in sys.modules "
          "else 'torch not imported')); from training.cli import main; sys.argv[0] = 'training'; main()")


def _bad_arguments(tmp: Path, run: Path) -> list[tuple[list[str], str]]:
    missing = str(tmp / "missing_dir")
    return [
        (["fit", "--basis", missing, "--out", str(tmp / "f"), "--character", "x"], "no finished persona run"),
        (["fit", "--basis", str(run), "--out", str(tmp / "f"), "--lines", missing, "--character", "x"],
         "cannot read lines file"),
        (["fit", "--basis", str(run), "--out", str(tmp / "f"), "--shards", missing], "shard directory not found"),
        (["fit", "--basis", str(run), "--out", str(run), "--character", "x"], "already holds a run"),
        (["fit", "--basis", missing, "--out", str(tmp / "f"), "--shots", "-1"], "--shots must be non-negative"),
        (["generate", "--run", str(run), "--blend", "46:scrooge 0.7,46:bob-cratchit=0.3", "--prompt", "Hi."],
         "--blend wants NAME=WEIGHT"),
        (["generate", "--run", missing, "--character", "x", "--prompt", "Hi."], "no finished persona run"),
        (["pretrain", "--shards", missing, "--model", "m", "--out", str(tmp / "p")], "shard directory not found"),
        (["pretrain", "--shards", missing, "--model", "m", "--out", str(tmp / "p"), "--k", "0"], "--k must be"),
        (["export", "--run", missing, "--character", "x", "--out", str(tmp / "a")], "no finished persona run"),
        (["evaluate", "--run", missing, "--out", str(tmp / "e.json")], "no finished persona run"),
    ]


def test_bad_arguments_are_reported_before_torch_is_imported(pretrained_run, tmp_path) -> None:
    """Paths and options are checked before the 10-30 s import of torch and transformers."""
    for args, fragment in _bad_arguments(tmp_path, pretrained_run):
        result = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120)
        assert_one_line_error(result.returncode, result.stderr, fragment)
        assert result.stdout.strip() == "torch not imported", (args, result.stdout)
        assert not (tmp_path / "f").exists() and not (tmp_path / "p").exists()
