"""Persona examples: filters, deterministic splits, no speaker leak, token budgets, batches, token cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from corpus.shards import parquet, schema
from corpus.errors import CorpusError
from training.config import DataConfig
from training.context import strip_speech_tag
from training.data import (
    BucketBatchSampler, Example, TokenCache, Utterance, bucketed_epoch, character_sheet, collate, encode_examples,
    lines_from_text_file, load_corpus, token_budget,
)
from tests.training_fixtures import persona_shards, utterance_row, write_persona_shards  # noqa: F401


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_filters_confidence_lines_and_books(persona_shards: Path) -> None:
    corpus = load_corpus(persona_shards, DataConfig(heldout_fraction=0.0))
    assert "100:tiny-tim" not in corpus.characters and corpus.line_counts["100:tiny-tim"] == 3
    assert len(corpus.characters) == 5
    assert all(len(sum(corpus.lines[c].values(), [])) == 24 for c in corpus.characters)
    strict = load_corpus(persona_shards, DataConfig(min_confidence=0.5, heldout_fraction=0.0))
    assert all(len(sum(strict.lines[c].values(), [])) == 22 for c in strict.characters)  # lines 9 and 19 dropped
    assert all(u.confidence >= 0.5 for c in strict.characters for s in strict.lines[c].values() for u in s)
    one_book = load_corpus(persona_shards, DataConfig(books=("200",)))
    assert set(one_book.names) == {"200:dora-grey", "200:evan-hart"}
    assert one_book.characters["200:dora-grey"].book_title == "Book 200"


def test_splits_are_deterministic_disjoint_and_per_character(persona_shards: Path) -> None:
    config = DataConfig(validation_fraction=0.25, test_fraction=0.25, heldout_fraction=0.4, split_seed=3)
    first, second = load_corpus(persona_shards, config), load_corpus(persona_shards, config)
    assert first.lines == second.lines and first.heldout == second.heldout
    assert first.heldout and set(first.pretrain_ids) | first.heldout == set(first.characters)
    for cid, splits in first.lines.items():
        keys = [(u.book_id, u.quote_id) for s in splits.values() for u in s]
        assert len(keys) == len(set(keys)) == 24
        assert len(splits["test"]) == len(splits["validation"]) == 6
        assert all(u.character_id == cid for s in splits.values() for u in s)
    other = load_corpus(persona_shards, DataConfig(validation_fraction=0.25, test_fraction=0.25, split_seed=4))
    assert any(other.lines[c]["test"] != first.lines[c]["test"] for c in first.characters)


def test_the_speech_tag_and_the_speakers_name_never_end_the_context(tmp_path: Path) -> None:
    assert strip_speech_tag("It rained.\n\nAlice turned and said,") == "It rained."
    assert strip_speech_tag("It rained.\n\nAlice, after a\nlong pause, said:") == "It rained."  # a wrapped lead-in
    assert strip_speech_tag("It rained.\n\n\"Well,\" said he to Miss\nSmith, \"well?\"", names=["Alice Smith"]) == "It rained."
    assert strip_speech_tag("Alice came in.\n\nIt rained\nhard.", names=["Alice Smith"]) == "Alice came in.\n\nIt rained\nhard."
    assert strip_speech_tag("said she,") == ""
    # the shard says how long the lead-in is: only that is judged, whatever the paragraphs
    assert strip_speech_tag("It rained.\nAlice said,", len("Alice said,")) == "It rained."
    assert strip_speech_tag("Alice came in.\n\nIt rained.", len("It rained."), ["Alice Smith"]) == "Alice came in.\n\nIt rained."
    rows = [utterance_row("9", "alice-smith", "Alice Smith", i, f"Line {i}.", f"Rain fell.\n\nAlice Smith replied{i % 2 and ',' or '.'}")
            for i in range(4)]
    parquet.write_rows(rows, parquet.utterance_shard_path(tmp_path, "9"), schema.UTTERANCES)
    corpus = load_corpus(tmp_path, DataConfig(min_lines=1, heldout_fraction=0.0))
    contexts = [u.context for s in corpus.lines["9:alice-smith"].values() for u in s]
    assert contexts == ["Rain fell."] * 4


def test_examples_cut_context_from_the_left_and_targets_at_the_end(tokenizer) -> None:
    budget = token_budget(DataConfig(context_tokens=8, utterance_tokens=5), prompt_length=4, max_positions=256,
                          with_sheet=False)
    utterance = Utterance("1:a", "1", 0, "one two three four five six seven eight nine", "a b c d e f g h i j k l m n o p")
    [example] = encode_examples([utterance], {"1:a": 0}, TokenCache(tokenizer), budget)
    assert len(example.prefix_ids) == 8 and len(example.target_ids) == 5
    assert tokenizer.decode(example.prefix_ids).endswith('\n\n"')
    assert tokenizer.decode(example.target_ids).startswith("one two")
    with pytest.raises(CorpusError, match="no room for context"):
        token_budget(DataConfig(utterance_tokens=64), prompt_length=200, max_positions=256, with_sheet=False)


@pytest.mark.parametrize("side", ["left", "right"])
def test_collate_masks_targets_on_either_side(side: str) -> None:
    batch = collate([Example((5, 6), (7,), 0), Example((8,), (9, 10, 11), 1)], pad_id=0, padding_side=side)
    if side == "right":
        assert batch.input_ids.tolist() == [[5, 6, 7, 0], [8, 9, 10, 11]]
        assert batch.target_mask.int().tolist() == [[0, 0, 1, 0], [0, 1, 1, 1]]
    else:
        assert batch.input_ids.tolist() == [[0, 5, 6, 7], [8, 9, 10, 11]]
        assert batch.target_mask.int().tolist() == [[0, 0, 0, 1], [0, 1, 1, 1]]
    assert batch.attention_mask.sum().item() == batch.n_tokens == 7
    assert batch.character_idx.tolist() == [0, 1]


def test_bucketed_batches_cover_each_epoch_and_cut_padding() -> None:
    lengths = [(i * 37) % 101 + 1 for i in range(400)]
    epoch = bucketed_epoch(lengths, batch_size=8, seed=1, epoch=0)
    assert sorted(i for b in epoch for i in b) == list(range(400))
    assert epoch == bucketed_epoch(lengths, batch_size=8, seed=1, epoch=0)
    assert epoch != bucketed_epoch(lengths, batch_size=8, seed=1, epoch=1)
    padding = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in epoch)
    shuffled = [list(range(400))[i : i + 8] for i in range(0, 400, 8)]
    random_padding = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in shuffled)
    assert padding < random_padding / 4
    full = list(BucketBatchSampler(lengths, 8, seed=1, total=120))
    assert len(full) == 120 and list(BucketBatchSampler(lengths, 8, seed=1, total=120, start=70)) == full[70:]


def test_token_cache_persists_per_tokenizer(tokenizer, tmp_path: Path) -> None:
    cache = TokenCache(tokenizer, tmp_path)
    ids = cache.encode(["the old house", "the old house", "a letter"])
    cache.save()
    again = TokenCache(tokenizer, tmp_path)
    assert again.ids == {"the old house": ids[0], "a letter": ids[2]}
    assert again.encode(["a letter"]) == [ids[2]]


def test_unknown_character_gets_suggestions_and_rare_ones_are_refused(persona_shards: Path) -> None:
    corpus = load_corpus(persona_shards, DataConfig(heldout_fraction=0.0))
    assert corpus.resolve("Alice Smith") == corpus.resolve("alice-smith") == "100:alice-smith"
    with pytest.raises(CorpusError, match="did you mean 'Alice Smith'"):
        corpus.resolve("Alise Smith")
    with pytest.raises(CorpusError, match="only 3 lines"):
        corpus.resolve("Tiny Tim")


def test_missing_and_corrupt_shards_are_corpus_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "absent")
    folder = write_persona_shards(tmp_path / "shards")
    parquet.utterance_shard_path(folder, "100").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(CorpusError, match="corrupt"):
        load_corpus(folder)


def test_lines_file_and_character_sheet(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("I shall go.\n\nNever again!\n", encoding="utf-8")
    character, lines = lines_from_text_file(path, "New Person")
    assert character.character_id == "custom:new-person" and [u.text for u in lines] == ["I shall go.", "Never again!"]
    sheet = character_sheet(character, lines, n_lines=1)
    assert "New Person" in sheet and '"I shall go."' in sheet and "Never again" not in sheet
    path.write_bytes(b"\xff\xfe bad")
    with pytest.raises(CorpusError, match="cannot read"):
        lines_from_text_file(path, "X")
