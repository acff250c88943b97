"""bench/personas.py's methods on a tiny model: per-character prompts, the few-shot curve and the ablations."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from tests.training_fixtures import model_and_tokenizer, persona_shards  # noqa: F401
from training.config import ALL_SHOTS
from training.data import TokenCache, load_corpus, token_budget
from training.evaluate import EvalConfig, heldout_lines, noprompt_scores
from training.modeling import max_positions


def bench_module(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import personas

    return personas


def experiment(model_and_tokenizer, persona_shards: Path, tiny_model_dir: Path, tmp_path: Path, **fields):
    """A bench Experiment on the tiny model and the fixture book "100" (its 3 most talkative characters)."""
    from personas_experiment import Experiment, evaluated_characters
    from personas_profiles import PROFILES

    model, tokenizer = model_and_tokenizer
    profile = dataclasses.replace(PROFILES["quick"], eval_books=("100",), characters_per_book=3, min_lines=8,
                                  context_tokens=16, utterance_tokens=16, length=3, fit_steps=2, batch_size=4,
                                  main_shots=8, speaker_rivals=2, prompts_lr=0.1, **fields)
    shards = tmp_path / "gold" / "shards"
    shutil.copytree(persona_shards, shards)
    exp = Experiment(profile, tmp_path, str(tiny_model_dir), tmp_path / "work", "cpu", model, tokenizer, timings={})
    corpus = load_corpus(shards, exp.data_config(profile.eval_books))
    exp.characters = evaluated_characters(corpus, None, profile)
    budget = token_budget(exp.data_config(()), profile.length, max_positions(model), True)
    exp.books = heldout_lines(corpus, exp.characters, TokenCache(tokenizer), budget, EvalConfig(max_lines=4))
    exp.noprompt = noprompt_scores(model, tokenizer.pad_token_id, exp.books, 8)
    return exp, shards


def test_bench_per_character_prompts_train_with_the_speaker_term(model_and_tokenizer, persona_shards: Path,
                                                                 tiny_model_dir: Path, tmp_path, monkeypatch) -> None:
    personas = bench_module(monkeypatch)
    exp, shards = experiment(model_and_tokenizer, persona_shards, tiny_model_dir, tmp_path)
    reports = {objective: personas.character_prompt_reports(exp, shards, objective, (8,))[0]
               for objective in ("nll+speaker", "nll")}
    report = reports["nll+speaker"]
    assert report.method == "per-character prompts (nll+speaker, L=3)" and report.speaker_id["lines"] > 0
    assert report.extra["steps"] == 6 and report.extra["lines_used"] == dict.fromkeys(exp.characters, 8)
    assert report.trainable_per_character == 3 * 32
    metrics = {objective: [json.loads(line) for line in
                           (tmp_path / "gold" / f"prompts-l3-{objective}" / "8" / "100" / "metrics.jsonl").read_text().splitlines()]
               for objective in reports}
    assert len(metrics["nll+speaker"]) == 6 and all(m["speaker"] > 0 for m in metrics["nll+speaker"])
    assert all("speaker" not in m for m in metrics["nll"])
    assert reports["nll"].nll_per_token != report.nll_per_token


def test_the_few_shot_curve_reuses_the_main_point_and_the_ablation_fits_the_main_variant(
        model_and_tokenizer, persona_shards: Path, tiny_model_dir: Path, tmp_path, monkeypatch) -> None:
    """With main_shots below all, the curve fits every other level (all included) around the main comparison's
    point, in order of lines; an ablation is the first objective at main_shots on a basis of its own K and L."""
    personas = bench_module(monkeypatch)
    exp, shards = experiment(model_and_tokenizer, persona_shards, tiny_model_dir, tmp_path,
                             pretrain_books=("100",), pretrain_steps=2, k=4, objectives=("nll+speaker",),
                             baselines=(), hard_prompt=False, shots=(0, 8, ALL_SHOTS),
                             curve_methods=("ours-nll+speaker",), ablations=((2, 3),))
    section = {"main": {}, "few_shot": {}, "ablations": []}
    personas.main_comparison(exp, "gold", shards, section, lambda: None)
    assert list(section["main"]) == ["ours-nll+speaker"] and section["main"]["ours-nll+speaker"]["shots"] == "8"
    personas.few_shot_curves(exp, "gold", shards, section, lambda: None)
    curve = section["few_shot"]["ours-nll+speaker"]
    assert [r["shots"] for r in curve] == ["0", "8", "all"] and curve[1] == section["main"]["ours-nll+speaker"]
    assert curve[2]["lines_used"] != curve[1]["lines_used"]
    personas.ablations(exp, shards, section, lambda: None)
    (ablation,) = section["ablations"]
    assert ablation["method"] == "ours (nll+speaker, K=2, L=3)" and ablation["shots"] == "8"
    assert ablation["objective"] == "nll+speaker" and ablation["trainable_per_character"] == 2


def test_a_missing_pdnc_folder_or_novel_is_one_error_line_before_any_model_loads(monkeypatch, tmp_path, capsys) -> None:
    personas = bench_module(monkeypatch)
    from pdnc import CHARACTERS_FILE, QUOTES_FILE, TEXT_FILE

    pdnc = tmp_path / "pdnc"
    (pdnc / "Persuasion").mkdir(parents=True)
    for name in (TEXT_FILE, QUOTES_FILE, CHARACTERS_FILE):
        (pdnc / "Persuasion" / name).write_text("", encoding="utf-8")
    for root, expected in ((tmp_path / "absent", "does not exist"), (pdnc, "has no PDNC novel NorthangerAbbey, PrideAndPrejudice")):
        assert personas.main(["--quick", "--pdnc", str(root), "--out", str(tmp_path / "out"),
                              "--model", str(tmp_path / "no-model")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "results.json").exists()
