"""The shard folders bench/personas.py trains and scores on: PDNC's gold attributions, ours, and either
without the held-out characters' lines."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from corpus.attribution.runner import AttributeConfig, attribute_books
from corpus.errors import CorpusError
from corpus.gutenberg.books import BookMetadata
from corpus.gutenberg.chapters import find_chapters
from corpus.shards import parquet, schema
from corpus.shards.writer import write_book, write_run_tables
from pdnc import gold_book_attribution, novel_folders, read_cast


def build_gold_shards(pdnc: Path, books: tuple[str, ...], out: Path) -> Path:
    """Persona shards of the gold PDNC speakers (one per novel; the book id is the folder name). A missing
    PDNC folder or novel is a CorpusError."""
    missing = sorted(set(books) - {folder.name for folder in novel_folders(pdnc)})
    if missing:
        raise CorpusError(f"{pdnc} has no PDNC novel {', '.join(missing)}")
    for name in books:
        folder = pdnc / name
        if not parquet.utterance_shard_path(out, name).exists():
            text = (folder / "novel_text.txt").read_text(encoding="utf-8")
            write_book(out, name, text, gold_book_attribution(folder), find_chapters(text),
                       metadata=BookMetadata(source=str(folder), title=name))
    write_run_tables(out)
    return out


def build_attributed_shards(pdnc: Path, books: tuple[str, ...], out: Path) -> Path:
    """Persona shards from `corpus attribute` on the PDNC texts, each book given its gold cast list."""
    texts = out.parent / "texts"
    texts.mkdir(parents=True, exist_ok=True)
    for name in books:
        link, cast_csv = texts / f"{name}.txt", texts / f"{name}.cast.csv"
        if not link.exists():
            link.symlink_to((pdnc / name / "novel_text.txt").resolve())  # a link: PDNC is never copied
        with cast_csv.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "aliases", "gender"])
            for c in read_cast(pdnc / name):
                writer.writerow([c.name, ";".join(c.aliases), c.gender or ""])
        attribute_books([link], out, AttributeConfig(cast_csv=cast_csv))
    return out


def without_spans(src: Path, dst: Path, excluded: dict[str, list[tuple[int, int]]]) -> Path:
    """A copy of a shard folder without the utterances that overlap `excluded` character spans of their book."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in parquet.utterance_shards(src):
        table = parquet.read_table(path, schema.UTTERANCES)
        spans = excluded.get(path.name[: -len(schema.UTTERANCES_FILE_SUFFIX)], [])
        starts, ends = table["char_start"].to_numpy(), table["char_end"].to_numpy()
        keep = np.ones(len(table), dtype=bool)
        for start, end in spans:
            keep &= ~((starts < end) & (ends > start))
        parquet.write_table(table.filter(keep), dst / path.name, schema.UTTERANCES)
    for name in (schema.CHARACTERS_FILE, schema.BOOKS_FILE):
        shutil.copyfile(src / name, dst / name)
    return dst
