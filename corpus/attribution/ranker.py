"""A small learned re-ranker for quotations without a named speech tag.

After the sieve has run, each such quotation's candidate speakers (characters named nearby or
earlier in the scene, the exchange's speakers, the previous turn's addressees, names spoken in
recent quotations, the owners of a descriptive tag) get a feature vector; a softmax over the
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

from corpus.attribution.context import ANCHOR_METHODS, BookContext, Guess
from corpus.attribution.conversation import addressed_gender, exchange_turns, in_conversation, vocatives
from corpus.attribution.mentions import SUBJECT_PRONOUNS
from corpus.attribution.tags import SUBJECT_DEPS, Tag, find_tag, resolve_anaphor
from corpus.errors import CorpusError

RANKER_FILE = Path(__file__).with_name("ranker.json")
FEATURES = (
    "tag_gender_match", "tag_gender_clash", "tag_resolved", "beat_subject",
    "parity_even", "parity_odd", "parity_far", "prev_vocative", "own_vocative", "quoted_in_own",
    "prev_speaker", "prev2_speaker", "next_anchor", "next2_anchor", "sieve_choice",
    "named_here", "subject_here", "recency", "salience", "same_paragraph_prev", "narrator_tag",
    "next_vocative", "prev_quoted", "epithet_share", "match_and_prev2", "match_and_named_here",
    "prev_adjacent", "next_adjacent", "next_anchor_adjacent", "before_subject", "before_named",
    "before_pronoun_match", "epithet_local", "exchange_anchor", "exchange_turn", "named_in_quotes",
    "narration_far", "addressed_gender_own", "addressed_gender_prev", "addressed_gender_next", "head_in_name",
    "speaking_share", "style", "description_consensus",
    "prev_speaker_sure", "prev2_speaker_sure", "prev_adjacent_sure", "next_adjacent_sure",
)
# Each feature has a shared weight plus one per context, so that e.g. gender agreement can matter
# more after "he said" than after a bare quotation.
CONTEXTS = ("no-tag", "pronoun-tag", "nominal-tag")
COLUMNS = tuple(f"{c}:{f}" for c in ("all", *CONTEXTS) for f in FEATURES)
MAX_CANDIDATES = 16
EXCHANGE_TURNS = 12  # turns read each way for the speakers of the current exchange
FAR_WINDOW_PARAGRAPHS = 40  # paragraphs read back for characters named before the mention window
# Fitting: a small hidden layer beside the linear term, L2 and its size chosen on held-out novels.
FIT_UNITS, FIT_L2, FIT_ITERATIONS, FIT_INIT_SCALE = 32, 3e-3, 150, 0.1
PARITY_NEAR = 2  # turns from the nearest anchor within which alternation agreement marks the method
EPITHET_LOCAL_CHARS = 20_000  # text read back for the characters a descriptive tag ("said the gentleman") meant lately
STYLE_SCALE = 10.0  # the style log-likelihood ratio is divided by this (features near unit scale)
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


def candidates_and_features(ctx: BookContext, qi: int, anchors: dict[int, str],
                            parity: tuple[str | None, int], config) -> tuple[list[str], np.ndarray]:
    """Candidate speakers of quotation `qi` and their feature matrix (columns follow COLUMNS)."""
    q = ctx.quotations[qi]
    paragraph = ctx.paragraph_of(q.start)
    window_start = ctx.paragraphs[max(paragraph - config.mention_window_paragraphs, 0)][0]
    narration = [m for m in ctx.mentions_between(window_start, q.end) if not m.in_quote]
    def guess(i: int) -> str | None:
        return ctx.guesses[i].speaker if 0 <= i < len(ctx.guesses) and ctx.guesses[i] else None

    def linked(i: int) -> bool:
        return 0 <= i < len(ctx.quotations) and in_conversation(ctx, min(i, qi), max(i, qi), config.turn_max_gap)

    # lists, not sets: the candidates' order (and so which are cut at MAX_CANDIDATES) must not vary by run
    prev_voc = vocatives(ctx, qi - 1) if qi > 0 and linked(qi - 1) else []
    next_voc = vocatives(ctx, qi + 1) if qi + 1 < len(ctx.quotations) and linked(qi + 1) else []
    prev_quoted = ({m.slug for m in ctx.mentions_between(ctx.quotations[qi - 1].start, ctx.quotations[qi - 1].end)}
                   if qi > 0 and linked(qi - 1) else set())
    own_voc = set(vocatives(ctx, qi))
    quoted = {m.slug for m in ctx.mentions_between(q.start, q.end) if m.in_quote}
    tag: Tag | None = find_tag(ctx, qi, config.tag_window_chars)
    resolved = None
    epithets: dict[str, int] = {}
    head_named: list[str] = []
    if tag is not None and tag.kind == "nominal" and tag.head:
        # whom the description stands beside most often, and the characters whose name holds its word
        # ("said the count": Count Mippipopolous)
        epithets = ctx.epithet_owners(tag.head)
        head_named = ctx.index.by_word.get(tag.head, [])
    if tag is not None and tag.kind in ("pronoun", "nominal"):
        resolved = resolve_anaphor(ctx, tag, qi, own_voc, tag.verb_text, config.mention_window_paragraphs)
    exchange = _exchange_speakers(ctx, qi, anchors, config.turn_max_gap)
    far_start = ctx.paragraphs[max(paragraph - FAR_WINDOW_PARAGRAPHS, 0)][0]
    far = [m for m in ctx.mentions_between(far_start, window_start) if not m.in_quote]
    in_quotes = [m.slug for m in reversed(ctx.mentions_between(far_start, q.start)) if m.in_quote]
    pool: dict[str, None] = {}
    for slug in [guess(qi), parity[0], resolved, *head_named, *sorted(epithets, key=lambda s: -epithets[s])[:2],
                 guess(qi - 1), guess(qi - 2), *prev_voc, *next_voc,
                 anchors.get(qi + 1), anchors.get(qi + 2), *(m.slug for m in reversed(narration)),
                 *sorted(exchange, key=lambda s: exchange[s]), *(m.slug for m in reversed(far)), *in_quotes]:
        if slug and slug in ctx.index.by_slug:
            pool.setdefault(slug, None)
    candidates = list(pool)[:MAX_CANDIDATES]
    last_seen = {m.slug: i for i, m in enumerate(narration)}
    order = sorted(last_seen, key=lambda s: -last_seen[s])
    here_start = ctx.paragraphs[paragraph][0]
    # one speaker rarely has two paragraphs in a row: the neighbouring paragraphs' speakers
    prev_adjacent = guess(qi - 1) if qi > 0 and ctx.paragraph_of(ctx.quotations[qi - 1].end - 1) == paragraph - 1 else None
    next_adjacent = (guess(qi + 1) if qi + 1 < len(ctx.quotations)
                     and ctx.paragraph_of(ctx.quotations[qi + 1].start) == ctx.paragraph_of(q.end - 1) + 1 else None)
    prev_speaker = guess(qi - 1) if linked(qi - 1) else None
    prev2_speaker = guess(qi - 2) if linked(qi - 2) else None
    next_anchor = anchors.get(qi + 1) if linked(qi + 1) else None
    next2_anchor = anchors.get(qi + 2) if linked(qi + 2) else None
    address_own = addressed_gender(ctx, qi)
    address_prev = addressed_gender(ctx, qi - 1) if linked(qi - 1) else None
    address_next = addressed_gender(ctx, qi + 1) if linked(qi + 1) else None
    sure_prev, sure_prev2, sure_next = (certainty(ctx, i) for i in (qi - 1, qi - 2, qi + 1))
    before = _narration_before(ctx, qi)
    local_epithets = ctx.epithet_owners(tag.head, before=q.start, window=EPITHET_LOCAL_CHARS) if epithets else {}
    # whom the other quotations tagged with the same description nearby are given to now
    described = [guess(i) for i in _described_as(ctx, tag.head, config.tag_window_chars)
                 if i != qi and abs(ctx.quotations[i].start - q.start) <= EPITHET_LOCAL_CHARS] if epithets else []
    described = [s for s in described if s]
    rows = []
    for slug in candidates:
        gender = ctx.index.gender(slug)
        f = dict.fromkeys(FEATURES, 0.0)
        if tag is not None and tag.gender and gender:
            f["tag_gender_match" if gender == tag.gender else "tag_gender_clash"] = 1.0
        f["tag_resolved"] = float(slug == resolved)
        f["beat_subject"] = float(tag is not None and not tag.verb and tag.slug == slug)
        if parity[0] == slug:
            f["parity_far" if parity[1] > 2 else "parity_even" if parity[1] % 2 == 0 else "parity_odd"] = 1.0
        f["prev_vocative"] = float(slug in prev_voc)
        f["own_vocative"] = float(slug in own_voc)
        f["quoted_in_own"] = float(slug in quoted)
        f["prev_speaker"] = float(prev_speaker == slug)
        f["prev2_speaker"] = float(prev2_speaker == slug)
        f["next_anchor"] = float(next_anchor == slug)
        f["next2_anchor"] = float(next2_anchor == slug)
        f["sieve_choice"] = float(guess(qi) == slug)
        here = [m for m in narration if m.start >= here_start and m.slug == slug]
        f["named_here"] = float(bool(here))
        f["subject_here"] = float(any(m.subject for m in here))
        f["recency"] = 1.0 / (1 + order.index(slug)) if slug in last_seen else 0.0
        f["salience"] = math.log1p(ctx.index.by_slug[slug].mentions) / 10
        f["same_paragraph_prev"] = float(qi > 0 and guess(qi - 1) == slug and ctx.paragraph_of(
            ctx.quotations[qi - 1].end - 1) == paragraph)
        f["narrator_tag"] = float(tag is not None and tag.kind == "narrator" and ctx.narrator == slug)
        f["next_vocative"] = float(slug in next_voc)
        f["prev_quoted"] = float(slug in prev_quoted and slug not in prev_voc)
        f["epithet_share"] = epithets.get(slug, 0) / sum(epithets.values()) if epithets else 0.0
        f["match_and_prev2"] = f["tag_gender_match"] * f["prev2_speaker"]
        f["match_and_named_here"] = f["tag_gender_match"] * f["named_here"]
        f["prev_adjacent"] = float(prev_adjacent == slug)
        f["next_adjacent"] = float(next_adjacent == slug)
        f["next_anchor_adjacent"] = float(next_adjacent == slug and anchors.get(qi + 1) == slug)
        # the same, weighted by how sure those decisions are
        f["prev_speaker_sure"] = f["prev_speaker"] * sure_prev
        f["prev2_speaker_sure"] = f["prev2_speaker"] * sure_prev2
        f["prev_adjacent_sure"] = f["prev_adjacent"] * sure_prev
        f["next_adjacent_sure"] = f["next_adjacent"] * sure_next
        if before is not None:
            f["before_subject"] = float(before.subject == slug)
            f["before_named"] = float(slug in before.named)
            f["before_pronoun_match"] = float(before.pronoun is not None and before.pronoun == gender)
        if gender:  # +1 agrees with being the speaker the forms of address imply, -1 disagrees
            f["addressed_gender_own"] = (address_own is not None) * (1.0 if address_own != gender else -1.0)
            f["addressed_gender_prev"] = (address_prev is not None) * (1.0 if address_prev == gender else -1.0)
            f["addressed_gender_next"] = (address_next is not None) * (1.0 if address_next == gender else -1.0)
        f["exchange_anchor"] = 1.0 / (1 + exchange[slug][0]) if slug in exchange and exchange[slug][1] else 0.0
        f["exchange_turn"] = 1.0 / (1 + exchange[slug][0]) if slug in exchange else 0.0
        f["named_in_quotes"] = float(slug in in_quotes)
        f["head_in_name"] = float(slug in head_named)
        f["speaking_share"] = ctx.speaking_share.get(slug, 0.0)
        f["style"] = ctx.style.log_ratio(slug, qi) / STYLE_SCALE
        f["narration_far"] = float(slug not in last_seen and any(m.slug == slug for m in far))
        f["epithet_local"] = local_epithets.get(slug, 0) / sum(local_epithets.values()) if local_epithets else 0.0
        f["description_consensus"] = described.count(slug) / len(described) if described else 0.0
        rows.append([f[k] for k in FEATURES])
    base = np.array(rows, dtype=float).reshape(len(candidates), len(FEATURES))
    context = 0 if tag is None or tag.kind == "name" or not tag.verb else 2 if tag.kind == "nominal" else 1
    matrix = np.zeros((len(candidates), len(COLUMNS)))
    matrix[:, : len(FEATURES)] = base
    matrix[:, (context + 1) * len(FEATURES) : (context + 2) * len(FEATURES)] = base
    return candidates, matrix


def certainty(ctx: BookContext, qi: int) -> float:
    """How sure the current decision for quotation `qi` is: the probability the ranker gave it (its
    `log_odds` signal), 1 for a named speech tag, 0.5 for another sieve rule, 0 for none."""
    guess = ctx.guesses[qi] if 0 <= qi < len(ctx.guesses) else None
    if guess is None or guess.speaker is None:
        return 0.0
    if "log_odds" in guess.signals:
        return 1.0 / (1.0 + math.exp(-guess.signals["log_odds"]))
    return 1.0 if guess.method in ANCHOR_METHODS else 0.5


def _described_as(ctx: BookContext, head: str, max_chars: int) -> list[int]:
    """The quotations whose speech tag describes the speaker by the word `head` ("said the doctor");
    indexed once per context (the ranker always reads tags within the same `max_chars`)."""
    if ctx.descriptions is None:
        ctx.descriptions = {}
        for qi in range(len(ctx.quotations)):
            tag = find_tag(ctx, qi, max_chars)
            if tag is not None and tag.kind == "nominal" and tag.head:
                ctx.descriptions.setdefault(tag.head, []).append(qi)
    return ctx.descriptions.get(head, [])


def _exchange_speakers(ctx: BookContext, qi: int, anchors: dict[int, str], max_gap: int) -> dict[str, tuple[int, bool]]:
    """Speakers already decided in the exchange around quotation `qi` (up to EXCHANGE_TURNS turns each
    way): slug -> (turns away from `qi`, whether a named tag anchors it)."""
    found: dict[str, tuple[int, bool]] = {}
    for i in exchange_turns(ctx, qi, max_gap, EXCHANGE_TURNS):
        guess = ctx.guesses[i]
        if guess and guess.speaker:
            distance, anchored = found.get(guess.speaker, (abs(i - qi), False))
            found[guess.speaker] = (min(distance, abs(i - qi)), anchored or i in anchors)
    return found


@dataclass
class NarrationBefore:
    """The narration-only paragraph just before a quotation that opens its paragraph: who acts in it
    ("Elizabeth looked up. / '...'" is most often Elizabeth speaking next)."""

    subject: str | None  # the last cast member that is the subject of a clause
    named: set[str]
    pronoun: str | None  # gender of the last he/she subject


def _narration_before(ctx: BookContext, qi: int) -> NarrationBefore | None:
    """Who acts in the narration paragraph before quotation `qi`; None unless that paragraph has no
    quotation and `qi` opens its own paragraph."""
    paragraph = ctx.narration_before(ctx.quotations[qi])
    if paragraph is None:
        return None
    lo, hi = ctx.paragraphs[paragraph]
    mentions = [m for m in ctx.mentions_between(lo, hi) if not m.in_quote]
    subjects = [m.slug for m in mentions if m.subject]
    pronouns = [t.lower_ for t in ctx.docs[paragraph] if t.lower_ in SUBJECT_PRONOUNS and t.dep_ in SUBJECT_DEPS]
    return NarrationBefore(subjects[-1] if subjects else None, {m.slug for m in mentions},
                           SUBJECT_PRONOUNS[pronouns[-1]] if pronouns else None)


def rerank(ctx: BookContext, ranker: Ranker, anchors: dict[int, str], parity: dict[int, tuple[str | None, int]],
           config) -> None:
    """Replace the sieve's guess of every non-anchor quotation by the ranker's choice: a beam search in
    text order over each exchange with the first-pass weights, then, with the refining weights, each
    decided once more greedily (later turns now carry decisions too)."""
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
