"""Speakers known only by a description: "said the mariner" in a scene that never names him.

A lowercase description ("the mariner", "the genial passenger") that is the subject of at least
MIN_TAGS speech tags, all within MAX_SPAN_PARAGRAPHS paragraphs of each other, joins a discovered
cast. The span keeps out descriptions of named characters, which recur through the book ("the
doctor" for Mr. Losberne speaks over 2,900 paragraphs of Oliver Twist; the mariner over 62 of The
Invisible Man), also behind an adjective ("the good doctor"). Skipped too: a head noun that fits
anyone ("the man", "the young lady"), a word pointing elsewhere ("the other detective"), and a head
noun that is a title in a cast name ("the count" for Count Mippipopolous).
"""

from __future__ import annotations

from corpus.attribution.context import BookContext
from corpus.attribution.tags import GENERIC_NOUNS, find_tag
from corpus.characters import Character, unique_slugs

MIN_TAGS = 2
MAX_SPAN_PARAGRAPHS = 100
POINTING_WORDS = {"other", "same", "former", "latter", "last", "next"}


def described_speakers(ctx: BookContext, window_chars: int) -> list[Character]:
    """New cast members for the descriptions that speak in one scene only (slugs unique in the cast)."""
    paragraphs: dict[str, list[int]] = {}
    genders: dict[str, str | None] = {}
    for qi in range(len(ctx.quotations)):
        tag = find_tag(ctx, qi, window_chars)
        if tag is not None and tag.kind == "nominal" and tag.verb and tag.description:
            paragraphs.setdefault(tag.description, []).append(ctx.paragraph_of(tag.offset))
            genders[tag.description] = tag.gender
    name_words = {w.lower() for c in ctx.index.cast for name in c.names() for w in name.split()}

    def one_scene(description: str) -> bool:
        found = paragraphs.get(description)
        return not found or max(found) - min(found) <= MAX_SPAN_PARAGRAPHS

    names = [d for d, ps in paragraphs.items() if len(ps) >= MIN_TAGS and one_scene(d)
             and one_scene("the " + d.split()[-1]) and _specific(d, name_words)]
    slugs = unique_slugs(names, taken={c.slug for c in ctx.index.cast})
    return [Character(slug, name, [], genders[name]) for slug, name in zip(slugs, names)]


def _specific(description: str, name_words: set[str]) -> bool:
    """Whether a description picks out one person: not "the man", "the other detective", "the count"."""
    *modifiers, head = description.split()[1:]
    return head not in GENERIC_NOUNS and head not in name_words and not POINTING_WORDS.intersection(modifiers)
