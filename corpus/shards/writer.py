"""Persona shards from a BookAttribution: utterance rows, character rows, and the per-book Parquet file.

Each book's shard `<book_id>.utterances.parquet` is self-describing: besides the utterance rows it
carries, in its Parquet key-value metadata, the book's row of the books table, its character rows and
the settings it was made with. A book is thus complete exactly when its shard exists (it is written
atomically), and the run tables `characters.parquet` / `books.parquet` are rebuilt from the shards.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.shards import parquet, schema
from corpus.attribution.types import BookAttribution
from corpus.gutenberg.books import BookMetadata, text_sha256 as sha256_of_text
from corpus.errors import CorpusError
from corpus.attribution.quotes import paragraph_spans

BOOK_ROW_KEY = b"persona_book_row"
CHARACTER_ROWS_KEY = b"persona_character_rows"
SETTINGS_KEY = b"persona_settings"
QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"


@dataclass
class ShardConfig:
    """How utterance rows are built."""

    context_paragraphs: int = field(
        default=3, metadata={"help": "paragraphs of narration and dialogue before an utterance kept as its context"}
    )
    context_max_chars: int = field(
        default=2000, metadata={"help": "context cap in characters; the oldest paragraphs are dropped first"}
    )


@dataclass(frozen=True)
class ShardInfo:
    """What a shard says about its book: the books-table row, the character rows and its settings."""

    book_row: dict
    character_rows: list[dict]
    settings: str


def book_rows(
    book_id: str,
    text: str,
    book_attribution: BookAttribution,
    chapters: Sequence[object] = (),
    context_paragraphs: int = ShardConfig.context_paragraphs,
    *,
    context_max_chars: int = ShardConfig.context_max_chars,
) -> tuple[list[dict], list[dict]]:
    """Utterance rows (UTTERANCES schema) and character rows (CHARACTERS schema) of one book.

    `chapters` are objects with a `start` offset, in text order (e.g. `corpus.gutenberg.chapters.Chapter`).
    """
    if context_paragraphs < 0 or context_max_chars < 0:
        raise CorpusError("context paragraphs and context characters must be >= 0")
    _check_slugs(book_id, book_attribution)
    names = {c.slug: c.name for c in book_attribution.characters}
    chapter_starts = [int(c.start) for c in chapters]  # type: ignore[attr-defined]
    paragraphs = paragraph_spans(text)
    paragraph_starts = [start for start, _ in paragraphs]
    utterances: list[dict] = []
    for quote_id, attribution in enumerate(book_attribution.attributions):
        quotation, speaker = attribution.quotation, attribution.speaker
        context, lead_in_chars = context_before(
            text, paragraphs, paragraph_starts, quotation.start, context_paragraphs, context_max_chars
        )
        utterances.append(
            {
                "book_id": book_id,
                "quote_id": quote_id,
                "chapter": max(0, bisect.bisect_right(chapter_starts, quotation.start) - 1),
                "paragraph": quotation.paragraph,
                "char_start": quotation.start,
                "char_end": quotation.end,
                "parts": [{"start": s, "end": e} for s, e in quotation.parts],
                "text": quotation.text(text),
                "speaker_id": schema.character_id(book_id, speaker) if speaker is not None else None,
                "speaker_name": names[speaker] if speaker is not None else None,
                "addressee_ids": [schema.character_id(book_id, a) for a in attribution.addressees],
                "quote_type": attribution.quote_type,
                "confidence": float(attribution.confidence),
                "method": attribution.method,
                "context": context,
                "lead_in_chars": lead_in_chars,
                "prev_speaker_id": utterances[-1]["speaker_id"] if utterances else None,
                "pipeline_version": schema.PIPELINE_VERSION,
            }
        )
    return utterances, character_rows(book_id, book_attribution, utterances)


def _check_slugs(book_id: str, book_attribution: BookAttribution) -> None:
    """CorpusError if a speaker or addressee is not a character of the book."""
    slugs = {c.slug for c in book_attribution.characters}
    for quote_id, attribution in enumerate(book_attribution.attributions):
        if attribution.speaker is not None and attribution.speaker not in slugs:
            raise CorpusError(
                f"book {book_id}: quotation {quote_id} is attributed to an unknown character {attribution.speaker!r}"
            )
        unknown = [a for a in attribution.addressees if a not in slugs]
        if unknown:
            raise CorpusError(f"book {book_id}: quotation {quote_id} is addressed to unknown characters {unknown}")


def character_rows(book_id: str, book_attribution: BookAttribution, utterances: Sequence[Mapping]) -> list[dict]:
    """One CHARACTERS row per character of the book, with the lines and words attributed to it."""
    lines: dict[str, int] = {}
    words: dict[str, int] = {}
    for row in utterances:
        speaker_id = row["speaker_id"]
        if speaker_id is not None:
            lines[speaker_id] = lines.get(speaker_id, 0) + 1
            words[speaker_id] = words.get(speaker_id, 0) + len(str(row["text"]).split())
    rows = []
    for character in book_attribution.characters:
        cid = schema.character_id(book_id, character.slug)
        rows.append(
            {
                "book_id": book_id,
                "character_id": cid,
                "name": character.name,
                "aliases": [a for a in character.aliases if a != character.name],
                "gender": character.gender,
                "mentions": int(character.mentions),
                "lines": lines.get(cid, 0),
                "words": words.get(cid, 0),
            }
        )
    return rows


def context_before(
    text: str,
    paragraphs: Sequence[tuple[int, int]],
    paragraph_starts: Sequence[int],
    position: int,
    n_paragraphs: int,
    max_chars: int,
) -> tuple[str, int]:
    """The text before `position` (an utterance's first character) and how many of its last characters are
    the lead-in: the `n_paragraphs` paragraphs before its own, then its paragraph's lead-in up to the
    opening quote mark; at most `max_chars` characters (whole paragraphs dropped from the front first,
    else cut at a word). See `schema` for the contract."""
    current = bisect.bisect_right(paragraph_starts, position) - 1
    end = position
    while end > 0 and text[end - 1] in QUOTE_MARKS:
        end -= 1
    lead_in = len(text[paragraphs[current][0] : end].strip()) if current >= 0 else 0
    context = _capped(text, paragraphs, current, end, n_paragraphs, max_chars)
    return context, min(lead_in, len(context))


def _capped(text: str, paragraphs: Sequence[tuple[int, int]], current: int, end: int, n_paragraphs: int,
            max_chars: int) -> str:
    """`text` from `n_paragraphs` paragraphs before paragraph `current` to `end`, capped at `max_chars`."""
    first = max(0, current - n_paragraphs)
    window = text[paragraphs[first][0] if current >= 0 else 0 : end].strip()
    if len(window) <= max_chars:
        return window
    for index in range(first + 1, current + 1):
        context = text[paragraphs[index][0] : end].strip()
        if len(context) <= max_chars:
            if context:
                return context
            break
    return _tail(window, max_chars)


def _tail(text: str, max_chars: int) -> str:
    """The last `max_chars` characters of `text`, without a leading partial word."""
    if len(text) <= max_chars:
        return text
    tail = text[len(text) - max_chars :] if max_chars else ""
    cut = tail.find(" ")
    return tail[cut + 1 :] if cut >= 0 else tail


def book_row(
    book_id: str,
    text_sha256: str,
    text_length: int,
    metadata: BookMetadata,
    quotations: int,
    characters: int,
) -> dict:
    """The book's row of the BOOKS table."""
    return {
        "book_id": book_id,
        "title": metadata.title,
        "author": metadata.author,
        "language": metadata.language,
        "issued": metadata.issued,
        "rights": metadata.rights,
        "source": metadata.source,
        "text_sha256": text_sha256,
        "chars": text_length,
        "quotations": quotations,
        "characters": characters,
        "pipeline_version": schema.PIPELINE_VERSION,
    }


def write_book(
    shard_dir: Path,
    book_id: str,
    text: str,
    book_attribution: BookAttribution,
    chapters: Sequence[object] = (),
    context_paragraphs: int = ShardConfig.context_paragraphs,
    *,
    context_max_chars: int = ShardConfig.context_max_chars,
    metadata: BookMetadata | None = None,
    text_sha256: str | None = None,
    settings: str = "",
) -> Path:
    """Write `<book_id>.utterances.parquet` into `shard_dir` atomically; returns its path.

    `metadata` fills the books-table row (source defaults to "unknown"), `settings` is a fingerprint of
    the configuration the shard was made with, compared on resume.
    """
    utterances, characters = book_rows(
        book_id, text, book_attribution, chapters, context_paragraphs, context_max_chars=context_max_chars
    )
    row = book_row(
        book_id,
        text_sha256 or sha256_of_text(text),
        len(text),
        metadata or BookMetadata(source="unknown"),
        len(utterances),
        len(characters),
    )
    parquet.to_table(characters, schema.CHARACTERS)  # validate before anything is written
    parquet.to_table([row], schema.BOOKS)
    file_schema = schema.UTTERANCES.with_metadata(
        {
            **schema.UTTERANCES.metadata,
            BOOK_ROW_KEY: json.dumps(row).encode(),
            CHARACTER_ROWS_KEY: json.dumps(characters).encode(),
            SETTINGS_KEY: settings.encode(),
        }
    )
    table = parquet.to_table(utterances, schema.UTTERANCES)
    return parquet.write_table(table, parquet.utterance_shard_path(shard_dir, book_id), file_schema)


def read_shard_info(path: Path) -> ShardInfo:
    """The book row, character rows and settings stored in an utterance shard's metadata."""
    path = Path(path)
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise CorpusError(f"shard not found: {path}") from None
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(f"corrupt or unreadable Parquet shard {path}: {exc}") from exc
    if BOOK_ROW_KEY not in metadata or CHARACTER_ROWS_KEY not in metadata:
        raise CorpusError(f"{path} carries no book metadata (not written by `corpus attribute`); re-run it")
    try:
        return ShardInfo(
            json.loads(metadata[BOOK_ROW_KEY]),
            json.loads(metadata[CHARACTER_ROWS_KEY]),
            metadata.get(SETTINGS_KEY, b"").decode(),
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corrupt book metadata in shard {path}: {exc}") from exc


def write_run_tables(shard_dir: Path) -> tuple[Path, Path]:
    """Rebuild `characters.parquet` and `books.parquet` of a run folder from all its utterance shards."""
    books: list[dict] = []
    characters: list[dict] = []
    for path in parquet.utterance_shards(shard_dir):
        info = read_shard_info(path)
        books.append(info.book_row)
        characters.extend(info.character_rows)
    return (
        parquet.write_rows(characters, Path(shard_dir) / schema.CHARACTERS_FILE, schema.CHARACTERS),
        parquet.write_rows(books, Path(shard_dir) / schema.BOOKS_FILE, schema.BOOKS),
    )
