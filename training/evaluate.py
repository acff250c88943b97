"""Persona evaluation without an LLM judge: held-out NLL, speaker identification and few-shot curves.

Every method is a `PersonaScorer`: it returns log p(line | context, persona c) for (line, persona) pairs.
Speaker identification (training/speaker_id.py) ranks each held-out line's candidate characters by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from corpus.errors import CorpusError
from training import checkpoint, trainer
from training.config import ALL_SHOTS, DataConfig, Shots, TrainConfig, config_from_dict, help_field, shots_label
from training.data import (
    Example, PersonaCorpus, TokenBudget, TokenCache, collate, encode_examples, load_corpus, token_budget,
)
from training.modeling import load_base_model, max_positions, resolve_device
from training.objectives import target_logprobs
from training.soft_prompt import PersonaPromptModel
from training.speaker_id import BiasLines, BookLines, PersonaScorer, persona_bias, score_matrix, speaker_identification


@dataclass
class EvalConfig:
    """What is evaluated and how."""

    split: str = help_field("test", "which line split of each character is scored (test or validation)")
    max_lines: int = help_field(24, "score at most this many held-out lines per character (0: all)")
    batch_size: int = help_field(16, "examples per scoring batch")
    min_candidates: int = help_field(2, "a book needs this many evaluated characters to take part in speaker identification")
    shots: tuple[Shots, ...] = help_field((0, 8, 32, 128, ALL_SHOTS), "few-shot levels (None: all training lines)")
    bias_lines: int = help_field(8, "validation lines per character that estimate each persona's bias for the "
                                 "debiased speaker identification (0: no debiasing)")

    def validate(self) -> None:
        """Raise CorpusError when a value is out of range."""
        if self.split not in ("test", "validation"):
            raise CorpusError(f"--split must be test or validation, got {self.split!r}")
        if self.max_lines < 0 or self.batch_size < 1 or self.min_candidates < 2 or self.bias_lines < 0:
            raise CorpusError("--max-lines and --bias-lines must be >= 0, --batch-size >= 1 and --min-candidates >= 2")
        if any(s is not None and s < 0 for s in self.shots):
            raise CorpusError("few-shot levels must be non-negative (or 'all')")


class PrefixScorer:
    """A frozen causal LM reading a per-persona prefix of embeddings (possibly none) before each example.

    A prefix that starts a document itself (a text sheet with its own BOS) sets `lead` to the number of
    lead tokens dropped from the examples.
    """

    lead = 0

    def __init__(self, name: str, model: torch.nn.Module, pad_id: int, batch_size: int = EvalConfig.batch_size) -> None:
        self.name, self.model, self.pad_id, self.batch_size = name, model, pad_id, batch_size

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    def prefix(self, personas: Sequence[str]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Prefix embeddings [B, P, d] and mask [B, P] of the personas; (None, None) for no prefix."""
        return None, None

    @torch.no_grad()
    def line_logprobs(self, examples: Sequence[Example], personas: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(examples))
        order = sorted(range(len(examples)), key=lambda i: len(examples[i]))  # less padding per batch
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = collate([examples[i] for i in rows], self.pad_id).without_lead(self.lead).to(self.device)
            embeds, mask = self.prefix([personas[i] for i in rows])
            scores = target_logprobs(self.model, batch.input_ids, batch.attention_mask, batch.target_mask, embeds, mask)
            out[rows] = scores.float().cpu()
        return out


class NoPrompt(PrefixScorer):
    """The frozen model alone: the same score for every persona (the normaliser of speaker identification)."""

    def __init__(self, model: torch.nn.Module, pad_id: int, batch_size: int = EvalConfig.batch_size) -> None:
        super().__init__("no prompt", model, pad_id, batch_size)


class PersonaMixture(PrefixScorer):
    """Ours: a frozen basis of K soft prompts mixed by each character's K weights."""

    def __init__(self, name: str, model: torch.nn.Module, runs: Sequence[checkpoint.PersonaRun], pad_id: int,
                 batch_size: int = EvalConfig.batch_size) -> None:
        super().__init__(name, model, pad_id, batch_size)
        basis = runs[0]
        logits = {cid: run.mixture_logits[i] for run in runs for i, cid in enumerate(run.character_ids)}
        self.index = {cid: i for i, cid in enumerate(logits)}
        self.persona_model = PersonaPromptModel.from_weights(
            model, basis.prompt_config, basis.basis, torch.stack(list(logits.values())), name)

    @property
    def k(self) -> int:
        return self.persona_model.config.k

    def prefix(self, personas: Sequence[str]) -> tuple[torch.Tensor, None]:
        missing = [p for p in personas if p not in self.index]
        if missing:
            raise CorpusError(f"no mixture weights for {', '.join(sorted(set(missing)))} in the persona runs")
        idx = torch.tensor([self.index[p] for p in personas], device=self.device)
        return self.persona_model.prompt_embeds(idx), None

    def mixture_weights(self) -> dict[str, list[float]]:
        """Each character's K mixture weights (after the softmax, if any)."""
        with torch.no_grad():
            weights = self.persona_model.mixture_weights(torch.arange(len(self.index), device=self.device))
        return {cid: weights[i].tolist() for cid, i in self.index.items()}


def heldout_lines(
    corpus: PersonaCorpus, character_ids: Sequence[str], cache: TokenCache, budget: TokenBudget, config: EvalConfig
) -> list[BookLines]:
    """The held-out lines of the characters, grouped by book (books and characters in sorted order)."""
    by_book: dict[str, list[str]] = {}
    for cid in sorted(character_ids):
        by_book.setdefault(corpus.characters[cid].book_id, []).append(cid)
    books = []
    for book_id, candidates in sorted(by_book.items()):
        index = {cid: i for i, cid in enumerate(candidates)}
        lines = [u for cid in candidates for u in corpus.split(cid, config.split)[: config.max_lines or None]]
        if lines:
            books.append(BookLines(book_id, candidates, encode_examples(lines, index, cache, budget)))
    if not books:
        raise CorpusError(f"the evaluated characters have no {config.split} lines")
    return books


@dataclass
class MethodReport:
    """The figures of one method on one set of held-out lines."""

    method: str
    nll_per_token: float
    perplexity: float
    gain_nats_per_token: float  # mean over lines of (log p own persona - log p no prompt) / tokens
    speaker_id: dict[str, float]
    per_character: dict[str, dict[str, float]]
    trainable_per_character: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    speaker_id_debiased: dict[str, float] | None = None  # ranked after subtracting each persona's bias


def evaluate_scores(method: str, books: Sequence[BookLines], scores: Sequence[np.ndarray],
                    noprompt: Sequence[np.ndarray], min_candidates: int = EvalConfig.min_candidates,
                    biases: Sequence[np.ndarray] | None = None) -> MethodReport:
    """NLL, perplexity and speaker identification from score matrices and the no-prompt scores; with `biases`
    (a [candidates] vector per book, see `persona_bias`) the debiased speaker identification too."""
    own_logp, own_tokens, gains, speakers = [], [], [], []
    for book, matrix, base in zip(books, scores, noprompt):
        gold, tokens = book.speakers, book.n_tokens
        own = matrix[np.arange(len(gold)), gold]
        own_logp.append(own), own_tokens.append(tokens), gains.append((own - base[:, 0]) / tokens)
        speakers.extend(book.candidates[g] for g in gold)
    logp, tokens, gain = np.concatenate(own_logp), np.concatenate(own_tokens), np.concatenate(gains)
    nll = float(-logp.sum() / tokens.sum())
    per_character = {}
    for cid in sorted(set(speakers)):
        rows = np.array([s == cid for s in speakers])
        char_nll = float(-logp[rows].sum() / tokens[rows].sum())
        per_character[cid] = {"lines": int(rows.sum()), "nll_per_token": char_nll, "perplexity": math.exp(char_nll)}
    report = MethodReport(method, nll, math.exp(nll), float(gain.mean()),
                          speaker_identification(books, scores, noprompt, min_candidates), per_character)
    if biases is not None:
        report.speaker_id_debiased = speaker_identification(books, scores, noprompt, min_candidates, biases)
    return report


def bias_lines(model: torch.nn.Module, pad_id: int, corpus: PersonaCorpus, character_ids: Sequence[str],
               cache: TokenCache, budget: TokenBudget, config: EvalConfig = EvalConfig()) -> BiasLines:
    """Up to `config.bias_lines` validation lines of each character (none with 0, without validation lines, or
    when the validation lines are the ones evaluated)."""
    if not config.bias_lines or config.split == "validation":
        return BiasLines({}, {})
    try:
        books = heldout_lines(corpus, character_ids, cache, budget, EvalConfig(split="validation", max_lines=config.bias_lines))
    except CorpusError:  # no validation lines at all
        return BiasLines({}, {})
    scores = noprompt_scores(model, pad_id, books, config.batch_size)
    return BiasLines({b.book_id: b for b in books}, {b.book_id: s for b, s in zip(books, scores)})


def evaluate_method(scorer: PersonaScorer, books: Sequence[BookLines], noprompt: Sequence[np.ndarray],
                    config: EvalConfig = EvalConfig(), bias: BiasLines | None = None) -> MethodReport:
    """Score every held-out line under every candidate persona with `scorer` and report the figures (the
    debiased speaker identification too when given `bias` lines)."""
    scores = [score_matrix(scorer, b) for b in books]
    biases = None if bias is None else [persona_bias(scorer, b, bias) for b in books]
    return evaluate_scores(scorer.name, books, scores, noprompt, config.min_candidates, biases)


def noprompt_scores(model: torch.nn.Module, pad_id: int, books: Sequence[BookLines], batch_size: int) -> list[np.ndarray]:
    """log p [lines, 1] of every held-out line with no prompt (the normaliser)."""
    scorer = NoPrompt(model, pad_id, batch_size)
    return [scorer.line_logprobs(b.examples, [""] * len(b.examples)).numpy()[:, None] for b in books]


def noprompt_report(books: Sequence[BookLines], noprompt: Sequence[np.ndarray],
                    config: EvalConfig = EvalConfig()) -> MethodReport:
    """The no-prompt method's report from its scores: every candidate gets the same one (all ties), no rescoring."""
    matrices = [np.repeat(base, len(book.candidates), axis=1) for book, base in zip(books, noprompt)]
    biases = [np.zeros(len(book.candidates)) for book in books]  # one score for every persona: nothing to debias
    report = evaluate_scores("no prompt", books, matrices, noprompt, config.min_candidates, biases)
    report.trainable_per_character = 0
    return report


FitFunction = Callable[[list[str], int | None, Path], checkpoint.PersonaRun]


def few_shot_curve(
    name: str,
    fit_book: FitFunction,
    books: Sequence[BookLines],
    noprompt: Sequence[np.ndarray],
    make_scorer: Callable[[list[checkpoint.PersonaRun]], PersonaScorer],
    work_dir: Path,
    config: EvalConfig = EvalConfig(),
    bias: BiasLines | None = None,
) -> list[MethodReport]:
    """One report per few-shot level: every evaluated character fitted with that many lines, then scored.

    `fit_book(character_ids, shots, out_dir)` fits one book's characters together and returns their run.
    """
    reports = []
    for shots in config.shots:
        level_dir = Path(work_dir) / f"shots-{shots_label(shots)}"
        runs = [fit_book(book.candidates, shots, level_dir / book.book_id.replace(":", "__")) for book in books]
        report = evaluate_method(make_scorer(runs), books, noprompt, config, bias)
        report.method, report.extra = name, {"shots": shots_label(shots),
                                             "lines_used": {c: n for r in runs for c, n in r.meta["shots"].items()}}
        reports.append(report)
    return reports


def trainer_fit_function(
    basis_run: Path, shards: Path, data_config: DataConfig, train_config: TrainConfig, model_ref: str | None = None
) -> FitFunction:
    """A `fit_book` for `few_shot_curve` that calls `training.trainer.fit` (the basis frozen, K weights learned)."""
    def fit_book(character_ids: list[str], shots: int | None, out: Path) -> checkpoint.PersonaRun:
        if not (Path(out) / checkpoint.PERSONA_CONFIG).exists():
            trainer.fit(Path(basis_run), Path(out), character=character_ids, shards=Path(shards),
                        train_config=replace(train_config, shots=shots), data_config=data_config, model_ref=model_ref)
        return checkpoint.read_persona(out)

    return fit_book


def report_dict(report: MethodReport) -> dict[str, Any]:
    """A JSON-ready dict of a report."""
    return {"method": report.method, "nll_per_token": report.nll_per_token, "perplexity": report.perplexity,
            "gain_nats_per_token": report.gain_nats_per_token, "speaker_id": report.speaker_id,
            "trainable_per_character": report.trainable_per_character, "per_character": report.per_character,
            **({"speaker_id_debiased": report.speaker_id_debiased} if report.speaker_id_debiased else {}),
            **report.extra}


def evaluate_run(
    run_dir: Path,
    shards: Path | None = None,
    config: EvalConfig = EvalConfig(),
    few_shot: bool = False,
    train_config: TrainConfig = TrainConfig(),
    work_dir: Path | None = None,
    model_ref: str | None = None,
) -> dict[str, Any]:
    """Evaluate a pretrain run: NLL and speaker identification of its characters' held-out lines, against no prompt.

    With `few_shot`, the run's held-out characters are fitted at every level of `config.shots` (into
    `work_dir`) and evaluated the same way.
    """
    config.validate()
    run = checkpoint.read_persona(run_dir)
    if run.kind != "pretrain":
        raise CorpusError(f"{run_dir} is a {run.kind} run; evaluate a pretrain run (its basis and characters)")
    data_config = config_from_dict(DataConfig, run.meta.get("data", {}))
    shards = Path(shards or run.meta.get("shards") or "")
    corpus = load_corpus(shards, data_config)
    base, tokenizer, _ = load_base_model(model_ref or run.model)
    base.to(resolve_device(train_config.device))
    budget = token_budget(data_config, run.prompt_config.length, max_positions(base), False)
    cache = TokenCache(tokenizer, data_config.token_cache)
    pad = tokenizer.pad_token_id
    characters = [c for c in run.character_ids if c in corpus.characters]
    if not characters:
        raise CorpusError(f"none of the characters of {run_dir} is eligible in {shards}")
    books = heldout_lines(corpus, characters, cache, budget, config)
    base_scores = noprompt_scores(base, pad, books, config.batch_size)
    ours = PersonaMixture("ours", base, [run], pad, config.batch_size)
    bias = bias_lines(base, pad, corpus, characters, cache, budget, config)
    reports = [noprompt_report(books, base_scores, config), evaluate_method(ours, books, base_scores, config, bias)]
    reports[1].trainable_per_character = ours.k
    result: dict[str, Any] = {"run": str(Path(run_dir).resolve()), "shards": str(shards.resolve()),
                              "split": config.split, "methods": [report_dict(r) for r in reports]}
    heldout = [c for c in run.meta.get("heldout", []) if c in corpus.characters]
    if few_shot:
        if not heldout:
            raise CorpusError(f"{run_dir} held out no characters to fit; pretrain with --heldout-fraction above 0")
        held_books = heldout_lines(corpus, heldout, cache, budget, config)
        held_base = noprompt_scores(base, pad, held_books, config.batch_size)
        held_bias = bias_lines(base, pad, corpus, heldout, cache, budget, config)
        fit_book = trainer_fit_function(Path(run_dir), shards, data_config, train_config, model_ref)
        curve = few_shot_curve("ours", fit_book, held_books, held_base,
                               lambda runs: PersonaMixture("ours", base, [run, *runs], pad, config.batch_size),
                               Path(work_dir or Path(run_dir) / "few-shot"), config, held_bias)
        result["few_shot"] = [report_dict(r) for r in curve]
    cache.save()
    return result
