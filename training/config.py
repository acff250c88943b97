"""Configuration dataclasses of the persona trainer: defaults live here, once, with their help text.

Each field's `metadata["help"]` is the text the CLI shows for the matching option.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Optional

from corpus.errors import CorpusError

MAX_BASIS_SIZE = 4096  # K above this is a typo, not an experiment
MAX_PROMPT_LENGTH = 512  # L cannot exceed the context length of any model we load anyway

Mixture = Literal["softmax", "linear"]
Objective = Literal["nll", "kl", "mix"]
Device = Literal["auto", "cuda", "cpu"]
# A few-shot level: fit on at most this many of a character's training lines, ALL_SHOTS for every line.
# On the command line a level is a number or "all".
Shots = Optional[int]
ALL_SHOTS: Shots = None
SHOTS_LABEL_ALL = "all"


def help_field(default: Any, text: str) -> Any:
    """A dataclass field with a default and the help text the CLI shows for it (read by `help_of`)."""
    return field(default=default, metadata={"help": text})


def help_of(config_class: type, name: str) -> str:
    """The help text of field `name` of a config dataclass."""
    return next(f.metadata["help"] for f in fields(config_class) if f.name == name)


@dataclass
class DataConfig:
    """Which utterances become training examples, how they are split and encoded."""

    min_confidence: float = help_field(0.0, "drop utterances whose speaker confidence is below this")
    min_lines: int = help_field(8, "a character needs at least this many lines to be eligible")
    books: tuple[str, ...] = help_field((), "only these book ids (empty: all books in the shard folder)")
    validation_fraction: float = help_field(0.1, "share of each character's lines in the validation split")
    test_fraction: float = help_field(0.1, "share of each character's lines in the test split")
    heldout_fraction: float = help_field(0.2, "share of eligible characters held out whole for few-shot fitting")
    split_seed: int = help_field(0, "seed of the hash-based line and character splits")
    context_tokens: int = help_field(128, "context budget in tokens; older context is cut from the left")
    utterance_tokens: int = help_field(64, "utterance budget in tokens; longer lines are cut at the end")
    sheet_tokens: int = help_field(96, "budget of the written character sheet the KL teacher reads")
    sheet_lines: int = help_field(6, "how many of a character's own training lines its sheet quotes")
    token_cache: str | None = help_field(None, "folder for a persistent token cache (None: cache in memory only)")

    def validate(self) -> None:
        """Raise CorpusError when a value is out of range."""
        if not 0.0 <= self.min_confidence <= 1.0:
            raise CorpusError(f"--min-confidence must be in [0, 1], got {self.min_confidence}")
        if self.min_lines < 1:
            raise CorpusError(f"--min-lines must be at least 1, got {self.min_lines}")
        shares = (self.validation_fraction, self.test_fraction, self.heldout_fraction)
        if any(not 0.0 <= s < 1.0 for s in shares) or self.validation_fraction + self.test_fraction >= 1.0:
            raise CorpusError("split fractions must be in [0, 1) and validation + test must stay below 1")
        if min(self.context_tokens, self.utterance_tokens, self.sheet_tokens) < 1:
            raise CorpusError("token budgets (context, utterance, sheet) must be positive")


@dataclass
class SoftPromptConfig:
    """The persona method: a basis of K soft prompts of L virtual tokens, mixed per character."""

    k: int = help_field(32, "number of soft prompts in the shared basis (K)")
    length: int = help_field(20, "virtual tokens per soft prompt (L)")
    mixture: Mixture = help_field("softmax", "softmax: weights on the simplex; linear: unconstrained weights")
    temperature: float = help_field(1.0, "softmax temperature of the mixture weights")
    init_seed: int = help_field(0, "seed of the vocabulary tokens whose embeddings initialise the basis")

    def validate(self) -> None:
        """Raise CorpusError when K, L or the mixture settings are out of range."""
        if not 1 <= self.k <= MAX_BASIS_SIZE:
            raise CorpusError(f"--k must be between 1 and {MAX_BASIS_SIZE}, got {self.k}")
        if not 1 <= self.length <= MAX_PROMPT_LENGTH:
            raise CorpusError(f"--length must be between 1 and {MAX_PROMPT_LENGTH}, got {self.length}")
        if self.mixture not in ("softmax", "linear"):
            raise CorpusError(f"--mixture must be softmax or linear, got {self.mixture!r}")
        if self.temperature <= 0:
            raise CorpusError(f"--temperature must be positive, got {self.temperature}")


@dataclass
class TrainConfig:
    """Optimisation of a pretrain or fit run."""

    objective: Objective = help_field("nll", "nll: next-token loss; kl: match a teacher reading the sheet; mix: both")
    kl_weight: float = help_field(0.5, "weight of the KL term under --objective mix (NLL gets 1 - this)")
    lr: float = help_field(0.03, "AdamW learning rate")
    mixture_lr: float = help_field(0.0, "learning rate of the mixture weights (0: --lr); pretraining's shared basis "
                                   "keeps --lr while each character's K weights, updated only when its lines are "
                                   "in the batch, may need a larger one to leave the uniform start")
    weight_decay: float = help_field(0.0, "AdamW weight decay")
    steps: int = help_field(200, "optimizer steps")
    batch_size: int = help_field(8, "examples per micro-batch")
    grad_accumulation: int = help_field(1, "micro-batches per optimizer step")
    seed: int = help_field(0, "seed of data order and initialisation")
    device: Device = help_field("auto", "auto: CUDA when available, else CPU")
    checkpoint_every: int = help_field(50, "optimizer steps between checkpoints (a kill loses at most this many)")
    log_every: int = help_field(1, "optimizer steps between metric log lines")
    shots: Shots = help_field(ALL_SHOTS, "fit on at most this many of each character's training lines (default: all of them)")
    speaker_weight: float = help_field(0.0, "weight of the speaker term: cross-entropy over the book's characters of "
                                       "which persona makes the line likeliest (0: off; costs a pass per rival)")
    speaker_rivals: int = help_field(3, "characters of the same book each line is contrasted with under --speaker-weight")

    def validate(self) -> None:
        """Raise CorpusError when a value is out of range."""
        if self.objective not in ("nll", "kl", "mix"):
            raise CorpusError(f"--objective must be nll, kl or mix, got {self.objective!r}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise CorpusError(f"--device must be auto, cuda or cpu, got {self.device!r}")
        if min(self.steps, self.batch_size, self.grad_accumulation, self.checkpoint_every, self.log_every) < 1:
            raise CorpusError("steps, batch size, accumulation, checkpoint and log intervals must be at least 1")
        if self.lr <= 0 or self.mixture_lr < 0 or not 0.0 <= self.kl_weight <= 1.0:
            raise CorpusError("--lr must be positive, --mixture-lr non-negative and --kl-weight in [0, 1]")
        if self.shots is not None and self.shots < 0:
            raise CorpusError(f"--shots must be non-negative, got {self.shots}")
        if self.speaker_weight < 0 or self.speaker_rivals < 1:
            raise CorpusError("--speaker-weight must be non-negative and --speaker-rivals at least 1")


@dataclass
class GenerateConfig:
    """Sampling settings of `training generate`."""

    max_new_tokens: int = help_field(60, "most tokens to generate")
    temperature: float = help_field(0.8, "sampling temperature (0: greedy)")
    top_p: float = help_field(0.95, "nucleus sampling mass")
    seed: int = help_field(0, "sampling seed")
    device: Device = help_field("auto", "auto: CUDA when available, else CPU")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from `config_to_dict` output, ignoring unknown keys."""
    known = {f.name for f in fields(config_class)}
    kept = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known}
    return config_class(**kept)


def shots_label(shots: Shots) -> str:
    """"all" for every line, else the number."""
    return SHOTS_LABEL_ALL if shots is ALL_SHOTS else str(shots)


def parse_shots(text: str) -> tuple[Shots, ...]:
    """Few-shot levels from "0,8,32,all"; CorpusError on anything else."""
    levels: list[Shots] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == SHOTS_LABEL_ALL:
            levels.append(ALL_SHOTS)
        elif part.isdigit():
            levels.append(int(part))
        else:
            raise CorpusError(f"bad few-shot level {part!r}: give numbers or 'all', e.g. 0,8,32,all")
    if not levels:
        raise CorpusError("give at least one few-shot level")
    return tuple(levels)
