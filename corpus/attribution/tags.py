"""Speech-tag sieves: "said Elizabeth" (explicit), "he cried" / "said his wife" (anaphoric), and
action beats ("Elizabeth smiled. '...'") in the quotation's own paragraph."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from corpus.attribution.context import BookContext, Guess
from corpus.attribution.conversation import vocatives
from corpus.attribution.mentions import GENDERED_NOUNS, GENERIC_NOUNS, SUBJECT_PRONOUNS
from corpus.attribution.quotes import Quotation
from corpus.attribution.speech_verbs import SPEECH_VERBS

SUBJECT_DEPS = {"nsubj", "nsubjpass"}
CONJ_DEPTH = 3  # coordinated verbs climbed for a shared subject
INTRODUCING_PUNCTUATION = ",:;-\u2014"
FIRST_PERSON = {"i"}


@dataclass
class Tag:
    """Who a speech tag or beat names: a cast member (slug) or an anaphor with a gender."""

    slug: str | None
    gender: str | None
    kind: str  # "name", "pronoun", "nominal", "narrator"
    offset: int  # character offset of the subject
    verb: bool  # True for a speech verb, False for an action beat
    verb_text: str = ""
    head: str = ""  # the noun of a nominal tag ("beadle" in "said the beadle")
    description: str = ""  # a nominal tag's lowercase "the ..." phrase ("the genial passenger")


def _subject(verb, quoted) -> object | None:
    """The verb's subject outside quotation marks: its nsubj child (that of the verb it is coordinated
    with or a participle of, and a relative pronoun's antecedent), else the word after it ("said Jane",
    "said the Dodger"), else None. `quoted(token)` tells whether a token is inside a quotation."""
    head = verb
    for _ in range(CONJ_DEPTH + 1):  # "Henry bowed, turned to Fanny and said": the subject of the first verb
        for child in head.children:
            if child.dep_ in SUBJECT_DEPS and not quoted(child):
                if child.tag_ == "WP" and head.dep_ == "relcl" and not quoted(head.head):
                    return head.head  # "Mr. Allen, who, on hearing the reason, said": the relative's antecedent
                return child
        participle = head.dep_ == "advcl" and head.tag_ == "VBG"  # "presented the thimble, saying"
        # "could not help saying", "turned to ask": the subject of the verb it complements
        climbs = head.dep_ in ("conj", "xcomp") or participle
        if not climbs or head.head is head or head.head.pos_ not in ("VERB", "AUX"):
            break
        head = head.head
    before = _name_before(verb, quoted)
    if before is not None:
        return before
    # the next word, over a line break ("interposed\nFielding")
    nxt = next((t for t in verb.doc[verb.i + 1 : verb.i + 3] if not t.is_space), None)
    if nxt is None or quoted(nxt):
        return None
    if nxt.pos_ in ("DET", "PRON") and nxt.lower_ in ("the", "a", "an", "his", "her", "their", "its", "my"):
        head = nxt.head
        return head if head.i > verb.i and head.pos_ in ("NOUN", "PROPN") and not quoted(head) else None
    if nxt.pos_ in ("PROPN", "PRON") or nxt.lower_ in SUBJECT_PRONOUNS:
        return nxt
    return None


def _name_before(verb, quoted) -> object | None:
    """A noun phrase between punctuation (a closing quotation mark, a comma) and the verb that the parser
    did not make the verb's subject ('"..." the Hatter went on' parsed as an apposition)."""
    doc = verb.doc
    i = verb.i - 1
    while i >= 0 and doc[i].is_space:
        i -= 1
    if i < 0 or doc[i].pos_ not in ("NOUN", "PROPN") or quoted(doc[i]):
        return None
    noun, i = doc[i], i - 1
    while i >= 0 and not quoted(doc[i]) and doc[i].pos_ in ("DET", "PROPN") and not doc[i].is_punct:
        i -= 1
    return noun if i >= 0 and doc[i].is_punct else None


def _tag_of(ctx: BookContext, base: int, subject, verb: bool) -> Tag | None:
    start = base + subject.idx
    mention = ctx.mention_at(start, start + len(subject.text))
    if mention is None:  # the head may sit after its compound ("Miss Elizabeth Bennet")
        left = base + subject.left_edge.idx
        mention = ctx.mention_at(left, start + len(subject.text))
        if mention is not None and ctx.text.startswith(("'s", "\u2019s"), mention.end):
            mention = None  # "Scrooge's nephew" is not Scrooge
    if mention is not None and not mention.in_quote:
        return Tag(mention.slug, ctx.index.gender(mention.slug), "name", mention.start, verb)
    lower = subject.lower_
    if lower in SUBJECT_PRONOUNS:
        return Tag(None, SUBJECT_PRONOUNS[lower], "pronoun", start, verb)
    if lower in FIRST_PERSON and ctx.first_person:
        return Tag(ctx.narrator, None, "narrator", start, verb)
    if subject.pos_ in ("NOUN", "PROPN") and verb:
        gender = next((g for g, nouns in GENDERED_NOUNS.items() if lower in nouns), None)
        return Tag(None, gender, "nominal", start, verb, head=lower, description=_description(subject))
    return None


def _description(noun) -> str:
    """ "the" and the lowercase words up to the noun ("the first policeman", "the station-master"), with a
    phrase right after it ("the man with the black beard"); "" for any other subject."""
    determiner = noun.left_edge
    if determiner.lower_ != "the" or determiner.i >= noun.i:
        return ""
    after = next((c for c in noun.rights if c.dep_ == "prep" and c.i == noun.i + 1), None)
    words = noun.doc[determiner.i + 1 : (after.right_edge if after is not None else noun).i + 1]
    if not all(t.text == "-" or (t.is_alpha and t.is_lower) for t in words):
        return ""
    return "the " + " ".join(words.text.split())


def find_tag(ctx: BookContext, qi: int, max_chars: int) -> Tag | None:
    """The speech tag (or, failing that, the action beat) nearest to quotation `qi` in its paragraphs
    (computed once per quotation; callers must not modify the returned Tag)."""
    key = (qi, max_chars)
    if key not in ctx.tags:
        ctx.tags[key] = _find_tag(ctx, qi, max_chars)
    return ctx.tags[key]


def _find_tag(ctx: BookContext, qi: int, max_chars: int) -> Tag | None:
    quotation = ctx.quotations[qi]
    paragraphs = {ctx.paragraph_of(quotation.start), ctx.paragraph_of(quotation.end - 1)}
    others = [ctx.quotations[i] for p in paragraphs for i in ctx.paragraph_quotes.get(p, []) if i != qi]
    return tag_near(ctx, quotation, others, max_chars)


def tag_near(ctx: BookContext, quotation: Quotation, others: list[Quotation], max_chars: int) -> Tag | None:
    """The speech tag (else the action beat) nearest to `quotation` in its paragraphs, outside the
    `others` quotations of those paragraphs (and the narration between their parts)."""
    paragraphs = sorted({ctx.paragraph_of(quotation.start), ctx.paragraph_of(quotation.end - 1)})
    introduction = _introduction(ctx, quotation)
    if introduction is not None:
        return introduction
    best: tuple[float, Tag] | None = None
    covered: _Coverage | None = None  # built for the first candidate (a paragraph may hold hundreds of parts)
    starts = [s for s, _ in quotation.parts]
    for p in paragraphs:
        base = ctx.paragraphs[p][0]
        tokens, offsets = ctx.narration(p)
        # only tokens within max_chars of the quotation can be its tag
        lo = bisect.bisect_left(offsets, quotation.start - max_chars)
        hi = bisect.bisect_right(offsets, quotation.end + max_chars)
        for token, pos in zip(tokens[lo:hi], offsets[lo:hi]):
            distance = _distance(quotation, pos, starts)
            if distance > max_chars:
                continue
            is_verb = token.lower_ in SPEECH_VERBS and token.pos_ in ("VERB", "AUX")
            is_beat = not is_verb and token.dep_ == "ROOT" and token.pos_ in ("VERB", "AUX")
            if not (is_verb or is_beat):
                continue
            covered = covered or _Coverage(others)
            if covered(pos):
                continue
            subject = _subject(token, lambda t: ctx.in_quote(base + t.idx))
            if subject is None:
                continue
            tag = _tag_of(ctx, base, subject, is_verb)
            if tag is None:
                continue
            tag.verb_text = token.lower_
            # speech verbs win over beats; then the nearest
            score = distance + (0 if is_verb else 10 * max_chars)
            if best is None or score < best[0]:
                best = (score, tag)
    return best[1] if best else None


class _Coverage:
    """Whether an offset falls inside one of some quotations or the narration between their parts
    (`quotation.start <= offset <= quotation.end`), by bisection over the sorted spans."""

    def __init__(self, quotations: list[Quotation]) -> None:
        spans = sorted((q.start, q.end + 1) for q in quotations)
        self._starts = [s for s, _ in spans]
        self._reach = list(itertools.accumulate((e for _, e in spans), max))  # furthest end so far

    def __call__(self, offset: int) -> bool:
        i = bisect.bisect_right(self._starts, offset) - 1
        return i >= 0 and self._reach[i] > offset


def _introduction(ctx: BookContext, quotation) -> Tag | None:
    """A tag closing the paragraph just before a quotation that opens its own paragraph, after that
    paragraph's own quotations ("... when Elizabeth called out,<blank line>"Dear Ma'am ...")."""
    if not ctx.opens_paragraph(quotation):
        return None
    paragraph = ctx.paragraph_of(quotation.start)
    prev_start, prev_end = ctx.paragraphs[paragraph - 1]
    if ctx.text[prev_end - 1] not in INTRODUCING_PUNCTUATION or ctx.in_quote(prev_end - 1):
        return None
    narration_from = max((ctx.quotations[i].end for i in ctx.paragraph_quotes.get(paragraph - 1, [])), default=0)
    tokens = [t for t in ctx.docs[paragraph - 1] if t.pos_ in ("VERB", "AUX") and prev_start + t.idx > narration_from]
    for token in reversed(tokens[-3:]):
        subject = _subject(token, lambda t: ctx.in_quote(prev_start + t.idx))
        if subject is not None:
            tag = _tag_of(ctx, prev_start, subject, token.lower_ in SPEECH_VERBS)
            if tag is not None:
                tag.verb = True
                tag.verb_text = token.lower_
                return tag
    return None


EPITHET_MIN_COUNT = 3
EPITHET_MIN_SHARE = 0.5


def epithet_owner(ctx: BookContext, head: str, gender: str | None) -> str | None:
    """The character a descriptive noun stands for in this book, when one clearly dominates."""
    counts = {s: n for s, n in ctx.epithet_owners(head).items()
              if gender is None or ctx.index.gender(s) in (None, gender)}
    if not counts:
        return None
    slug, n = max(counts.items(), key=lambda kv: kv[1])
    return slug if n >= EPITHET_MIN_COUNT and n >= EPITHET_MIN_SHARE * sum(counts.values()) else None


def _distance(quotation, pos: int, starts: list[int]) -> int:
    """Characters from `pos` to the nearest of the quotation's parts (`starts`: their start offsets)."""
    parts = quotation.parts
    i = bisect.bisect_right(starts, pos) - 1
    # the part at or before pos and the one after it are the nearest (parts are sorted and disjoint)
    return min(pos - e if pos >= e else abs(s - pos) for s, e in parts[max(i, 0) : i + 2])


SAME_SPEAKER_VERBS = {"continued", "continues", "added", "adds", "resumed", "pursued", "persisted", "went"}


def resolve_anaphor(ctx: BookContext, tag: Tag, qi: int, exclude: set[str], verb_text: str, window: int) -> str | None:
    """The most salient gender-compatible character before the tag: the latest narration mention or
    earlier speaker, skipping the previous turn's speaker (a new paragraph of dialogue is a new turn)."""
    quotation = ctx.quotations[qi]
    paragraph = ctx.paragraph_of(quotation.start)
    window_start = ctx.paragraphs[max(paragraph - window, 0)][0]
    events: list[tuple[int, str]] = [(m.start, m.slug) for m in ctx.mentions_between(window_start, tag.offset)
                                     if not m.in_quote and m.subject]
    previous_speaker = None
    for i in range(qi - 1, -1, -1):
        q = ctx.quotations[i]
        if q.end < window_start:
            break
        guess = ctx.guesses[i]
        if guess and guess.speaker:
            events.append((q.start, guess.speaker))
            if i == qi - 1:
                previous_speaker = guess.speaker
    if previous_speaker and (verb_text in SAME_SPEAKER_VERBS
                             or ctx.paragraph_of(ctx.quotations[qi - 1].end - 1) == paragraph):
        previous_speaker = None
    events.sort(reverse=True)
    # In an exchange the likeliest referents are whom the last turn addressed and the turn before it.
    priority: list[str] = []
    if qi >= 1 and paragraph - ctx.paragraph_of(ctx.quotations[qi - 1].end - 1) <= 2:
        priority += [s for s in vocatives(ctx, qi - 1) if s != previous_speaker]
        if qi >= 2 and ctx.guesses[qi - 2] and ctx.guesses[qi - 2].speaker:
            priority.append(ctx.guesses[qi - 2].speaker)
    # then anyone named in the narration of this paragraph before the tag
    here = [m.slug for m in reversed(ctx.mentions_between(ctx.paragraphs[paragraph][0], tag.offset)) if not m.in_quote]
    others = [m.slug for m in reversed(ctx.mentions_between(window_start, tag.offset)) if not m.in_quote]
    ranked = priority + here + [slug for _, slug in events] + others
    fallback = None
    for slug in ranked:
        if slug in exclude:
            continue
        gender = ctx.index.gender(slug)
        if tag.gender is not None and gender not in (None, tag.gender):
            continue
        if tag.gender is not None and gender is None and fallback is None:
            fallback = slug
            continue
        if slug == previous_speaker:
            fallback = fallback or slug
            continue
        return slug
    return fallback


def tag_guess(ctx: BookContext, qi: int, max_chars: int, window: int, names_only: bool,
              turn_speaker: str | None = None) -> Guess | None:
    """A speaker from the quotation's own speech tag or beat, typed explicit/anaphoric."""
    tag = find_tag(ctx, qi, max_chars)
    if tag is None:
        return None
    source = "tag" if tag.verb else "beat"
    if tag.kind == "name":
        return Guess(tag.slug, "explicit" if tag.verb else "implicit", f"{source}-name")
    if tag.kind == "narrator":
        return Guess(tag.slug, "anaphoric", f"{source}-narrator") if tag.slug else None
    if names_only:
        return None
    if tag.kind == "nominal" and tag.head and tag.head not in GENERIC_NOUNS:
        owner = epithet_owner(ctx, tag.head, tag.gender)
        if owner:
            return Guess(owner, "anaphoric", f"{source}-epithet")
    if turn_speaker and tag.gender and ctx.index.gender(turn_speaker) == tag.gender:
        # the pronoun agrees with whose turn it is
        return Guess(turn_speaker, "anaphoric" if tag.verb else "implicit", f"{source}-{tag.kind}-turn")
    vocatives = {m.slug for m in ctx.mentions_between(ctx.quotations[qi].start, ctx.quotations[qi].end)}
    slug = resolve_anaphor(ctx, tag, qi, vocatives, tag.verb_text, window)
    if slug is None:
        return None
    return Guess(slug, "anaphoric" if tag.verb else "implicit", f"{source}-{tag.kind}")
