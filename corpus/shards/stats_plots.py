"""PNG plots of the corpus report: lines per character, the confidence histogram, quote types per book."""

from __future__ import annotations

import io
from pathlib import Path

from corpus.shards import parquet, schema
from corpus.errors import CorpusError
from corpus.shards.stats import CONFIDENCE_BINS, CorpusStats

PLOT_FILES = ("lines_per_character.png", "confidence_histogram.png", "quote_types_per_book.png")
DPI = 110
BOOK_ROW_INCHES = 0.16  # height of one book's bar in the quote-types plot
TYPE_COLOURS = {"explicit": "#2b6cb0", "anaphoric": "#68a0d8", "implicit": "#c7d7ea"}


def write_plots(stats: CorpusStats, folder: Path) -> list[Path]:
    """Write the report's PNG plots into `folder` (each atomically); returns their paths."""
    figure_class = _figure_class()
    folder = Path(folder)
    drawn = (_lines_per_character(figure_class, stats), _confidence_histogram(figure_class, stats),
             _quote_types_per_book(figure_class, stats))
    paths = []
    for name, figure in zip(PLOT_FILES, drawn):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        path = folder / name
        parquet.atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths


def _figure_class():  # -> matplotlib.figure.Figure
    """matplotlib's Figure (the object API: no pyplot state, no display needed)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise CorpusError("--plots needs matplotlib: pip install 'novel-personas[plots]'") from None
    return Figure


def _lines_per_character(figure_class, stats: CorpusStats):
    figure = figure_class(figsize=(7, 4))
    axes = figure.subplots()
    bins = list(stats.lines_per_character)
    axes.bar(range(len(bins)), list(stats.lines_per_character.values()), color="#2b6cb0")
    axes.set_xticks(range(len(bins)), bins, rotation=45, ha="right")
    axes.set_yscale("log")
    axes.set_xlabel("attributed lines of a character")
    axes.set_ylabel("characters")
    axes.set_title(f"Lines per speaking character ({stats.speaking_characters} characters, {stats.books} books)")
    return figure


def _confidence_histogram(figure_class, stats: CorpusStats):
    figure = figure_class(figsize=(7, 4))
    axes = figure.subplots()
    width = 1.0 / CONFIDENCE_BINS
    axes.bar([i * width for i in range(CONFIDENCE_BINS)], stats.confidence_histogram, width=width, align="edge",
             color="#2b6cb0", edgecolor="white")
    for level in stats.confident:
        axes.axvline(float(level), color="#c05621", linestyle="--", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_xlabel("speaker confidence (dashed: the report's levels)")
    axes.set_ylabel("attributed quotations")
    axes.set_title(f"Confidence of {stats.attributed} attributed quotations")
    return figure


def _quote_types_per_book(figure_class, stats: CorpusStats):
    books = sorted(stats.per_book, key=lambda b: b.quotations)
    figure = figure_class(figsize=(8, max(3.0, 1.2 + BOOK_ROW_INCHES * len(books))))
    axes = figure.subplots()
    labels = [f"{b.book_id} {(b.title or '')[:32]}" for b in books]
    left = [0] * len(books)
    for kind in schema.QUOTE_TYPES:
        counts = [b.quote_types.get(kind, 0) for b in books]
        axes.barh(range(len(books)), counts, left=left, color=TYPE_COLOURS[kind], label=kind)
        left = [a + b for a, b in zip(left, counts)]
    axes.set_yticks(range(len(books)), labels, fontsize=6)
    axes.set_ylim(-0.5, len(books) - 0.5)
    axes.set_xlabel("quotations")
    axes.set_title("Quote types per book")
    axes.legend(loc="lower right")
    return figure
