"""What a release is: its configs and files, the settings (`ReleaseConfig`), the tables and what was
left out, and the built `Release`; build, card and upload all import these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pyarrow as pa

from corpus.errors import CorpusError

CONFIGS = ("utterances", "characters", "books")
DEFAULT_CONFIG = "utterances"
DATA_DIR = "data"
CARD_FILE = "README.md"
ATTRIBUTION_REPORT_FILE = "reports/attribution.json"  # copy of the bench report the card quotes
MANAGED_PREFIXES = (f"{DATA_DIR}/", "reports/")  # what a release owns in the repository, besides the card
WHOLE_TABLE_SPLIT = "train"  # the one split of a table the split unit does not partition


class SplitUnit(str, Enum):
    """What the split keeps together: a book, a character, or nothing (single lines)."""

    BOOK = "book"
    CHARACTER = "character"
    LINE = "line"


def _help(default: object, text: str) -> object:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class ReleaseConfig:
    """How a release is selected, split and described; the CLI options mirror these fields."""

    split_by: SplitUnit = _help(SplitUnit.BOOK, "unit kept within one split: book, character or line")
    splits: tuple[tuple[str, float], ...] = _help(
        (("train", 0.8), ("validation", 0.1), ("test", 0.1)), "split names and their shares of the split units"
    )
    seed: int = _help(0, "salt of the hash that places each split unit; same seed, same splits")
    rows_per_file: int = _help(100_000, "most rows in one Parquet file of a split")
    assume_public_domain: tuple[str, ...] = _help(
        (), "ids of books without rights metadata that you have checked are public domain in the USA"
    )
    exclude_books: tuple[str, ...] = _help((), "ids of books to leave out of the release")
    attribution_report: Path | None = _help(
        None, "JSON written by bench/attribution.py; its PDNC figures go into the card"
    )
    license: str = _help("cc0-1.0", "Hub licence id of the annotations (the texts are public domain in the USA)")
    language: tuple[str, ...] = _help(("en",), "languages of the texts (the pipeline models English)")
    task_categories: tuple[str, ...] = _help(("text-generation", "text-classification"), "Hub task categories")
    pretty_name: str = _help("Character personas from public-domain novels", "dataset title on the Hub")

    def validate(self) -> None:
        """Raise CorpusError when a value is out of range."""
        shares = [share for _, share in self.splits]
        if not self.splits or any(s <= 0 for s in shares) or abs(sum(shares) - 1.0) > 1e-9:
            raise CorpusError("split shares must be positive and sum to 1")
        if len({name for name, _ in self.splits}) != len(self.splits):
            raise CorpusError("split names must be distinct")
        if self.rows_per_file < 1:
            raise CorpusError(f"rows per file must be at least 1, got {self.rows_per_file}")


@dataclass
class ReleaseTables:
    """The three tables of a release, in the shard schemas."""

    utterances: pa.Table
    characters: pa.Table
    books: pa.Table


@dataclass
class Selection:
    """What was left out of a release, and why."""

    excluded: list[str] = field(default_factory=list)  # book ids left out on request
    not_public_domain: dict[str, str] = field(default_factory=dict)  # book id -> its rights text
    assumed_public_domain: list[str] = field(default_factory=list)  # book ids released on the publisher's word
    duplicate_editions: dict[str, str] = field(default_factory=dict)  # dropped book id -> kept book id
    licence_utterances_dropped: int = 0
    licence_paragraphs_removed: int = 0


@dataclass
class ConfigFiles:
    """The Parquet files and row counts of one config, per split."""

    files: dict[str, list[str]] = field(default_factory=dict)  # split -> paths relative to the release folder
    rows: dict[str, int] = field(default_factory=dict)
    nbytes: dict[str, int] = field(default_factory=dict)  # Arrow in-memory size, as `datasets` reports it


@dataclass
class Release:
    """A built, validated release folder and what went into it."""

    folder: Path
    repo_id: str
    config: ReleaseConfig
    configs: dict[str, ConfigFiles]
    selection: Selection
    tables: ReleaseTables
    split_units: dict[str, int] = field(default_factory=dict)  # configured split -> split units in it (0: empty)

    @property
    def empty_splits(self) -> list[str]:
        """Configured splits that no split unit fell into (too few books, characters or lines for the shares)."""
        return [name for name, units in self.split_units.items() if units == 0]

    def file_bytes(self, config_name: str, split: str | None = None) -> int:
        """Bytes of the Parquet files of a config (or of one of its splits) on disk."""
        files = self.configs[config_name].files
        splits = [split] if split is not None else list(files)
        return sum((self.folder / path).stat().st_size for s in splits for path in files[s])
