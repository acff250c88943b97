"""Evaluation: ranking metrics and chance, scoring against a plain forward pass, held-out reports, the CLI."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from corpus.errors import CorpusError
from tests.training_fixtures import persona_shards, pretrained_run  # noqa: F401
from training import checkpoint
from training.config import DataConfig, SoftPromptConfig, TrainConfig, parse_shots
from training.data import Example, TokenCache, load_corpus, token_budget
from training.evaluate import (
    EvalConfig, NoPrompt, PersonaMixture, bias_lines, evaluate_method, evaluate_run, evaluate_scores, heldout_lines,
    noprompt_scores,
)
from training.speaker_id import BiasLines, BookLines, chance_levels, persona_bias, rank_metrics
from training.modeling import load_base_model, max_positions

EXAMPLES = [Example((5, 6, 7), (8, 9), 0), Example((11,), (12, 13, 14, 15), 1), Example((3, 4, 5, 6, 7, 8), (9,), 1)]


def _manual_logprob(model: torch.nn.Module, example: Example, prefix: torch.Tensor | None = None) -> float:
    """log p(target | prefix embeddings, prefix tokens) from one unpadded forward pass over full logits."""
    ids = torch.tensor([example.prefix_ids + example.target_ids])
    embeds = model.get_input_embeddings()(ids)
    if prefix is not None:
        embeds = torch.cat([prefix[None], embeds], dim=1)
    with torch.no_grad():
        logp = torch.log_softmax(model(inputs_embeds=embeds).logits[0], dim=-1)
    offset = 0 if prefix is None else prefix.shape[0]
    start = offset + len(example.prefix_ids)
    return float(sum(logp[start + j - 1, t] for j, t in enumerate(example.target_ids)))


def test_rank_metrics_count_ties_as_a_random_order() -> None:
    scores = np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 2.0], [2.0, 2.0, 0.0], [1.0, 1.0, 1.0]])
    top, reciprocal = rank_metrics(scores, np.array([0, 2, 1, 0]))
    assert top.tolist() == [1.0, 0.0, 0.5, pytest.approx(1 / 3)]
    assert reciprocal.tolist() == [1.0, 0.5, 0.75, pytest.approx((1 + 1 / 2 + 1 / 3) / 3)]
    accuracy, mrr = chance_levels(np.array([4, 2]))
    assert accuracy == pytest.approx((1 / 4 + 1 / 2) / 2)
    assert mrr == pytest.approx(((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4 + (1 + 1 / 2) / 2) / 2)


def test_evaluate_scores_nll_speaker_id_and_normalisation() -> None:
    book = BookLines("b", ["b:x", "b:y"], EXAMPLES[:2])  # speakers 0 and 1; 2 and 4 target tokens
    noprompt = [np.array([[-10.0], [-40.0]])]
    scores = [np.array([[-8.0, -9.0], [-30.0, -31.0]])]  # raw scores favour x on both lines
    report = evaluate_scores("m", [book], scores, noprompt)
    assert report.nll_per_token == pytest.approx((8 + 31) / 6)
    assert report.perplexity == pytest.approx(math.exp((8 + 31) / 6))
    assert report.gain_nats_per_token == pytest.approx(((-8 + 10) / 2 + (-31 + 40) / 4) / 2)
    assert report.speaker_id["accuracy"] == 0.5 and report.speaker_id["chance_accuracy"] == 0.5
    assert report.per_character["b:y"]["nll_per_token"] == pytest.approx(31 / 4)
    alone = evaluate_scores("m", [BookLines("b", ["b:x"], [EXAMPLES[0]])], [scores[0][:1, :1]], [noprompt[0][:1]])
    assert alone.speaker_id == {"lines": 0, "books": 0}  # one candidate: no speaker identification


def test_debiased_speaker_id_subtracts_each_personas_bias() -> None:
    book = BookLines("b", ["b:x", "b:y"], EXAMPLES[:2])
    noprompt = [np.array([[-10.0], [-40.0]])]
    scores = [np.array([[-8.0, -9.0], [-30.0, -31.0]])]  # gains per token: line 0 (1.0, 0.5), line 1 (2.5, 2.25)
    report = evaluate_scores("m", [book], scores, noprompt, biases=[np.array([0.4, 0.0])])
    assert report.speaker_id["accuracy"] == 0.5  # x's prompt helps every line most: it wins both
    assert report.speaker_id_debiased["accuracy"] == 1.0  # minus x's bias of 0.4 nats/token, y wins line 1
    assert evaluate_scores("m", [book], scores, noprompt).speaker_id_debiased is None


class _GainScorer:
    """Persona "b:x" gains 2 nats/token on speaker 0's lines and nothing on speaker 1's; "b:y" gains 1 everywhere."""

    name = "gains"

    def line_logprobs(self, examples, personas) -> torch.Tensor:
        gains = [(2.0 if e.character_index == 0 else 0.0) if p == "b:x" else 1.0 for e, p in zip(examples, personas)]
        return torch.tensor([-5.0 * len(e.target_ids) + g * len(e.target_ids) for e, g in zip(examples, gains)])


def test_persona_bias_weighs_every_speaker_the_same() -> None:
    lines = [Example((1,), (2, 3), 0), Example((1,), (2,), 0), Example((1,), (4, 5, 6), 0), Example((1,), (7,), 1)]
    known = BookLines("b", ["b:x", "b:y"], lines)
    bias = BiasLines({"b": known}, {"b": np.array([[-5.0 * len(e.target_ids)] for e in lines])})
    # x: 2 on speaker 0 and 0 on speaker 1, so 1 with speakers weighing the same (1.5 with lines weighing the same)
    assert persona_bias(_GainScorer(), known, bias).tolist() == pytest.approx([1.0, 1.0])
    other = BookLines("c", ["c:z"], lines[:1])
    assert persona_bias(_GainScorer(), other, bias).tolist() == [0.0]  # no bias lines of that book: no debiasing


def test_prefix_scoring_matches_a_plain_forward_pass(tiny_model_dir: Path) -> None:
    model, tokenizer, _ = load_base_model(str(tiny_model_dir))
    scorer = NoPrompt(model, tokenizer.pad_token_id, batch_size=2)  # ragged batches, right padding
    scores = scorer.line_logprobs(EXAMPLES, ["", "", ""])
    assert scores.tolist() == pytest.approx([_manual_logprob(model, e) for e in EXAMPLES], abs=1e-4)


def test_persona_mixture_scores_with_each_characters_prompt(pretrained_run: Path, tiny_model_dir: Path) -> None:
    run = checkpoint.read_persona(pretrained_run)
    model, tokenizer, _ = load_base_model(str(tiny_model_dir))
    scorer = PersonaMixture("ours", model, [run], tokenizer.pad_token_id, batch_size=2)
    personas = [run.character_ids[0], run.character_ids[1], run.character_ids[0]]
    weights = torch.softmax(run.mixture_logits, dim=-1)
    expected = [_manual_logprob(model, e, torch.einsum("k,kld->ld", weights[run.character_ids.index(p)], run.basis))
                for e, p in zip(EXAMPLES, personas)]
    assert scorer.line_logprobs(EXAMPLES, personas).tolist() == pytest.approx(expected, abs=1e-4)
    with pytest.raises(CorpusError, match="no mixture weights"):
        scorer.line_logprobs(EXAMPLES[:1], ["999:nobody"])


def test_identical_personas_score_exactly_chance(persona_shards: Path, pretrained_run: Path, tiny_model_dir: Path) -> None:
    run = checkpoint.read_persona(pretrained_run)
    run.mixture_logits = torch.zeros_like(run.mixture_logits)  # every character the uniform mixture
    model, tokenizer, _ = load_base_model(str(tiny_model_dir))
    corpus = load_corpus(persona_shards, DataConfig(heldout_fraction=0.0, context_tokens=16, utterance_tokens=16))
    budget = token_budget(DataConfig(context_tokens=16, utterance_tokens=16), 3, max_positions(model), False)
    books = heldout_lines(corpus, corpus.pretrain_ids, TokenCache(tokenizer), budget, EvalConfig(max_lines=3))
    assert [b.candidates for b in books] == [["100:alice-smith", "100:bob-jones", "100:carol-king"],
                                             ["200:dora-grey", "200:evan-hart"]]
    base = noprompt_scores(model, tokenizer.pad_token_id, books, 4)
    report = evaluate_method(PersonaMixture("uniform", model, [run], tokenizer.pad_token_id), books, base)
    assert report.speaker_id["accuracy"] == pytest.approx(report.speaker_id["chance_accuracy"])
    assert report.speaker_id["mrr"] == pytest.approx(report.speaker_id["chance_mrr"])
    assert report.speaker_id["lines"] == sum(len(b.examples) for b in books)
    bias = bias_lines(model, tokenizer.pad_token_id, corpus, corpus.pretrain_ids, TokenCache(tokenizer), budget,
                      EvalConfig(bias_lines=2))
    assert bias.books and all(len(b.examples) <= 2 * len(b.candidates) for b in bias.books.values())
    debiased = evaluate_method(PersonaMixture("uniform", model, [run], tokenizer.pad_token_id), books, base, bias=bias)
    assert debiased.speaker_id_debiased["accuracy"] == pytest.approx(report.speaker_id["chance_accuracy"])
    for off in (EvalConfig(bias_lines=0), EvalConfig(split="validation")):  # off, or the evaluated lines themselves
        assert bias_lines(model, tokenizer.pad_token_id, corpus, corpus.pretrain_ids, TokenCache(tokenizer), budget,
                          off).books == {}


def test_evaluate_run_reports_methods_and_a_few_shot_curve(persona_shards: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from training.trainer import pretrain

    run_dir = tmp_path / "run"
    data = DataConfig(heldout_fraction=0.4, context_tokens=16, utterance_tokens=16)
    pretrain(persona_shards, str(tiny_model_dir), run_dir, data, SoftPromptConfig(k=4, length=3),
             TrainConfig(steps=2, batch_size=4, device="cpu"))
    heldout = checkpoint.read_persona(run_dir).meta["heldout"]
    assert heldout, "the split seed should hold some characters out"
    config = EvalConfig(max_lines=2, shots=parse_shots("0,4,all"))
    report = evaluate_run(run_dir, config=config, few_shot=True, train_config=TrainConfig(steps=2, batch_size=4, device="cpu"),
                          work_dir=tmp_path / "fits")
    assert [m["method"] for m in report["methods"]] == ["no prompt", "ours"]
    assert all("accuracy" in m["speaker_id_debiased"] or not m["speaker_id"]["lines"] for m in report["methods"])
    assert [r["shots"] for r in report["few_shot"]] == ["0", "4", "all"]
    assert set(report["few_shot"][0]["per_character"]) == set(heldout)
    zero = report["few_shot"][0]
    if zero["speaker_id"]["lines"]:
        assert zero["speaker_id"]["accuracy"] == pytest.approx(zero["speaker_id"]["chance_accuracy"])
    assert {r["lines_used"][heldout[0]] for r in report["few_shot"]} >= {0, 4}
    json.dumps(report)


def test_parse_shots_and_config_errors() -> None:
    assert parse_shots("0, 8,all") == (0, 8, None)
    for bad in ("", "eight", "-1"):
        with pytest.raises(CorpusError):
            parse_shots(bad)
    with pytest.raises(CorpusError, match="--split"):
        EvalConfig(split="train").validate()
    with pytest.raises(CorpusError, match="--bias-lines"):
        EvalConfig(bias_lines=-1).validate()


def test_cli_evaluate_writes_a_report_and_fails_in_one_line(pretrained_run: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from training import cli

    out = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", ["training", "evaluate", "--run", str(pretrained_run), "--out", str(out),
                                      "--max-lines", "2"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code in (0, None)
    assert json.loads(out.read_text())["methods"][1]["method"] == "ours"
    capsys.readouterr()
    for argv in (["--run", str(tmp_path / "missing"), "--out", str(out)],
                 ["--run", str(pretrained_run), "--out", str(out), "--few-shot"],
                 ["--run", str(pretrained_run), "--out", str(out), "--shots", "1,x"]):
        monkeypatch.setattr(sys, "argv", ["training", "evaluate", *argv])
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        err = capsys.readouterr().err
        assert exit_info.value.code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
