"""Deterministic splits of a release: each split unit (a book, a character or a line) lands in the split
its salted hash falls in, so a unit keeps its split when others are added or removed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from corpus.release.types import WHOLE_TABLE_SPLIT, ReleaseConfig, SplitUnit
from corpus.shards.splits import hash_position


def split_of(key: str, config: ReleaseConfig) -> str:
    """The split of a split unit: a salted sha256 of its key placed on the cumulative split shares.

    A unit keeps its split when other units are added or removed, so books do not move between the
    splits of successive releases.
    """
    position = hash_position(config.seed, key)
    bound = 0.0
    for name, share in config.splits:
        bound += share
        if position < bound:
            return name
    return config.splits[-1][0]


def _line_key(book_id: str, quote_id: int) -> str:
    return f"{book_id}#{quote_id}"


def is_partitioned(config_name: str, unit: SplitUnit) -> bool:
    """Whether `unit` splits a config's rows (books are not split by character or line, nor characters by line)."""
    return unit is SplitUnit.BOOK or config_name == "utterances" or (
        config_name == "characters" and unit is SplitUnit.CHARACTER
    )


def split_keys(config_name: str, table: pa.Table, unit: SplitUnit) -> list[str] | None:
    """Per-row split keys of a table under `unit`, or None when the unit does not partition it."""
    if not is_partitioned(config_name, unit):
        return None
    book_ids = table.column("book_id").to_pylist()
    if unit is SplitUnit.BOOK:
        return book_ids
    if config_name == "characters":
        return table.column("character_id").to_pylist()
    quote_ids = table.column("quote_id").to_pylist()
    if unit is SplitUnit.LINE:
        return [_line_key(b, q) for b, q in zip(book_ids, quote_ids)]
    speakers = table.column("speaker_id").to_pylist()  # unattributed lines: no character to keep together
    return [s if s is not None else _line_key(b, q) for s, b, q in zip(speakers, book_ids, quote_ids)]


def count_split_units(utterances: pa.Table, config: ReleaseConfig) -> dict[str, int]:
    """How many split units (books, characters or lines) of the utterances fall in each configured split."""
    counts = {name: 0 for name, _ in config.splits}
    for key in set(split_keys("utterances", utterances, config.split_by)):
        counts[split_of(key, config)] += 1
    return counts


def split_table(config_name: str, table: pa.Table, config: ReleaseConfig) -> dict[str, pa.Table]:
    """The non-empty splits of one config's table, rows in a stable order."""
    table = _sorted_rows(config_name, table)
    keys = split_keys(config_name, table, config.split_by)
    if keys is None:
        return {WHOLE_TABLE_SPLIT: table} if table.num_rows else {}
    split_of_unit = {key: split_of(key, config) for key in set(keys)}
    column = pa.array([split_of_unit[key] for key in keys], pa.string())
    parts = {name: table.filter(pc.equal(column, name)) for name, _ in config.splits}
    return {name: part for name, part in parts.items() if part.num_rows}


_SECONDARY_ORDER = {"utterances": "quote_id", "characters": "character_id", "books": None}
_RANK = "__book_rank"


def _sorted_rows(config_name: str, table: pa.Table) -> pa.Table:
    """Rows by book (numbers numerically), then quotation order or character id."""
    books = table.column("book_id")
    in_order = pa.array(sorted(pc.unique(books).to_pylist(), key=book_order), pa.string())
    keys = [(_RANK, "ascending")]
    if _SECONDARY_ORDER[config_name]:
        keys.append((_SECONDARY_ORDER[config_name], "ascending"))
    ranked = table.append_column(_RANK, pc.index_in(books, value_set=in_order))
    return ranked.sort_by(keys).drop_columns([_RANK])



def book_order(book_id: str) -> tuple[int, int, str]:
    """Sort key of book ids: Gutenberg numbers numerically, then other ids alphabetically."""
    return (0, int(book_id), "") if book_id.isdigit() else (1, 0, book_id)
