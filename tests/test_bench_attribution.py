"""bench/attribution.py's cast metrics (attribution_scores.py) and split, on invented outcomes (no PDNC text needed)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import attribution

    return attribution


@pytest.fixture
def scores(bench):
    import attribution_scores

    return attribution_scores


def test_cast_metrics_count_merges_splits_and_false_characters(scores):
    def lines(ours: str, gold: str, n: int) -> list:
        return [scores.Outcome("N", "explicit", "tag-name", 0.9, ours == gold, True, ours=ours, gold=gold)] * n

    result = scores.NovelResult("N", 100)
    result.outcomes["end-to-end/discovered"] = (
        lines("tom", "tom", 20) + lines("tom", "father", 10)  # a merge: a third of its lines are the father's
        + lines("ann", "ann", 12) + lines("annie", "ann", 6)  # a split: two of ours speak for Ann
        + lines("hurrah", "mary", 5))  # a false character: maps to no one
    result.mapped["end-to-end/discovered"] = {"tom", "ann", "annie"}
    cast = scores.cast_metrics([result], "end-to-end/discovered")
    assert cast["merges"] == 1 and cast["splits"] == 1
    assert cast["false_characters"] == 1 and cast["characters"] == 4 and cast["cast_precision"] == 0.75
    assert cast["cluster_precision"] == pytest.approx((20 + 12 + 6 + 5) / 53, abs=1e-4)
    assert cast["cluster_recall"] == pytest.approx((20 + 10 + 12 + 5) / 53, abs=1e-4)


def test_the_unseen_split_is_fixed_and_disjoint_from_the_tuning_novels(bench):
    assert len(bench.UNSEEN_NOVELS) >= 6 and len(set(bench.UNSEEN_NOVELS)) == len(bench.UNSEEN_NOVELS)
    assert "PrideAndPrejudice" not in bench.UNSEEN_NOVELS  # its errors were read


def test_perturbing_the_cast_without_the_discovered_cast_is_one_clear_error(bench, tmp_path, capsys):
    assert bench.main(["--pdnc", str(tmp_path), "--cast", "gold", "--perturb-cast"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --perturb-cast") and len(err.strip().splitlines()) == 1
