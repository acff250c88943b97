"""The `--backend booknlp` option: run BookNLP, and convert its output files into a BookAttribution.

BookNLP (pip extra `booknlp`) writes tab-separated files per book: `.tokens` (one row per token; the
columns byte_onset / byte_offset hold spaCy's character offsets despite their names, and UTF-8 byte
offsets are accepted too), `.entities` (COREF, start_token, end_token, prop, cat, text) and `.quotes`
(quote_start, quote_end, mention_start, mention_end, mention_phrase, char_id, quote; token ids are
0-based, spans inclusive and include the quote marks, "None" marks an unattributed quote). The
converted attribution goes through the same shard writer as ours.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from corpus.attribution.types import Attribution, BookAttribution
from corpus.gutenberg.books import Book
from corpus.attribution.characters import Character, make_cast
from corpus.errors import CorpusError
from corpus.attribution.nlp import DEFAULT_MODEL
from corpus.shards.writer import QUOTE_MARKS
from corpus.attribution.quotes import Quotation, paragraph_spans

METHOD = "booknlp"
# BookNLP gives no per-quotation confidence; every quotation gets its published end-to-end speaker
# accuracy on PDNC as shipped (about 0.40-0.42), so --min-confidence above it drops all its speakers.
PRIOR_CONFIDENCE = 0.41
PIPELINE = "entity,quote,coref"
MODEL = "big"
TAG_WINDOW_TOKENS = 10  # a speaker mention this close to the quotation counts as its speech tag
GENDER_SHARE = 0.75  # share of gendered pronouns a gender needs to be assigned
OFFSET_MATCH_SHARE = 0.9  # share of tokens whose offsets must reproduce the token text
MALE_PRONOUNS = frozenset({"he", "him", "his", "himself"})
FEMALE_PRONOUNS = frozenset({"she", "her", "hers", "herself"})
PERSON = "PER"

TOKEN_COLUMNS = ("token_ID_within_document", "word", "byte_onset", "byte_offset")
ENTITY_COLUMNS = ("COREF", "start_token", "end_token", "prop", "cat", "text")
QUOTE_COLUMNS = ("quote_start", "quote_end", "mention_start", "mention_end", "mention_phrase", "char_id")


@dataclass(frozen=True)
class QuoteRow:
    """One row of a `.quotes` file; BookNLP writes "None" for the mention and speaker of unattributed quotes."""

    quote_start: int
    quote_end: int
    mention_start: int | None
    char_id: int | None
    mention_phrase: str


@dataclass(frozen=True)
class Entity:
    """One BookNLP mention: coreference cluster, inclusive token span, PROP/NOM/PRON, category, text."""

    coref: int
    start_token: int
    end_token: int
    prop: str
    cat: str
    text: str


def attribute_with_booknlp(
    book: Book, workdir: Path, spacy_model: str = DEFAULT_MODEL, min_confidence: float = 0.0
) -> BookAttribution:
    """Run BookNLP on the book's text in `workdir` and convert its output."""
    require_booknlp()
    if "\r" in book.text:
        # BookNLP reads its input with universal newlines, so its offsets would not match the text.
        raise CorpusError(f"book {book.book_id} has CR line endings; convert them to LF for --backend booknlp")
    workdir.mkdir(parents=True, exist_ok=True)
    text_path = workdir / f"{book.book_id}.txt"
    text_path.write_bytes(book.text.encode("utf-8"))
    run_booknlp(text_path, workdir, book.book_id, spacy_model)
    return read_booknlp_output(workdir, book.book_id, book.text, min_confidence)


def require_booknlp():  # -> the BookNLP class
    """BookNLP's entry class; CorpusError naming the `booknlp` extra when it is not installed."""
    try:
        from booknlp.booknlp import BookNLP
    except ImportError:
        raise CorpusError(
            "--backend booknlp needs BookNLP: pip install 'novel-personas[booknlp]' "
            "(BookNLP downloads its own models on first use, which needs network access)"
        ) from None
    return BookNLP


def run_booknlp(text_path: Path, out_dir: Path, book_id: str, spacy_model: str = DEFAULT_MODEL) -> None:
    """Run BookNLP's English pipeline on a UTF-8 file, writing `<book_id>.tokens` etc. into `out_dir`."""
    booknlp_class = require_booknlp()
    params = {"pipeline": PIPELINE, "model": MODEL, "spacy_model": spacy_model}
    try:
        with contextlib.redirect_stdout(sys.stderr):  # BookNLP prints progress; keep stdout for --json
            booknlp_class("en", params).process(str(text_path), str(out_dir), book_id)
    except (OSError, RuntimeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorpusError(
            f"BookNLP failed on {text_path}: {reason} "
            "(it downloads its models on first use, which needs network access)"
        ) from exc


def read_booknlp_output(out_dir: Path, book_id: str, text: str, min_confidence: float = 0.0) -> BookAttribution:
    """The BookAttribution in BookNLP's `<book_id>.tokens/.entities/.quotes` for `text` (the file it read)."""
    out_dir = Path(out_dir)
    spans = token_char_spans(_read_tsv(out_dir / f"{book_id}.tokens", TOKEN_COLUMNS), text)
    entities = _read_entities(out_dir / f"{book_id}.entities")
    quotes = _read_quotes(out_dir / f"{book_id}.quotes")
    speakers = {q.char_id for q in quotes if q.char_id is not None}
    characters, slug_of = characters_from_entities(entities, speakers, {q.char_id: q.mention_phrase for q in quotes})
    prop_at = {e.start_token: e.prop for e in entities}
    paragraph_starts = [start for start, _ in paragraph_spans(text)]
    attributions = []
    for quote in quotes:
        quotation = _quotation(quote, spans, text, paragraph_starts)
        if quotation is None:
            continue
        speaker = slug_of.get(quote.char_id) if PRIOR_CONFIDENCE >= min_confidence else None
        attributions.append(Attribution(quotation, speaker, [], _quote_type(quote, prop_at), PRIOR_CONFIDENCE, METHOD))
    attributions.sort(key=lambda a: a.quotation.start)
    return BookAttribution(characters, attributions)


def token_char_spans(rows: list[dict[str, str]], text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each token, whether the file's offsets count characters or UTF-8 bytes."""
    try:
        offsets = [(int(r["byte_onset"]), int(r["byte_offset"])) for r in rows]
    except ValueError as exc:
        raise CorpusError(f"non-numeric token offsets in BookNLP tokens: {exc}") from exc
    words = [r["word"] for r in rows]
    if _share_matching(text, offsets, words) >= OFFSET_MATCH_SHARE:
        return offsets
    char_at_byte = [i for i, ch in enumerate(text) for _ in range(len(ch.encode("utf-8")))] + [len(text)]
    if all(0 <= s <= e < len(char_at_byte) for s, e in offsets):
        converted = [(char_at_byte[s], char_at_byte[e]) for s, e in offsets]
        if _share_matching(text, converted, words) >= OFFSET_MATCH_SHARE:
            return converted
    raise CorpusError("BookNLP token offsets do not match the book's text; was BookNLP run on this exact file?")


def _share_matching(text: str, offsets: list[tuple[int, int]], words: list[str]) -> float:
    if not offsets:
        return 1.0
    return sum(1 for (s, e), w in zip(offsets, words) if text[s:e] == w) / len(offsets)


def characters_from_entities(
    entities: list[Entity], speakers: set[int], phrases: dict[int | None, str]
) -> tuple[list[Character], dict[int, str]]:
    """The cast: person clusters with a proper or common name, or that speak; and slug by cluster id.

    `phrases` gives a speaker's mention text, the name of last resort for a cluster without names.
    """
    clusters: dict[int, list[Entity]] = {}
    for entity in entities:
        if entity.cat == PERSON:
            clusters.setdefault(entity.coref, []).append(entity)
    entries = []
    ids = []
    for coref in sorted(set(clusters) | speakers, key=lambda c: (-len(clusters.get(c, [])), c)):
        mentions = clusters.get(coref, [])
        names = _names(mentions)
        if not names and coref not in speakers:
            continue  # only pronouns and never speaks: not worth a row
        names = names or [phrases.get(coref) or f"character {coref}"]
        entries.append((names[0], names[1:], _gender(mentions), len(mentions)))
        ids.append(coref)
    cast = make_cast(entries)
    return cast, {coref: c.slug for coref, c in zip(ids, cast)}


def _names(mentions: list[Entity]) -> list[str]:
    """Proper names by frequency, else common nouns by frequency."""
    for kind in ("PROP", "NOM"):
        counts = Counter(m.text for m in mentions if m.prop == kind)
        if counts:
            return [name for name, _ in counts.most_common()]
    return []


def _gender(mentions: list[Entity]) -> str | None:
    words = [m.text.lower() for m in mentions if m.prop == "PRON"]
    male = sum(w in MALE_PRONOUNS for w in words)
    female = sum(w in FEMALE_PRONOUNS for w in words)
    if male + female == 0:
        return None
    if male >= GENDER_SHARE * (male + female):
        return "male"
    if female >= GENDER_SHARE * (male + female):
        return "female"
    return None


def _quotation(
    quote: QuoteRow, spans: list[tuple[int, int]], text: str, paragraph_starts: list[int]
) -> Quotation | None:
    first, last = quote.quote_start, quote.quote_end
    if not 0 <= first <= last < len(spans):
        raise CorpusError(f"BookNLP quote tokens {first}-{last} lie outside the {len(spans)} tokens")
    start, end = spans[first][0], spans[last][1]
    while start < end and (text[start].isspace() or text[start] in QUOTE_MARKS):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in QUOTE_MARKS):
        end -= 1
    if start == end:
        return None
    paragraph = max(0, bisect.bisect_right(paragraph_starts, start) - 1)
    return Quotation(((start, end),), paragraph)


def _quote_type(quote: QuoteRow, prop_at: dict[int, str]) -> str:
    """explicit / anaphoric when the linked mention is a speech tag next to the quotation, else implicit."""
    mention = quote.mention_start
    if mention is None or quote.char_id is None:
        return "implicit"
    near = quote.quote_start - TAG_WINDOW_TOKENS <= mention <= quote.quote_end + TAG_WINDOW_TOKENS
    if not near:
        return "implicit"
    return "anaphoric" if prop_at.get(mention) == "PRON" else "explicit"


def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise CorpusError(f"BookNLP output file not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"cannot read BookNLP output {path}: {exc}") from exc
    missing = [c for c in columns if c not in header]
    if missing:
        raise CorpusError(f"{path} is not a BookNLP file: it lacks the columns {', '.join(missing)}")
    return rows


def _read_entities(path: Path) -> list[Entity]:
    rows = _read_tsv(path, ENTITY_COLUMNS)
    return [
        Entity(_int(r, "COREF", path, n), _int(r, "start_token", path, n), _int(r, "end_token", path, n),
               r["prop"], r["cat"], r["text"])
        for n, r in enumerate(rows, start=2)
    ]


def _read_quotes(path: Path) -> list[QuoteRow]:
    rows = _read_tsv(path, QUOTE_COLUMNS)
    return [
        QuoteRow(
            _int(r, "quote_start", path, n),
            _int(r, "quote_end", path, n),
            _optional_int(r, "mention_start", path, n),
            _optional_int(r, "char_id", path, n),
            r.get("mention_phrase") or "",
        )
        for n, r in enumerate(rows, start=2)
    ]


def _int(row: dict[str, str], column: str, path: Path, line: int) -> int:
    try:
        return int(row[column])
    except (TypeError, ValueError):
        raise CorpusError(f"{path}, line {line}: {column} is {row[column]!r}, not an integer") from None


def _optional_int(row: dict[str, str], column: str, path: Path, line: int) -> int | None:
    """An id column where BookNLP writes "None" (or a negative number) for 'none'."""
    if row[column] in ("None", ""):
        return None
    value = _int(row, column, path, line)
    return value if value >= 0 else None
