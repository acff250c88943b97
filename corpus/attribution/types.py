"""The attribution stage's config and result types (the contract other stages code against)."""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.attribution.characters import Character
from corpus.attribution.nlp import DEFAULT_MODEL
from corpus.attribution.quotes import Quotation
from corpus.shards.schema import QUOTE_TYPES  # noqa: F401  (re-exported: explicit / anaphoric / implicit)


@dataclass
class AttributionConfig:
    """How speakers are found; every field carries its help text."""

    spacy_model: str = field(
        default=DEFAULT_MODEL, metadata={"help": "spaCy pipeline used for sentences, tags, PERSON mentions"}
    )
    spacy_processes: int = field(
        default=1, metadata={"help": "worker processes for spaCy parsing of one book (2 on a 2-core machine)"}
    )
    min_confidence: float = field(
        default=0.0, metadata={"help": "attributions below this get speaker None (high-precision mode)"}
    )
    min_mentions: int = field(
        default=2, metadata={"help": "discovered characters need at least this many mentions (named or spoken)"}
    )
    max_characters: int = field(
        default=200, metadata={"help": "keep at most this many discovered characters (most mentioned first)"}
    )
    tag_window_chars: int = field(
        default=160, metadata={"help": "narration read on each side of a quotation when looking for a speech tag"}
    )
    turn_max_gap: int = field(
        default=2, metadata={"help": "two quotations at most this many paragraphs apart are turns of one exchange"}
    )
    use_ranker: bool = field(
        default=True, metadata={"help": "re-rank untagged quotations with the bundled learned ranker (if present)"}
    )
    beam_width: int = field(
        default=4, metadata={"help": "speaker sequences of an exchange the ranker keeps while decoding (1: greedy)"}
    )
    mention_window_paragraphs: int = field(
        default=8, metadata={"help": "paragraphs looked back for the most recent character mention"}
    )


@dataclass
class Attribution:
    """The speaker (a character slug, or None) and addressees of one quotation, with provenance."""

    quotation: Quotation
    speaker: str | None
    addressees: list[str] = field(default_factory=list)
    quote_type: str = "implicit"  # one of QUOTE_TYPES
    confidence: float = 0.0  # calibrated probability that the speaker is right, in [0, 1]
    method: str = "none"  # the sieve rule that gave the speaker
    signals: dict[str, float] = field(default_factory=dict)  # a ranker decision's evidence (calibration input)


@dataclass
class BookAttribution:
    """A book's cast and one attribution per quotation, in text order."""

    characters: list[Character]
    attributions: list[Attribution]

    def character(self, slug: str) -> Character | None:
        """The character with this slug, or None."""
        return next((c for c in self.characters if c.slug == slug), None)
