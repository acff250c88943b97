"""Speaker identification: each held-out line of a book is scored under every candidate persona, and the
candidates are ranked by gain per token (log p(line | persona) minus log p(line | no prompt), over the line's
tokens: the subtraction does not change the ranking within a line, it makes scores comparable across lines).

Debiased, each persona's bias (its mean gain on other lines of the book, every speaker weighing the same) is
subtracted first: a prompt that makes every line likelier would otherwise win every line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch

from training.data import Example

# Scores closer than this (nats/token) are ties: batches padded differently differ in the last float bits.
TIE_DECIMALS = 4


class PersonaScorer(Protocol):
    """A persona method as evaluation sees it."""

    name: str

    def line_logprobs(self, examples: Sequence[Example], personas: Sequence[str]) -> torch.Tensor:
        """Summed log-probabilities [N] of each example's target tokens under persona `personas[i]`."""


@dataclass
class BookLines:
    """Held-out lines of one book's evaluated characters; `character_index` of an example is its speaker's slot."""

    book_id: str
    candidates: list[str]
    examples: list[Example]

    @property
    def speakers(self) -> np.ndarray:
        return np.array([e.character_index for e in self.examples])

    @property
    def n_tokens(self) -> np.ndarray:
        return np.array([len(e.target_ids) for e in self.examples], dtype=float)


def score_matrix(scorer: PersonaScorer, book: BookLines) -> np.ndarray:
    """log p [lines, candidates] of every held-out line of the book under every candidate persona."""
    pairs = [(e, c) for e in book.examples for c in book.candidates]
    scores = scorer.line_logprobs([e for e, _ in pairs], [c for _, c in pairs])
    return scores.numpy().reshape(len(book.examples), len(book.candidates))


def rank_metrics(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line: whether the gold candidate ranks first, and its reciprocal rank (ties broken at random, in expectation)."""
    gold_score = scores[np.arange(len(gold)), gold][:, None]
    better = (scores > gold_score).sum(axis=1)
    tied = (scores == gold_score).sum(axis=1)
    top = np.where(better == 0, 1.0 / tied, 0.0)
    reciprocal = np.array([np.mean(1.0 / np.arange(b + 1, b + t + 1)) for b, t in zip(better, tied)])
    return top, reciprocal


def chance_levels(n_candidates: np.ndarray) -> tuple[float, float]:
    """Expected accuracy and MRR of a random ranking over lines with `n_candidates` candidates each."""
    harmonic = np.array([np.sum(1.0 / np.arange(1, n + 1)) for n in n_candidates])
    return float(np.mean(1.0 / n_candidates)), float(np.mean(harmonic / n_candidates))


def speaker_identification(books: Sequence[BookLines], scores: Sequence[np.ndarray], noprompt: Sequence[np.ndarray],
                           min_candidates: int, biases: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """Accuracy and MRR of ranking each line's candidates by gain per token (minus each persona's bias)."""
    top, reciprocal, n_candidates = [], [], []
    for i, (book, matrix, base) in enumerate(zip(books, scores, noprompt)):
        if len(book.candidates) < min_candidates:
            continue
        normalised = (matrix - base) / book.n_tokens[:, None] - (0.0 if biases is None else biases[i][None, :])
        t, r = rank_metrics(np.round(normalised, TIE_DECIMALS), book.speakers)
        top.append(t), reciprocal.append(r), n_candidates.append(np.full(len(t), len(book.candidates)))
    if not top:
        return {"lines": 0, "books": 0}
    t, r, n = np.concatenate(top), np.concatenate(reciprocal), np.concatenate(n_candidates)
    chance_acc, chance_mrr = chance_levels(n)
    return {"accuracy": float(t.mean()), "mrr": float(r.mean()), "chance_accuracy": chance_acc,
            "chance_mrr": chance_mrr, "lines": int(len(t)), "books": len(top), "mean_candidates": float(n.mean())}


@dataclass
class BiasLines:
    """Validation lines of the evaluated characters, by book, with their no-prompt scores: they estimate each
    persona's bias, the gain it gives any line of its book, which debiased speaker identification subtracts
    (a prompt that makes every line likelier otherwise wins every line)."""

    books: dict[str, BookLines]
    noprompt: dict[str, np.ndarray]


def persona_bias(scorer: PersonaScorer, book: BookLines, lines: BiasLines) -> np.ndarray:
    """Each candidate persona's gain (nats/token) on the book's bias lines, every speaker weighing the same
    [candidates]; zeros when the book has no bias lines of exactly these candidates."""
    known = lines.books.get(book.book_id)
    if known is None or known.candidates != book.candidates:
        return np.zeros(len(book.candidates))
    gains = (score_matrix(scorer, known) - lines.noprompt[book.book_id]) / known.n_tokens[:, None]
    return np.mean([gains[known.speakers == s].mean(axis=0) for s in np.unique(known.speakers)], axis=0)
