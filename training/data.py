"""Persona examples from corpus shards: filters, deterministic splits, character sheets, tokens and batches.

An example is a character's utterance after its narrative context: the prefix is the context (cut from the
left to a token budget) ending in an opening quotation mark, the target is the utterance and its closing mark.
The loss reads only the target tokens. The quote's own speech tag never reaches the prefix, so the speaker's
name is not handed to the model right before the line it must predict.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler

from corpus.shards import parquet, schema
from corpus.shards.splits import hash_position
from corpus.errors import CorpusError
from training.config import DataConfig
from training.context import strip_speech_tag

SPLITS = ("train", "validation", "test")
OPEN_QUOTE, CLOSE_QUOTE = '"', '"'
PARAGRAPH_BREAK = "\n\n"
CUSTOM_BOOK = "custom"  # book id of characters read from a text file of lines
BUCKET_SPAN = 50  # batches per length-sorted bucket: enough to cut padding, few enough to keep order random
SUGGESTIONS = 3


@dataclass(frozen=True)
class Utterance:
    """One line spoken by a character, with the narrative context before it."""

    character_id: str
    book_id: str
    quote_id: int
    text: str
    context: str
    confidence: float = 1.0


@dataclass(frozen=True)
class CharacterInfo:
    """What the corpus knows about a character (metadata for sheets and reports)."""

    character_id: str
    name: str
    book_id: str
    aliases: tuple[str, ...] = ()
    gender: str | None = None
    book_title: str | None = None
    book_author: str | None = None


@dataclass
class PersonaCorpus:
    """Eligible characters, their lines split train/validation/test, and the characters held out whole."""

    characters: dict[str, CharacterInfo]  # eligible characters by id
    lines: dict[str, dict[str, list[Utterance]]]  # id -> split -> lines, in seeded hash order
    heldout: frozenset[str]  # eligible characters kept out of pretraining, for few-shot fitting
    line_counts: dict[str, int] = field(default_factory=dict)  # every speaker after filtering, eligible or not
    names: dict[str, str] = field(default_factory=dict)  # every speaker's display name
    min_lines: int = 1

    @property
    def pretrain_ids(self) -> list[str]:
        """Eligible characters that take part in pretraining, sorted."""
        return sorted(c for c in self.characters if c not in self.heldout)

    @property
    def heldout_ids(self) -> list[str]:
        """Eligible characters held out whole for few-shot fitting, sorted."""
        return sorted(self.heldout)

    def split(self, character_id: str, split: str) -> list[Utterance]:
        """The lines of `character_id` in `split` (train, validation or test)."""
        return self.lines[character_id][split]

    def resolve(self, query: str) -> str:
        """The eligible character id that `query` names (id, slug or name); CorpusError otherwise."""
        character_id = resolve_character(query, self.names)
        if character_id not in self.characters:
            raise CorpusError(
                f"character {character_id} has only {self.line_counts[character_id]} lines after filtering, "
                f"fewer than --min-lines {self.min_lines}"
            )
        return character_id


def resolve_character(query: str, names: dict[str, str]) -> str:
    """The id in `names` (id -> display name) that `query` names by id, slug or name; CorpusError otherwise.

    An unknown name gets the closest known names as suggestions.
    """
    if query in names:
        return query
    folded = query.strip().casefold()
    matches = sorted(cid for cid, name in names.items() if folded in (name.casefold(), cid.split(":", 1)[-1]))
    if len(matches) > 1:
        raise CorpusError(f"{query!r} names several characters ({', '.join(matches)}); give the id")
    if not matches:
        labels = list(names) + list(names.values())
        close = difflib.get_close_matches(query, labels, n=SUGGESTIONS, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CorpusError(f"unknown character {query!r}{hint}")
    return matches[0]


def _split_lines(lines: list[Utterance], config: DataConfig) -> dict[str, list[Utterance]]:
    ordered = sorted(lines, key=lambda u: hash_position(config.split_seed, f"line:{u.book_id}:{u.quote_id}", ":"))
    n = len(ordered)
    n_test = max(1, round(n * config.test_fraction)) if config.test_fraction > 0 and n >= len(SPLITS) else 0
    n_val = max(1, round(n * config.validation_fraction)) if config.validation_fraction > 0 and n >= len(SPLITS) else 0
    return {"test": ordered[:n_test], "validation": ordered[n_test : n_test + n_val], "train": ordered[n_test + n_val :]}


def _optional_table(path: Path, table_schema) -> list[dict]:
    return parquet.read_table(path, table_schema).to_pylist() if path.exists() else []


def load_corpus(shard_dir: Path, config: DataConfig = DataConfig()) -> PersonaCorpus:
    """Read the persona shards of `shard_dir`, filter, and split lines and characters deterministically."""
    config.validate()
    shard_dir = Path(shard_dir)
    table = parquet.read_utterances(shard_dir, config.books or None)
    books = {r["book_id"]: r for r in _optional_table(shard_dir / schema.BOOKS_FILE, schema.BOOKS)}
    cast = {r["character_id"]: r for r in _optional_table(shard_dir / schema.CHARACTERS_FILE, schema.CHARACTERS)}
    by_character: dict[str, list[Utterance]] = {}
    names: dict[str, str] = {}
    for row in table.to_pylist():
        if row["speaker_id"] is None or row["confidence"] < config.min_confidence or not row["text"].strip():
            continue
        speaker = row["speaker_id"]
        names.setdefault(speaker, row["speaker_name"] or speaker)
        meta = cast.get(speaker, {})
        known_names = [names[speaker], meta.get("name") or "", *(meta.get("aliases") or ())]
        by_character.setdefault(speaker, []).append(
            Utterance(speaker, row["book_id"], row["quote_id"], row["text"],
                      strip_speech_tag(row["context"], row["lead_in_chars"], known_names), float(row["confidence"]))
        )
    if not by_character:
        raise CorpusError(f"no attributed utterances with confidence >= {config.min_confidence} in {shard_dir}")
    characters = {}
    for cid in sorted(c for c, lines in by_character.items() if len(lines) >= config.min_lines):
        meta, book = cast.get(cid, {}), books.get(by_character[cid][0].book_id, {})
        characters[cid] = CharacterInfo(
            cid, meta.get("name") or names[cid], by_character[cid][0].book_id, tuple(meta.get("aliases") or ()),
            meta.get("gender"), book.get("title"), book.get("author"),
        )
    heldout = frozenset(
        c for c in characters if hash_position(config.split_seed, f"character:{c}", ":") < config.heldout_fraction
    )
    return PersonaCorpus(
        characters, {c: _split_lines(by_character[c], config) for c in characters}, heldout,
        {c: len(lines) for c, lines in by_character.items()}, names, config.min_lines,
    )


def lines_from_text_file(path: Path, name: str) -> tuple[CharacterInfo, list[Utterance]]:
    """A character not in the corpus: one utterance per non-empty line of a UTF-8 text file, no context."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read lines file {path}: {exc}") from exc
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if not texts:
        raise CorpusError(f"lines file {path} has no lines")
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "character"
    character = CharacterInfo(schema.character_id(CUSTOM_BOOK, slug), name, CUSTOM_BOOK)
    return character, [Utterance(character.character_id, CUSTOM_BOOK, i, t, "") for i, t in enumerate(texts)]


def character_sheet(character: CharacterInfo, lines: Sequence[Utterance], n_lines: int) -> str:
    """A written character sheet (hard prompt) from metadata and the character's most confident lines."""
    source = f", from {character.book_title}" if character.book_title else ""
    source += f" by {character.book_author}" if character.book_author else ""
    parts = [f"Character sheet: {character.name}{source}."]
    if character.aliases:
        parts.append(f"Also called: {', '.join(character.aliases)}.")
    if character.gender:
        parts.append(f"Gender: {character.gender}.")
    chosen = sorted(lines, key=lambda u: -u.confidence)[:n_lines]
    if chosen:
        parts.append(f"Things {character.name} says:")
        parts.extend(f"{OPEN_QUOTE}{u.text}{CLOSE_QUOTE}" for u in chosen)
    return "\n".join(parts) + PARAGRAPH_BREAK


def example_prefix(context: str) -> str:
    """The text before an utterance: its context, a paragraph break, and the opening quotation mark."""
    return f"{context}{PARAGRAPH_BREAK}{OPEN_QUOTE}" if context.strip() else OPEN_QUOTE


@dataclass(frozen=True)
class Example:
    """Token ids of one example: prefix (context + opening mark) and target (utterance + closing mark)."""

    prefix_ids: tuple[int, ...]
    target_ids: tuple[int, ...]
    character_index: int

    def __len__(self) -> int:
        return len(self.prefix_ids) + len(self.target_ids)


@dataclass(frozen=True)
class TokenBudget:
    """Token budgets of one example, fitted to the model's context length."""

    context: int
    utterance: int
    sheet: int


def token_budget(config: DataConfig, prompt_length: int, max_positions: int, with_sheet: bool) -> TokenBudget:
    """Budgets so that prompt (or sheet) + context + utterance fit in `max_positions`; CorpusError if they cannot."""
    prefix_room = max(prompt_length, config.sheet_tokens if with_sheet else 0)
    context = min(config.context_tokens, max_positions - prefix_room - config.utterance_tokens)
    if context < 1:
        raise CorpusError(
            f"prompt length {prompt_length} + utterance budget {config.utterance_tokens}"
            f"{f' + sheet budget {config.sheet_tokens}' if with_sheet else ''} leave no room for context "
            f"in the model's {max_positions} positions; lower --length or the token budgets"
        )
    return TokenBudget(context, config.utterance_tokens, config.sheet_tokens)


def document_lead(tokenizer) -> tuple[int, ...]:
    """The special ids the tokenizer puts before a document's tokens (Gemma's BOS; none for GPT-2)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    if not plain or len(full) <= len(plain) or full[len(full) - len(plain) :] != plain:
        return ()
    return tuple(full[: len(full) - len(plain)])


class TokenCache:
    """Token ids of texts, memoised in memory and optionally persisted as JSON per tokenizer fingerprint."""

    def __init__(self, tokenizer, cache_dir: Path | None = None) -> None:
        self.tokenizer = tokenizer
        self.lead = document_lead(tokenizer)
        self.path = None
        self.ids: dict[str, list[int]] = {}
        if cache_dir is not None:
            vocab = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
            fingerprint = hashlib.sha256(f"{type(tokenizer).__name__}:{vocab}".encode()).hexdigest()[:16]
            self.path = Path(cache_dir) / f"tokens-{fingerprint}.json"
            if self.path.exists():
                try:
                    self.ids = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    self.ids = {}  # a damaged cache is only a lost speed-up
        self._dirty = False

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids (no special tokens) of each text, tokenising only those not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.ids))
        if missing:
            encoded = self.tokenizer(missing, add_special_tokens=False, verbose=False)["input_ids"]  # cut to budgets later
            self.ids.update(zip(missing, encoded))
            self._dirty = True
        return [self.ids[t] for t in texts]

    def save(self) -> None:
        """Persist new entries (atomically) when the cache has a path."""
        if self.path is not None and self._dirty:
            parquet.atomic_write_bytes(self.path, json.dumps(self.ids).encode())
            self._dirty = False


def encode_examples(
    utterances: Sequence[Utterance], character_index: dict[str, int], cache: TokenCache, budget: TokenBudget
) -> list[Example]:
    """Examples of the utterances: the document lead (BOS, if the model has one), then the prefix cut from the
    left to fit the context budget with the lead, then the target cut at the end."""
    prefixes = cache.encode([example_prefix(u.context) for u in utterances])
    targets = cache.encode([f"{u.text}{CLOSE_QUOTE}" for u in utterances])
    room = max(1, budget.context - len(cache.lead))
    return [
        Example(cache.lead + tuple(p[-room:]), tuple(t[: budget.utterance]), character_index[u.character_id])
        for u, p, t in zip(utterances, prefixes, targets)
    ]


def sheet_ids(cache: TokenCache, sheets: Sequence[str], budget: int) -> list[list[int]]:
    """Token ids of character sheets read as a document's start: the lead, then the sheet cut to `budget`."""
    return [list(cache.lead) + ids[: max(1, budget - len(cache.lead))] for ids in cache.encode(sheets)]


@dataclass
class Batch:
    """Padded token ids, attention mask, which positions are targets, and each row's character index."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T] 1 for real tokens
    target_mask: torch.Tensor  # [B, T] True on utterance tokens
    character_idx: torch.Tensor  # [B]

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.target_mask, self.character_idx)))

    @property
    def n_tokens(self) -> int:
        return int(self.attention_mask.sum())

    def without_lead(self, lead: int) -> "Batch":
        """The batch without its first `lead` columns: the document lead (BOS) of right-padded rows, dropped
        where a sheet that starts with its own lead is read first."""
        if lead == 0:
            return self
        if not bool(self.attention_mask[:, :lead].all()) or bool(self.target_mask[:, :lead].any()):
            raise ValueError("only right-padded batches whose rows all start with the lead can drop it")
        return Batch(self.input_ids[:, lead:], self.attention_mask[:, lead:], self.target_mask[:, lead:],
                     self.character_idx)


def collate(examples: Sequence[Example], pad_id: int, padding_side: str = "right") -> Batch:
    """Pad examples to a batch, on the right (training) or the left (generation)."""
    width = max(len(e) for e in examples)
    shape = (len(examples), width)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    attention_mask = torch.zeros(shape, dtype=torch.long)
    target_mask = torch.zeros(shape, dtype=torch.bool)
    for row, e in enumerate(examples):
        start = 0 if padding_side == "right" else width - len(e)
        end, target_start = start + len(e), start + len(e.prefix_ids)
        input_ids[row, start:end] = torch.tensor(e.prefix_ids + e.target_ids, dtype=torch.long)
        attention_mask[row, start:end] = 1
        target_mask[row, target_start:end] = True
    character_idx = torch.tensor([e.character_index for e in examples], dtype=torch.long)
    return Batch(input_ids, attention_mask, target_mask, character_idx)


class ExampleDataset(Dataset):
    """A list of examples as a torch Dataset."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Example:
        return self.examples[index]


def bucketed_epoch(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch of index batches: shuffled, sorted by length within buckets, batch order shuffled."""
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * BUCKET_SPAN
    batches = []
    for start in range(0, len(order), span):
        bucket = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches.extend(bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size))
    rng.shuffle(batches)
    return batches


class BucketBatchSampler(Sampler[list[int]]):
    """`total` length-bucketed batches over as many epochs as needed, starting at batch `start` (for resume)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, total: int, start: int = 0) -> None:
        self.lengths, self.batch_size, self.seed, self.total, self.start = list(lengths), batch_size, seed, total, start

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        produced, epoch = 0, 0
        while self.lengths and produced < self.total:
            for batch in bucketed_epoch(self.lengths, self.batch_size, self.seed, epoch):
                if produced >= self.total:
                    return
                if produced >= self.start:
                    yield batch
                produced += 1
            epoch += 1
