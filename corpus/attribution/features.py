"""The ranker's features: what is known about a quotation, who may have said it, and each candidate's
feature vector, in named groups.

Evidence is read once per quotation, in three parts: its speech tag (`TagEvidence`), the turns around it
(`TurnEvidence`) and the names in and around it (`NameEvidence`). `candidate_speakers` lists who may
have said it, and each `*_features` function gives one group of a candidate's FEATURES from one part;
`candidates_and_features` assembles the matrix the ranker scores (columns follow COLUMNS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from corpus.attribution.context import ANCHOR_METHODS, BookContext
from corpus.attribution.conversation import addressed_gender, exchange_turns, in_conversation, vocatives
from corpus.attribution.mentions import SUBJECT_PRONOUNS, Mention
from corpus.attribution.tags import SUBJECT_DEPS, Tag, find_tag, resolve_anaphor

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
EPITHET_LOCAL_CHARS = 20_000  # text read back for the characters a descriptive tag ("said the gentleman") meant lately
STYLE_SCALE = 10.0  # the style log-likelihood ratio is divided by this (features near unit scale)
PARITY_FAR = 2  # turns from the parity anchor beyond which alternation counts as "far"


def guess_of(ctx: BookContext, i: int) -> str | None:
    """The speaker currently decided for quotation `i` (None out of range or undecided)."""
    return ctx.guesses[i].speaker if 0 <= i < len(ctx.guesses) and ctx.guesses[i] else None


def certainty(ctx: BookContext, qi: int) -> float:
    """How sure the current decision for quotation `qi` is: the probability the ranker gave it (its
    `log_odds` signal), 1 for a named speech tag, 0.5 for another sieve rule, 0 for none."""
    guess = ctx.guesses[qi] if 0 <= qi < len(ctx.guesses) else None
    if guess is None or guess.speaker is None:
        return 0.0
    if "log_odds" in guess.signals:
        return 1.0 / (1.0 + math.exp(-guess.signals["log_odds"]))
    return 1.0 if guess.method in ANCHOR_METHODS else 0.5


@dataclass
class NarrationBefore:
    """The narration-only paragraph just before a quotation that opens its paragraph: who acts in it
    ("Elizabeth looked up. / '...'" is most often Elizabeth speaking next)."""

    subject: str | None  # the last cast member that is the subject of a clause
    named: set[str]
    pronoun: str | None  # gender of the last he/she subject


def narration_before(ctx: BookContext, qi: int) -> NarrationBefore | None:
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


# ---------------------------------------------------------------- evidence about one quotation


@dataclass
class TagEvidence:
    """The quotation's speech tag and whom it points at."""

    tag: Tag | None
    resolved: str | None  # the character a pronoun or description tag resolves to
    epithets: dict[str, int]  # a description's owners: slug -> times it stood beside them
    head_named: list[str]  # characters whose name holds the description's word ("the count")
    local_epithets: dict[str, int]  # the description's owners lately
    described: list[str]  # current speakers of the other quotations tagged with it nearby

    @classmethod
    def gather(cls, ctx: BookContext, qi: int, own_voc: set[str], config) -> "TagEvidence":
        q = ctx.quotations[qi]
        tag = find_tag(ctx, qi, config.tag_window_chars)
        epithets: dict[str, int] = {}
        head_named: list[str] = []
        if tag is not None and tag.kind == "nominal" and tag.head:
            # whom the description stands beside most often, and the characters whose name holds its word
            # ("said the count": Count Mippipopolous)
            epithets = ctx.epithet_owners(tag.head)
            head_named = ctx.index.by_word.get(tag.head, [])
        resolved = None
        if tag is not None and tag.kind in ("pronoun", "nominal"):
            resolved = resolve_anaphor(ctx, tag, qi, own_voc, tag.verb_text, config.mention_window_paragraphs)
        local = ctx.epithet_owners(tag.head, before=q.start, window=EPITHET_LOCAL_CHARS) if epithets else {}
        described = [guess_of(ctx, i) for i in _described_as(ctx, tag.head, config.tag_window_chars)
                     if i != qi and abs(ctx.quotations[i].start - q.start) <= EPITHET_LOCAL_CHARS] if epithets else []
        return cls(tag, resolved, epithets, head_named, local, [s for s in described if s])

    @property
    def context(self) -> int:
        """Which of CONTEXTS the tag puts the quotation in."""
        tag = self.tag
        return 0 if tag is None or tag.kind == "name" or not tag.verb else 2 if tag.kind == "nominal" else 1


@dataclass
class TurnEvidence:
    """The turns around the quotation: decided speakers, anchors, alternation and the exchange."""

    sieve: str | None  # the current decision for this quotation
    parity: tuple[str | None, int]  # the A-B alternation's speaker and its distance from the anchor
    prev_guess: str | None
    prev2_guess: str | None
    next_turn_anchor: str | None
    next2_turn_anchor: str | None
    prev_speaker: str | None  # as the previous ones, only when linked to this turn
    prev2_speaker: str | None
    next_anchor: str | None
    next2_anchor: str | None
    prev_in_paragraph: str | None  # the previous quotation's speaker when it ends in this paragraph
    prev_adjacent: str | None  # the speakers of the neighbouring paragraphs' quotations
    next_adjacent: str | None
    sure_prev: float
    sure_prev2: float
    sure_next: float
    exchange: dict[str, tuple[int, bool]]  # slug -> (turns away, anchored by a named tag)

    @classmethod
    def gather(cls, ctx: BookContext, qi: int, anchors: dict[int, str], parity: tuple[str | None, int],
               config) -> "TurnEvidence":
        q, quotations = ctx.quotations[qi], ctx.quotations
        paragraph = ctx.paragraph_of(q.start)

        def linked(i: int) -> bool:
            return 0 <= i < len(quotations) and in_conversation(ctx, min(i, qi), max(i, qi), config.turn_max_gap)

        # one speaker rarely has two paragraphs in a row: the neighbouring paragraphs' speakers
        prev_end = ctx.paragraph_of(quotations[qi - 1].end - 1) if qi > 0 else None
        next_adjacent = qi + 1 < len(quotations) and (
            ctx.paragraph_of(quotations[qi + 1].start) == ctx.paragraph_of(q.end - 1) + 1)
        return cls(
            guess_of(ctx, qi), parity, guess_of(ctx, qi - 1), guess_of(ctx, qi - 2),
            anchors.get(qi + 1), anchors.get(qi + 2),
            *(guess_of(ctx, i) if linked(i) else None for i in (qi - 1, qi - 2)),
            *(anchors.get(i) if linked(i) else None for i in (qi + 1, qi + 2)),
            guess_of(ctx, qi - 1) if prev_end == paragraph else None,
            guess_of(ctx, qi - 1) if prev_end == paragraph - 1 else None,
            guess_of(ctx, qi + 1) if next_adjacent else None,
            *(certainty(ctx, i) for i in (qi - 1, qi - 2, qi + 1)),
            _exchange_speakers(ctx, qi, anchors, config.turn_max_gap),
        )


@dataclass
class NameEvidence:
    """Names in and around the quotation: vocatives, mentions in narration and in quotations, and the
    forms of address."""

    prev_voc: list[str]  # vocatives of the linked turns before and after
    next_voc: list[str]
    own_voc: set[str]
    prev_quoted: set[str]  # characters named in the linked previous quotation
    quoted: set[str]  # characters named in this one
    narration: list[Mention]  # narration mentions within the mention window, in text order
    here_start: int  # the quotation's paragraph's first character
    far: list[Mention]  # narration mentions before the window, back FAR_WINDOW_PARAGRAPHS
    in_quotes: list[str]  # characters named in quotations since then, latest first
    before: NarrationBefore | None
    address: tuple[str | None, str | None, str | None]  # addressee gender of this, the previous and next turn

    @classmethod
    def gather(cls, ctx: BookContext, qi: int, config) -> "NameEvidence":
        q, quotations = ctx.quotations[qi], ctx.quotations
        paragraph = ctx.paragraph_of(q.start)
        window_start = ctx.paragraphs[max(paragraph - config.mention_window_paragraphs, 0)][0]
        far_start = ctx.paragraphs[max(paragraph - FAR_WINDOW_PARAGRAPHS, 0)][0]

        def linked(i: int) -> bool:
            return 0 <= i < len(quotations) and in_conversation(ctx, min(i, qi), max(i, qi), config.turn_max_gap)

        # lists, not sets: the candidates' order (and so which are cut at MAX_CANDIDATES) must not vary by run
        prev_linked, next_linked = qi > 0 and linked(qi - 1), qi + 1 < len(quotations) and linked(qi + 1)
        prev = quotations[qi - 1] if prev_linked else None
        return cls(
            vocatives(ctx, qi - 1) if prev_linked else [], vocatives(ctx, qi + 1) if next_linked else [],
            set(vocatives(ctx, qi)),
            {m.slug for m in ctx.mentions_between(prev.start, prev.end)} if prev is not None else set(),
            {m.slug for m in ctx.mentions_between(q.start, q.end) if m.in_quote},
            [m for m in ctx.mentions_between(window_start, q.end) if not m.in_quote],
            ctx.paragraphs[paragraph][0],
            [m for m in ctx.mentions_between(far_start, window_start) if not m.in_quote],
            [m.slug for m in reversed(ctx.mentions_between(far_start, q.start)) if m.in_quote],
            narration_before(ctx, qi),
            (addressed_gender(ctx, qi), addressed_gender(ctx, qi - 1) if linked(qi - 1) else None,
             addressed_gender(ctx, qi + 1) if linked(qi + 1) else None),
        )


def candidate_speakers(ctx: BookContext, tags: TagEvidence, turns: TurnEvidence, names: NameEvidence) -> list[str]:
    """Who may have said the quotation, most likely sources first, at most MAX_CANDIDATES."""
    epithets = tags.epithets
    pool: dict[str, None] = {}
    for slug in [turns.sieve, turns.parity[0], tags.resolved, *tags.head_named,
                 *sorted(epithets, key=lambda s: -epithets[s])[:2], turns.prev_guess, turns.prev2_guess,
                 *names.prev_voc, *names.next_voc, turns.next_turn_anchor, turns.next2_turn_anchor,
                 *(m.slug for m in reversed(names.narration)),
                 *sorted(turns.exchange, key=lambda s: turns.exchange[s]), *(m.slug for m in reversed(names.far)),
                 *names.in_quotes]:
        if slug and slug in ctx.index.by_slug:
            pool.setdefault(slug, None)
    return list(pool)[:MAX_CANDIDATES]


# ---------------------------------------------------------------- feature groups of one candidate


def tag_features(ctx: BookContext, tags: TagEvidence, slug: str, gender: str | None) -> dict[str, float]:
    """The speech tag: gender agreement, the resolved pronoun or description, beats, the narrator."""
    tag, f = tags.tag, {}
    if tag is not None and tag.gender and gender:
        f["tag_gender_match" if gender == tag.gender else "tag_gender_clash"] = 1.0
    f["tag_resolved"] = float(slug == tags.resolved)
    f["beat_subject"] = float(tag is not None and not tag.verb and tag.slug == slug)
    f["narrator_tag"] = float(tag is not None and tag.kind == "narrator" and ctx.narrator == slug)
    f["head_in_name"] = float(slug in tags.head_named)
    f["epithet_share"] = tags.epithets.get(slug, 0) / sum(tags.epithets.values()) if tags.epithets else 0.0
    local = tags.local_epithets
    f["epithet_local"] = local.get(slug, 0) / sum(local.values()) if local else 0.0
    described = tags.described
    f["description_consensus"] = described.count(slug) / len(described) if described else 0.0
    return f


def turn_features(ctx: BookContext, turns: TurnEvidence, slug: str, qi: int) -> dict[str, float]:
    """The turns: alternation, the speakers before and after, the exchange, how much and how it talks."""
    f = {}
    speaker, distance = turns.parity
    if speaker == slug:
        f["parity_far" if distance > PARITY_FAR else "parity_even" if distance % 2 == 0 else "parity_odd"] = 1.0
    f["prev_speaker"] = float(turns.prev_speaker == slug)
    f["prev2_speaker"] = float(turns.prev2_speaker == slug)
    f["next_anchor"] = float(turns.next_anchor == slug)
    f["next2_anchor"] = float(turns.next2_anchor == slug)
    f["sieve_choice"] = float(turns.sieve == slug)
    f["same_paragraph_prev"] = float(turns.prev_in_paragraph == slug)
    f["prev_adjacent"] = float(turns.prev_adjacent == slug)
    f["next_adjacent"] = float(turns.next_adjacent == slug)
    f["next_anchor_adjacent"] = float(turns.next_adjacent == slug and turns.next_turn_anchor == slug)
    exchange = turns.exchange
    f["exchange_anchor"] = 1.0 / (1 + exchange[slug][0]) if slug in exchange and exchange[slug][1] else 0.0
    f["exchange_turn"] = 1.0 / (1 + exchange[slug][0]) if slug in exchange else 0.0
    f["speaking_share"] = ctx.speaking_share.get(slug, 0.0)
    f["style"] = ctx.style.log_ratio(slug, qi) / STYLE_SCALE
    return f


def name_features(ctx: BookContext, names: NameEvidence, slug: str, gender: str | None) -> dict[str, float]:
    """Names: vocatives, names in the quotations, in this paragraph's and the recent narration."""
    f = {"prev_vocative": float(slug in names.prev_voc), "own_vocative": float(slug in names.own_voc),
         "quoted_in_own": float(slug in names.quoted), "next_vocative": float(slug in names.next_voc),
         "prev_quoted": float(slug in names.prev_quoted and slug not in names.prev_voc),
         "named_in_quotes": float(slug in names.in_quotes)}
    here = [m for m in names.narration if m.start >= names.here_start and m.slug == slug]
    f["named_here"] = float(bool(here))
    f["subject_here"] = float(any(m.subject for m in here))
    last_seen = {m.slug: i for i, m in enumerate(names.narration)}
    order = sorted(last_seen, key=lambda s: -last_seen[s])
    f["recency"] = 1.0 / (1 + order.index(slug)) if slug in last_seen else 0.0
    f["salience"] = math.log1p(ctx.index.by_slug[slug].mentions) / 10
    f["narration_far"] = float(slug not in last_seen and any(m.slug == slug for m in names.far))
    before = names.before
    if before is not None:
        f["before_subject"] = float(before.subject == slug)
        f["before_named"] = float(slug in before.named)
        f["before_pronoun_match"] = float(before.pronoun is not None and before.pronoun == gender)
    return f


def address_features(names: NameEvidence, gender: str | None) -> dict[str, float]:
    """Forms of address ("sir", "ma'am"): +1 agrees with being the speaker they imply, -1 disagrees."""
    if not gender:
        return {}
    own, prev, following = names.address
    return {"addressed_gender_own": (own is not None) * (1.0 if own != gender else -1.0),
            "addressed_gender_prev": (prev is not None) * (1.0 if prev == gender else -1.0),
            "addressed_gender_next": (following is not None) * (1.0 if following == gender else -1.0)}


def combined_features(f: dict[str, float], turns: TurnEvidence) -> dict[str, float]:
    """Products of the groups': agreement with a turn, and the turns weighted by how sure they are."""
    return {"match_and_prev2": f["tag_gender_match"] * f["prev2_speaker"],
            "match_and_named_here": f["tag_gender_match"] * f["named_here"],
            "prev_speaker_sure": f["prev_speaker"] * turns.sure_prev,
            "prev2_speaker_sure": f["prev2_speaker"] * turns.sure_prev2,
            "prev_adjacent_sure": f["prev_adjacent"] * turns.sure_prev,
            "next_adjacent_sure": f["next_adjacent"] * turns.sure_next}


def candidates_and_features(ctx: BookContext, qi: int, anchors: dict[int, str],
                            parity: tuple[str | None, int], config) -> tuple[list[str], np.ndarray]:
    """Candidate speakers of quotation `qi` and their feature matrix (columns follow COLUMNS)."""
    names = NameEvidence.gather(ctx, qi, config)
    tags = TagEvidence.gather(ctx, qi, names.own_voc, config)
    turns = TurnEvidence.gather(ctx, qi, anchors, parity, config)
    candidates = candidate_speakers(ctx, tags, turns, names)
    rows = []
    for slug in candidates:
        gender = ctx.index.gender(slug)
        f = dict.fromkeys(FEATURES, 0.0)
        f.update(tag_features(ctx, tags, slug, gender))
        f.update(turn_features(ctx, turns, slug, qi))
        f.update(name_features(ctx, names, slug, gender))
        f.update(address_features(names, gender))
        f.update(combined_features(f, turns))
        rows.append([f[k] for k in FEATURES])
    base = np.array(rows, dtype=float).reshape(len(candidates), len(FEATURES))
    matrix = np.zeros((len(candidates), len(COLUMNS)))
    matrix[:, : len(FEATURES)] = base
    matrix[:, (tags.context + 1) * len(FEATURES) : (tags.context + 2) * len(FEATURES)] = base
    return candidates, matrix


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
