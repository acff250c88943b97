"""`corpus stats`: the corpus report over real Parquet shards written by the attribute stage's writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.attribution.types import Attribution, BookAttribution
from corpus.gutenberg.books import BookMetadata
from corpus.attribution.characters import Character
from corpus.cli import main
from corpus.errors import CorpusError
from corpus.shards.writer import write_book, write_run_tables
from corpus.attribution.quotes import find_quotations
from corpus.release.build import build_release
from corpus.release.types import ReleaseConfig
from corpus.shards.stats import StatsConfig, corpus_stats
from corpus.shards.stats_plots import PLOT_FILES
from tests.attribute_fixtures import CAST, SPEAKERS, harbour_text
from tests.cli_runner import assert_one_line_error, run_main

PD = BookMetadata(source="local", title="The Harbour", rights="Public domain in the USA.")
# Confidences of harbour.txt's 15 quotations in book "1": the report's levels are checked against them.
CONFIDENCES = [0.97, 0.92, 0.85, 0.6, 0.4, 0.99, 0.1, 0.55, 0.96, 0.81, 0.7, 0.93, 0.3, 0.65, 0.91]
TYPES = ["explicit"] * 5 + ["anaphoric"] * 4 + ["implicit"] * 6
CONFIG = StatsConfig(min_lines=(2, 4), confidence_levels=(0.5, 0.9), min_quotations=10)


def _attribution(text: str, speakers: list[str | None], cast: list[Character] = CAST) -> BookAttribution:
    quotations = find_quotations(text)
    return BookAttribution(list(cast), [
        Attribution(q, s, [], t, c if s is not None else 0.0, "test" if s else "none")
        for q, s, t, c in zip(quotations, speakers, TYPES, CONFIDENCES)
    ])


def _run(folder: Path) -> Path:
    """Book 1: harbour.txt as spoken, quotation 6 unattributed; 2: no quotations; 3: one speaker says all."""
    text = harbour_text()
    speakers: list[str | None] = list(SPEAKERS)
    speakers[6] = None
    write_book(folder, "1", text, _attribution(text, speakers), metadata=PD)
    write_book(folder, "2", "No one speaks in this book.", BookAttribution(list(CAST), []), metadata=PD)
    pronoun = Character("he", "He", [], "male", 3)
    write_book(folder, "3", text, _attribution(text, ["thomas-hale"] * 14 + ["he"], [*CAST, pronoun]), metadata=PD)
    write_run_tables(folder)
    return folder


def test_the_report_counts_quote_types_personas_and_outlier_books(tmp_path: Path) -> None:
    stats = corpus_stats(_run(tmp_path / "run"), CONFIG)
    assert (stats.books, stats.quotations, stats.attributed) == (3, 30, 29)
    assert stats.quote_types == {"explicit": 10, "anaphoric": 8, "implicit": 12}
    # Book 1 without quotation 6 (0.1), book 3 all 15: confidences >= 0.5 are 12 + 12, >= 0.9 are 6 + 6.
    assert stats.confident == {"0.5": 24, "0.9": 12}
    assert (stats.characters, stats.speaking_characters) == (13, 6)
    # At >= 0.9, book 1: thomas 0, 11 (2), margaret 1 (1), mrs 5 (1), ward 8, 14 (2); book 3: thomas 5, he 1.
    assert stats.personas == {"0.5": {"2": 5, "4": 2}, "0.9": {"2": 3, "4": 1}}
    assert sum(stats.confidence_histogram) == 29 and stats.confidence_histogram[-1] == 6  # 0.95 and above
    assert stats.lines_per_character == {"1": 1, "2-3": 1, "4-7": 3, "8-15": 1}
    books = {b.book_id: b for b in stats.per_book}
    assert books["1"].outliers == [] and books["1"].top_speaker == "Margaret Hale" and books["1"].attributed == 14
    assert books["2"].outliers == ["no quotations"]
    assert books["3"].outliers == ["one voice: Thomas Hale says 93%", "suspicious cast: He speaks"]
    assert [b.book_id for b in stats.outlier_books()] == ["2", "3"]


def test_a_cast_that_never_speaks_and_unattributed_books_are_outliers(tmp_path: Path) -> None:
    text = harbour_text()
    crowd = [Character(f"extra-{i}", f"Extra {i}", [], None, 1) for i in range(30)]
    write_book(tmp_path, "7", text, _attribution(text, list(SPEAKERS), [*CAST, *crowd]), metadata=PD)
    write_book(tmp_path, "8", text, _attribution(text, [None] * 15), metadata=PD)
    long = text + "\n\nThe tide went out and nobody said anything at all." * 4000  # 15 quotations in 200k characters
    write_book(tmp_path, "9", long, _attribution(long, list(SPEAKERS)), metadata=PD)
    books = {b.book_id: b for b in corpus_stats(tmp_path, CONFIG).per_book}
    assert books["7"].outliers == ["suspicious cast: 30 of 34 characters never speak"]
    assert books["8"].outliers == ["no speakers"]
    assert books["9"].outliers == [f"few quotations (15 in {len(long):,} characters)"]


def test_cli_prints_the_report_as_json_and_writes_the_plots(tmp_path: Path, capsys, monkeypatch) -> None:
    run, plots = _run(tmp_path / "run"), tmp_path / "plots"
    result = run_main(main, ["corpus", "stats", str(run), "--json", "--plots", str(plots),
                             "--min-lines", "2", "--min-lines", "4", "--confidence", "0.5", "--confidence", "0.9"],
                      capsys, monkeypatch)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["personas"] == {"0.5": {"2": 5, "4": 2}, "0.9": {"2": 3, "4": 1}}
    assert report["attributed_share"] == round(29 / 30, 4) and len(report["per_book"]) == 3
    assert sorted(p.name for p in plots.iterdir()) == sorted(PLOT_FILES)  # no temp files left
    for name in PLOT_FILES:
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (plots / name).stat().st_size > 5000
    assert report["plots"] == [str(plots / name) for name in PLOT_FILES]
    table = run_main(main, ["corpus", "stats", str(run)], capsys, monkeypatch)
    assert table.returncode == 0 and "2 outlier book(s)" in table.stdout and "no quotations" in table.stdout


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "bad confidence", "plots over a file"])
def test_bad_input_is_one_error_line(case: str, tmp_path: Path, capsys, monkeypatch) -> None:
    run = _run(tmp_path / "run")
    args, expected = [str(run)], ""
    if case == "missing":
        args, expected = [str(tmp_path / "nowhere")], "not found"
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        args, expected = [str(tmp_path / "empty")], "no utterance shards"
    elif case == "corrupt":
        (run / "9.utterances.parquet").write_bytes(b"PAR1 not parquet at all PAR1")
        expected = "corrupt or unreadable Parquet shard"
    elif case == "bad confidence":
        args, expected = [str(run), "--confidence", "1.5"], "between 0 and 1"
    else:
        (tmp_path / "a-file").write_text("not a folder")
        args, expected = [str(run), "--plots", str(tmp_path / "a-file" / "plots")], "cannot write"
    assert_one_line_error(run_main(main, ["corpus", "stats", *args], capsys, monkeypatch), expected)


def test_the_release_card_carries_the_corpus_figures(tmp_path: Path) -> None:
    release = build_release(_run(tmp_path / "run"), tmp_path / "release", "someone/personas", ReleaseConfig())
    card = (release.folder / "README.md").read_text(encoding="utf-8")
    assert "## Corpus figures" in card and "3 books, 30 quotations" in card and "29 (97%) have a speaker" in card
    assert "| ≥8 lines | 1 | 0 | 0 |" in card  # book 3's Thomas: 11 lines at >= 0.5, 5 at >= 0.8
    assert "| 2 | The Harbour | 0 | no quotations |" in card


def test_a_threshold_of_zero_lines_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="at least 1"):
        corpus_stats(_run(tmp_path / "run"), StatsConfig(min_lines=(0,)))
