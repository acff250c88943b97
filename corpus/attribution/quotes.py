"""Quotation spans: where a book's text becomes quotations.

A quotation is one utterance: one or more parts (character offsets, quote marks excluded). As in
PDNC, the quoted parts of one paragraph are one utterance: a quote interrupted by a speech tag
("...," said he, "...") is one quotation with two parts. A speech that runs over several paragraphs
(opening mark repeated, no closing mark) is one quotation with one part per paragraph. Nested quotes
(the other mark kind inside a quotation) stay inside their quotation. Not utterances: a short quoted
term inside a narration sentence (a title, a scare quote) and indented blocks (letters, verse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpus.attribution.speech_verbs import TAG_WORDS
from corpus.shards.schema import PARAGRAPH_BREAK

DOUBLE_OPEN, DOUBLE_CLOSE = "\u201c", "\u201d"
SINGLE_OPEN, SINGLE_CLOSE = "\u2018", "\u2019"
# Characters after which a straight mark is an opening one.
OPENING_CONTEXT = set(" \t\n([{\u2014-_") | {""}
INDENTED_BLOCK = 4  # paragraphs indented this many spaces are letters or verse, not dialogue
MAX_TERM_WORDS = 4  # a quoted term inside narration has at most this many words


@dataclass(frozen=True)
class Quotation:
    """One utterance: parts as (start, end) offsets into the text, quote marks excluded."""

    parts: tuple[tuple[int, int], ...]
    paragraph: int  # 0-based index of the paragraph the quotation starts in

    @property
    def start(self) -> int:
        return self.parts[0][0]

    @property
    def end(self) -> int:
        return self.parts[-1][1]

    def text(self, book_text: str) -> str:
        """The quoted words, parts joined by one space."""
        return " ".join(book_text[s:e] for s, e in self.parts)


@dataclass(frozen=True)
class QuoteStyle:
    """Which marks open and close dialogue in a book (detected by `detect_style`)."""

    opening: frozenset[str] = field(default_factory=lambda: frozenset({'"', DOUBLE_OPEN}))
    closing: frozenset[str] = field(default_factory=lambda: frozenset({'"', DOUBLE_CLOSE}))
    apostrophes: bool = False  # the marks double as apostrophes (British single-quote dialogue)


DOUBLE_STYLE = QuoteStyle()
SINGLE_STYLE = QuoteStyle(
    opening=frozenset({"'", SINGLE_OPEN}), closing=frozenset({"'", SINGLE_CLOSE}), apostrophes=True
)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: blocks separated by blank lines, or lines when there are none."""
    breaker = PARAGRAPH_BREAK if PARAGRAPH_BREAK.search(text) else re.compile(r"\n\s*")
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in breaker.finditer(text):
        _append_stripped(text, pos, match.start(), spans)
        pos = match.end()
    _append_stripped(text, pos, len(text), spans)
    return spans


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _single_opening(text: str, i: int) -> bool:
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    return (before in OPENING_CONTEXT or before.isspace()) and bool(after) and not after.isspace()


def detect_style(text: str) -> QuoteStyle:
    """Double-quote dialogue unless opening single marks clearly outnumber the double marks."""
    doubles = sum(text.count(c) for c in ('"', DOUBLE_OPEN, DOUBLE_CLOSE))
    singles = text.count(SINGLE_OPEN) + sum(
        1 for m in re.finditer("'", text) if _single_opening(text, m.start())
    )
    return SINGLE_STYLE if singles > doubles else DOUBLE_STYLE


def _is_open_mark(text: str, i: int, style: QuoteStyle) -> bool:
    char = text[i]
    if char in (DOUBLE_OPEN, SINGLE_OPEN):
        return char in style.opening
    if char in (DOUBLE_CLOSE, SINGLE_CLOSE):
        return False
    return char in style.opening and _single_opening(text, i)


def _is_close_mark(text: str, i: int, style: QuoteStyle) -> bool:
    char = text[i]
    if char not in style.closing:
        return False
    if char in (DOUBLE_OPEN, SINGLE_OPEN):
        return False
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    if before.isspace():
        return False
    if style.apostrophes and after.isalpha():
        return False  # don't, o'clock
    if style.apostrophes and before.isalpha() and after not in " \t\n" and after.isalnum():
        return False
    return True


def _paragraph_quotes(text: str, start: int, end: int, style: QuoteStyle) -> tuple[list[tuple[int, int]], bool]:
    """Quoted spans inside one paragraph, and whether a quote is still open at its end."""
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    i = start
    while i < end:
        char = text[i]
        if char in style.opening or char in style.closing:
            if open_at is None:
                if _is_open_mark(text, i, style) or (not style.apostrophes and char == '"'):
                    open_at = i + 1
            elif _is_close_mark(text, i, style) or (not style.apostrophes and char == '"' and i > open_at):
                if not (style.apostrophes and char == "'" and _looks_like_plural_possessive(text, i, end, style)):
                    if i > open_at:  # raw span between the marks, as PDNC annotates it
                        spans.append((open_at, i))
                    open_at = None
        i += 1
    if open_at is not None:
        _append_stripped(text, open_at, end, spans)
        return spans, True
    return spans, False


def _looks_like_plural_possessive(text: str, i: int, end: int, style: QuoteStyle) -> bool:
    """A straight apostrophe after an 's' followed by a noun ("the Bennets' house") with a later close."""
    if text[i - 1] != "s" or i + 2 >= end or text[i + 1] != " " or not text[i + 2].isalpha():
        return False
    rest = text[i + 1 : end]
    return any(_is_close_mark(text, i + 1 + j, style) for j, c in enumerate(rest) if c in style.closing)


def _is_term_in_narration(text: str, span: tuple[int, int], paragraph_start: int) -> bool:
    """A short quoted term inside a narration sentence (a title, a scare quote: 'the "system," that')
    rather than speech: it follows a plain word that is not a verb of saying."""
    before = text[paragraph_start : span[0] - 1].rstrip()
    if not before or not before[-1].isalpha():
        return False
    last_word = before.split()[-1].lower()
    words = text[span[0] : span[1]].split()
    return last_word not in TAG_WORDS and len(words) <= MAX_TERM_WORDS and not text[span[1] - 1] in "!?"


def find_quotations(text: str, style: QuoteStyle | None = None) -> list[Quotation]:
    """Every quotation in the text, in order (style detected from the text when not given)."""
    style = style or detect_style(text)
    quotations: list[Quotation] = []
    pending: list[tuple[int, int]] = []  # parts of a quotation still open at a paragraph end
    pending_paragraph = 0
    for index, (start, end) in enumerate(paragraph_spans(text)):
        if start - (text.rfind("\n", 0, start) + 1) >= INDENTED_BLOCK:  # a letter or verse set off by indentation
            spans, still_open = [], False
        else:
            spans, still_open = _paragraph_quotes(text, start, end, style)
        continues = bool(pending) and text[start] in style.opening
        if pending and not continues:
            quotations.append(Quotation(tuple(pending), pending_paragraph))
            pending = []
        spans = [span for span in spans if not _is_term_in_narration(text, span, start)]
        # PDNC's convention: the quoted parts of one paragraph are one utterance
        groups: list[list[tuple[int, int]]] = [spans] if spans else []
        if continues and groups:
            pending.extend(groups.pop(0))
            if groups or not still_open:
                quotations.append(Quotation(tuple(pending), pending_paragraph))
                pending = []
        for g_index, group in enumerate(groups):
            if still_open and g_index == len(groups) - 1:
                pending, pending_paragraph = list(group), index
            else:
                quotations.append(Quotation(tuple(group), index))
    if pending:
        quotations.append(Quotation(tuple(pending), pending_paragraph))
    return quotations
