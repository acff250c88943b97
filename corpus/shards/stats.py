"""The corpus report: what a run of persona shards holds before anyone trains on it, and which books look wrong.

Figures: books, quotations by type, the share attributed, characters, the personas usable for training
(characters with at least N lines at confidence >= C, for each N in `min_lines` and C in
`confidence_levels`), words per speaking character, and per book the outliers a reader should look at
first (no quotations, no speakers, few attributed, one character saying most lines, a suspicious cast).
Computed from the shards alone (each utterance shard carries its book row and character rows).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.shards import parquet, schema
from corpus.errors import CorpusError
from corpus.shards.writer import read_shard_info
from corpus.shards.personas import book_shards

UTTERANCE_COLUMNS = ("book_id", "speaker_id", "quote_type", "confidence")  # all the report reads of the utterances
CONFIDENCE_BINS = 20  # confidence histogram: bins of width 0.05 over [0, 1]
# A speaking character named like this is no person: a pronoun, a bare title, a narrator's word
# (lower-case descriptions such as "the coxswain" or "the parrot" are real speakers and pass).
NOT_A_NAME = re.compile(
    r"^(?:i|he|she|it|we|they|you|him|her|them|me|us|one|sir|madam|ma'am|mr\.?|mrs\.?|miss|dr\.?|lord|lady|"
    r"chapter|book|part|volume|the|a|an|god|voice|all|someone|somebody|everybody|nobody|none)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StatsConfig:
    """Thresholds of the corpus report."""

    min_lines: tuple[int, ...] = field(
        default=(8, 32, 128), metadata={"help": "a persona needs at least this many attributed lines"})
    confidence_levels: tuple[float, ...] = field(
        default=(0.5, 0.8, 0.95), metadata={"help": "... each at or above this speaker confidence"})
    one_voice_share: float = field(
        default=0.5, metadata={"help": "outlier: one character says more than this share of a book's attributed lines"})
    low_attribution_share: float = field(
        default=0.3, metadata={"help": "outlier: less than this share of a book's quotations has a speaker"})
    min_quotations: int = field(
        default=20, metadata={"help": "share-based outliers are judged only in books with this many quotations"})
    silent_cast_share: float = field(
        default=0.8, metadata={"help": "suspicious cast: more than this share of at least `min_cast` characters never speaks"})
    min_cast: int = field(default=20, metadata={"help": "smallest cast judged by its silent share"})
    min_quotations_per_100k_chars: float = field(
        default=10.0, metadata={"help": "outlier: fewer quotations per 100k characters of text (no dialogue, or "
                                        "quote marks the finder does not know, such as dashes)"})


@dataclass(frozen=True)
class BookStats:
    """One book's row of the report."""

    book_id: str
    title: str | None
    chars: int  # of the clean text
    quotations: int
    attributed: int
    quote_types: dict[str, int]
    characters: int  # the discovered cast
    speaking: int  # characters with at least one attributed line
    top_speaker: str | None
    top_share: float  # the top speaker's share of the attributed lines
    outliers: list[str]  # why the book deserves a look; empty when it looks fine


@dataclass(frozen=True)
class CorpusStats:
    """The corpus report of a run folder (JSON-ready through `to_dict`)."""

    books: int
    quotations: int
    quote_types: dict[str, int]
    attributed: int
    confident: dict[str, int]  # confidence level -> attributed quotations at or above it
    characters: int
    speaking_characters: int
    personas: dict[str, dict[str, int]]  # confidence level -> {min lines -> characters with that many lines}
    words_per_character: dict[str, float]  # over speaking characters: mean, median, p90, max
    lines_per_character: dict[str, int]  # histogram over speaking characters, power-of-two bins ("8-15")
    confidence_histogram: list[int]  # attributed quotations per confidence bin of width 1/CONFIDENCE_BINS
    per_book: list[BookStats]

    @property
    def attributed_share(self) -> float:
        return self.attributed / self.quotations if self.quotations else 0.0

    def outlier_books(self) -> list[BookStats]:
        return [b for b in self.per_book if b.outliers]

    def to_dict(self) -> dict:
        return {**asdict(self), "attributed_share": round(self.attributed_share, 4)}


def corpus_stats(target: Path, config: StatsConfig = StatsConfig()) -> CorpusStats:
    """The report of a run folder (or one book's shard): CorpusError for a missing folder, no or corrupt shards."""
    check_thresholds(config)
    paths = book_shards(Path(target))
    infos = [read_shard_info(path) for path in paths.values()]
    utterances = pa.concat_tables(
        [parquet.read_table(path, schema.UTTERANCES, columns=UTTERANCE_COLUMNS) for path in paths.values()])
    characters = [row for info in infos for row in info.character_rows]
    return stats_of(utterances, characters, [info.book_row for info in infos], config)


def stats_of(utterances: pa.Table, characters: Sequence[dict], books: Sequence[dict],
             config: StatsConfig = StatsConfig()) -> CorpusStats:
    """The report of utterance rows (at least UTTERANCE_COLUMNS), character rows and book rows."""
    speaker = utterances.column("speaker_id")
    confidence = utterances.column("confidence").to_numpy(zero_copy_only=False).astype(np.float32)
    attributed = speaker.is_valid().to_numpy(zero_copy_only=False)
    levels = {f"{level:g}": confidence >= np.float32(level) for level in config.confidence_levels}
    speaking = [c for c in characters if c["lines"] > 0]
    return CorpusStats(
        books=len(books),
        quotations=utterances.num_rows,
        quote_types=_type_counts(utterances.column("quote_type").to_pylist()),
        attributed=int(attributed.sum()),
        confident={level: int((attributed & mask).sum()) for level, mask in levels.items()},
        characters=len(characters),
        speaking_characters=len(speaking),
        personas={level: _personas(speaker, attributed & mask, config.min_lines) for level, mask in levels.items()},
        words_per_character=_summary([c["words"] for c in speaking]),
        lines_per_character=_power_of_two_histogram([c["lines"] for c in speaking]),
        confidence_histogram=np.histogram(confidence[attributed], bins=CONFIDENCE_BINS, range=(0.0, 1.0))[0].tolist(),
        per_book=_per_book(utterances, characters, books, config),
    )


def _per_book(utterances: pa.Table, characters: Sequence[dict], books: Sequence[dict],
              config: StatsConfig) -> list[BookStats]:
    """One row per book; utterances and characters are grouped once (a corpus has thousands of books)."""
    types: dict[str, dict[str, int]] = {}
    grouped = utterances.group_by(["book_id", "quote_type"]).aggregate([("confidence", "count")])
    for book_id, kind, count in zip(grouped.column("book_id").to_pylist(), grouped.column("quote_type").to_pylist(),
                                    grouped.column("confidence_count").to_pylist()):
        types.setdefault(book_id, _type_counts([]))[kind] = count
    casts: dict[str, list[dict]] = {}
    for character in characters:
        casts.setdefault(character["book_id"], []).append(character)
    return [_book_stats(book, types.get(book["book_id"], _type_counts([])), casts.get(book["book_id"], []), config)
            for book in books]


def _type_counts(types: list[str]) -> dict[str, int]:
    counts = {name: 0 for name in schema.QUOTE_TYPES}
    for name in types:
        counts[name] = counts.get(name, 0) + 1
    return counts


def _personas(speaker: pa.ChunkedArray, keep: np.ndarray, min_lines: tuple[int, ...]) -> dict[str, int]:
    """How many speakers have at least n of the kept lines, for each n of `min_lines`."""
    kept = pc.filter(speaker, pa.array(keep))
    counts = pc.value_counts(kept).field("counts").to_numpy(zero_copy_only=False) if len(kept) else np.array([])
    return {str(n): int((counts >= n).sum()) for n in min_lines}


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0}
    array = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(array.mean()), 1), "median": float(np.median(array)),
            "p90": float(np.percentile(array, 90)), "max": float(array.max())}


def _power_of_two_histogram(values: list[int]) -> dict[str, int]:
    """Counts of positive values in bins 1, 2-3, 4-7, 8-15, ... up to the largest value."""
    histogram: dict[str, int] = {}
    if not values:
        return histogram
    for exponent in range(int(max(values)).bit_length()):
        low, high = 2 ** exponent, 2 ** (exponent + 1) - 1
        histogram[str(low) if low == high else f"{low}-{high}"] = sum(1 for v in values if low <= v <= high)
    return histogram


def _book_stats(book: dict, quote_types: dict[str, int], cast: list[dict], config: StatsConfig) -> BookStats:
    speaking = sorted((c for c in cast if c["lines"] > 0), key=lambda c: -c["lines"])
    attributed = sum(c["lines"] for c in speaking)
    top = speaking[0] if speaking else None
    stats = BookStats(
        book_id=book["book_id"],
        title=book.get("title"),
        chars=int(book.get("chars") or 0),
        quotations=sum(quote_types.values()),
        attributed=attributed,
        quote_types=quote_types,
        characters=len(cast),
        speaking=len(speaking),
        top_speaker=top["name"] if top else None,
        top_share=round(top["lines"] / attributed, 4) if top else 0.0,
        outliers=[],
    )
    stats.outliers.extend(_outliers(stats, cast, config))
    return stats


def _outliers(book: BookStats, cast: Sequence[dict], config: StatsConfig) -> list[str]:
    """Why a book deserves a look before its lines are trained on."""
    if book.quotations == 0:
        return ["no quotations"]
    found = []
    per_100k_chars = book.quotations / book.chars * 100_000 if book.chars else float("inf")
    if per_100k_chars < config.min_quotations_per_100k_chars:
        found.append(f"few quotations ({book.quotations} in {book.chars:,} characters)")
    if book.attributed == 0:
        found.append("no speakers")
    elif book.quotations >= config.min_quotations:
        share = book.attributed / book.quotations
        if share < config.low_attribution_share:
            found.append(f"few attributed ({share:.0%})")
        if book.top_share > config.one_voice_share:
            found.append(f"one voice: {book.top_speaker} says {book.top_share:.0%}")
    silent = book.characters - book.speaking
    if book.characters >= config.min_cast and silent / book.characters > config.silent_cast_share:
        found.append(f"suspicious cast: {silent} of {book.characters} characters never speak")
    odd = sorted({c["name"] for c in cast if c["lines"] > 0 and _not_a_name(c["name"])})
    if odd:
        found.append(f"suspicious cast: {', '.join(odd[:5])} speak{'s' if len(odd) == 1 else ''}")
    return found


def _not_a_name(name: str) -> bool:
    """A pronoun, a bare title, a narrator's word, or no letters at all is no character's name."""
    return bool(NOT_A_NAME.match(name.strip())) or not any(ch.isalpha() for ch in name)


def check_thresholds(config: StatsConfig) -> None:
    """CorpusError unless the thresholds make sense (confidences in [0, 1], positive line counts)."""
    if not config.min_lines or any(n < 1 for n in config.min_lines):
        raise CorpusError("--min-lines values must be at least 1")
    if not config.confidence_levels or any(not 0.0 <= c <= 1.0 for c in config.confidence_levels):
        raise CorpusError("--confidence values must be between 0 and 1")


def report_markdown(stats: CorpusStats, max_outliers: int = 10) -> str:
    """The report as a Markdown section (the dataset card's "Corpus figures")."""
    def share(n: int) -> str:
        return f"{n} ({n / stats.quotations:.0%})" if stats.quotations else str(n)

    types = ", ".join(f"{kind} {share(n)}" for kind, n in stats.quote_types.items())
    confident = ", ".join(f"≥{level}: {share(n)}" for level, n in stats.confident.items())
    words = stats.words_per_character
    levels = list(stats.personas)
    grid = "\n".join(
        f"| ≥{n} lines | " + " | ".join(str(stats.personas[level][n]) for level in levels) + " |"
        for n in next(iter(stats.personas.values()), {})
    )
    outliers = stats.outlier_books()
    listed = "\n".join(f"| {b.book_id} | {_cell(b.title)} | {b.quotations} | {_cell('; '.join(b.outliers))} |"
                       for b in outliers[:max_outliers])
    more = f"\n\n... and {len(outliers) - max_outliers} more." if len(outliers) > max_outliers else ""
    text = (
        "## Corpus figures\n\n"
        f"{stats.books} books, {stats.quotations} quotations ({types}); {share(stats.attributed)} have a speaker, "
        f"by speaker confidence {confident}. {stats.characters} characters, {stats.speaking_characters} of them "
        f"speaking; words per speaking character: median {words['median']:g}, mean {words['mean']:g}, "
        f"90th percentile {words['p90']:g}, max {words['max']:g}.\n\n"
        "Characters with at least N attributed lines at speaker confidence ≥ C (the personas there are enough "
        "lines to train on):\n\n"
        f"| lines | {' | '.join(f'conf ≥{level}' for level in levels)} |\n|---|{'---|' * len(levels)}\n{grid}"
    )
    if outliers:
        text += (f"\n\nBooks to look at before training on them ({len(outliers)}):\n\n"
                 f"| book | title | quotations | why |\n|---|---|---|---|\n{listed}{more}")
    return text


def _cell(value: object) -> str:
    return str(value or "").replace("|", "\\|").replace("\n", " ")
