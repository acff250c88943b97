"""What every sieve reads: paragraphs with their spaCy docs, quotations, cast and name mentions."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corpus.attribution.mentions import CastIndex, Mention
from corpus.attribution.style import SpeakerStyle
from corpus.attribution.quotes import Quotation

if TYPE_CHECKING:
    from corpus.attribution.tags import Tag

EPITHET_WINDOW = 60  # characters around a descriptive word searched for the name it stands for


ANCHOR_METHODS = ("tag-name", "tag-narrator")  # the sieve rules whose speakers anchor everything else


@dataclass
class Guess:
    """A sieve's proposal for one quotation's speaker."""

    speaker: str | None
    quote_type: str
    method: str
    signals: dict[str, float] = field(default_factory=dict)  # the ranker's evidence, read by the calibration


@dataclass
class BookContext:
    """A book prepared for the sieves (offsets are absolute character offsets into `text`)."""

    text: str
    paragraphs: list[tuple[int, int]]
    docs: list  # one spaCy Doc per paragraph
    quotations: list[Quotation]
    index: CastIndex
    mentions: list[Mention]
    first_person: bool = False  # narration in the first person ("I said")
    narrator: str | None = None  # slug of the first-person narrator, when known
    quote_spans: list[tuple[int, int]] = field(init=False)
    paragraph_quotes: dict[int, list[int]] = field(init=False)  # paragraph -> quotation indexes
    guesses: list[Guess | None] = field(init=False)  # the decisions so far: run_sieve, then the ranker, writes them
    tags: dict[tuple[int, int], "Tag | None"] = field(init=False)  # (quotation, window) -> tags.find_tag
    descriptions: dict[str, list[int]] | None = field(init=False)  # a nominal tag's head -> its quotations
    speaking_share: dict[str, float] = field(default_factory=dict)  # slug -> share of the named-tag quotations
    style: SpeakerStyle = field(default_factory=SpeakerStyle)  # how each character talks in the named-tag quotations

    def __post_init__(self) -> None:
        self.quote_spans = sorted(p for q in self.quotations for p in q.parts)
        self._quote_starts = [s for s, _ in self.quote_spans]
        self.paragraph_quotes, self.tags, self.descriptions = {}, {}, None
        self._mention_starts = [m.start for m in self.mentions]
        self._paragraph_starts = [s for s, _ in self.paragraphs]
        for i, q in enumerate(self.quotations):
            for p in {self.paragraph_of(s) for s, _ in q.parts}:
                self.paragraph_quotes.setdefault(p, []).append(i)
        self.guesses = [None] * len(self.quotations)
        self._epithets: dict[str, list[tuple[int, str]]] = {}  # head -> (offset, nearest character)
        self._narration: dict[int, tuple[list, list[int]]] = {}  # paragraph -> (tokens, their offsets)

    def paragraph_of(self, offset: int) -> int:
        return max(bisect.bisect_right(self._paragraph_starts, offset) - 1, 0)

    def in_quote(self, offset: int) -> bool:
        i = bisect.bisect_right(self._quote_starts, offset) - 1
        return i >= 0 and self.quote_spans[i][0] <= offset < self.quote_spans[i][1]

    def mentions_between(self, start: int, end: int) -> list[Mention]:
        lo = bisect.bisect_left(self._mention_starts, start)
        hi = bisect.bisect_left(self._mention_starts, end)
        return self.mentions[lo:hi]

    def mention_at(self, start: int, end: int) -> Mention | None:
        """The mention overlapping [start, end), if any."""
        lo = bisect.bisect_left(self._mention_starts, start - 60)
        for m in self.mentions[lo:]:
            if m.start >= end:
                return None
            if m.end > start:
                return m
        return None

    def epithet_owners(self, head: str, before: int | None = None, window: int | None = None) -> dict[str, int]:
        """How often each character is named within EPITHET_WINDOW characters of the word `head`
        ("Mr. Bumble, the beadle"): who a descriptive speech tag ("said the beadle") likely means.
        With `before` and `window`, only occurrences in the `window` characters before `before` count."""
        if head not in self._epithets:
            found = []
            for match in re.finditer(rf"\b{re.escape(head)}\b", self.text, flags=re.IGNORECASE):
                if self.in_quote(match.start()):
                    continue
                near = self.mentions_between(match.start() - EPITHET_WINDOW, match.end() + EPITHET_WINDOW)
                near = [m for m in near if not m.in_quote]
                if near:
                    closest = min(near, key=lambda m: min(abs(m.start - match.end()), abs(match.start() - m.end)))
                    found.append((match.start(), closest.slug))
            self._epithets[head] = found
        counts: dict[str, int] = {}
        for offset, slug in self._epithets[head]:
            if before is None or before - (window or before) <= offset < before:
                counts[slug] = counts.get(slug, 0) + 1
        return counts

    def opens_paragraph(self, quotation: Quotation) -> bool:
        """Whether the quotation starts its paragraph (after the opening mark) and a paragraph precedes it."""
        paragraph = self.paragraph_of(quotation.start)
        return paragraph > 0 and quotation.start <= self.paragraphs[paragraph][0] + 1

    def narration_before(self, quotation: Quotation) -> int | None:
        """The paragraph just before a quotation that opens its own paragraph, when that paragraph has
        no quotation (pure narration); else None."""
        paragraph = self.paragraph_of(quotation.start)
        if not self.opens_paragraph(quotation) or self.paragraph_quotes.get(paragraph - 1):
            return None
        return paragraph - 1

    def narration_tokens(self, paragraph: int) -> list:
        """The paragraph's tokens outside quotation marks."""
        return self.narration(paragraph)[0]

    def narration(self, paragraph: int) -> tuple[list, list[int]]:
        """The paragraph's tokens outside quotation marks and their absolute offsets (computed once)."""
        if paragraph not in self._narration:
            base = self.paragraphs[paragraph][0]
            tokens = [t for t in self.docs[paragraph] if not self.in_quote(base + t.idx) and not t.is_space]
            self._narration[paragraph] = (tokens, [base + t.idx for t in tokens])
        return self._narration[paragraph]
