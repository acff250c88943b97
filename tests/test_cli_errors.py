"""Bad inputs of `corpus attribute`, `corpus characters` and `corpus show`: one stderr line, non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.shards import parquet, schema
from corpus.attribution.types import BookAttribution
from corpus.cli import main
from corpus.shards.writer import write_book
from tests.cli_runner import assert_one_line_error, run_main
from tests.attribute_fixtures import HARBOUR, harbour_attribution, harbour_text, write_fetched_book

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def corpus(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run the `corpus` entry point in this process (as the console script does) and capture its output."""
    return lambda *args: run_main(main, ["corpus", *map(str, args)], capsys, monkeypatch)


def test_a_real_process_exits_1_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "corpus.cli", "attribute", str(empty), "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1 and result.stderr == f"error: {empty} is empty\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with one attributed book (hand-made attribution) and its run tables."""
    out = tmp_path_factory.mktemp("run")
    write_book(out, "harbour", harbour_text(), harbour_attribution(harbour_text()))
    return out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary file"),
        ("\u201cNa\u00efve,\u201d she said.".encode("latin-1", "replace"), "not UTF-8 text"),
    ],
)
def test_attribute_refuses_bad_text_and_writes_nothing(corpus, tmp_path: Path, content: bytes, fragment: str) -> None:
    good = tmp_path / "good.txt"
    good.write_text(harbour_text(), encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    assert_one_line_error(corpus("attribute", good, bad, "--out", tmp_path / "run"), fragment)
    assert not (tmp_path / "run").exists()  # inputs are validated before any book is attributed


def test_attribute_input_errors(corpus, tmp_path: Path) -> None:
    assert_one_line_error(corpus("attribute", tmp_path / "missing.txt", "--out", tmp_path / "run"), "input not found")
    write_fetched_book(tmp_path / "books", 1342, harbour_text())
    result = corpus("attribute", tmp_path / "books", "--book", "1324", "--out", tmp_path / "run")
    assert_one_line_error(result, "unknown book id '1324'; known ids include: 1342")
    result = corpus("attribute", HARBOUR, "--out", tmp_path / "run", "--characters", tmp_path / "cast.csv")
    assert_one_line_error(result, "cannot read cast file")
    (tmp_path / "cast.csv").write_text("name,aliases\nMargaret Hale,Meg\n", encoding="utf-8")
    result = corpus("attribute", tmp_path / "books", HARBOUR, "--out", tmp_path / "run", "--characters", tmp_path / "cast.csv")
    assert_one_line_error(result, "--characters gives the cast of one book, but 2 books were given")
    assert_one_line_error(corpus("attribute", HARBOUR, "--out", tmp_path / "run", "--executor", "slurm"), "unknown executor")
    assert_one_line_error(corpus("attribute", HARBOUR, "--out", tmp_path / "run", "--min-confidence", "2"), "between 0 and 1")
    assert_one_line_error(corpus("attribute", HARBOUR, "--out", HARBOUR), "is not a folder")


def test_attribute_reports_an_unreachable_ray_cluster_at_once(corpus, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray = ("attribute", HARBOUR, "--out", tmp_path / "run", "--executor", "ray", "--ray-address")
    assert_one_line_error(corpus(*ray, f"127.0.0.1:{port}"), f"cannot reach the Ray cluster at 127.0.0.1:{port}")
    assert_one_line_error(corpus(*ray, f"ray://127.0.0.1:{port}"), "cannot reach the Ray cluster")
    assert_one_line_error(corpus(*ray, "head-node"), "is not host:port or ray://host:port")
    assert not list((tmp_path / "run").glob("*.parquet"))


def test_no_quotations_warns_and_writes_an_empty_shard(corpus, tmp_path: Path) -> None:
    book = tmp_path / "notes.txt"
    book.write_text("A list of plants.\n\nRoses, lilies and a great deal of mint.\n", encoding="utf-8")
    result = corpus("attribute", book, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "warning: book notes has no quotations; wrote an empty shard" in result.stderr
    assert parquet.read_table(parquet.utterance_shard_path(tmp_path / "run", "notes"), schema.UTTERANCES).num_rows == 0


def test_characters_and_show_report_bad_shard_folders(corpus, tmp_path: Path, run_dir: Path) -> None:
    assert_one_line_error(corpus("characters", tmp_path / "nowhere"), "not found")
    assert_one_line_error(corpus("characters", tmp_path), "no utterance shards")
    assert_one_line_error(corpus("characters", HARBOUR), "is not an utterance shard")
    assert_one_line_error(corpus("characters", run_dir, "--book", "harbor"), "unknown book id 'harbor'; known ids include: harbour")
    corrupt = tmp_path / "bad"
    corrupt.mkdir()
    (corrupt / "x.utterances.parquet").write_bytes(b"PAR1\x00\x01garbage")
    assert_one_line_error(corpus("characters", corrupt), "corrupt or unreadable Parquet shard")
    assert_one_line_error(corpus("show", corrupt, "Margaret"), "corrupt or unreadable Parquet shard")


def test_show_suggests_names_for_an_unknown_character(corpus, run_dir: Path) -> None:
    assert_one_line_error(corpus("show", run_dir, "Margret"), "unknown character 'Margret'")
    assert "did you mean Margaret" in corpus("show", run_dir, "Margret").stderr
    assert_one_line_error(corpus("show", run_dir, "Hale"), "matches several characters")
    shown = corpus("show", run_dir / "harbour", "Meg", "--limit", "2")  # RUN/BOOK_ID names one book
    assert shown.returncode == 0 and "Margaret Hale (harbour:margaret-hale): 4 lines" in shown.stdout
    assert "Captain Ward (harbour:captain-ward)" in corpus("show", run_dir, "captain-ward").stdout


def test_empty_book_attribution_still_lists_an_empty_cast(corpus, tmp_path: Path) -> None:
    write_book(tmp_path, "blank", "No dialogue here.", BookAttribution([], []))
    result = corpus("characters", tmp_path, "--json")
    assert result.returncode == 0 and result.stdout.strip() == "[]"
