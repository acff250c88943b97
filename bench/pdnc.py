"""Reader of a Project Dialogism Novel Corpus (PDNC) novel folder: text, gold quotations and cast."""

from __future__ import annotations

import ast
import bisect
import csv
from dataclasses import dataclass
from pathlib import Path

from corpus.attribution.types import Attribution, BookAttribution
from corpus.attribution.characters import Character, make_cast, normalise_gender
from corpus.errors import CorpusError
from corpus.attribution.quotes import Quotation, paragraph_spans
from corpus.shards.schema import QUOTE_TYPES

TEXT_FILE = "novel_text.txt"
QUOTES_FILE = "quotation_info.csv"
CHARACTERS_FILE = "character_info.csv"
GOLD_METHOD = "gold"


@dataclass(frozen=True)
class GoldQuotation:
    """One annotated quotation: its parts, speaker slug (None if not a cast member), addressees, type."""

    quotation: Quotation
    speaker: str | None
    addressees: tuple[str, ...]
    quote_type: str | None  # explicit / anaphoric / implicit, None when unannotated


@dataclass
class PdncNovel:
    """A PDNC novel: text, gold cast (slugs unique within the book) and gold quotations in text order."""

    name: str
    text: str
    cast: list[Character]
    quotations: list[GoldQuotation]

    def slug_of(self, name: str) -> str | None:
        """The slug of the cast member with this main name or (unambiguous) alias."""
        return _name_index(self.cast).get(name.strip())


def is_pdnc_novel(folder: Path) -> bool:
    """Whether the folder holds the three PDNC files."""
    return all((folder / f).is_file() for f in (TEXT_FILE, QUOTES_FILE, CHARACTERS_FILE))


def novel_folders(root: str | Path) -> list[Path]:
    """The novel folders under a PDNC root, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"PDNC directory {root} does not exist")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and is_pdnc_novel(p))
    if not folders:
        raise CorpusError(f"no PDNC novel folders (with {TEXT_FILE}, {QUOTES_FILE}, {CHARACTERS_FILE}) in {root}")
    return folders


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc


def _literal(value: str, path: Path) -> object:
    try:
        return ast.literal_eval(value) if value and value != "nan" else []
    except (ValueError, SyntaxError) as exc:
        raise CorpusError(f"{path}: cannot parse {value[:60]!r}") from exc


def read_cast(folder: Path) -> list[Character]:
    """The gold cast from character_info.csv (main name, aliases, gender; slugs from main names)."""
    path = folder / CHARACTERS_FILE
    entries = []
    for row in _read_csv(path):
        name = row["Main Name"].strip()
        aliases = sorted(a.strip() for a in _literal(row["Aliases"], path) if a.strip())  # type: ignore[union-attr]
        entries.append((name, aliases, normalise_gender(row.get("Gender")), 0))
    return make_cast(entries)


def _name_index(cast: list[Character]) -> dict[str, str]:
    """Name -> slug: main names first, then aliases that belong to one character only."""
    index = {c.name: c.slug for c in cast}
    owners: dict[str, set[str]] = {}
    for c in cast:
        for alias in c.aliases:
            owners.setdefault(alias, set()).add(c.slug)
    for alias, slugs in owners.items():
        if alias not in index and len(slugs) == 1:
            index[alias] = next(iter(slugs))
    return index


def read_novel(folder: str | Path) -> PdncNovel:
    """The text, gold cast and gold quotations of one PDNC novel folder."""
    folder = Path(folder)
    if not is_pdnc_novel(folder):
        raise CorpusError(f"{folder} is not a PDNC novel folder (needs {TEXT_FILE}, {QUOTES_FILE}, {CHARACTERS_FILE})")
    try:
        text = (folder / TEXT_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {folder / TEXT_FILE}: {exc}") from exc
    cast = read_cast(folder)
    index = _name_index(cast)
    starts = [s for s, _ in paragraph_spans(text)]
    path = folder / QUOTES_FILE
    quotations = []
    for row in _read_csv(path):
        # in text order: a few PDNC rows list a quotation's later part first
        spans = _literal(row["quoteByteSpans"], path)
        parts = tuple(sorted((int(s), int(e)) for s, e in spans))  # type: ignore[union-attr]
        if not parts:
            continue
        paragraph = max(bisect.bisect_right(starts, parts[0][0]) - 1, 0)
        addressees = tuple(
            dict.fromkeys(index[a.strip()] for a in _literal(row["addressees"], path) if a.strip() in index)  # type: ignore[union-attr]
        )
        quote_type = row.get("quoteType", "").strip().lower()
        quotations.append(
            GoldQuotation(
                Quotation(parts, paragraph),
                index.get(row["speaker"].strip()),
                addressees,
                quote_type if quote_type in QUOTE_TYPES else None,
            )
        )
    quotations.sort(key=lambda q: q.quotation.start)
    return PdncNovel(folder.name, text, cast, quotations)


def gold_book_attribution(folder: str | Path) -> BookAttribution:
    """The gold speakers of a PDNC novel as a BookAttribution (method "gold", confidence 1.0)."""
    novel = read_novel(folder)
    attributions = [
        Attribution(
            quotation=q.quotation,
            speaker=q.speaker,
            addressees=list(q.addressees),
            quote_type=q.quote_type or "implicit",
            confidence=1.0,
            method=GOLD_METHOD,
        )
        for q in novel.quotations
    ]
    return BookAttribution(characters=novel.cast, attributions=attributions)
