"""Genders of cast members that have none yet: from the pronouns that refer back to their name in
the narration, else from their given name.

The given names' genders (given_names.json, built by bench/given_names.py from nomquamgender's
counts over 30-odd name registers, MIT) are those of names borne by at least 1,000 people, 95 % or
more of one gender: "John Thorpe" is a man even where no "he" follows his name."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from corpus.attribution.context import BookContext
from corpus.attribution.mentions import SUBJECT_PRONOUNS
from corpus.characters import Character, parse_name

GENDER_WINDOW_CHARS = 80  # narration after a name searched for the pronoun that refers back to it
SENTENCE_END = re.compile(r"[.!?;\"\u201c\u201d]")  # ... up to the end of its sentence or the next quotation
REFERRING_PRONOUNS = SUBJECT_PRONOUNS | {"himself": "male", "herself": "female"}
REFERRING_PRONOUN = re.compile(r"\b(?:" + "|".join(REFERRING_PRONOUNS) + r")\b")
GIVEN_NAMES_FILE = Path(__file__).with_name("given_names.json")


def infer_genders(ctx: BookContext) -> None:
    """Set the gender of cast members without one: the pronoun (he/she/himself/herself) that most
    often follows their name in the same sentence, with no other name between, where the name is the
    subject of a narration clause ("Jane smiled, and she ..."); failing that, their given name's."""
    votes: dict[str, dict[str, int]] = {}
    for m in ctx.mentions:
        if m.in_quote or not m.subject or ctx.index.gender(m.slug):
            continue
        sentence = SENTENCE_END.split(ctx.text[m.end : m.end + GENDER_WINDOW_CHARS].lower())[0]
        found = REFERRING_PRONOUN.search(sentence)
        # "Henry looked at Catherine, and she ...": a name between the two takes the pronoun
        between = ctx.mentions_between(m.end, m.end + found.start()) if found else []
        pronoun = REFERRING_PRONOUNS[found.group()] if found and not between else None
        if pronoun:
            tally = votes.setdefault(m.slug, {})
            tally[pronoun] = tally.get(pronoun, 0) + 1
    for slug, tally in votes.items():
        gender, n = max(tally.items(), key=lambda kv: kv[1])
        if n >= 2 * (sum(tally.values()) - n) + 1:
            ctx.index.by_slug[slug].gender = gender
    for character in ctx.index.cast:
        character.gender = character.gender or name_gender(character)


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
