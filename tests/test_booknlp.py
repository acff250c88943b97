"""The BookNLP converter on small hand-written BookNLP-format files (tests/data/booknlp/tiny.*)."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import pytest

from corpus.shards import parquet, schema
from corpus.attribution.booknlp import PRIOR_CONFIDENCE, read_booknlp_output, require_booknlp
from corpus.errors import CorpusError
from corpus.shards.writer import write_book
from tests.attribute_fixtures import BOOKNLP


def tiny_text() -> str:
    return (BOOKNLP / "tiny.txt").read_bytes().decode("utf-8")


def copy_tiny(folder: Path) -> Path:
    for suffix in (".txt", ".tokens", ".entities", ".quotes"):
        shutil.copy(BOOKNLP / f"tiny{suffix}", folder / f"tiny{suffix}")
    return folder


def rewrite_tsv(path: Path, change) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = list(rows[0])
    rows = [change(dict(r)) for r in rows]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writeheader()
        writer.writerows(rows)


def test_converter_builds_cast_speakers_and_spans() -> None:
    text = tiny_text()
    result = read_booknlp_output(BOOKNLP, "tiny", text)
    cast = {c.slug: c for c in result.characters}
    assert set(cast) == {"anna", "mr-brook"}  # the mill is a facility, not a person
    assert cast["anna"].aliases == ["Anna Karsten"] and cast["anna"].gender == "female"
    assert cast["mr-brook"].gender == "male" and cast["mr-brook"].mentions == 4
    assert [a.quotation.text(text) for a in result.attributions] == [
        "Where have you been?", "At the mill,", "The wheel is broken.", "Then mend it,",
    ]
    assert [a.speaker for a in result.attributions] == ["anna", "mr-brook", "mr-brook", "anna"]
    assert [a.quote_type for a in result.attributions] == ["explicit", "anaphoric", "anaphoric", "anaphoric"]
    assert [a.quotation.paragraph for a in result.attributions] == [0, 1, 1, 2]
    assert all(a.method == "booknlp" and a.confidence == PRIOR_CONFIDENCE for a in result.attributions)


def test_converted_attribution_goes_through_the_shard_writer(tmp_path: Path) -> None:
    text = tiny_text()
    path = write_book(tmp_path, "tiny", text, read_booknlp_output(BOOKNLP, "tiny", text))
    rows = parquet.read_table(path, schema.UTTERANCES).to_pylist()
    assert [r["speaker_id"] for r in rows] == ["tiny:anna", "tiny:mr-brook", "tiny:mr-brook", "tiny:anna"]
    assert all(text[r["char_start"] : r["char_end"]] == r["text"] for r in rows)
    assert rows[1]["context"].endswith("Mr. Brook took off his hat.")


def test_byte_offsets_are_converted_to_characters(tmp_path: Path) -> None:
    folder = copy_tiny(tmp_path)
    text = tiny_text()

    def to_bytes(row: dict) -> dict:
        for column in ("byte_onset", "byte_offset"):
            row[column] = str(len(text[: int(row[column])].encode("utf-8")))
        return row

    rewrite_tsv(folder / "tiny.tokens", to_bytes)
    assert (folder / "tiny.tokens").read_text(encoding="utf-8") != (BOOKNLP / "tiny.tokens").read_text(encoding="utf-8")
    converted = read_booknlp_output(folder, "tiny", text)
    assert [a.quotation.parts for a in converted.attributions] == [
        a.quotation.parts for a in read_booknlp_output(BOOKNLP, "tiny", text).attributions
    ]


def test_unattributed_quotes_written_as_none_have_no_speaker(tmp_path: Path) -> None:
    folder = copy_tiny(tmp_path)
    rewrite_tsv(
        folder / "tiny.quotes",
        lambda r: {**r, "mention_start": "None", "mention_end": "None", "char_id": "None"} if r["quote_start"] == "27" else r,
    )
    result = read_booknlp_output(folder, "tiny", tiny_text())
    assert [a.speaker for a in result.attributions] == ["anna", "mr-brook", None, "anna"]
    assert result.attributions[2].quote_type == "implicit"


def test_min_confidence_above_the_prior_leaves_speakers_empty() -> None:
    result = read_booknlp_output(BOOKNLP, "tiny", tiny_text(), min_confidence=0.9)
    assert [a.speaker for a in result.attributions] == [None] * 4


def test_output_for_another_text_is_refused() -> None:
    with pytest.raises(CorpusError, match="do not match the book's text"):
        read_booknlp_output(BOOKNLP, "tiny", tiny_text().replace("Where", "Whither"))


def test_malformed_booknlp_files_are_refused(tmp_path: Path) -> None:
    folder = copy_tiny(tmp_path)
    text = tiny_text()
    rewrite_tsv(folder / "tiny.quotes", lambda r: {**r, "char_id": "anna"})
    with pytest.raises(CorpusError, match="char_id is 'anna', not an integer"):
        read_booknlp_output(folder, "tiny", text)
    (folder / "tiny.entities").write_text("COREF\tstart\n0\t1\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="lacks the columns start_token"):
        read_booknlp_output(folder, "tiny", text)
    (folder / "tiny.tokens").unlink()
    with pytest.raises(CorpusError, match="BookNLP output file not found"):
        read_booknlp_output(folder, "tiny", text)


def test_missing_booknlp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "booknlp", None)  # as if not installed
    with pytest.raises(CorpusError, match=r"novel-personas\[booknlp\].*downloads its own models"):
        require_booknlp()
