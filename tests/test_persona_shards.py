"""Persona shard rows and files from a hand-made BookAttribution over real quotations."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.shards import parquet, schema
from corpus.attribution.types import BookAttribution
from corpus.gutenberg.books import BookMetadata
from corpus.gutenberg.clean import find_chapters
from corpus.errors import CorpusError
from corpus.shards.writer import book_rows, read_shard_info, write_book, write_run_tables
from tests.attribute_fixtures import harbour_attribution, harbour_text

def test_rows_point_at_the_quote_text_and_chain_speakers() -> None:
    text = harbour_text()
    utterances, characters = book_rows("harbour", text, harbour_attribution(text), find_chapters(text), 1)
    assert [r["quote_id"] for r in utterances] == list(range(15))
    for row in utterances:
        assert row["text"] == " ".join(text[p["start"] : p["end"]] for p in row["parts"])
        assert text[row["char_start"] - 1] == "\u201c" and row["text"].startswith(text[row["char_start"] : row["char_start"] + 5])
        assert row["text"] not in row["context"]
    first, second = utterances[0], utterances[1]
    assert first["speaker_id"] == "harbour:thomas-hale" and first["speaker_name"] == "Thomas Hale"
    assert first["addressee_ids"] == ["harbour:margaret-hale"] and first["prev_speaker_id"] is None
    assert second["prev_speaker_id"] == "harbour:thomas-hale"
    assert utterances[6]["speaker_id"] is None and utterances[7]["prev_speaker_id"] is None
    assert [r["chapter"] for r in utterances] == [0] * 8 + [1] * 7
    assert first["context"].startswith("The morning fog") and first["context"].endswith("his cup.")
    assert "You are late again" in second["context"] and "morning fog" not in second["context"]
    by_id = {r["character_id"]: r for r in characters}
    assert by_id["harbour:captain-ward"]["lines"] == 4
    assert by_id["harbour:mrs-hale"]["words"] == sum(len(r["text"].split()) for r in utterances if r["speaker_id"] == "harbour:mrs-hale")
    assert by_id["harbour:thomas-hale"]["lines"] == 4  # one of his five lines is unattributed


def test_context_is_the_lead_in_of_the_paragraph_and_is_capped() -> None:
    text = harbour_text()
    utterances, _ = book_rows("h", text, harbour_attribution(text), (), 0)
    by_text = {r["text"]: r for r in utterances}
    assert by_text["Miss Hale, I hoped you would come."]["context"] == ""
    [nobody] = [r for r in utterances if r["text"].startswith("Nobody")]
    assert nobody["context"] == "Mrs. Hale came in with the coffee-pot and set it down with some force."
    assert nobody["lead_in_chars"] == len(nobody["context"])  # all of it is the quotation's own paragraph
    assert by_text["Miss Hale, I hoped you would come."]["lead_in_chars"] == 0
    with_paragraphs, _ = book_rows("h", text, harbour_attribution(text), (), 2)
    for row in with_paragraphs:  # the lead-in is the end of the context, within the quotation's paragraph
        lead_in = row["context"][len(row["context"]) - row["lead_in_chars"] :]
        assert "\n\n" not in lead_in and text[: row["char_start"]].rstrip("\u201c\"' ").endswith(lead_in)
    capped, _ = book_rows("h", text, harbour_attribution(text), (), 5, context_max_chars=60)
    assert all(len(r["context"]) <= 60 for r in capped)
    assert capped[0]["context"].endswith("his cup.") and not capped[0]["context"][0].isspace()


def test_unknown_speaker_slug_is_refused() -> None:
    text = harbour_text()
    attribution = harbour_attribution(text)
    attribution.attributions[0].speaker = "nobody"
    with pytest.raises(CorpusError, match="unknown character 'nobody'"):
        book_rows("h", text, attribution, ())


def test_write_book_is_self_describing_and_run_tables_merge_books(tmp_path: Path) -> None:
    text = harbour_text()
    metadata = BookMetadata(source="local", title="The Harbour")
    path = write_book(tmp_path, "h1", text, harbour_attribution(text), find_chapters(text), metadata=metadata, settings="s1")
    write_book(tmp_path, "h2", text, BookAttribution([], []))
    assert path == parquet.utterance_shard_path(tmp_path, "h1")
    table = parquet.read_table(path, schema.UTTERANCES)
    assert table.num_rows == 15 and table.column("pipeline_version")[0].as_py() == schema.PIPELINE_VERSION
    info = read_shard_info(path)
    assert info.settings == "s1" and info.book_row["title"] == "The Harbour" and info.book_row["quotations"] == 15
    assert len(info.character_rows) == 4
    empty = parquet.read_table(parquet.utterance_shard_path(tmp_path, "h2"), schema.UTTERANCES)
    assert empty.num_rows == 0
    write_run_tables(tmp_path)
    books = parquet.read_books(tmp_path).to_pylist()
    assert [b["book_id"] for b in books] == ["h1", "h2"] and books[1]["source"] == "unknown"
    assert parquet.read_characters(tmp_path).num_rows == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["h1.utterances.parquet", "h2.utterances.parquet", "characters.parquet", "books.parquet"]
    )


def test_corrupt_or_foreign_shards_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "x.utterances.parquet"
    bad.write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(CorpusError, match="corrupt or unreadable Parquet shard"):
        read_shard_info(bad)
    foreign = tmp_path / "y.utterances.parquet"
    pq.write_table(parquet.to_table([], schema.UTTERANCES), foreign)
    with pytest.raises(CorpusError, match="carries no book metadata"):
        read_shard_info(foreign)
