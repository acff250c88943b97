"""The persona experiment: our soft-prompt mixture against baselines on PDNC novels, without an LLM judge.

    python bench/personas.py [--quick | --gpu | --profile NAME] [--pdnc ../shared/pdnc]
        [--model ../shared/models/gutenberg-gpt2] [--out bench/results/personas] [--sources gold,attributed]
        [--basis PRETRAINED_RUN]

Persona shards are built two ways from the same novels: from PDNC's gold speakers, and from our own
`corpus attribute` run on the PDNC texts (given the gold cast list, so the difference measures speaker
attribution errors, not character discovery). For each source the basis is pretrained on the characters
of the pretrain books; every character of the evaluation books is new to it and is fitted (K weights,
basis frozen) from its training lines. All methods train on the lines of their source and are tested on
the same gold held-out lines (attributed lines that overlap a gold held-out line are removed first), so
the gap between the two sources is what attribution errors cost.

Writes results.json, results.md and PNG plots (few-shot curves, speaker-ID accuracy per method) to --out;
intermediate shards and runs go to --out/work and are reused by a later run with the same settings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from corpus.errors import CorpusError
from corpus.shards import parquet
from personas_experiment import Experiment, evaluation_lines, settings_key
from personas_profiles import PROFILES, SOURCES
from personas_report import markdown, write_results
from personas_shards import build_attributed_shards, build_gold_shards, without_spans
from training import checkpoint, trainer
from training.baselines import BaselineConfig, HardPrompt, LoraAdapters, PromptTuning
from training.config import ALL_SHOTS, Shots, SoftPromptConfig, shots_label
from training.data import (
    PersonaCorpus, TokenCache, character_sheet, encode_examples, load_corpus, sheet_ids, token_budget,
)
from training.evaluate import (
    EvalConfig, MethodReport, PersonaMixture, bias_lines, evaluate_method, few_shot_curve,
    noprompt_report, noprompt_scores, report_dict, trainer_fit_function,
)
from training.modeling import load_base_model, max_positions, resolve_device

ROOT = Path(__file__).resolve().parents[1]
OURS = "ours"
CHARACTER_PROMPTS_KEY, CHARACTER_PROMPTS = "char-prompts-", "per-character prompts"  # "char-prompts-nll+speaker"
SHOTS_ALL = shots_label(ALL_SHOTS)


# ----------------------------------------------------------------------------------------------------------
# Shards


def heldout_spans(exp: Experiment, gold_shards: Path) -> dict[str, list[tuple[int, int]]]:
    """Character spans of the gold validation and test lines of the evaluation books."""
    table = parquet.read_utterances(gold_shards, exp.profile.eval_books)
    offsets = {(r["book_id"], r["quote_id"]): (r["char_start"], r["char_end"])
               for r in table.select(["book_id", "quote_id", "char_start", "char_end"]).to_pylist()}
    spans: dict[str, list[tuple[int, int]]] = {}
    for cid in exp.gold.characters:
        for split in ("validation", "test"):
            for u in exp.gold.split(cid, split):
                spans.setdefault(u.book_id, []).append(offsets[(u.book_id, u.quote_id)])
    return spans


# ----------------------------------------------------------------------------------------------------------
# Methods


def pretrain_basis(exp: Experiment, source_shards: Path, k: int, length: int) -> Path:
    """Pretrain (or reuse) the basis and pretrain-book characters of a source; --basis gives one of this K and L."""
    if exp.basis is not None:
        given = checkpoint.read_persona(exp.basis)
        if (given.prompt_config.k, given.prompt_config.length) == (k, length):
            return exp.basis
    out = source_shards.parent / f"pretrain-k{k}-l{length}"
    if not (out / checkpoint.PERSONA_CONFIG).exists():
        shutil.rmtree(out, ignore_errors=True)
        trainer.pretrain(source_shards, exp.model_ref, out, exp.data_config(exp.profile.pretrain_books),
                         SoftPromptConfig(k=k, length=length),
                         exp.train_config(exp.profile.pretrain_steps, exp.profile.pretrain_lr,
                                          exp.profile.pretrain_objective, exp.profile.pretrain_rivals,
                                          exp.profile.pretrain_mixture_lr))
    return out


def ours_reports(exp: Experiment, source_shards: Path, basis: Path, label: str, objective: str,
                 shots_levels: tuple[Shots, ...]) -> list[MethodReport]:
    """Our method: each evaluated character's K weights fitted at each shots level, then scored.

    A book's characters are fitted together, for `fit_steps` steps per character: every method sees the same
    number of examples per character."""
    steps = exp.profile.fit_steps * exp.profile.characters_per_book
    fit_book = trainer_fit_function(basis, source_shards, exp.data_config(exp.profile.eval_books),
                                    exp.train_config(steps, exp.profile.fit_lr, objective), exp.model_ref)
    pad = exp.tokenizer.pad_token_id
    reports = few_shot_curve(label, fit_book, exp.books, exp.noprompt, lambda runs: PersonaMixture(label, exp.base, runs, pad),
                             source_shards.parent / f"fit-{basis.name}-{objective}", EvalConfig(shots=shots_levels), exp.bias)
    k = checkpoint.read_persona(basis)
    for report in reports:
        report.trainable_per_character = k.prompt_config.k
        report.extra.update(objective=objective, basis_parameters=int(k.basis.numel()), steps=steps)
    return reports


def baseline_reports(exp: Experiment, corpus: PersonaCorpus, method: str,
                     shots_levels: tuple[Shots, ...]) -> list[MethodReport]:
    """Per-character prompt tuning or LoRA, trained at each shots level on the source's training lines."""
    budget = token_budget(exp.data_config(()), exp.profile.length, max_positions(exp.base), False)
    cache = TokenCache(exp.tokenizer, exp.work.parent / "tokens")
    train = exp.train_config(exp.profile.fit_steps, exp.profile.fit_lr)  # steps and batch; each baseline has its lr
    reports = []
    for shots in shots_levels:
        scorer = (PromptTuning(exp.base, exp.tokenizer.pad_token_id, BaselineConfig(prompt_length=exp.profile.length))
                  if method == "prompt-tuning" else LoraAdapters(exp.base, exp.tokenizer.pad_token_id))
        for cid in exp.characters:
            lines = corpus.split(cid, "train")[: shots]
            scorer.fit(cid, encode_examples(lines, {cid: 0}, cache, budget), train)
        report = evaluate_method(scorer, exp.books, exp.noprompt, bias=exp.bias)
        report.trainable_per_character = scorer.trainable_per_character()
        report.extra = {"shots": shots_label(shots), "steps": train.steps}
        reports.append(report)
    cache.save()
    return reports


def character_prompt_reports(exp: Experiment, source_shards: Path, objective: str,
                             shots_levels: tuple[Shots, ...]) -> list[MethodReport]:
    """Per-character prompt tuning in our persona module (`trainer.tune_prompts`): one free prompt of L tokens
    per character, a book's characters trained together on their own lines under `objective` (with
    "+speaker", each line's own prompt against its book's other characters), `fit_steps` steps per character
    as ours."""
    p = exp.profile
    label = f"{CHARACTER_PROMPTS} ({objective}, L={p.length})"
    train = exp.train_config(p.fit_steps * p.characters_per_book, p.prompts_lr, objective)
    reports = []
    for shots in shots_levels:
        runs = []
        for book in exp.books:
            out = source_shards.parent / f"prompts-l{p.length}-{objective}" / shots_label(shots) / book.book_id.replace(":", "__")
            if not (out / checkpoint.PERSONA_CONFIG).exists():
                shutil.rmtree(out, ignore_errors=True)
                trainer.tune_prompts(source_shards, exp.model_ref, out, book.candidates,
                                     exp.data_config(p.eval_books), p.length, replace(train, shots=shots))
            runs.append(checkpoint.read_persona(out))
        report = evaluate_method(PersonaMixture(label, exp.base, runs, exp.tokenizer.pad_token_id), exp.books,
                                 exp.noprompt, bias=exp.bias)
        report.trainable_per_character = p.length * runs[0].basis.shape[-1]
        report.extra = {"shots": shots_label(shots), "objective": objective, "steps": train.steps,
                        "lines_used": {c: n for r in runs for c, n in r.meta["shots"].items()}}
        reports.append(report)
    return reports


def hard_prompt_report(exp: Experiment, corpus: PersonaCorpus) -> MethodReport:
    """The character sheet built from the source's training lines, as text before the context."""
    config = exp.data_config(())
    cache = TokenCache(exp.tokenizer, exp.work.parent / "tokens")
    texts = [character_sheet(corpus.characters[cid], corpus.split(cid, "train"), config.sheet_lines)
             for cid in exp.characters]
    sheets = dict(zip(exp.characters, sheet_ids(cache, texts, config.sheet_tokens)))
    scorer = HardPrompt(exp.base, sheets, exp.tokenizer.pad_token_id, lead=len(cache.lead))
    report = evaluate_method(scorer, exp.books, exp.noprompt, bias=exp.bias)
    report.trainable_per_character, report.extra = 0, {"shots": SHOTS_ALL}
    return report


def main_comparison(exp: Experiment, source: str, source_shards: Path, section: dict[str, Any],
                    save: Callable[[], None]) -> None:
    """Every method with all training lines on one shard source; each report is saved as soon as it exists."""
    p = exp.profile
    corpus = load_corpus(source_shards, exp.data_config(p.eval_books))
    section["training_lines"] = {cid: len(corpus.split(cid, "train")) for cid in exp.characters}
    basis = None if not p.objectives else exp.timed(f"{source}: pretrain K={p.k} L={p.length}",
                                                    lambda: pretrain_basis(exp, source_shards, p.k, p.length))
    # per-character prompts first (the upper bound that ours is read against), the hard prompt last
    methods: list[tuple[str, Callable[[], MethodReport]]] = [
        (m, lambda m=m: character_prompt_reports(exp, source_shards, m[len(CHARACTER_PROMPTS_KEY):], (p.main_shots,))[0])
        for m in p.baselines if m.startswith(CHARACTER_PROMPTS_KEY)]
    for objective in p.objectives:
        label = f"{OURS} ({objective}, K={p.k}, L={p.length})"
        methods.append((f"ours-{objective}", lambda label=label, objective=objective: ours_reports(
            exp, source_shards, basis, label, objective, (p.main_shots,))[0]))
        if objective == p.objectives[0]:  # the baselines right after our main variant: early partial results compare
            methods += [(m, lambda m=m: baseline_reports(exp, corpus, m, (ALL_SHOTS,))[0]) for m in p.baselines
                        if not m.startswith(CHARACTER_PROMPTS_KEY)]
    if p.hard_prompt:
        methods.append(("hard-prompt", lambda: hard_prompt_report(exp, corpus)))
    for key, work in methods:
        section["main"][key] = report_dict(exp.timed(f"{source}: {key}", work))
        save()


def few_shot_curves(exp: Experiment, source: str, source_shards: Path, section: dict[str, Any],
                    save: Callable[[], None]) -> None:
    """Few-shot curves of the profile's curve methods; the main comparison's point (`main_shots` lines) is
    reused, every other level of `shots` is fitted here."""
    p = exp.profile
    corpus = load_corpus(source_shards, exp.data_config(p.eval_books))
    basis = pretrain_basis(exp, source_shards, p.k, p.length)
    levels = tuple(s for s in p.shots if s != p.main_shots)
    for method in p.curve_methods:
        if method.startswith(OURS):
            objective = method.split("-", 1)[1]
            label = f"{OURS} ({objective}, K={p.k}, L={p.length})"
            work = lambda: ours_reports(exp, source_shards, basis, label, objective, levels)  # noqa: E731
        elif method.startswith(CHARACTER_PROMPTS_KEY):
            objective = method[len(CHARACTER_PROMPTS_KEY):]
            work = lambda: character_prompt_reports(exp, source_shards, objective, levels)  # noqa: E731
        else:
            work = lambda: baseline_reports(exp, corpus, method, levels)  # noqa: E731
        points = [report_dict(r) for r in exp.timed(f"{source}: {method} few-shot", work)] + [section["main"][method]]
        section["few_shot"][method] = sorted(points, key=lambda r: shots_order(r["shots"]))
        save()


def ablations(exp: Experiment, source_shards: Path, section: dict[str, Any], save: Callable[[], None]) -> None:
    """Our main variant (the first objective, `main_shots` lines) with other basis sizes K and prompt lengths L,
    each with its own pretrained basis."""
    p = exp.profile
    objective = p.objectives[0]
    for k, length in p.ablations:
        label = f"{OURS} ({objective}, K={k}, L={length})"

        def ablation(k: int = k, length: int = length, label: str = label) -> MethodReport:
            basis = pretrain_basis(exp, source_shards, k, length)
            return ours_reports(exp, source_shards, basis, label, objective, (p.main_shots,))[0]

        section["ablations"].append(report_dict(exp.timed(f"gold: {label}", ablation)))
        save()


# ----------------------------------------------------------------------------------------------------------


def shots_order(label: str) -> float:
    """Sort key of a shots label: a number of lines, "all" last."""
    return float("inf") if label == SHOTS_ALL else float(label)


def run(profile_name: str, pdnc: Path, model_ref: str, out: Path, sources: tuple[str, ...], device: str,
        basis: Path | None = None) -> dict[str, Any]:
    """The whole comparison; writes results.json, results.md and the plots into `out`. A pretrained `basis` run
    of the profile's K and L is reused instead of pretraining one (on every source)."""
    began = time.perf_counter()
    profile = PROFILES[profile_name]
    shared = out / "work"  # shards and tokens, shared by every profile
    exp = Experiment(profile, pdnc, model_ref, shared / settings_key(profile, model_ref), resolve_device(device),
                     timings={}, basis=basis)
    if basis is not None:
        checkpoint.read_persona(basis)  # a missing or damaged run: one clear error before any work
    books = profile.pretrain_books + profile.eval_books
    source_dirs = {"gold": exp.work / "gold" / "shards"}
    # the shards before the model, so a bad --pdnc fails at once
    exp.timed("gold shards", lambda: build_gold_shards(pdnc, books, shared / "shards-gold"))
    exp.base, exp.tokenizer, exp.model_ref = load_base_model(model_ref)
    exp.base.to(exp.device)
    exp.gold = load_corpus(shared / "shards-gold", exp.data_config(profile.eval_books))
    other = None
    if "attributed" in sources:
        exp.timed("corpus attribute", lambda: build_attributed_shards(pdnc, books, shared / "shards-attributed"))
        source_dirs["attributed"] = exp.timed("attributed minus gold held-out lines", lambda: without_spans(
            shared / "shards-attributed", exp.work / "attributed" / "shards", heldout_spans(exp, shared / "shards-gold")))
        other = load_corpus(source_dirs["attributed"], exp.data_config(profile.eval_books))
    if "gold" in sources:
        shutil.copytree(shared / "shards-gold", source_dirs["gold"], dirs_exist_ok=True)
    cache, budget = evaluation_lines(exp, other)
    exp.noprompt = noprompt_scores(exp.base, exp.tokenizer.pad_token_id, exp.books, EvalConfig.batch_size)
    exp.bias = bias_lines(exp.base, exp.tokenizer.pad_token_id, exp.gold, exp.characters, cache, budget)
    noprompt = noprompt_report(exp.books, exp.noprompt)
    results: dict[str, Any] = {"profile_name": profile_name, "profile": asdict(profile), "model": exp.model_ref,
                               "basis": str(basis.resolve()) if basis else None,
                               "device": exp.device, "characters": exp.characters,
                               "heldout_lines": sum(len(b.examples) for b in exp.books),
                               "chance_accuracy": noprompt.speaker_id["chance_accuracy"],
                               "chance_mrr": noprompt.speaker_id["chance_mrr"],
                               "noprompt": report_dict(noprompt), "sources": {}}
    results["sources"] = {s: {"main": {}, "few_shot": {}, "ablations": []} for s in sources}

    def save(complete: bool = False) -> None:
        results["complete"], results["timings"] = complete, exp.timings
        results["seconds"] = time.perf_counter() - began
        write_results(results, out, plot=complete)

    # the all-lines comparison of every source first, so a run cut short still compares the sources
    for source in sources:
        main_comparison(exp, source, source_dirs[source], results["sources"][source], save)
    for source in (s for s in sources if s in profile.curve_sources):
        few_shot_curves(exp, source, source_dirs[source], results["sources"][source], save)
    if "gold" in sources:
        ablations(exp, source_dirs["gold"], results["sources"]["gold"], save)
    save(complete=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a minutes-long smoke run")
    size.add_argument("--gpu", action="store_true", help="the larger profile, for a GPU")
    size.add_argument("--profile", choices=sorted(PROFILES), help="a named profile (default: default)")
    parser.add_argument("--pdnc", type=Path, default=ROOT.parent / "shared" / "pdnc")
    parser.add_argument("--model", default=str(ROOT.parent / "shared" / "models" / "gutenberg-gpt2"),
                        help="Hub id, local folder, .gguf file or gemma-3-270m (the packaged Gemma 3 270M)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "personas")
    parser.add_argument("--sources", default=",".join(SOURCES), help="gold, attributed or both (comma-separated)")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--basis", type=Path, help="reuse this pretrained basis run (a `training pretrain` folder, "
                        "e.g. work/<key>/gold/pretrain-k16-l10 of an earlier run) wherever the profile's K and L match")
    parser.add_argument("--render-only", action="store_true", help="rewrite results.md and the plots from results.json")
    args = parser.parse_args(argv)
    if args.render_only:
        try:
            results = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read {args.out / 'results.json'}: {exc}", file=sys.stderr)
            return 1
        write_results(results, args.out, plot=True)
        print(markdown(results))
        return 0
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    profile = args.profile or ("quick" if args.quick else "gpu" if args.gpu else "default")
    try:
        if not sources or any(s not in SOURCES for s in sources):
            raise CorpusError(f"--sources takes {' and/or '.join(SOURCES)}, got {args.sources!r}")
        results = run(profile, args.pdnc, args.model, args.out, sources, args.device, args.basis)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
