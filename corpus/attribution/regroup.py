"""Second look at a discovered cast once pronouns and given names have told the characters' genders.

Name clustering (`corpus.attribution.names.cluster_names`) runs before any gender is known beyond titles,
so it keeps "Miss Tilney" apart from "Eleanor Tilney" (the Tilneys have both sexes) and gives the
bare "Thorpe" to the most mentioned Thorpe, Isabella. With genders inferred from the text:
- a "Mr./Miss/Master X" character joins the one character of that gender whose full name has
  surname X, unless the two names are often in the same paragraphs (then they are two people:
  "Miss Dashwood" and Marianne); failing a surname, given name X ("Miss Marianne" is Marianne
  Dashwood). Of several such full names it joins one mentioned at least twice as often as any
  other ("Mr. Dashwood" is John, not his late father Henry), else none;
- a bare surname held by a woman goes to the family's most mentioned man, if the family has one
  ("Dashwood" is John Dashwood, not Marianne).
"""

from __future__ import annotations

from corpus.attribution.characters import Character
from corpus.attribution.names import ParsedName, Together, parse_name

JOINING_TITLES = {"Mr", "Miss", "Master"}  # not "Mrs. X": most often the wife of the full-named man
DOMINANT = 2  # of several full names it could join, a titled name joins one mentioned this many times as often


def regroup_by_gender(cast: list[Character], together: Together) -> list[Character]:
    """The cast with titled-surname characters joined to their full names and bare surnames
    moved to the family's man (see the module docstring); the input characters are updated in place."""
    parsed = {c.slug: parse_name(c.name) for c in cast}
    full = [c for c in cast if (n := parsed[c.slug]) and n.given and n.surname]
    joined: set[str] = set()
    for character in sorted(cast, key=lambda c: -c.mentions):
        name = parsed[character.slug]
        if not _joins(name, character):
            continue
        target = _join_target(name, character, full, parsed, together)
        if target is not None:
            target.aliases = sorted(set(target.aliases) | set(character.names()) - {target.name})
            target.mentions += character.mentions
            joined.add(character.slug)
    cast = [c for c in cast if c.slug not in joined]
    _move_bare_surnames(cast, parsed)
    return cast


def _joins(name: ParsedName | None, character: Character) -> bool:
    """Whether the character is a gendered "Mr./Miss/Master X" that may join a full name."""
    return (name is not None and name.title in JOINING_TITLES and name.given is None and bool(name.surname)
            and character.gender is not None)


def _join_target(name: ParsedName, character: Character, full: list[Character],
                 parsed: dict[str, ParsedName | None], together: Together) -> Character | None:
    """The full-named character of the same gender and no other title with surname X (else given
    name X) that a titled name "Mr./Miss/Master X" joins: the only one, or the one mentioned
    DOMINANT times as often as any other; None if there is none."""
    for part in ("surname", "given"):
        matches = sorted((c for c in full if getattr(parsed[c.slug], part) == name.surname
                          and c.gender == character.gender and parsed[c.slug].title in (None, name.title)),
                         key=lambda c: -c.mentions)
        if not matches:
            continue
        if len(matches) > 1 and matches[0].mentions < DOMINANT * matches[1].mentions:
            return None
        # "Miss Tilney" often beside "Eleanor" is her sister ("Miss Marianne" always holds "Marianne")
        if part == "surname" and together(character.name, parsed[matches[0].slug].given):
            return None
        return matches[0]
    return None


def _move_bare_surnames(cast: list[Character], parsed: dict[str, ParsedName | None]) -> None:
    """A woman's bare-surname alias goes to the most mentioned man with that surname, if any."""
    for character in cast:
        name = parsed[character.slug]
        if character.gender != "female" or not name or not name.surname or name.surname not in character.aliases:
            continue
        men = [c for c in cast if (n := parsed[c.slug]) and n.given and n.surname == name.surname
               and c.gender == "male"]
        if men:
            man = max(men, key=lambda c: c.mentions)
            character.aliases.remove(name.surname)
            man.aliases = sorted({*man.aliases, name.surname})
