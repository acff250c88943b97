"""bench/corpus_run.py end to end on one embedded sample book: served over HTTP, fetched, attributed,
reported and released (dry run), with throughput figures and the projection in its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "gutenberg"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import corpus_run

    return corpus_run


def test_one_book_through_every_stage(bench, tmp_path: Path) -> None:
    out, figures = tmp_path / "run", tmp_path / "figures.json"
    assert bench.main(["--gutenberg", str(SAMPLE), "--books", "46", "--executor", "local", "--out", str(out),
                       "--plots", str(tmp_path / "plots"), "--json", str(figures)]) == 0
    result = json.loads(figures.read_text())
    assert [(b["gutenberg_id"], b["status"], b["origin"].startswith("http mirror")) for b in result["fetch"]["books"]] \
        == [(46, "downloaded", True)]
    [book] = result["attribute"]["books"]
    assert book["status"] == "attributed" and book["cpu_seconds"] > 0 and book["words"] > 20_000
    throughput = result["attribute"]["throughput"]
    assert throughput["books"] == 1 and throughput["cpu_s_per_100k_words"] > 0
    projection = result["projection"]
    assert projection["core_hours"] == pytest.approx(
        throughput["cpu_s_per_100k_words"] * book["words"] / 100_000 * bench.GUTENBERG_FICTION_BOOKS / 3600, rel=0.01)
    assert result["stats"]["report"]["books"] == 1 and len(result["stats"]["plots"]) == 3
    assert result["release"]["rows"]["utterances"] and result["release"]["not_public_domain"] == {}


def test_an_unknown_stage_or_a_missing_source_is_one_error_line(bench, tmp_path: Path, capsys) -> None:
    assert bench.main(["--gutenberg", str(tmp_path / "nowhere")]) == 1
    assert bench.main(["--gutenberg", str(SAMPLE), "--stages", "fetch,train"]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"error: no Gutenberg folder at {tmp_path / 'nowhere'}",
                      "error: unknown stage(s) train; choose from fetch, attribute, stats, release"]
