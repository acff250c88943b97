"""Input books of the attribution stage: `corpus fetch` folders (<id>.txt + <id>.json) or local UTF-8 files.

Offsets in the shards refer to the text exactly as read here: the file's bytes decoded as UTF-8, with
nothing stripped or translated (a local file keeps its line endings and any byte-order mark).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from corpus.gutenberg.chapters import Chapter, find_chapters
from corpus.errors import CorpusError

TEXT_SUFFIX = ".txt"
METADATA_SUFFIX = ".json"
BINARY_MARKER = b"\x00"  # UTF-8 text never holds NUL bytes; binary files (and UTF-16) nearly always do
SUGGESTIONS = 5  # close matches offered for an unknown book id


@dataclass(frozen=True)
class BookSource:
    """Where a book's text (and its `corpus fetch` metadata, if any) lives; cheap to pass to workers."""

    book_id: str
    text_path: Path
    metadata_path: Path | None = None


@dataclass(frozen=True)
class BookMetadata:
    """Bibliographic fields of the books table (all optional except the source)."""

    source: str
    title: str | None = None
    author: str | None = None
    language: str | None = None
    issued: str | None = None
    rights: str | None = None


@dataclass(frozen=True)
class Book:
    """A book's clean text, its id, its checksum, metadata and chapters (offsets into `text`)."""

    book_id: str
    text: str
    text_sha256: str
    metadata: BookMetadata
    chapters: tuple[Chapter, ...] = field(default_factory=tuple)


def text_sha256(text: str) -> str:
    """SHA-256 hex digest of the text's UTF-8 encoding (as `corpus fetch` records it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def discover_books(inputs: Sequence[str | Path], book_ids: Iterable[str] = ()) -> list[BookSource]:
    """The books named by `inputs` (files or folders), optionally only those with the given ids."""
    if not inputs:
        raise CorpusError("no input books given: pass text files, folders of .txt files or a `corpus fetch` folder")
    sources: dict[str, BookSource] = {}
    for item in inputs:
        for source in _sources_of(Path(item)):
            other = sources.get(source.book_id)
            if other is not None and other.text_path.resolve() != source.text_path.resolve():
                raise CorpusError(
                    f"two inputs have the book id {source.book_id}: {other.text_path} and {source.text_path}; "
                    "rename one of the files"
                )
            sources[source.book_id] = source
    wanted = list(dict.fromkeys(book_ids))
    if not wanted:
        return list(sources.values())
    unknown = [book_id for book_id in wanted if book_id not in sources]
    if unknown:
        raise CorpusError(unknown_book_message(unknown[0], sorted(sources)))
    return [sources[book_id] for book_id in wanted]


def unknown_book_message(book_id: str, known: Sequence[str]) -> str:
    """One line naming an unknown book id with the closest known ids."""
    close = difflib.get_close_matches(book_id, known, n=SUGGESTIONS) or list(known)[:SUGGESTIONS]
    return f"unknown book id {book_id!r}; known ids include: {', '.join(close)}" if close else (
        f"unknown book id {book_id!r}: there are no books"
    )


def _sources_of(path: Path) -> list[BookSource]:
    if path.is_dir():
        try:
            texts = sorted(p for p in path.iterdir() if p.suffix == TEXT_SUFFIX and p.is_file())
        except OSError as exc:
            raise CorpusError(f"cannot read the folder {path}: {exc}") from exc
        if not texts:
            raise CorpusError(f"no {TEXT_SUFFIX} books in {path}")
        return [_source_of_file(p) for p in texts]
    if path.suffix == METADATA_SUFFIX:
        path = path.with_suffix(TEXT_SUFFIX)
    if not path.exists():
        raise CorpusError(f"input not found: {path}")
    if not path.is_file():
        raise CorpusError(f"input is neither a file nor a folder: {path}")
    return [_source_of_file(path)]


def _source_of_file(text_path: Path) -> BookSource:
    metadata_path = text_path.with_suffix(METADATA_SUFFIX)
    if not metadata_path.is_file():
        return BookSource(text_path.stem, text_path)
    gutenberg_id = _read_metadata(metadata_path).get("gutenberg_id")
    if gutenberg_id is None:
        raise CorpusError(f"{metadata_path} is not `corpus fetch` metadata (no gutenberg_id); move it away or re-fetch")
    return BookSource(str(gutenberg_id), text_path, metadata_path)


def _read_metadata(path: Path) -> dict:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"cannot read book metadata {path}: {exc}") from exc
    if not isinstance(metadata, dict):
        raise CorpusError(f"book metadata {path} is not a JSON object")
    return metadata


def read_text(path: Path) -> str:
    """The file decoded as UTF-8; CorpusError if missing, unreadable, empty, binary or not UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"book file not found: {path}") from None
    except OSError as exc:
        raise CorpusError(f"cannot read book file {path}: {exc.strerror or exc}") from exc
    if BINARY_MARKER in data:
        raise CorpusError(f"{path} is a binary file, not UTF-8 text (if it is UTF-16 text, convert it to UTF-8)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path} is not UTF-8 text (invalid byte at offset {exc.start}); convert it, "
            "e.g. iconv -f latin1 -t utf-8"
        ) from exc
    if not text.strip():
        raise CorpusError(f"{path} is empty")
    return text


def read_book(source: BookSource) -> Book:
    """Read and validate a book: its text, checksum, metadata and chapters."""
    text = read_text(source.text_path)
    digest = text_sha256(text)
    if source.metadata_path is None:
        metadata = BookMetadata(source=str(source.text_path.resolve()))
        return Book(source.book_id, text, digest, metadata, tuple(find_chapters(text)))
    raw = _read_metadata(source.metadata_path)
    recorded = raw.get("text_sha256")
    if recorded and recorded != digest:
        raise CorpusError(
            f"{source.text_path} does not match the text_sha256 in {source.metadata_path.name} "
            "(edited after `corpus fetch`?); re-fetch it or remove the .json to treat it as a local file"
        )
    metadata = BookMetadata(
        source=str(raw.get("source_url") or source.text_path.resolve()),
        title=_optional_str(raw.get("title")),
        author=_optional_str(raw.get("author")),
        language=_optional_str(raw.get("language")),
        issued=_optional_str(raw.get("release_date")),
        rights=_optional_str(raw.get("rights")),
    )
    chapters = _chapters_of(raw, len(text), source.metadata_path)
    if chapters is None:
        chapters = tuple(find_chapters(text))
    return Book(source.book_id, text, digest, metadata, chapters)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _chapters_of(raw: dict, text_length: int, path: Path) -> tuple[Chapter, ...] | None:
    """Chapters recorded by `corpus fetch`, checked against the text length; None if none are recorded."""
    entries = raw.get("chapters")
    if entries is None:
        return None
    try:
        chapters = tuple(Chapter(str(e.get("title") or ""), int(e["start"]), int(e["end"])) for e in entries)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise CorpusError(f"malformed chapters in {path}: {exc}; re-fetch the book") from exc
    if any(not 0 <= c.start <= c.end <= text_length for c in chapters):
        raise CorpusError(f"chapters in {path} point outside the text; re-fetch the book")
    return chapters
