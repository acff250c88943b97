"""The `corpus` commands' rich tables: attribute's run summary, a cast, the corpus report, a release."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from corpus.attribution.runner import CONFIDENCE_LEVELS, BookResult
from corpus.release.types import Release
from corpus.shards.stats import CorpusStats


CONFIDENCE_NOTE = ". ≥L: attributed quotations whose speaker confidence is at least L, what --min-confidence L keeps."


def attribute_table(results: list[BookResult], out: Path) -> Table:
    """One row per book: quotations, attributed ones, how many clear each confidence level, cast, time."""
    levels = [f"{level:g}" for level in CONFIDENCE_LEVELS]
    table = Table(title=f"persona shards in {escape(str(out))}", box=box.SIMPLE_HEAD, padding=(0, 0),
                  show_edge=False, caption=escape(_totals(results, levels)) + CONFIDENCE_NOTE)
    table.add_column("book", no_wrap=True)
    table.add_column("title", ratio=1, min_width=16, overflow="fold")
    for name in ("status", "quotes", "attributed", *(f"≥{level}" for level in levels), "cast", "s"):
        table.add_column(name, no_wrap=True, justify="left" if name == "status" else "right")
    for r in results:
        table.add_row(escape(r.book_id), escape(r.title or ""), r.status, str(r.quotations), str(r.attributed),
                      *(str(r.confident.get(level, 0)) for level in levels), str(r.characters), f"{r.seconds:.1f}")
    return table


def _totals(results: list[BookResult], levels: list[str]) -> str:
    """'All books: 1399 quotations, 1399 attributed (100%), 1266 ≥0.5 (90%), ...'."""
    quotations = sum(r.quotations for r in results)
    counts = [("attributed", sum(r.attributed for r in results))]
    counts += [(f"≥{level}", sum(r.confident.get(level, 0) for r in results)) for level in levels]
    shares = ", ".join(f"{n} {name} ({n / quotations:.0%})" for name, n in counts) if quotations else "no quotations"
    return f"All books: {quotations} quotations, {shares}"


def cast_rows_table(rows: list[dict]) -> Table:
    """The cast at any width: names with their aliases below them wrap in the one flexible column."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)
    table.add_column("name (aliases)", ratio=1, min_width=16, overflow="fold")
    for name in ("lines", "words", "gender", "mentions"):
        table.add_column(name, no_wrap=True, justify="left" if name == "gender" else "right")
    table.add_column("id", no_wrap=True)
    for r in rows:
        name = Text(r["name"], overflow="fold")
        if r["aliases"]:
            name = Group(name, Padding(Text("; ".join(r["aliases"]), style="dim", overflow="fold"), (0, 0, 0, 2)))
        table.add_row(name, str(r["lines"]), str(r["words"]), r["gender"] or "", str(r["mentions"]),
                      r["character_id"])
    return table


def stats_tables(report: CorpusStats) -> list[Table]:
    """The report as three tables: corpus figures, personas by lines and confidence, outlier books."""
    share = lambda n, total: f"{n} ({n / total:.0%})" if total else str(n)  # noqa: E731
    figures = Table("figure", "value", title="corpus", box=box.SIMPLE_HEAD, show_edge=False)
    figures.add_row("books", str(report.books))
    figures.add_row("quotations", str(report.quotations))
    for kind, n in report.quote_types.items():
        figures.add_row(f"  {kind}", share(n, report.quotations))
    figures.add_row("attributed", share(report.attributed, report.quotations))
    for level, n in report.confident.items():
        figures.add_row(f"  confidence ≥{level}", share(n, report.quotations))
    figures.add_row("characters", str(report.characters))
    figures.add_row("  speaking", str(report.speaking_characters))
    words = report.words_per_character
    figures.add_row("words per speaking character",
                    f"median {words['median']:g}, mean {words['mean']:g}, p90 {words['p90']:g}, max {words['max']:g}")
    levels = list(report.personas)
    personas = Table("characters with", *(f"conf ≥{level}" for level in levels),
                     title="personas: characters with at least N lines at confidence ≥ C",
                     box=box.SIMPLE_HEAD, show_edge=False)
    for n in next(iter(report.personas.values()), {}):
        personas.add_row(f"≥{n} lines", *(str(report.personas[level][n]) for level in levels))
    outliers = Table("book", "title", "quotes", "why", title=f"{len(report.outlier_books())} outlier book(s)",
                     box=box.SIMPLE_HEAD, show_edge=False)
    for book in report.outlier_books():
        outliers.add_row(escape(book.book_id), escape(book.title or ""), str(book.quotations),
                         escape("; ".join(book.outliers)))
    return [figures, personas, outliers]


def print_release(built: Release, console: Console) -> None:
    """Warnings about left-out books on stderr, then a table of configs, splits and rows on `console`."""
    errors = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
    selection = built.selection
    for book_id, rights in sorted(selection.not_public_domain.items()):
        errors.print(f"warning: book {book_id} is not public domain in the USA (rights: {rights!r}); left out")
    for dropped, kept in sorted(selection.duplicate_editions.items()):
        errors.print(f"warning: book {dropped} is another edition of book {kept}; left out")
    for book_id in selection.assumed_public_domain:
        errors.print(f"warning: book {book_id} has no rights metadata; released as public domain on your word")
    unit, units = built.config.split_by.value, sum(built.split_units.values())
    shares = ", ".join(f"{name} {share:.0%}" for name, share in built.config.splits)
    for split in built.empty_splits:
        errors.print(f"warning: split {split!r} is empty: none of the {units} {unit}(s) fell into it "
                     f"(target shares {shares}); the release has no {split} split")
    table = Table(title=escape(f"{built.repo_id} ({built.folder})"))
    for column in ("config", "split", "rows", "files"):
        table.add_column(column, justify="right" if column in ("rows", "files") else "left")
    for name, files in built.configs.items():
        for split, rows in files.rows.items():
            table.add_row(name, split, str(rows), str(len(files.files[split])))
    console.print(table)
    console.print(
        f"Gutenberg licence text removed: {selection.licence_utterances_dropped} utterances, "
        f"{selection.licence_paragraphs_removed} context paragraphs",
        soft_wrap=True,
    )
