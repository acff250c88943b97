"""Gutenberg's `pg_catalog.csv`: parse it and answer queries like 'author:Dickens' or 'title:carol'."""

from __future__ import annotations

import csv
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import CorpusError

COLUMNS = ("Text#", "Type", "Issued", "Title", "Language", "Authors", "Subjects", "LoCC", "Bookshelves")
BUNDLED_CATALOG = Path(__file__).resolve().parents[2] / "data" / "catalog.csv"
SITE_PATH = "cache/epub/feeds/pg_catalog.csv"
_FIELDS = {"author": "authors", "title": "title", "subject": "subjects", "shelf": "bookshelves",
           "language": "language", "lang": "language", "id": "id", "type": "type"}
_AUTHOR_DATES = re.compile(r",?\s*(?:-?\d{1,4}\??\s*(?:BCE?|AD)?\s*-\s*(?:-?\d{1,4}\??\s*(?:BCE?|AD)?)?|\d{1,4}\??-)\s*$")
_AUTHOR_ROLE = re.compile(r"\s*\[[^\]]*\]\s*$")


@dataclass(frozen=True)
class CatalogEntry:
    """One row of pg_catalog.csv."""

    id: int
    type: str
    issued: str
    title: str
    languages: tuple[str, ...]
    authors: str
    subjects: str = ""
    locc: str = ""
    bookshelves: str = ""

    @property
    def author(self) -> str:
        """First author in reading order: 'Dickens, Charles, 1812-1870' -> 'Charles Dickens'."""
        return display_author(self.authors.split(";")[0]) if self.authors else ""

    @property
    def display_title(self) -> str:
        """Title on one line (the catalog puts subtitles on extra lines)."""
        return " ".join(self.title.split())


@dataclass(frozen=True)
class Query:
    """A parsed search: field terms (all must match) and free-text words (each must match some field)."""

    fields: tuple[tuple[str, str], ...] = ()
    words: tuple[str, ...] = ()
    types: tuple[str, ...] = field(default=("Text",))


def display_author(name: str) -> str:
    """'Dickens, Charles, 1812-1870 [Editor]' -> 'Charles Dickens'."""
    name = _AUTHOR_DATES.sub("", _AUTHOR_ROLE.sub("", name.strip())).strip().rstrip(",")
    parts = [p.strip() for p in name.split(",", 1)]
    return f"{parts[1]} {parts[0]}" if len(parts) == 2 and parts[1] else parts[0]


def read_catalog(path: Path) -> list[CatalogEntry]:
    """Parse a pg_catalog.csv file (raises CorpusError when missing or not in the catalog's format)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CorpusError(f"{path} is not a Gutenberg catalog: missing column(s) {', '.join(missing)}")
            return [_entry(row, path, reader.line_num) for row in reader]
    except FileNotFoundError as exc:
        raise CorpusError(f"catalog not found: {path}") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"cannot read catalog {path}: {exc}") from exc


def _entry(row: dict[str, str], path: Path, line: int) -> CatalogEntry:
    try:
        book_id = int(row["Text#"])
    except (TypeError, ValueError) as exc:
        raise CorpusError(f"{path}:{line}: Text# is not a number: {row['Text#']!r}") from exc
    return CatalogEntry(
        id=book_id, type=row["Type"] or "", issued=row["Issued"] or "", title=row["Title"] or "",
        languages=tuple(code.strip() for code in (row["Language"] or "").split(";") if code.strip()),
        authors=row["Authors"] or "", subjects=row["Subjects"] or "", locc=row["LoCC"] or "",
        bookshelves=row["Bookshelves"] or "",
    )


def parse_query(text: str) -> Query:
    """'author:Dickens "two cities" language:en' -> Query; unknown 'field:' prefixes are an error."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise CorpusError(f"cannot parse query {text!r}: {exc}") from exc
    fields: list[tuple[str, str]] = []
    words: list[str] = []
    for token in tokens:
        name, sep, value = token.partition(":")
        if sep and name.lower() in _FIELDS and value:
            fields.append((_FIELDS[name.lower()], value))
        elif sep and name.isalpha() and value and name.lower() not in _FIELDS:
            raise CorpusError(f"unknown search field {name!r}; use one of: {', '.join(sorted(set(_FIELDS)))}")
        else:
            words.append(token)
    return Query(tuple(fields), tuple(words))


def _fold(text: str) -> str:
    """Lower-case and strip accents so 'bronte' finds 'Brontë'."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _matches(entry: CatalogEntry, name: str, value: str) -> bool:
    if name == "id":
        return value.isdigit() and entry.id == int(value)
    if name == "language":
        return value.lower() in entry.languages
    if name == "type":
        return entry.type.lower() == value.lower()
    return _fold(value) in _fold(getattr(entry, name))


def search(entries: list[CatalogEntry], query: Query | str, language: str | None = None,
           limit: int | None = None) -> list[CatalogEntry]:
    """Entries matching every term of `query` (and `language`, an ISO code like 'en'), in catalog order."""
    if isinstance(query, str):
        query = parse_query(query)
    found: list[CatalogEntry] = []
    for entry in entries:
        if query.types and entry.type not in query.types and not any(n == "type" for n, _ in query.fields):
            continue
        if language and language.lower() not in entry.languages:
            continue
        if not all(_matches(entry, name, value) for name, value in query.fields):
            continue
        haystack = _fold(" ".join((entry.title, entry.authors, entry.subjects, entry.bookshelves)))
        if all(_fold(word) in haystack for word in query.words):
            found.append(entry)
            if limit is not None and len(found) >= limit:
                break
    return found


def by_id(entries: list[CatalogEntry]) -> dict[int, CatalogEntry]:
    """Index entries by Gutenberg id."""
    return {entry.id: entry for entry in entries}
