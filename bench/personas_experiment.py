"""The shared state of a bench/personas.py run and the lines it is scored on (also read by bench/speaker_probe.py)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from corpus.errors import CorpusError
from personas_profiles import Profile
from training.config import DataConfig, TrainConfig
from training.data import PersonaCorpus, TokenBudget, TokenCache, token_budget
from training.evaluate import EvalConfig, heldout_lines
from training.modeling import max_positions
from training.speaker_id import BiasLines, BookLines


@dataclass
class Experiment:
    """Shared state of one bench run: profile, paths, the frozen model and the gold held-out lines."""

    profile: Profile
    pdnc: Path
    model_ref: str
    work: Path
    device: str
    base: Any = None
    tokenizer: Any = None
    gold: PersonaCorpus | None = None
    characters: list[str] | None = None
    books: list[BookLines] | None = None
    noprompt: list[np.ndarray] | None = None
    bias: BiasLines | None = None  # gold validation lines of the evaluated characters (debiased speaker-ID)
    timings: dict[str, float] | None = None
    basis: Path | None = None  # a pretrained basis run to reuse (--basis) instead of pretraining one

    def data_config(self, books: tuple[str, ...]) -> DataConfig:
        return DataConfig(min_lines=self.profile.min_lines, books=books, heldout_fraction=0.0,
                          test_fraction=self.profile.test_fraction, context_tokens=self.profile.context_tokens,
                          utterance_tokens=self.profile.utterance_tokens, token_cache=str(self.work.parent / "tokens"))

    def train_config(self, steps: int, lr: float, objective: str = "nll", rivals: int | None = None,
                     mixture_lr: float = 0.0) -> TrainConfig:
        """`objective` is nll, kl or mix, with "+speaker" for the speaker cross-entropy term against `rivals`
        characters of the line's book (default: the profile's `speaker_rivals`)."""
        base, _, speaker = objective.partition("+")
        return TrainConfig(objective=base, lr=lr, mixture_lr=mixture_lr, steps=steps, batch_size=self.profile.batch_size,
                           device=self.device, checkpoint_every=steps, log_every=1,
                           speaker_weight=self.profile.speaker_weight if speaker else 0.0,
                           speaker_rivals=rivals or self.profile.speaker_rivals)

    def timed(self, label: str, work: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        result = work()
        self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - began
        print(f"  {label}: {time.perf_counter() - began:.1f}s", flush=True)
        return result


def evaluated_characters(gold: PersonaCorpus, other: PersonaCorpus | None, profile: Profile) -> list[str]:
    """The most talkative gold characters of each evaluation book that are eligible in both sources."""
    chosen = []
    for book in profile.eval_books:
        ranked = sorted((c for c, info in gold.characters.items() if info.book_id == book),
                        key=lambda c: (-gold.line_counts[c], c))
        ranked = [c for c in ranked if other is None or c in other.characters]
        chosen.extend(ranked[: profile.characters_per_book])
    if not chosen:
        raise CorpusError("no evaluation character is eligible in every source; lower min_lines")
    return chosen


def evaluation_lines(exp: Experiment, other: PersonaCorpus | None) -> tuple[TokenCache, TokenBudget]:
    """Set the evaluated characters and their gold held-out lines (`exp.characters`, `exp.books`); returns the
    token cache and the budget they were encoded with (room for the profile's longest prompt)."""
    p = exp.profile
    exp.characters = evaluated_characters(exp.gold, other, p)
    longest = max((p.length, *(l for _, l in p.ablations)))
    budget = token_budget(exp.data_config(()), longest, max_positions(exp.base), True)
    cache = TokenCache(exp.tokenizer, exp.work.parent / "tokens")
    exp.books = heldout_lines(exp.gold, exp.characters, cache, budget, EvalConfig(max_lines=p.max_test_lines))
    return cache, budget


def settings_key(profile: Profile, model_ref: str) -> str:
    """A short fingerprint of the settings: work folders of other settings are never reused."""
    return hashlib.sha256(json.dumps([asdict(profile), model_ref], default=str).encode()).hexdigest()[:12]
