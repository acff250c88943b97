"""bench/lm_ranker.py: the ranker's recorded decisions, the combined score and the split report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import lm_ranker  # noqa: E402
from corpus.attribution import AttributionConfig  # noqa: E402
from corpus.attribution.ranker import Ranker  # noqa: E402

CAST = 'Character ID,Main Name,Aliases,Gender,Category\n0,Ann Lee,"{\'Ann Lee\', \'Ann\'}",F,major\n' \
       '1,Tom Hall,"{\'Tom Hall\', \'Tom\'}",M,major\n'
TUNING, UNSEEN = "DaisyMiller", "TheAwakening"  # a name from each split of bench/attribution.py


def write_novel(folder: Path, scenes: int) -> None:
    """A PDNC-format novel: Ann and Tom talk by the gate; two turns of each scene have a named tag."""
    text, rows = "", []

    def say(words: str, speaker: str, tag: str | None, kind: str) -> None:
        nonlocal text
        start = len(text) + 1
        text += f'"{words}{"," if tag else "."}"' + (f" {tag}." if tag else "") + "\n\n"
        rows.append(f'Q{len(rows)},"[[{start}, {start + len(words)}]]",{speaker},[],{kind}')

    for i in range(scenes):
        text += f"Ann Lee met Tom Hall by the gate on day {i}, and Ann smiled at him while Tom looked away.\n\n"
        say(f"Good morning, Tom, it is day {i}", "Ann Lee", "said Ann", "Explicit")
        say("Good morning to you as well", "Tom Hall", None, "Implicit")
        say("The weather is fine today", "Ann Lee", None, "Implicit")
        say("It is, and the river is high", "Tom Hall", "said Tom", "Explicit")
        say("Shall we walk along it then", "Ann Lee", None, "Implicit")
        text += "They walked on in silence for a while.\n\n"
    folder.mkdir(parents=True)
    (folder / "novel_text.txt").write_text(text, encoding="utf-8")
    (folder / "character_info.csv").write_text(CAST, encoding="utf-8")
    (folder / "quotation_info.csv").write_text(
        "quoteID,quoteByteSpans,speaker,addressees,quoteType\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_the_record_holds_each_ranker_decision(tmp_path):
    write_novel(tmp_path / TUNING, 4)
    novel = lm_ranker.read_novel(tmp_path / TUNING)
    docs, _ = lm_ranker.load_docs(novel, tmp_path / TUNING, None, AttributionConfig().spacy_model)
    ctx, record, mapping, gold = lm_ranker.ranker_decisions(novel, docs, AttributionConfig(), Ranker.load())
    assert sorted(mapping.values()) == ["ann-lee", "tom-hall"]
    assert len(record) == 12  # the implicit turns; the tagged ones are the sieve's anchors
    for qi, (candidates, probs) in record.items():
        assert probs.sum() == pytest.approx(1.0)
        assert ctx.guesses[qi].speaker == candidates[int(np.argmax(probs))]  # the refining pass decided last
        assert ctx.guesses[qi].method.startswith("ranker")
    assert sum(gold[ctx.quotations[qi].start] == mapping[ctx.guesses[qi].speaker] for qi in record) >= 10


def _pool(novel: str, lm_right: bool, n: int = 10) -> lm_ranker.NovelPool:
    """Ranker decisions whose ranker is right on even ones; the LM points at the right one when `lm_right`."""
    samples = []
    for i in range(n):
        ranker_right = i % 2 == 0
        features = [[math.log(0.6 if ranker_right else 0.4), math.log(0.7 if lm_right else 0.3)],
                    [math.log(0.4 if ranker_right else 0.6), math.log(0.3 if lm_right else 0.7)]]
        samples.append(lm_ranker.Sample(novel, features, [True, False]))
    return lm_ranker.NovelPool(quotations=4 * n, decided=2 * n, words=50_000, samples=samples, lm_seconds=float(n))


def test_the_report_fits_on_tuning_and_scores_unseen():
    pools = {TUNING: _pool(TUNING, lm_right=True), UNSEEN: _pool(UNSEEN, lm_right=True)}
    result = lm_ranker.report(pools)
    unseen = result["splits"]["unseen"]
    assert unseen["ranker"] == 0.5 and unseen["lm_name"] == 1.0 and unseen["combined"] == 1.0
    assert unseen["gain"] == 0.5 and unseen["end_to_end_gain"] == pytest.approx(0.25)  # half the quotations decided
    assert unseen["ranker_missed"] == 5 and unseen["lm_name_where_ranker_missed"] == 1.0
    assert unseen["mean_candidates"] == 2
    assert result["weights"]["lm_name"] > 0
    assert result["seconds_per_quotation"] == 1.0 and result["seconds_per_100k_words"] == pytest.approx(40.0)
    # a weight learnt from a misleading LM on the tuning novels does not carry its gain to the unseen ones
    misled = lm_ranker.report({TUNING: _pool(TUNING, lm_right=False), UNSEEN: _pool(UNSEEN, lm_right=True)})
    assert misled["weights"]["lm_name"] < 0 and misled["splits"]["unseen"]["gain"] <= 0


def test_main_on_both_splits(tmp_path, tiny_model_dir):
    for name in (TUNING, UNSEEN):
        write_novel(tmp_path / "pdnc" / name, 3)
    out = tmp_path / "lm.json"
    assert lm_ranker.main(["--pdnc", str(tmp_path / "pdnc"), "--model", str(tiny_model_dir), "--device", "cpu",
                           "--per-novel", "4", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["splits"]) == {"tuning", "unseen"}
    for row in result["splits"].values():
        assert row["sampled"] == 4 and row["ranker_decided"] == 9 and row["quotations"] == 15
        assert 0 <= row["ranker"] <= 1 and 0 <= row["combined"] <= 1 and row["reachable"] == 1.0
        assert row["end_to_end_gain"] == pytest.approx(row["gain"] * 9 / 15)
    assert result["seconds_per_100k_words"] > 0


def test_one_split_only_is_one_line(tmp_path, tiny_model_dir, capsys):
    write_novel(tmp_path / "pdnc" / TUNING, 2)
    assert lm_ranker.main(["--pdnc", str(tmp_path / "pdnc"), "--model", str(tiny_model_dir), "--device", "cpu"]) == 1
    assert capsys.readouterr().err.strip().endswith("need novels of both the tuning and the unseen split")
