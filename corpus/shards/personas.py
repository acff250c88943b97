"""Reading personas back from shards: a book's cast table and one character's lines with their context."""

from __future__ import annotations

import difflib
from pathlib import Path

import pyarrow.compute as pc

from corpus.shards import parquet, schema
from corpus.gutenberg.books import unknown_book_message
from corpus.errors import CorpusError
from corpus.shards.writer import read_shard_info

SUGGESTIONS = 5  # close names offered for an unknown character


def book_shards(target: Path, book_id: str | None = None) -> dict[str, Path]:
    """Utterance shard by book id, from a run folder, RUN/BOOK_ID or one shard file (only `book_id` if given)."""
    target = Path(target)
    suffix = schema.UTTERANCES_FILE_SUFFIX
    if not target.exists() and (target.parent / f"{target.name}{suffix}").is_file():
        target = target.parent / f"{target.name}{suffix}"  # RUN/BOOK_ID names one book of a run
    if target.is_file():
        if not target.name.endswith(suffix):
            raise CorpusError(f"{target} is not an utterance shard (*{suffix}) or a shard folder")
        paths = {target.name[: -len(suffix)]: target}
    elif target.exists():
        paths = {p.name[: -len(suffix)]: p for p in parquet.utterance_shards(target)}
    else:
        raise CorpusError(f"shard folder or file not found: {target}")
    if book_id is None:
        return paths
    if book_id not in paths:
        raise CorpusError(unknown_book_message(book_id, sorted(paths)))
    return {book_id: paths[book_id]}


def cast_table(target: Path, book_id: str | None = None) -> list[dict]:
    """Character rows (CHARACTERS schema) of the selected books, most lines first."""
    rows = [row for path in book_shards(target, book_id).values() for row in read_shard_info(path).character_rows]
    return sorted(rows, key=lambda r: (r["book_id"], -r["lines"], -r["mentions"], r["name"]))


def find_character(target: Path, query: str, book_id: str | None = None) -> dict:
    """The character row whose id, slug, name or alias matches `query` (case-insensitive), or whose
    name or alias contains it as whole words; CorpusError with suggestions when none or several match."""
    rows = cast_table(target, book_id)
    wanted = " ".join(query.lower().split())
    exact = [r for r in rows if wanted in {n.lower() for n in _names(r)} | _ids(r)]
    partial = [r for r in rows if any(_contains_words(n.lower(), wanted) for n in _names(r))]
    for matches in (exact, partial):
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f"{r['name']} ({r['character_id']})" for r in matches[:SUGGESTIONS])
            raise CorpusError(f"{query!r} matches several characters: {listed}; give a full name or character id")
    names = sorted({n for r in rows for n in _names(r)})
    close = difflib.get_close_matches(query, names, n=SUGGESTIONS, cutoff=0.5)
    where = f"book {book_id}" if book_id else str(target)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `corpus characters` lists the cast"
    raise CorpusError(f"unknown character {query!r} in {where}{hint}")


def character_lines(target: Path, character: dict, limit: int | None = None) -> list[dict]:
    """The utterance rows spoken by `character` (a row from `find_character`), in text order."""
    path = book_shards(target, character["book_id"])[character["book_id"]]
    table = parquet.read_table(path, schema.UTTERANCES)
    spoken = table.filter(pc.equal(table.column("speaker_id"), character["character_id"]))
    rows = spoken.sort_by("quote_id").to_pylist()
    return rows[:limit] if limit is not None else rows


def _names(row: dict) -> list[str]:
    return [row["name"], *row["aliases"]]


def _ids(row: dict) -> set[str]:
    """The character id ("1342:elizabeth-bennet") and its slug, lowercased."""
    character_id = row["character_id"].lower()
    return {character_id, character_id.split(":", 1)[-1]}


def _contains_words(name: str, words: str) -> bool:
    return f" {words} " in f" {name} "
