"""Property-based tests of the text stages: any Unicode text, stray or mixed quote marks, CRLF, BOMs, NULs,
very long lines and paragraphs never crash `clean`, `quotes` or `attribute`; offsets always point into the
text; cleaning is idempotent. Run with `--hypothesis-show-statistics` to see how many examples ran.
"""

from __future__ import annotations

import codecs
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.shards import parquet, schema
from corpus.attribution import attribute_book
from corpus.gutenberg.chapters import find_chapters
from corpus.gutenberg.clean import CleanConfig, clean_book, normalise
from corpus.errors import CorpusError
from corpus.attribution.nlp import load_nlp
from corpus.shards.writer import write_book
from corpus.attribution.quotes import find_quotations

QUOTE_MARKS = ['"', "'", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb", "\u201e", "`", "_"]
FRAGMENTS = [
    "\r\n", "\n", "\n\n", "\r", "\ufeff", "\x00", "\t", "   ", " said Anna.", " Mr. Bennet replied,", "Elizabeth",
    "CHAPTER I.", "Chapter 2", "STAVE III", "Produced by Jane Doe", "*** START OF THE PROJECT GUTENBERG EBOOK X ***",
    "--", "\u2014", "...", "!", "?", " ", "I", "she", "he said", "\u200b", "\u2028", "\x0c", "\u0301",
]
pieces = st.one_of(st.sampled_from(QUOTE_MARKS), st.sampled_from(FRAGMENTS), st.text(max_size=40))  # text: any
# Unicode but surrogates (which no UTF-8 text holds)
LONG_RUN_WORDS = ["word", "\u201cHi,\u201d", "x"]


@st.composite
def texts(draw) -> str:
    """Short pieces in any order, sometimes with one very long line or paragraph (up to 3000 words) among them."""
    parts = draw(st.lists(pieces, max_size=40))
    if draw(st.booleans()):
        run = draw(st.sampled_from(LONG_RUN_WORDS)) + " "
        parts.insert(draw(st.integers(0, len(parts))), run * draw(st.integers(200, 3000)))
    return "".join(parts)


# Each property runs this many generated examples (deadline off: a slow shared CPU is no failure).
EXAMPLES = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 300)), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(EXAMPLES, max_examples=100)


@EXAMPLES
@given(texts())
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert "\r" not in once and "\ufeff" not in once and "\t" not in once


@EXAMPLES
@given(texts(), st.booleans())
def test_clean_book_gives_clean_text_or_one_clear_error(text: str, bom: bool) -> None:
    raw = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    try:
        book = clean_book(raw)
    except CorpusError:
        return
    assert book.text.strip() and normalise(book.text) == book.text  # cleaning leaves a clean text as it is
    config = CleanConfig()
    assert find_chapters(book.text, config.chapters) == book.chapters
    ends = [0] + [c.end for c in book.chapters]
    for chapter, previous_end in zip(book.chapters, ends):
        assert previous_end <= chapter.start < chapter.end <= len(book.text)


def _check_quotation_offsets(text: str, quotations) -> None:
    previous_end = 0
    for quotation in quotations:
        assert quotation.parts
        for start, end in quotation.parts:
            assert previous_end <= start <= end <= len(text)
            previous_end = end
        assert quotation.text(text) == " ".join(text[s:e] for s, e in quotation.parts)
        if len(quotation.parts) == 1:
            assert text[quotation.start : quotation.end] == quotation.text(text)


@EXAMPLES
@given(texts())
def test_quotations_point_into_the_text(text: str) -> None:
    _check_quotation_offsets(text, find_quotations(text))


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


@FEWER
@given(text=texts())
def test_attribution_never_crashes_and_shards_keep_offsets(nlp, tmp_path_factory, text: str) -> None:
    book = attribute_book(text, nlp=nlp)
    _check_quotation_offsets(text, [a.quotation for a in book.attributions])
    slugs = {c.slug for c in book.characters}
    for attribution in book.attributions:
        assert attribution.speaker is None or attribution.speaker in slugs
        assert set(attribution.addressees) <= slugs and 0.0 <= attribution.confidence <= 1.0
    folder = tmp_path_factory.mktemp("shard")
    rows = parquet.read_table(write_book(folder, "book", text, book), schema.UTTERANCES).to_pylist()
    assert len(rows) == len(book.attributions)
    for row in rows:
        parts = [(p["start"], p["end"]) for p in row["parts"]]
        assert (row["char_start"], row["char_end"]) == (parts[0][0], parts[-1][1])
        assert row["text"] == " ".join(text[s:e] for s, e in parts)
        if len(parts) == 1:
            assert text[row["char_start"] : row["char_end"]] == row["text"]
