"""bench/cast_stress.py: the cast perturbation on an invented cast, and the stress report's threshold
and calibration variants on invented outcomes (no PDNC text needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.attribution.characters import Character


@pytest.fixture
def stress(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import cast_stress

    return cast_stress


def invented_cast() -> list[Character]:
    return [Character("tom-harrow", "Tom Harrow", ["Tom", "Mr. Harrow"], "male", 50),
            Character("ann-harrow", "Ann Harrow", ["Ann", "Mrs. Harrow"], "female", 40),
            Character("katharine-vale", "Katharine Vale", ["Katharine", "Kate"], "female", 30),
            Character("dr-grey", "Dr. Grey", [], "male", 10)]


def test_each_error_class_is_injected_from_the_cast_alone_and_reproducibly(stress):
    cast = invented_cast()
    config = stress.PerturbConfig(merges=1, splits=1, false_characters=2, seed=7)
    result = stress.perturb_cast(cast, "Invented", config)
    assert [c.names() for c in cast] == [c.names() for c in invented_cast()]  # the given cast is untouched
    kinds = [change.split()[0] for change in result.changes]
    assert kinds == ["merge", "split", "false", "false"]
    by_name = {name: c.slug for c in result.cast for name in c.names()}
    # the merge: a Harrow's family name now answers for the other Harrow
    assert by_name["Mr. Harrow"] == "ann-harrow" or by_name["Mrs. Harrow"] == "tom-harrow"
    # the split: a one-word name of someone is a character of its own, of the same gender
    split = next(c for c in result.cast if c.slug not in {x.slug for x in cast} and c.gender is not None)
    assert split.name in {a for c in cast for a in c.aliases} and not split.aliases
    false = [c for c in result.cast if c.name in stress.FALSE_NAMES]
    assert len(false) == 2 and all(c.gender is None and not c.aliases for c in false)
    assert len({c.slug for c in result.cast}) == len(result.cast) == len(cast) + 3
    again = stress.perturb_cast(invented_cast(), "Invented", config)
    assert [c.names() for c in again.cast] == [c.names() for c in result.cast] and again.changes == result.changes
    others = {tuple(stress.perturb_cast(invented_cast(), "Invented", stress.PerturbConfig(1, 1, 2, seed)).changes)
              for seed in range(8)}
    assert len(others) > 1  # the seed matters


def test_a_family_name_is_moved_only_where_the_move_is_surely_wrong(stress):
    """'Miss Vale' alone may be Katharine Vale herself: she is not merged into her; 'Mr. Vale' (a man)
    and his 'Vale' join her, and are never moved back."""
    vale = [Character("katharine-vale", "Katharine Vale", ["Katharine"], "female", 30),
            Character("miss-vale", "Miss Vale", [], "female", 20)]
    for seed in range(5):
        assert stress.perturb_cast(vale, "V", stress.PerturbConfig(2, 0, 0, seed)).changes == []
    vale.append(Character("mr-vale", "Mr. Vale", ["Vale"], "male", 5))
    for seed in range(5):
        merged = stress.perturb_cast(vale, "V", stress.PerturbConfig(3, 0, 0, seed))
        assert 1 <= len(merged.changes) <= 2 and all(c.endswith("into Katharine Vale") for c in merged.changes)
        assert [c.slug for c in merged.cast] == ["katharine-vale", "miss-vale"]
        assert set(merged.cast[0].names()) == {"Katharine Vale", "Katharine", "Mr. Vale", "Vale"}


def test_the_threshold_is_the_lowest_confidence_that_keeps_the_target_precision(stress):
    from attribution_scores import Outcome

    outcomes = ([Outcome("N", "explicit", "tag-name", 0.99, True, True)] * 19
                + [Outcome("N", "explicit", "tag-name", 0.99, False, True)]
                + [Outcome("N", "implicit", "ranker", 0.6, False, True)] * 5
                + [Outcome("N", "implicit", "ranker", 0.5, True, True)] * 5)
    assert stress.target_threshold(outcomes) == 0.99
    assert stress.target_threshold(outcomes[20:]) > 1.0  # no cut reaches the precision


def test_the_stress_report_fits_on_tuning_novels_and_scores_unseen_ones(stress):
    """Invented decisions: a named tag is wrong when its cluster merged two given names; only the
    variant with the cast evidence sees it, on the perturbed unseen novel."""
    from attribution_scores import NovelResult, Outcome

    def novel(name: str, wrong_merged: int) -> NovelResult:
        result = NovelResult(name, 1000)
        clean = [Outcome(name, "explicit", "tag-name", 0.9, True, True, {"cast_given_names": 0.0})] * 190
        clean += [Outcome(name, "explicit", "tag-name", 0.9, False, True, {"cast_given_names": 0.0})] * 4
        merged = [Outcome(name, "explicit", "tag-name", 0.9, False, True, {"cast_given_names": 1.0})] * wrong_merged
        result.outcomes = {stress.CLEAN: clean, stress.PERTURBED: clean + merged}
        return result

    results = [novel(f"T{i}", 60) for i in range(3)] + [novel("U", 60)]
    report = stress.stress_report(results, ("U",), folds=3)
    plain, aware = report["no cast evidence, fit clean"], report["cast evidence, fit clean+perturbed"]
    assert plain["unseen/perturbed"]["at_threshold"]["precision"] == pytest.approx(190 / 254, abs=1e-3)
    assert aware["unseen/perturbed"]["at_threshold"]["precision"] == pytest.approx(190 / 194, abs=1e-3)
    assert aware["unseen/discovered"]["coverage_at_p95"] == plain["unseen/discovered"]["coverage_at_p95"]
