"""Speakers known only by a description: "said the mariner" in a scene that never names him.

A lowercase description ("the mariner", "the genial passenger", "the man with the black beard") that
is the subject of at least MIN_TAGS speech tags, all within MAX_SPAN_PARAGRAPHS paragraphs of each
other, joins a discovered cast. The span keeps out descriptions of named characters, which recur
through the book ("the doctor" for Mr. Losberne speaks over 2,900 paragraphs of Oliver Twist; the
mariner over 62 of The Invisible Man), also behind an adjective ("the good doctor"). Skipped too: a
noun that fits anyone ("the man", "the young lady") unless a phrase after it picks one person out, a
word pointing elsewhere ("the other detective"), and a noun that is a cast member's title ("the
count" for Count Mippipopolous).
"""

from __future__ import annotations

from corpus.attribution.context import BookContext
from corpus.attribution.mentions import GENERIC_NOUNS
from corpus.attribution.tags import Tag, find_tag
from corpus.attribution.characters import Character, unique_slugs

MIN_TAGS = 2
MAX_SPAN_PARAGRAPHS = 100
POINTING_WORDS = {"other", "same", "former", "latter", "last", "next"}


def described_speakers(ctx: BookContext, window_chars: int) -> list[Character]:
    """New cast members for the descriptions that speak in one scene only (slugs unique in the cast)."""
    paragraphs: dict[str, list[int]] = {}
    tags: dict[str, Tag] = {}
    for qi in range(len(ctx.quotations)):
        tag = find_tag(ctx, qi, window_chars)
        if tag is not None and tag.kind == "nominal" and tag.verb and tag.description:
            paragraphs.setdefault(tag.description, []).append(ctx.paragraph_of(tag.offset))
            tags[tag.description] = tag
    # the first words of the cast's longer names: their titles ("count" of Count Mippipopolous), given names
    first_words = {name.split()[0].lower() for c in ctx.index.cast for name in c.names() if len(name.split()) > 1}

    def one_scene(description: str) -> bool:
        found = paragraphs.get(description)
        return not found or max(found) - min(found) <= MAX_SPAN_PARAGRAPHS

    def specific(description: str, head: str) -> bool:
        """Not "the man", "the other detective", "the count", "the good doctor"; but "the man with the
        black beard" and "the charity-boy"."""
        *modifiers, last = description.split()[1:]
        if head in first_words or POINTING_WORDS.intersection(modifiers):
            return False
        if not last.endswith(head):  # a phrase after the noun picks one person out
            return True
        return last not in GENERIC_NOUNS and one_scene("the " + last)

    names = [d for d, ps in paragraphs.items() if len(ps) >= MIN_TAGS and one_scene(d) and specific(d, tags[d].head)]
    slugs = unique_slugs(names, taken={c.slug for c in ctx.index.cast})
    return [Character(slug, name, [], tags[name].gender) for slug, name in zip(slugs, names)]
