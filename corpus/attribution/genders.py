"""Genders of cast members that have none yet: from the pronouns that refer back to their name in
the narration, with their given name's gender as one more vote.

The given names' genders (given_names.json, built by bench/given_names.py from nomquamgender's
counts over 30-odd name registers, MIT) are those of names borne by at least 1,000 people, 95 % or
more of one gender: "John Thorpe" is a man even where no "he" follows his name."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from corpus.attribution.context import BookContext
from corpus.attribution.mentions import SUBJECT_PRONOUNS, Mention
from corpus.attribution.tags import SUBJECT_DEPS
from corpus.attribution.characters import Character
from corpus.attribution.names import parse_name

GENDER_WINDOW_CHARS = 80  # narration after a name searched for the pronoun that refers back to it
SENTENCE_END = re.compile(r"[.!?;\"\u201c\u201d]")  # ... up to the end of its sentence or the next quotation
REFERRING_PRONOUNS = SUBJECT_PRONOUNS | {"himself": "male", "herself": "female"}
REFERRING_PRONOUN = re.compile(r"\b(?:" + "|".join(REFERRING_PRONOUNS) + r")\b")
GIVEN_NAMES_FILE = Path(__file__).with_name("given_names.json")
MAJORITY = 1.5  # a gender needs this many times the other's votes, plus one
OPENING_SKIPS = {"cc", "advmod", "intj", "punct"}  # "And then he ..." still opens with its subject


def infer_genders(ctx: BookContext) -> None:
    """Set the gender of cast members without one by a vote over the subject mentions of their name in
    the narration (see `_referring_pronoun`); their given name's gender (given_names.json) is one more
    vote. The winner needs MAJORITY times the other's votes, plus one; without a winner the given
    name's gender stands, if it tells one."""
    votes: dict[str, dict[str, int]] = {}
    for m in ctx.mentions:
        if m.in_quote or not m.subject or ctx.index.gender(m.slug):
            continue
        pronoun = _referring_pronoun(ctx, m)
        if pronoun:
            tally = votes.setdefault(m.slug, {})
            tally[pronoun] = tally.get(pronoun, 0) + 1
    given = {c.slug: name_gender(c) for c in ctx.index.cast if not c.gender}
    for slug, gender in given.items():
        if gender:
            tally = votes.setdefault(slug, {})
            tally[gender] = tally.get(gender, 0) + 1
    for slug, tally in votes.items():
        gender, n = max(tally.items(), key=lambda kv: kv[1])
        if n >= MAJORITY * (sum(tally.values()) - n) + 1:
            ctx.index.by_slug[slug].gender = gender
    for character in ctx.index.cast:
        character.gender = character.gender or given.get(character.slug)


def _referring_pronoun(ctx: BookContext, m: Mention) -> str | None:
    """The gender of the pronoun (he/she/himself/herself) that follows a subject mention in its sentence
    with no other name between ("Jane smiled, and she ..."); else of the he/she that opens the next
    sentence of the paragraph as its subject ("Ronny came to fetch her. He was worn ..."), no quotation
    between."""
    sentence = SENTENCE_END.split(ctx.text[m.end : m.end + GENDER_WINDOW_CHARS].lower())[0]
    found = REFERRING_PRONOUN.search(sentence)
    if found:  # "Henry looked at Catherine, and she ...": a name between the two takes the pronoun
        return None if ctx.mentions_between(m.end, m.end + found.start()) else REFERRING_PRONOUNS[found.group()]
    paragraph = ctx.paragraph_of(m.start)
    base, doc = ctx.paragraphs[paragraph][0], ctx.docs[paragraph]
    span = doc.char_span(m.start - base, m.end - base, alignment_mode="expand")
    if span is None or span.sent.end >= len(doc):
        return None
    opening = next((t for t in doc[span.sent.end].sent if t.dep_ not in OPENING_SKIPS and not t.is_space), None)
    if opening is None or opening.lower_ not in SUBJECT_PRONOUNS or opening.dep_ not in SUBJECT_DEPS:
        return None
    between = doc[span.end : opening.i + 1]  # the pronoun too: not one inside a quotation
    if ctx.mentions_between(m.end, base + opening.idx) or any(ctx.in_quote(base + t.idx) for t in between):
        return None
    return SUBJECT_PRONOUNS[opening.lower_]


def name_gender(character: Character) -> str | None:
    """The gender of the first of the character's names whose given name tells one, else None."""
    for name in character.names():
        parsed = parse_name(name)
        gender = _given_names().get(parsed.given.lower()) if parsed and parsed.given else None
        if gender:
            return gender
    return None


@cache
def _given_names() -> dict[str, str]:
    """Lower-cased given name -> "female"/"male"."""
    data = json.loads(GIVEN_NAMES_FILE.read_text("utf-8"))
    return {name: gender for gender in ("female", "male") for name in data[gender]}
