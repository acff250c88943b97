"""Arrow schemas of the persona shards: the one place that names their columns and says what they hold.

Both `corpus` (writers) and `training` / `corpus.release.build` (readers) import these. Bump
SCHEMA_VERSION whenever a column is added, removed or changes meaning.

An utterance's `context` is the text before it: the paragraphs before its own (separated as in the
clean text, by blank lines: PARAGRAPH_BREAK), then its own paragraph's lead-in up to the opening quote
mark ("Elizabeth replied,"), the whole cut at a word from the front to the configured length. The
lead-in is its last `lead_in_chars` characters (0 when the quotation opens its paragraph), so a reader
takes it off by that count and never guesses it back from the text.
"""

from __future__ import annotations

import re

import pyarrow as pa

from corpus import __version__

# 1: the first release. 2: `lead_in_chars` added (how much of `context` is the quotation's lead-in);
# every other column is as in 1.
SCHEMA_VERSION = 2
PIPELINE_VERSION = f"{__version__}+schema{SCHEMA_VERSION}"
SCHEMA_VERSION_KEY = b"persona_schema_version"

UTTERANCES_FILE_SUFFIX = ".utterances.parquet"
CHARACTERS_FILE = "characters.parquet"
BOOKS_FILE = "books.parquet"

QUOTE_TYPES = ("explicit", "anaphoric", "implicit")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")  # between two paragraphs of a text, and so of a context

_SPAN = pa.struct([("start", pa.int64()), ("end", pa.int64())])


def _versioned(fields: list[pa.Field], name: str) -> pa.Schema:
    return pa.schema(fields, metadata={SCHEMA_VERSION_KEY: str(SCHEMA_VERSION).encode(), b"table": name.encode()})


UTTERANCES = _versioned(
    [
        pa.field("book_id", pa.string(), nullable=False),
        pa.field("quote_id", pa.int32(), nullable=False),  # order of the quotation in its book
        pa.field("chapter", pa.int32(), nullable=False),  # 0-based; 0 also when the book has no chapters
        pa.field("paragraph", pa.int32(), nullable=False),  # 0-based index of the paragraph the quote starts in
        pa.field("char_start", pa.int64(), nullable=False),  # offsets into the clean text, quote marks excluded
        pa.field("char_end", pa.int64(), nullable=False),
        pa.field("parts", pa.list_(_SPAN), nullable=False),  # one span per part of an interrupted quotation
        pa.field("text", pa.string(), nullable=False),  # the parts joined by a single space
        pa.field("speaker_id", pa.string()),  # "<book_id>:<slug>", null when unattributed
        pa.field("speaker_name", pa.string()),
        pa.field("addressee_ids", pa.list_(pa.string()), nullable=False),
        pa.field("quote_type", pa.string(), nullable=False),  # one of QUOTE_TYPES
        pa.field("confidence", pa.float32(), nullable=False),  # calibrated P(speaker is right)
        pa.field("method", pa.string(), nullable=False),  # the rule or source that gave the speaker
        pa.field("context", pa.string(), nullable=False),  # preceding paragraphs and the lead-in, target excluded
        pa.field("lead_in_chars", pa.int32(), nullable=False),  # the lead-in: this many last characters of context
        pa.field("prev_speaker_id", pa.string()),  # speaker of the previous quotation in the book
        pa.field("pipeline_version", pa.string(), nullable=False),
    ],
    "utterances",
)

CHARACTERS = _versioned(
    [
        pa.field("book_id", pa.string(), nullable=False),
        pa.field("character_id", pa.string(), nullable=False),  # "<book_id>:<slug>", as in speaker_id
        pa.field("name", pa.string(), nullable=False),
        pa.field("aliases", pa.list_(pa.string()), nullable=False),
        pa.field("gender", pa.string()),  # "female" / "male" / null when unknown
        pa.field("mentions", pa.int32(), nullable=False),
        pa.field("lines", pa.int32(), nullable=False),  # attributed utterances
        pa.field("words", pa.int32(), nullable=False),  # words in those utterances
    ],
    "characters",
)

BOOKS = _versioned(
    [
        pa.field("book_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("language", pa.string()),
        pa.field("issued", pa.string()),  # Gutenberg release date as printed, when known
        pa.field("rights", pa.string()),  # e.g. "Public domain in the USA."
        pa.field("source", pa.string(), nullable=False),  # URL or local path the text came from
        pa.field("text_sha256", pa.string(), nullable=False),  # of the clean text the offsets refer to
        pa.field("chars", pa.int64(), nullable=False),
        pa.field("quotations", pa.int32(), nullable=False),
        pa.field("characters", pa.int32(), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),
    ],
    "books",
)

TABLES: dict[str, pa.Schema] = {"utterances": UTTERANCES, "characters": CHARACTERS, "books": BOOKS}


def character_id(book_id: str, slug: str) -> str:
    """Stable id of a character: book id and a name slug, e.g. "1342:elizabeth-bennet"."""
    return f"{book_id}:{slug}"


def schema_version_of(schema: pa.Schema) -> int | None:
    """The schema version a Parquet file was written with, or None if it carries none."""
    raw = (schema.metadata or {}).get(SCHEMA_VERSION_KEY)
    return int(raw) if raw is not None else None
