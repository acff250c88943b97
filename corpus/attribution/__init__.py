"""Speakers and addressees of quotations: a sieve of speech tags, anaphora and conversation turns.

Files: types.py (config and results), context.py (what sieves read), mentions.py (cast names in
the text), tags.py (explicit and anaphoric speech tags, action beats), conversation.py (turn-taking,
vocatives, addressees), ranker.py (a small learned re-ranker for untagged quotations, weights in
ranker.json), calibration.py (confidence: per sieve rule, and from the ranker's evidence;
calibration.json), book.py (the pipeline).
"""

from corpus.attribution.book import attribute_book
from corpus.attribution.types import QUOTE_TYPES, Attribution, AttributionConfig, BookAttribution

__all__ = ["QUOTE_TYPES", "Attribution", "AttributionConfig", "BookAttribution", "attribute_book"]
