"""Characters: the cast of a book (`Character`, slugs, genders), read from a CSV or made from the clusters
of names that `discovery` finds."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import CorpusError

GENDERS = ("female", "male")
_GENDER_WORDS = {"f": "female", "female": "female", "m": "male", "male": "male"}


@dataclass
class Character:
    """One character of a book: a unique slug, its main name, other names, gender, mention count."""

    slug: str
    name: str
    aliases: list[str] = field(default_factory=list)
    gender: str | None = None  # "female", "male" or None when unknown
    mentions: int = 0

    def names(self) -> list[str]:
        """The main name followed by the aliases, without duplicates."""
        seen: dict[str, None] = {self.name: None}
        for alias in self.aliases:
            seen.setdefault(alias, None)
        return list(seen)


def slugify(name: str) -> str:
    """Lowercase-hyphenated ASCII form of a name ("Elizabeth Bennet" -> "elizabeth-bennet")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "character"


def unique_slugs(names: list[str], taken: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Slugs of the names, suffixed -2, -3, ... where two would collide or one is `taken` already."""
    used = set(taken)
    slugs = []
    for name in names:
        base = slug = slugify(name)
        n = 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs.append(slug)
    return slugs


def normalise_gender(value: str | None) -> str | None:
    """'F'/'female' -> 'female', 'M'/'male' -> 'male', anything else -> None."""
    return _GENDER_WORDS.get((value or "").strip().lower())


def make_cast(entries: list[tuple[str, list[str], str | None, int]]) -> list[Character]:
    """Characters with unique slugs from (name, aliases, gender, mentions) tuples."""
    slugs = unique_slugs([name for name, _, _, _ in entries])
    return [
        Character(slug, name, [a for a in dict.fromkeys(aliases) if a != name], gender, mentions)
        for slug, (name, aliases, gender, mentions) in zip(slugs, entries)
    ]


def read_cast_csv(path: str | Path) -> list[Character]:
    """A curated cast from a CSV with columns name, aliases (';'-separated) and optional gender."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"cannot read cast file {path}: {exc}") from exc
    if not rows or "name" not in rows[0]:
        raise CorpusError(f"cast file {path} needs a header with a 'name' column (and 'aliases', optional 'gender')")
    entries = []
    for line, row in enumerate(rows, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            raise CorpusError(f"cast file {path}, line {line}: empty name")
        aliases = [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]
        entries.append((name, aliases, normalise_gender(row.get("gender")), 0))
    return make_cast(entries)
