"""Quotations, the cast and their speakers and addressees: a sieve of speech tags, anaphora and
conversation turns, then a ranker.

Files: quotes.py (quotations in a text), nlp.py (spaCy loading and parsing), speech_verbs.py (the
speech-verb vocabulary), characters.py (the cast), names.py (parsing names, clustering aliases),
discovery.py (finding the cast in the text), types.py (config and results), context.py (what sieves
read), mentions.py (cast names in the text), tags.py (explicit and anaphoric speech tags, action beats),
conversation.py (turn-taking, vocatives, addressees), ranker.py (a small learned re-ranker for untagged
quotations, weights in ranker.json; its features in features.py), calibration.py (confidence: per sieve
rule, and from the ranker's evidence; calibration.json), book.py (the pipeline over one book), runner.py
(`corpus attribute`: many books into shards, resumable), parallel.py (processes or Ray), booknlp.py (the
BookNLP backend).

The data files shipped here are built by scripts beside the benches that measure them, from data the
package does not ship: ranker.json by bench/train_ranker.py and calibration.json by
bench/attribution.py --write-calibration (both from PDNC), given_names.json by bench/given_names.py
(from nomquamgender). Tests run the ranker and given-names builders and fit a calibration.
"""

from corpus.attribution.book import attribute_book
from corpus.attribution.types import QUOTE_TYPES, Attribution, AttributionConfig, BookAttribution

__all__ = ["QUOTE_TYPES", "Attribution", "AttributionConfig", "BookAttribution", "attribute_book"]
