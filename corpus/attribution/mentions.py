"""Character mentions: where the cast's names occur in the text, and pronoun genders."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from corpus.attribution.characters import Character
from corpus.attribution.names import TITLES

SUBJECT_PRONOUNS = {"he": "male", "she": "female"}
# Nouns that carry a gender when a speech tag names a speaker by description ("said his wife").
GENDERED_NOUNS = {
    "female": {"woman", "lady", "girl", "wife", "mother", "sister", "aunt", "daughter", "widow", "mistress",
               "maid", "housekeeper", "niece", "grandmother", "landlady", "hostess", "queen", "duchess",
               "madam", "madame", "nurse", "matron", "governess", "damsel", "bride", "cousin's wife"},
    "male": {"man", "gentleman", "boy", "husband", "father", "brother", "uncle", "son", "lad", "fellow",
             "sir", "lord", "master", "nephew", "grandfather", "landlord", "host", "king", "duke", "beadle",
             "doctor", "surgeon", "captain", "colonel", "officer", "clergyman", "priest", "jew", "butler",
             "servant", "footman", "coachman", "waiter", "gentlemen", "youth", "stranger", "old man"},
}

# Descriptions that fit many people in a book ("the girl") or are relative ("his wife").
GENERIC_NOUNS = {
    "girl", "boy", "man", "woman", "lady", "gentleman", "child", "stranger", "mother", "father", "wife",
    "husband", "sister", "brother", "aunt", "uncle", "daughter", "son", "person", "voice", "people", "fellow",
    "lad", "youth", "friend", "companion", "servant", "master", "mistress", "visitor", "other", "one",
    "niece", "nephew", "cousin", "men", "women", "ladies", "gentlemen", "girls", "boys", "children", "others",
}

DOTTED_TITLES = {"Mr.", "Mrs.", "Dr.", "Ms.", "St."}


@dataclass(frozen=True)
class Mention:
    """A name of a cast member at [start, end) in the text."""

    start: int
    end: int
    slug: str
    in_quote: bool
    subject: bool = False  # the grammatical subject of its clause (set from the parse)


class CastIndex:
    """Name lookup for a cast: alias -> slug (an ambiguous alias goes to its most mentioned owner)."""

    def __init__(self, cast: list[Character]):
        self.cast = cast
        self.by_slug = {c.slug: c for c in cast}
        owners: dict[str, list[Character]] = {}
        for character in cast:
            for name in character.names():
                name = normalise_name(name)
                owners.setdefault(name, []).append(character)
                if name.startswith(("The ", "the ")):  # "the Dodger" mid-sentence, "The Dodger" at its start
                    swapped = ("the " if name[0] == "T" else "The ") + name[4:]
                    owners.setdefault(swapped, []).append(character)
        derived: dict[str, set[str]] = {}
        for character in cast:
            for part in _name_parts(character):
                derived.setdefault(part, set()).add(character.slug)
        for part, slugs in derived.items():  # "Bill" for "Bill Gorton" when no one else is a Bill
            if part not in owners and len(slugs) == 1:
                owners[part] = [self.by_slug[next(iter(slugs))]]
        for character in cast:  # "Miss Daisy Miller" for "Daisy Miller" also called "Miss Daisy"
            for name in _titled_full_names(character):
                owners.setdefault(name, [character])
        main_names = {normalise_name(c.name): c.slug for c in cast}
        # an ambiguous alias goes to the character whose main name contains it, then the most mentioned
        self.slug_of = {
            name: main_names.get(name) or max(
                chars, key=lambda c: (name.lower() in c.name.lower().split(), c.mentions)).slug
            for name, chars in owners.items()
        }
        names = sorted(self.slug_of, key=len, reverse=True)
        # names may be broken over lines in hard-wrapped text
        # "Mrs. Smith" also matches "Mrs Smith"
        alternatives = "|".join(
            r"\s+".join(re.escape(w).replace(r"\.", r"\.?") if w in DOTTED_TITLES else re.escape(w) for w in n.split())
            for n in names
        )
        self.pattern = re.compile(r"(?<![\w'])(?:" + alternatives + r")(?![\w])") if names else None
        # lower-cased word of a name -> its characters ("count"); not a generic noun of a description
        # ("gentleman" of "the gentleman in the white waistcoat")
        self.by_word: dict[str, list[str]] = {}
        for character in cast:
            for word in {w.lower() for name in character.names() for w in re.findall(r"\w+", name)
                         if not (name.startswith("the ") and name[4:5].islower() and w in GENERIC_NOUNS)}:
                self.by_word.setdefault(word, []).append(character.slug)

    def gender(self, slug: str | None) -> str | None:
        return self.by_slug[slug].gender if slug in self.by_slug else None


def normalise_name(name: str) -> str:
    """One spelling per name: single spaces, "Mrs Smith" -> "Mrs. Smith"."""
    words = name.split()
    if words and words[0] + "." in DOTTED_TITLES:
        words[0] += "."
    return " ".join(words)


def _name_parts(character: Character) -> set[str]:
    """Given names and surnames of a character's untitled multi-word names ("Bill Gorton" -> Bill, Gorton)."""
    parts = set()
    for name in character.names():
        words = name.replace(".", "").split()
        if len(words) < 2 or words[0].lower() == "the" or words[0] in TITLES:
            continue  # a bare surname is more often someone else than "Mrs. X" (measured on PDNC)
        parts.update((words[0], words[-1]))
    return {p for p in parts if p[:1].isupper() and len(p) > 2 and p not in TITLES}


def _titled_full_names(character: Character) -> set[str]:
    """Each title the character's names carry before each of its untitled multi-word names."""
    titles, full = set(), []
    for name in map(normalise_name, character.names()):
        words = name.split()
        if len(words) < 2 or words[0].lower() == "the":
            continue
        if words[0].rstrip(".") in TITLES:
            titles.add(words[0])
        else:
            full.append(name)
    return {f"{title} {name}" for title in titles for name in full}


def find_mentions(text: str, index: CastIndex, quote_spans: list[tuple[int, int]]) -> list[Mention]:
    """Every cast-name occurrence, in text order; `quote_spans` (sorted) mark quoted text."""
    if index.pattern is None:
        return []
    starts = [s for s, _ in quote_spans]
    mentions = []
    for match in index.pattern.finditer(text):
        i = bisect.bisect_right(starts, match.start()) - 1
        in_quote = i >= 0 and quote_spans[i][0] <= match.start() < quote_spans[i][1]
        slug = index.slug_of.get(normalise_name(match.group()))
        if slug:
            mentions.append(Mention(match.start(), match.end(), slug, in_quote))
    return mentions


def count_mentions(mentions: list[Mention]) -> dict[str, int]:
    """Mentions per slug."""
    counts: dict[str, int] = {}
    for m in mentions:
        counts[m.slug] = counts.get(m.slug, 0) + 1
    return counts
