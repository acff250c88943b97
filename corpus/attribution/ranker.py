"""A small learned re-ranker for quotations without a named speech tag.

After the sieve has run, each such quotation's candidate speakers (characters named nearby or
earlier in the scene, the exchange's speakers, the previous turn's addressees, names spoken in
recent quotations, the owners of a descriptive tag) get a feature vector (features.py); a softmax over the
candidates of a score linear in the features plus a small tanh layer (weights in ranker.json,
trained on PDNC by bench/train_ranker.py) ranks them.
Two passes in text order: the first is a beam search over each exchange, every quotation read in
the context of its own hypothesis's earlier decisions; the second (its own weights) re-decides each
quotation greedily, also reading the decisions for later ones, so alternation and "one speaker
rarely has two paragraphs in a row" act in both directions. The speakers of the two turns before
and of the neighbouring paragraphs are features twice: as decided, and weighted by how sure that
decision is (`certainty`), so an unsure turn passes less on. Decoding is numpy, about a millisecond
per quotation; fitting uses torch."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.attribution.context import BookContext, Guess
from corpus.attribution.conversation import in_conversation
from corpus.attribution.features import COLUMNS, EXCHANGE_TURNS, candidates_and_features
from corpus.attribution.tags import find_tag
from corpus.errors import CorpusError

RANKER_FILE = Path(__file__).with_name("ranker.json")
# Fitting: a small hidden layer beside the linear term, L2 and its size chosen on held-out novels.
FIT_UNITS, FIT_L2, FIT_ITERATIONS, FIT_INIT_SCALE = 32, 3e-3, 150, 0.1
PARITY_NEAR = 2  # turns from the nearest anchor within which alternation agreement marks the method
# A decision's evidence, from which the calibration fits its confidence: the log-odds of the chosen
# speaker under the deciding pass and under the first pass, how far ahead of the runner-up it is (in
# log-odds), how many candidates there were (log), the speaker's share of the named-tag quotations,
# whether the beam and the sieve chose the same speaker, whether it is the turn-parity speaker (near
# an anchor, or at all), whether the turns before and after belong to the exchange, and a pronoun or a
# description as the tag's subject.
SIGNALS = ("log_odds", "first_log_odds", "margin", "candidates", "speaker_share", "beam_agrees", "sieve_agrees",
           "parity_near", "parity", "linked_prev", "linked_next", "pronoun_tag", "nominal_tag")
LOG_ODDS_CLIP = 1e-4  # probabilities are clipped to [clip, 1 - clip] before taking log-odds


@dataclass
class Scorer:
    """One pass's score of a candidate: linear in its features plus a small tanh layer over them
    (a layer of zero units leaves a conditional logit)."""

    linear: np.ndarray  # (columns,)
    hidden: np.ndarray  # (columns, units)
    bias: np.ndarray  # (units,)
    out: np.ndarray  # (units,)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Softmax over the candidates (rows of `matrix`)."""
        scores = matrix @ self.linear + np.tanh(matrix @ self.hidden + self.bias) @ self.out
        probs = np.exp(scores - scores.max())
        return probs / probs.sum()

    def to_json(self) -> dict:
        return {"linear": dict(zip(COLUMNS, map(float, self.linear))),
                "hidden": {c: [float(w) for w in row] for c, row in zip(COLUMNS, self.hidden)},
                "bias": [float(b) for b in self.bias], "out": [float(w) for w in self.out]}

    @classmethod
    def from_json(cls, data: dict) -> "Scorer":
        linear = np.array([data["linear"][c] for c in COLUMNS], dtype=float)
        hidden = np.array([data["hidden"][c] for c in COLUMNS], dtype=float).reshape(len(COLUMNS), -1)
        bias, out = np.array(data["bias"], dtype=float), np.array(data["out"], dtype=float)
        if bias.shape != out.shape or bias.shape != hidden.shape[1:]:
            raise ValueError("hidden layer sizes disagree")
        return cls(linear, hidden, bias, out)


@dataclass
class Ranker:
    """The candidate scorers: a first pass in text order, and optionally a second (refining) pass
    that also sees the first pass's decisions for the later quotations."""

    first: Scorer
    refine: Scorer | None = None

    @classmethod
    def load(cls, path: Path = RANKER_FILE) -> "Ranker | None":
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            first = Scorer.from_json(data["first"])
            refine = Scorer.from_json(data["refine"]) if data.get("refine") else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorpusError(f"corrupt ranker weights {path} (retrain with bench/train_ranker.py): {exc}") from exc
        return cls(first, refine)

    def save(self, path: Path = RANKER_FILE) -> None:
        data = {"first": self.first.to_json()}
        if self.refine is not None:
            data["refine"] = self.refine.to_json()
        path.write_text(json.dumps(data, indent=1) + "\n")

    def choose(self, candidates: list[str], matrix: np.ndarray, scorer: Scorer | None = None) -> tuple[str, float]:
        """The likeliest candidate under `scorer` (the first pass's by default) and its probability."""
        probs = (scorer or self.first).probabilities(matrix)
        best = int(np.argmax(probs))
        return candidates[best], float(probs[best])


def rerank(ctx: BookContext, ranker: Ranker, anchors: dict[int, str], parity: dict[int, tuple[str | None, int]],
           config, record: dict[int, tuple[list[str], np.ndarray]] | None = None) -> None:
    """Replace the sieve's guess of every non-anchor quotation by the ranker's choice: a beam search in
    text order over each exchange with the first-pass weights, then, with the refining weights, each
    decided once more greedily (later turns now carry decisions too). `record`, when given, receives
    each quotation's candidates and the refining pass's distribution over them."""
    sieve = [g.speaker if g else None for g in ctx.guesses]
    _beam_pass(ctx, ranker, anchors, parity, config)
    if ranker.refine is None:
        return
    for qi in range(len(ctx.quotations)):
        if qi in anchors:
            continue
        candidates, matrix = candidates_and_features(ctx, qi, anchors, parity.get(qi, (None, 0)), config)
        if candidates:
            probs = ranker.refine.probabilities(matrix)
            if record is not None:
                record[qi] = (candidates, probs)
            best = int(np.argmax(probs))
            beam = ctx.guesses[qi].speaker if ctx.guesses[qi] else None
            ctx.guesses[qi] = _ranked_guess(ctx, qi, candidates, probs, best, float(
                ranker.first.probabilities(matrix)[best]), (sieve[qi], beam), parity, config)


@dataclass(frozen=True)
class _Decision:
    """One hypothesis of the beam: its newest decision and the hypothesis it extends."""

    qi: int
    guess: Guess
    parent: "_Decision | None"


def _beam_pass(ctx: BookContext, ranker: Ranker, anchors: dict[int, str],
               parity: dict[int, tuple[str | None, int]], config) -> None:
    """First pass: keep the `config.beam_width` likeliest speaker sequences of the current exchange
    (sum of log-probabilities), each quotation read in the context of its own hypothesis; commit the
    best when the exchange ends."""
    beam: list[tuple[float, _Decision | None]] = [(0.0, None)]

    def restore(node: _Decision | None, depth: int) -> None:
        for _ in range(depth):
            if node is None:
                return
            ctx.guesses[node.qi] = node.guess
            node = node.parent

    def commit() -> None:
        node = max(beam, key=lambda b: b[0])[1]
        while node is not None:
            ctx.guesses[node.qi] = node.guess
            node = node.parent

    for qi in range(len(ctx.quotations)):
        if qi in anchors:
            continue
        if qi > 0 and not in_conversation(ctx, qi - 1, qi, config.turn_max_gap):
            commit()
            beam = [(0.0, None)]
        expanded: list[tuple[float, _Decision | None]] = []
        for score, node in beam:
            restore(node, EXCHANGE_TURNS + 2)
            candidates, matrix = candidates_and_features(ctx, qi, anchors, parity.get(qi, (None, 0)), config)
            if not candidates:
                expanded.append((score, node))
                continue
            probs = ranker.first.probabilities(matrix)
            sieve = ctx.guesses[qi].speaker if ctx.guesses[qi] else None  # not yet replaced: the sieve's
            for best in np.argsort(-probs)[: config.beam_width]:
                prob = float(probs[best])
                guess = _ranked_guess(ctx, qi, candidates, probs, int(best), prob, (sieve, candidates[best]), parity,
                                      config)
                expanded.append((score + math.log(max(prob, 1e-12)), _Decision(qi, guess, node)))
        beam = sorted(expanded, key=lambda b: -b[0])[: config.beam_width]
    commit()


def _ranked_guess(ctx: BookContext, qi: int, candidates: list[str], probs: np.ndarray, chosen: int,
                  first_prob: float, earlier: tuple[str | None, str | None],
                  parity: dict[int, tuple[str | None, int]], config) -> Guess:
    """The ranker's guess, candidate `chosen`, with its evidence (SIGNALS): `probs` is the deciding pass's
    distribution over `candidates`, `first_prob` the chosen one's probability under the first pass,
    `earlier` the sieve's and the beam's speakers. The method says whether it agrees with the A-B
    alternation of a nearby anchor."""
    old = ctx.guesses[qi]
    speaker, prob = candidates[chosen], float(probs[chosen])
    runner_up = max((float(p) for i, p in enumerate(probs) if i != chosen), default=0.0)
    parity_speaker, distance = parity.get(qi, (None, 0))
    near = parity_speaker == speaker and distance <= PARITY_NEAR
    tag = find_tag(ctx, qi, config.tag_window_chars)
    last = len(ctx.quotations) - 1
    signals = {
        "log_odds": _log_odds(prob), "first_log_odds": _log_odds(first_prob),
        "margin": _log_odds(prob) - _log_odds(runner_up), "candidates": math.log(len(candidates)),
        "speaker_share": ctx.speaking_share.get(speaker, 0.0),
        "sieve_agrees": float(earlier[0] == speaker), "beam_agrees": float(earlier[1] == speaker),
        "parity_near": float(near), "parity": float(parity_speaker == speaker),
        "linked_prev": float(qi > 0 and in_conversation(ctx, qi - 1, qi, config.turn_max_gap)),
        "linked_next": float(qi < last and in_conversation(ctx, qi, qi + 1, config.turn_max_gap)),
        "pronoun_tag": float(tag is not None and tag.kind == "pronoun"),
        "nominal_tag": float(tag is not None and tag.kind == "nominal"),
    }
    return Guess(speaker, old.quote_type if old else "implicit", "ranker-parity" if near else "ranker", signals)


def _log_odds(prob: float) -> float:
    prob = min(max(prob, LOG_ODDS_CLIP), 1 - LOG_ODDS_CLIP)
    return math.log(prob / (1 - prob))


def training_examples(ctx: BookContext, anchors: dict[int, str], parity: dict[int, tuple[str | None, int]],
                      gold: list[set[str]], config, ranker: Ranker | None = None,
                      refining: bool = False) -> list[tuple[np.ndarray, int]]:
    """(feature matrix, index of the gold speaker) for each non-anchor quotation whose speaker is a
    candidate; `gold` holds each quotation's right speakers (more than one where a discovered cast
    splits a character), and the first of them among the candidates is the one learned.

    With a `ranker`, earlier quotations carry its first-pass choices (and their probabilities) while
    features are read, as they will when it decodes a book; `refining` (examples for the second pass)
    first decodes the whole book with the ranker's first pass, so every other quotation carries a
    decision.
    """
    if ranker is not None and refining:
        rerank(ctx, Ranker(ranker.first), anchors, parity, config)
    examples = []
    for qi in range(len(ctx.quotations)):
        if qi in anchors:
            continue
        candidates, matrix = candidates_and_features(ctx, qi, anchors, parity.get(qi, (None, 0)), config)
        right = next((i for i, slug in enumerate(candidates) if slug in gold[qi]), None)
        if right is not None and len(candidates) > 1:
            examples.append((matrix, right))
        if ranker is not None and not refining and candidates:
            speaker, prob = ranker.choose(candidates, matrix)
            ctx.guesses[qi] = Guess(speaker, "implicit", "ranker", {"log_odds": _log_odds(prob)})
    return examples


def fit_scorer(examples: list[tuple[np.ndarray, int]], units: int = FIT_UNITS, l2: float = FIT_L2,
               iterations: int = FIT_ITERATIONS) -> Scorer:
    """Weights minimising the mean negative log-likelihood of the gold candidates plus L2, by full-batch
    L-BFGS in torch (seeded, so the same examples give the same weights)."""
    import torch  # only needed to fit; decoding is numpy

    n, width = len(examples), max((len(m) for m, _ in examples), default=1)
    features = np.zeros((n, width, len(COLUMNS)), dtype=np.float32)
    mask = np.full((n, width), -1e9, dtype=np.float32)  # padding rows are never chosen
    for i, (matrix, _) in enumerate(examples):
        features[i, : len(matrix)] = matrix
        mask[i, : len(matrix)] = 0.0
    x, pad = torch.from_numpy(features), torch.from_numpy(mask)
    gold = torch.tensor([g for _, g in examples], dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    linear = torch.zeros(len(COLUMNS), requires_grad=True)
    hidden = (torch.randn(len(COLUMNS), units, generator=generator) * FIT_INIT_SCALE).requires_grad_()
    bias = torch.zeros(units, requires_grad=True)
    out = (torch.randn(units, generator=generator) * FIT_INIT_SCALE).requires_grad_()
    optimizer = torch.optim.LBFGS([linear, hidden, bias, out], max_iter=iterations, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        scores = x @ linear + torch.tanh(x @ hidden + bias) @ out + pad
        penalty = linear.square().sum() + hidden.square().sum() + out.square().sum()
        loss = torch.nn.functional.cross_entropy(scores, gold) + 0.5 * l2 * penalty
        loss.backward()
        return loss

    if n:
        optimizer.step(closure)
    return Scorer(*(p.detach().double().numpy().copy() for p in (linear, hidden, bias, out)))
