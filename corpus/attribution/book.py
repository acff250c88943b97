"""attribute_book: quotations -> cast -> speaker sieve -> calibrated attributions for one book."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from corpus.attribution.calibration import Calibration, load_calibration
from corpus.attribution.cast_evidence import CastEvidence
from corpus.attribution.context import ANCHOR_METHODS, BookContext, Guess
from corpus.attribution.conversation import (
    addressees, vocatives, conversation_blocks, parity_speaker, turn_guess, vocative_guess,
)
from corpus.attribution.described import described_speakers
from corpus.attribution.genders import infer_genders
from corpus.attribution.mentions import CastIndex, count_mentions, find_mentions
from corpus.attribution.ranker import Ranker, rerank
from corpus.attribution.regroup import regroup_by_gender
from corpus.attribution.style import SpeakerStyle
from corpus.attribution.tags import SUBJECT_DEPS, find_tag, tag_guess
from corpus.attribution.types import Attribution, AttributionConfig, BookAttribution
from corpus.attribution.utterances import split_by_speaker
from corpus.attribution.characters import Character
from corpus.attribution.discovery import discover_characters
from corpus.attribution.names import co_mentions
from corpus.attribution.nlp import load_nlp, parse_paragraphs
from corpus.attribution.quotes import Quotation, find_quotations, paragraph_spans

FIRST_PERSON_RATE = 0.012  # share of narration tokens that are "I" above which narration is first-person
NARRATOR_MIN_VOCATIVES = 5


def attribute_book(
    text: str,
    config: AttributionConfig = AttributionConfig(),
    cast: list[Character] | None = None,
    nlp=None,
    quotations: list[Quotation] | None = None,
    docs: list | None = None,
    calibration: Calibration | None = None,
    ranker: Ranker | None = None,
) -> BookAttribution:
    """Find the quotations (unless given), the cast (unless given) and each quotation's speaker.

    `docs` (one spaCy Doc per paragraph of `paragraph_spans(text)`) skips parsing, e.g. from a cache;
    `calibration` and `ranker` replace the bundled confidence table and ranker weights (used for
    leave-novels-out evaluation).
    """
    ctx = prepare_context(text, config, cast, nlp, quotations, docs)
    anchors, parity = run_sieve(ctx, config)
    ranker = ranker or (Ranker.load() if config.use_ranker else None)
    if ranker is not None:
        rerank(ctx, ranker, anchors, parity, config)
    calibration = calibration or load_calibration()
    evidence = CastEvidence(ctx)
    attributions = [_attribution(ctx, qi, config, calibration, evidence) for qi in range(len(ctx.quotations))]
    return BookAttribution(ctx.index.cast, attributions)


def prepare_context(text: str, config: AttributionConfig, cast: list[Character] | None = None, nlp=None,
                    quotations: list[Quotation] | None = None, docs: list | None = None) -> BookContext:
    """Parse (unless `docs` is given), find quotations (unless given; found ones are split where a
    paragraph's speakers change) and cast, and index the name mentions."""
    paragraphs = paragraph_spans(text)
    if docs is None:
        nlp = nlp or load_nlp(config.spacy_model)
        docs = parse_paragraphs(nlp, text, paragraphs, n_process=config.spacy_processes)
    found = quotations is None
    quotations = find_quotations(text) if found else sorted(quotations, key=lambda q: q.start)
    discovered = cast is None
    if discovered:
        together = co_mentions(text)  # one index of names' paragraphs serves discovery and the regrouping
        cast = discover_characters(person_mentions(docs), text, config.min_mentions, config.max_characters,
                                   together)
    ctx = _index_cast(text, paragraphs, docs, quotations, cast)
    infer_genders(ctx)
    if discovered:  # the genders now tell that "Miss Tilney" is Eleanor Tilney: join such names, index again
        ctx = _index_cast(text, paragraphs, docs, quotations, regroup_by_gender(cast, together))
    _detect_narrator(ctx)
    if found:  # a paragraph's quoted parts with speech tags of different speakers are two utterances
        split = split_by_speaker(ctx, config.tag_window_chars)
        if len(split) > len(ctx.quotations):
            ctx = replace(ctx, quotations=split)
    # speakers the book only describes ("said the mariner") join the cast; after the narrator is known,
    # since the tags read here stay cached in ctx when no one joins
    if discovered:
        described = described_speakers(ctx, config.tag_window_chars)
        if described:
            ctx = _index_cast(text, paragraphs, docs, ctx.quotations, ctx.index.cast + described)
            infer_genders(ctx)
            _detect_narrator(ctx)
    return ctx


def _index_cast(text: str, paragraphs: list[tuple[int, int]], docs: list, quotations: list[Quotation],
                cast: list[Character]) -> BookContext:
    """A context with the cast's name mentions found, counted and marked as subjects."""
    quote_spans = sorted(p for q in quotations for p in q.parts)
    # Twice: an alias two characters share goes to the more mentioned one, known after the first count.
    for _ in range(2):
        index = CastIndex(cast)
        mentions = find_mentions(text, index, quote_spans)
        counts = count_mentions(mentions)
        for character in cast:
            character.mentions = counts.get(character.slug, 0)
    ctx = BookContext(text, paragraphs, docs, quotations, index, mentions)
    _mark_subjects(ctx)
    return ctx


def run_sieve(ctx: BookContext, config: AttributionConfig) -> tuple[dict[int, str], dict[int, tuple[str | None, int]]]:
    """Decide every quotation's sieve guess into ctx.guesses (the decisions later turns read); return the
    named-tag anchors and each other quotation's turn-parity speaker."""
    # Named speech tags first (reliable anchors), then in text order anaphoric tags and turns.
    named = named_tag_guesses(ctx, config)
    ctx.guesses = [named.get(qi) for qi in range(len(ctx.quotations))]
    anchors = {qi: g.speaker for qi, g in named.items() if g.speaker}
    ctx.speaking_share = {slug: n / len(anchors) for slug, n in Counter(anchors.values()).items()}
    ctx.style = SpeakerStyle.fit([q.text(ctx.text) for q in ctx.quotations], anchors)
    parity = turn_parity(ctx, anchors, config)
    for qi in range(len(ctx.quotations)):
        if ctx.guesses[qi] is None:
            ctx.guesses[qi] = sieve_guess(ctx, qi, parity.get(qi, (None, 0)), config)
    return anchors, parity


def named_tag_guesses(ctx: BookContext, config: AttributionConfig) -> dict[int, Guess]:
    """The quotations whose speech tag names the speaker ("said Elizabeth", or the narrator's "I said")."""
    named = {}
    for qi in range(len(ctx.quotations)):
        guess = tag_guess(ctx, qi, config.tag_window_chars, config.mention_window_paragraphs, names_only=True)
        if guess and guess.method in ANCHOR_METHODS:
            named[qi] = guess
    return named


def turn_parity(ctx: BookContext, anchors: dict[int, str], config: AttributionConfig) -> dict[int, tuple[str | None, int]]:
    """Each unanchored quotation's A-B alternation speaker in its conversation, and its distance from the anchor."""
    parity: dict[int, tuple[str | None, int]] = {}
    for block in conversation_blocks(ctx, config.turn_max_gap):
        for pos, qi in enumerate(block):
            if qi not in anchors:
                parity[qi] = parity_speaker(ctx, block, pos, anchors, config.mention_window_paragraphs)
    return parity


def sieve_guess(ctx: BookContext, qi: int, parity: tuple[str | None, int], config: AttributionConfig) -> Guess | None:
    """The first guess of the sieve's later steps for quotation `qi`: an anaphoric tag or action beat, a
    vocative in the turn before, the turn parity, then the turns around it (reading the earlier decisions)."""
    guess = tag_guess(ctx, qi, config.tag_window_chars, config.mention_window_paragraphs, False, parity[0])
    if guess is None:
        guess = vocative_guess(ctx, qi, config.turn_max_gap)
    if guess is None and parity[0]:
        speaker, distance = parity
        guess = Guess(speaker, "implicit", "turn-parity" if distance <= 2 else "turn-parity-far")
    if guess is None:
        guess = turn_guess(ctx, qi, config.turn_max_gap, config.mention_window_paragraphs)
    return guess


def _attribution(ctx: BookContext, qi: int, config: AttributionConfig, calibration: Calibration,
                 evidence: CastEvidence) -> Attribution:
    guess = ctx.guesses[qi] or Guess(None, "implicit", "none")
    signals = dict(guess.signals)
    if guess.speaker and guess.method.endswith("-name"):  # the cast behind a named tag: its name and cluster
        tag = find_tag(ctx, qi, config.tag_window_chars)
        mention = ctx.mention_at(tag.offset, tag.offset + 1) if tag is not None else None
        signals |= evidence.signals(guess.speaker, ctx.text[mention.start:mention.end] if mention else "")
    elif guess.speaker and guess.method.startswith("ranker"):
        signals |= evidence.signals(guess.speaker)
    confidence = calibration.confidence(guess.method, signals) if guess.speaker else 0.0
    speaker = guess.speaker if confidence >= config.min_confidence else None
    return Attribution(
        quotation=ctx.quotations[qi],
        speaker=speaker,
        addressees=addressees(ctx, qi, speaker, config.turn_max_gap) if speaker else [],
        quote_type=guess.quote_type,
        confidence=confidence,
        method=guess.method,
        signals=signals,
    )


def _mark_subjects(ctx: BookContext) -> None:
    """Flag narration mentions that are the subject of their clause (pronouns mostly refer to those)."""
    for i, m in enumerate(ctx.mentions):
        if m.in_quote:
            continue
        p = ctx.paragraph_of(m.start)
        base = ctx.paragraphs[p][0]
        span = ctx.docs[p].char_span(m.start - base, m.end - base, alignment_mode="expand")
        if span is not None and span.root.dep_ in SUBJECT_DEPS:
            ctx.mentions[i] = replace(m, subject=True)


def person_mentions(docs: list) -> dict[str, int]:
    """Counts of spaCy PERSON entity texts over the paragraphs."""
    counts: dict[str, int] = {}
    for doc in docs:
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                tokens = list(ent)
                while tokens and tokens[0].pos_ != "PROPN":  # "Tell Jake" -> "Jake"
                    tokens.pop(0)
                name = " ".join(" ".join(t.text for t in tokens).split())
                if not name:
                    continue
                counts[name] = counts.get(name, 0) + 1
    return counts


def _detect_narrator(ctx: BookContext) -> None:
    """First-person narration: the narrator is the cast member most addressed in quotes, least named outside."""
    narration = [t for p in range(len(ctx.docs)) for t in ctx.narration_tokens(p)]
    if not narration:
        return
    rate = sum(1 for t in narration if t.text == "I") / len(narration)
    ctx.first_person = rate >= FIRST_PERSON_RATE
    if not ctx.first_person:
        return
    addressed: dict[str, int] = {}
    for qi in range(len(ctx.quotations)):
        for slug in vocatives(ctx, qi):
            addressed[slug] = addressed.get(slug, 0) + 1
    narrated: dict[str, int] = {}
    for m in ctx.mentions:
        if not m.in_quote:
            narrated[m.slug] = narrated.get(m.slug, 0) + 1
    # the narrator is addressed by name but rarely named by the narration
    scored = [(n / (narrated.get(s, 0) + 1), s) for s, n in addressed.items() if n >= NARRATOR_MIN_VOCATIVES]
    if scored:
        ctx.narrator = max(scored)[1]
