"""How sure the cast behind a decision is: calibration evidence on the speaker's cluster and the name
that named it, so that a named speech tag resolved to a doubtful character is not as sure as the tag.

A discovered cast goes wrong in a few ways that the text itself shows: a name several characters
answer to (an ambiguous alias), a family name without a given name while the family has several
members, a cluster that joined several given names, a small cluster, and a "character" named almost
only inside quotations (an exclamation or an apostrophe, not a person the narration follows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from corpus.attribution.context import BookContext
from corpus.attribution.mentions import normalise_name
from corpus.characters import TITLES, parse_name

CAST_SIGNALS = ("name_ambiguous", "family_name", "cluster_given_names", "cluster_log_mentions",
                "cluster_quoted_share", "cluster_description", "speaker_share")


@dataclass(frozen=True)
class ClusterEvidence:
    """What a character's cluster tells about its own reliability."""

    given_names: int  # distinct given names among its names (more than one: a merged family?)
    mentions: int
    quoted_share: float  # share of its mentions inside quotations
    description: bool  # known only by a description ("the Hatter")
    surnames: frozenset[str]


class CastEvidence:
    """Per-book index of the cast evidence (built once; `signals` per decision)."""

    def __init__(self, ctx: BookContext):
        self.ctx = ctx
        quoted: dict[str, int] = {}
        for m in ctx.mentions:
            quoted[m.slug] = quoted.get(m.slug, 0) + m.in_quote
        self.clusters: dict[str, ClusterEvidence] = {}
        self.families: dict[str, set[str]] = {}  # surname -> slugs bearing it
        for c in ctx.index.cast:
            parsed = [p for p in map(parse_name, c.names()) if p is not None]
            surnames = frozenset(p.surname for p in parsed if p.surname and " " not in p.surname)
            for surname in surnames:
                self.families.setdefault(surname, set()).add(c.slug)
            self.clusters[c.slug] = ClusterEvidence(
                len({p.given for p in parsed if p.given and p.given not in TITLES}), c.mentions,
                quoted.get(c.slug, 0) / c.mentions if c.mentions else 0.0,
                c.name.lower().startswith("the "), surnames)

    def signals(self, slug: str, name: str | None = None) -> dict[str, float]:
        """The evidence on speaker `slug`, and on the `name` that named it (a speech tag's, if any)."""
        cluster = self.clusters.get(slug)
        if cluster is None:
            return {}
        return {
            "name_ambiguous": float(name is not None and self.ctx.index.owners.get(normalise_name(name), 1) > 1),
            "family_name": float(name is not None and self._family_name(name, slug)),
            "cluster_given_names": float(cluster.given_names > 1),
            "cluster_log_mentions": math.log1p(cluster.mentions),
            "cluster_quoted_share": cluster.quoted_share,
            "cluster_description": float(cluster.description),
            "speaker_share": self.ctx.speaking_share.get(slug, 0.0),  # its share of the named tags
        }

    def _family_name(self, name: str, slug: str) -> bool:
        """Whether `name` is a surname without a given name ("Mr. Grey", "Grey") that other characters
        of the cast also bear."""
        parsed = parse_name(name)
        surname = parsed.surname or parsed.given if parsed and not (parsed.given and parsed.surname) else None
        return bool(surname) and len(self.families.get(surname, set()) - {slug}) > 0
