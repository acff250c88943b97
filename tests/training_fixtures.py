"""Fixtures of the training tests: tiny persona shards written through corpus.shards.parquet, and a pretrained run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from corpus.shards import parquet, schema

DATA = Path(__file__).resolve().parents[1] / "data"

# (book, slug, name, aliases, gender, lines)
CAST = [
    ("100", "alice-smith", "Alice Smith", ["Alice"], "female", 24),
    ("100", "bob-jones", "Bob Jones", ["Mr. Jones"], "male", 24),
    ("100", "carol-king", "Carol King", [], "female", 24),
    ("100", "tiny-tim", "Tiny Tim", [], "male", 3),  # too few lines to be eligible
    ("200", "dora-grey", "Dora Grey", ["Dora"], "female", 24),
    ("200", "evan-hart", "Evan Hart", [], "male", 24),
]
TEXT_SEED = 7


def _vocabulary() -> list[str]:
    words = (DATA / "tokenizer_text.txt").read_text(encoding="utf-8").split()
    return [w for w in words if w.isalpha()][:3000]


def _sentence(rng: random.Random, words: list[str], low: int, high: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(low, high))).capitalize() + "."


def utterance_row(book: str, slug: str | None, name: str | None, quote_id: int, text: str, context: str,
                  confidence: float = 0.9, lead_in_chars: int = 0) -> dict:
    """One row of the utterances schema."""
    return dict(
        book_id=book, quote_id=quote_id, chapter=0, paragraph=quote_id, char_start=quote_id * 100,
        char_end=quote_id * 100 + len(text), parts=[{"start": quote_id * 100, "end": quote_id * 100 + len(text)}],
        text=text, speaker_id=schema.character_id(book, slug) if slug else None, speaker_name=name,
        addressee_ids=[], quote_type="explicit", confidence=confidence, method="test", context=context,
        lead_in_chars=lead_in_chars, prev_speaker_id=None, pipeline_version=schema.PIPELINE_VERSION,
    )


def write_persona_shards(folder: Path, cast=CAST, seed: int = TEXT_SEED) -> Path:
    """Utterance shards (one per book), characters.parquet and books.parquet of a made-up corpus.

    Each character speaks from its own slice of the vocabulary, so personas are learnable. Every tenth line
    has low confidence; a few lines are unattributed.
    """
    rng, words = random.Random(seed), _vocabulary()
    rows: dict[str, list[dict]] = {}
    character_rows = []
    for number, (book, slug, name, aliases, gender, n_lines) in enumerate(cast):
        own = words[number * 300 : (number + 1) * 300]
        for i in range(n_lines):
            book_rows = rows.setdefault(book, [])
            context = f"{_sentence(rng, words, 8, 20)}\n\n{_sentence(rng, words, 5, 12)}"
            confidence = 0.2 if i % 10 == 9 else 0.9
            book_rows.append(utterance_row(book, slug, name, len(book_rows), _sentence(rng, own, 3, 10), context, confidence))
        character_rows.append(dict(book_id=book, character_id=schema.character_id(book, slug), name=name,
                                   aliases=aliases, gender=gender, mentions=n_lines, lines=n_lines, words=0))
    for book, book_rows in rows.items():
        book_rows.append(utterance_row(book, None, None, len(book_rows), "Who said this?", "Nobody knows."))
        parquet.write_rows(book_rows, parquet.utterance_shard_path(folder, book), schema.UTTERANCES)
    parquet.write_rows(character_rows, folder / schema.CHARACTERS_FILE, schema.CHARACTERS)
    books = [dict(book_id=b, title=f"Book {b}", author="A. Writer", language="en", issued=None, rights=None,
                  source="test", text_sha256="0" * 64, chars=0, quotations=len(r), characters=0,
                  pipeline_version=schema.PIPELINE_VERSION) for b, r in rows.items()]
    parquet.write_rows(books, folder / schema.BOOKS_FILE, schema.BOOKS)
    return folder


@pytest.fixture(scope="session")
def persona_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of tiny persona shards: five eligible characters in two books, one with too few lines."""
    return write_persona_shards(tmp_path_factory.mktemp("persona-shards"))


@pytest.fixture(scope="session")
def pretrained_run(tmp_path_factory: pytest.TempPathFactory, persona_shards: Path, tiny_model_dir: Path) -> Path:
    """A short pretrain run on the tiny shards with the tiny model (K=4, L=3), all characters pretrained."""
    from training.config import DataConfig, SoftPromptConfig, TrainConfig
    from training.trainer import pretrain

    out = tmp_path_factory.mktemp("pretrained") / "run"
    pretrain(persona_shards, str(tiny_model_dir), out, DataConfig(heldout_fraction=0.0, context_tokens=16, utterance_tokens=16),
             SoftPromptConfig(k=4, length=3), TrainConfig(steps=4, batch_size=4, lr=0.05, device="cpu"))
    return out


@pytest.fixture()
def model_and_tokenizer(tiny_model_dir: Path):
    """The tiny model and its tokenizer, loaded afresh for each test (tests train on it)."""
    from training.modeling import load_base_model

    model, tokenizer, _ = load_base_model(str(tiny_model_dir))
    return model, tokenizer
