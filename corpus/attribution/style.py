"""How each character talks: word frequencies of the lines a named speech tag gives them.

A quotation's words are scored under each character's unigram model (Dirichlet-smoothed towards
the book's quotations as a whole); the log-likelihood ratio against the book's model is the ranker's
`style` feature ("my nerves" is Mrs. Bennet). Fitted per book from the sieve's anchors only, so it
needs no training data and sees no gold label."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[!?]")
SMOOTHING = 3000.0  # Dirichlet prior mass (in words) of the book's model in each character's (chosen on held-out novels)


@dataclass
class SpeakerStyle:
    """Each quotation's words, and word counts of the book's quotations and of each known speaker's."""

    quotes: list[list[str]] = field(default_factory=list)
    book: Counter = field(default_factory=Counter)
    speakers: dict[str, Counter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._book_words = self.book.total()
        self._speaker_words = {slug: counts.total() for slug, counts in self.speakers.items()}
        self._scores: dict[tuple[str, int], float] = {}

    @classmethod
    def fit(cls, quotes: list[str], speakers: dict[int, str]) -> "SpeakerStyle":
        """From every quotation's text (the book's model) and the known speakers of some (index -> slug)."""
        words = [WORD.findall(text.lower()) for text in quotes]
        by_speaker: dict[str, Counter] = {}
        for qi, slug in speakers.items():
            by_speaker.setdefault(slug, Counter()).update(words[qi])
        return cls(words, Counter(w for quote in words for w in quote), by_speaker)

    def log_ratio(self, slug: str, qi: int) -> float:
        """log P(quotation qi | the character's model) - log P(qi | the book's); 0 for a character with
        no known lines."""
        counts = self.speakers.get(slug)
        if not counts:
            return 0.0
        if (slug, qi) not in self._scores:
            book_words, vocabulary, words = self._book_words, len(self.book) + 1, self._speaker_words[slug]
            score = 0.0
            for word in self.quotes[qi]:
                background = (self.book[word] + 1) / (book_words + vocabulary)
                score += math.log((counts[word] + SMOOTHING * background) / (words + SMOOTHING) / background)
            self._scores[slug, qi] = score
        return self._scores[slug, qi]
