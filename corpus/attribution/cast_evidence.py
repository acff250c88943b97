"""How sure the cast behind a decision is: calibration evidence that the speaker's cluster of names
joined two members of a family, so that a named speech tag resolved to such a cluster is not as sure
as the tag itself.

A discovered cast that merged a family's "Mr. Harrow" (or the whole "Mr. Harrow" cluster) into Ann
Harrow shows it in its own names: the cluster's titles and gender tell both sexes, and a tag's name
has a title of the other sex than the character it resolved to. Both are zero on the clean discovered
casts of PDNC and fire on the family merges of bench/cast_stress.py; calibration.json learns their
weight from those (see bench/attribution.py --perturb-cast). Other evidence measured there (a name
several characters answer to, a family name without a given name, several given names in one
cluster, the cluster's size, quoted share or missing gender) lowered the coverage at precision 0.95
on the clean tuning novels and is not used.
"""

from __future__ import annotations

from corpus.attribution.characters import Character
from corpus.attribution.context import BookContext
from corpus.attribution.names import TITLES, parse_name

CAST_PREFIX = "cast_"  # every signal of this module is named so


def both_sexes(character: Character) -> bool:
    """Whether the character's names and gender tell both sexes: a man's title and a woman's ("Mr. Harrow"
    beside "Mrs. Harrow"), or a title of the other sex than the character's gender."""
    sexes = {TITLES[p.title] for p in map(parse_name, character.names()) if p is not None and p.title in TITLES}
    return len(sexes | {character.gender} - {None}) > 1


class CastEvidence:
    """Per-book index of the cast evidence (built once; `signals` per decision)."""

    def __init__(self, ctx: BookContext):
        self.by_slug = ctx.index.by_slug
        self.merged = {c.slug for c in ctx.index.cast if both_sexes(c)}

    def signals(self, slug: str, name: str | None = None) -> dict[str, float]:
        """The evidence on speaker `slug`, and on the `name` that named it (a speech tag's, if any)."""
        character = self.by_slug.get(slug)
        if character is None:
            return {}
        found = {"both_sexes": float(slug in self.merged)}
        if name is not None:
            parsed = parse_name(name)
            title_sex = parsed.gender if parsed else None
            found["name_other_sex"] = float(None not in (title_sex, character.gender) and title_sex != character.gender)
        return {CAST_PREFIX + key: value for key, value in found.items()}


def without_cast_evidence(signals: dict[str, float]) -> dict[str, float]:
    """A decision's signals less the cast evidence (the calibration without it)."""
    return {k: v for k, v in signals.items() if not k.startswith(CAST_PREFIX)}
