"""bench/lm_speakers.py: the LM's name and quotation scores (read with a cache) and the report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from training.data import document_lead
from training.modeling import load_base_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import lm_speakers  # noqa: E402

CAST = 'Character ID,Main Name,Aliases,Gender,Category\n0,Ann Lee,"{\'Ann Lee\', \'Ann\'}",F,major\n' \
       '1,Tom,"{\'Tom\'}",M,major\n2,Mrs. Gray,"{\'Mrs. Gray\'}",F,minor\n'


def write_novel(folder: Path, turns: int) -> None:
    """A PDNC-format novel: Ann and Tom alternate, every turn implicit after a named opening."""
    text, rows = "Ann Lee met Tom by the gate, and Ann smiled.\n\n", []
    for i in range(turns):
        speaker = ("Ann Lee", "Tom")[i % 2]
        words = f"Turn {i}, and the weather is fine today"
        start = len(text) + 1
        text += f'"{words}."\n\n'
        rows.append(f'Q{i},"[[{start}, {start + len(words) + 1}]]",{speaker},[],Implicit')
    folder.mkdir(parents=True)
    (folder / "novel_text.txt").write_text(text, encoding="utf-8")
    (folder / "character_info.csv").write_text(CAST, encoding="utf-8")
    (folder / "quotation_info.csv").write_text(
        "quoteID,quoteByteSpans,speaker,addressees,quoteType\n" + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module", params=["tiny_model_dir", "tiny_gemma_dir"])
def tiny(request):
    """A tiny GPT-2, and a tiny Gemma 3 (BOS-led tokenizer, sliding-window cache that cannot be cut back)."""
    model, tokenizer, _ = load_base_model(str(request.getfixturevalue(request.param)))
    return model, tokenizer


def _direct(model, head: list[int], tail: list[int]) -> float:
    """log P(tail | head) from one forward pass over both token lists, no cache."""
    with torch.no_grad():
        logits = model(torch.tensor([head + tail])).logits[0]
    steps = torch.log_softmax(logits[len(head) - 1:-1], -1)
    return float(steps[torch.arange(len(tail)), torch.tensor(tail)].sum())


def test_cached_scores_equal_a_direct_forward_pass(tiny):
    model, tokenizer = tiny

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    lead = list(document_lead(tokenizer))
    text = 'Ann Lee met Tom by the gate.\n\n"Good morning," said'
    names = lm_speakers.name_log_probs(model, tokenizer, text, {"ann": ["Ann", "Ann Lee"], "tom": ["Tom"]}, "cpu", 200)

    def name(n: str) -> float:
        return _direct(model, lead + ids(text), ids(" " + n))

    assert len(ids(" Ann Lee")) > 1  # the cache is read and continued
    assert names["tom"] == pytest.approx(name("Tom"), abs=1e-4)
    assert names["ann"] == pytest.approx(max(name("Ann"), name("Ann Lee")), abs=1e-4)
    before, quote = "Ann Lee met Tom by the gate.\n\n", "Good morning to you"
    quotes = lm_speakers.quote_log_probs(model, tokenizer, before, quote, {"ann": "Ann", "tom": "Tom"}, "cpu", 200)
    for slug, speaker in (("ann", "Ann"), ("tom", "Tom")):
        head = lead + ids(before) + ids(speaker + lm_speakers.LEAD)
        assert quotes[slug] == pytest.approx(_direct(model, head, ids(quote)), abs=1e-4)


def test_named_in_orders_aliases_by_their_last_use(tmp_path):
    write_novel(tmp_path / "A", 2)
    novel = lm_speakers.read_novel(tmp_path / "A")
    named = lm_speakers.named_in(novel, 0, len(novel.text))
    assert set(named) == {"ann-lee", "tom"}  # Mrs. Gray is never named
    assert named["ann-lee"][1] == ["Ann Lee", "Ann"] and named["ann-lee"][0] == novel.text.index("Ann smiled")


def test_report_on_three_novels(tmp_path, tiny_model_dir):
    for name in "ABC":
        write_novel(tmp_path / "pdnc" / name, 6)
    out = tmp_path / "lm.json"
    assert lm_speakers.main(["--pdnc", str(tmp_path / "pdnc"), "--model", str(tiny_model_dir),
                             "--device", "cpu", "--per-novel", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["quotations"] == 12 and report["unreached"] == 0 and report["mean_candidates"] == 2
    assert set(report["leave_novels_out_logit"]) == {"positions", "positions+lm_name", "positions+lm_quote",
                                                     "positions+both"}
    assert all(0 <= v <= 1 for v in [*report["top1"].values(), *report["leave_novels_out_logit"].values()])
    assert not math.isnan(report["lm_gain"])


def test_a_missing_model_is_one_line(tmp_path, capsys):
    write_novel(tmp_path / "pdnc" / "A", 2)
    assert lm_speakers.main(["--pdnc", str(tmp_path / "pdnc"), "--model", str(tmp_path / "no-model")]) == 1
    assert capsys.readouterr().err.startswith("error: model path not found")
