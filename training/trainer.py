"""Training runs: `pretrain` learns the basis and every eligible character's weights; `fit` learns one
character's K weights with the basis frozen; `tune_prompts` learns one free prompt per character (per-character
prompt tuning, the baseline without a basis). All share one loop (AdamW, accumulation, bf16 autocast on CUDA,
accelerate for several GPUs, checkpoints every N steps, exact resume, JSONL metrics)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, PartialState
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import DataLoader

from corpus.errors import CorpusError
from training import checkpoint
from training.checkpoint import PersonaRun
from training.config import DataConfig, SoftPromptConfig, TrainConfig, config_from_dict, config_to_dict
from training.data import (
    BucketBatchSampler, CharacterInfo, Example, ExampleDataset, TokenCache, Utterance, character_sheet, collate,
    encode_examples, lines_from_text_file, load_corpus, sheet_ids, token_budget,
)
from training.modeling import load_base_model, max_positions, resolve_device
from training.objectives import SheetTeacher, persona_loss, sample_rivals
from training.run_files import check_out_folder
from training.soft_prompt import PersonaPromptModel


@dataclass
class RunResult:
    """What a training call did: where the run lives, its final step and the losses of the steps it ran."""

    out: Path
    step: int
    losses: list[float] = field(default_factory=list)
    character_ids: list[str] = field(default_factory=list)


@dataclass
class TrainingJob:
    """Everything the loop needs: the model, encoded examples, an optional teacher and the run's identity."""

    model: PersonaPromptModel
    examples: list[Example]
    teacher: SheetTeacher | None
    pad_id: int
    run: PersonaRun  # identity and metadata; its tensors are refreshed from the model when saved
    groups: torch.Tensor  # [n_characters] book of each character, as an integer: rivals of the speaker term


def _teacher(model: PersonaPromptModel, cache: TokenCache, sheets: list[str], budget: int) -> SheetTeacher:
    return SheetTeacher(model.base, dict(enumerate(sheet_ids(cache, sheets, budget))), lead=len(cache.lead))


def _character_meta(characters: list[CharacterInfo]) -> list[dict[str, Any]]:
    return [{**asdict(c), "aliases": list(c.aliases)} for c in characters]


def book_groups(characters: Sequence[CharacterInfo]) -> torch.Tensor:
    """An integer per character naming its book: characters of one book are each other's rivals."""
    books = {book: i for i, book in enumerate(sorted({c.book_id for c in characters}))}
    return torch.tensor([books[c.book_id] for c in characters], dtype=torch.long)


def pretrain(
    shards: Path,
    model_ref: str,
    out: Path,
    data_config: DataConfig = DataConfig(),
    prompt_config: SoftPromptConfig = SoftPromptConfig(),
    train_config: TrainConfig = TrainConfig(),
    resume: bool = False,
    show_progress: bool = False,
) -> RunResult:
    """Learn the soft-prompt basis and the mixture weights of all eligible, not held-out characters jointly."""
    for config in (data_config, prompt_config, train_config):
        config.validate()
    out = Path(out)
    check_out_folder(out, resume)
    device = resolve_device(train_config.device)
    corpus = load_corpus(shards, data_config)
    ids = corpus.pretrain_ids
    if not ids:
        raise CorpusError(
            f"no characters to pretrain on in {shards}: none has --min-lines {data_config.min_lines} lines "
            "outside the held-out set"
        )
    base, tokenizer, model_ref = load_base_model(model_ref)
    budget = token_budget(data_config, prompt_config.length, max_positions(base), train_config.objective != "nll")
    index = {cid: i for i, cid in enumerate(ids)}
    cache = TokenCache(tokenizer, data_config.token_cache)
    examples = encode_examples([u for cid in ids for u in corpus.split(cid, "train")], index, cache, budget)
    model = PersonaPromptModel(base, prompt_config, len(ids))
    model.initialise_basis(tokenizer)
    teacher = None
    if train_config.objective != "nll":
        sheets = [character_sheet(corpus.characters[c], corpus.split(c, "train"), data_config.sheet_lines) for c in ids]
        teacher = _teacher(model, cache, sheets, budget.sheet)
    cache.save()
    infos = [corpus.characters[c] for c in ids]
    run = PersonaRun(
        prompt_config, ids, [c.name for c in infos], model_ref, "pretrain", model.basis.prompts,
        model.personas.mixture_logits,
        meta={"data": config_to_dict(data_config), "train": config_to_dict(train_config),
              "shards": str(Path(shards).resolve()), "characters": _character_meta(infos),
              "heldout": corpus.heldout_ids},
    )
    return _train(TrainingJob(model, examples, teacher, tokenizer.pad_token_id, run, book_groups(infos)),
                  train_config, out, resume, device, show_progress)


def fit(
    basis_run: Path,
    out: Path,
    character: str | Sequence[str] | None = None,
    shards: Path | None = None,
    lines_file: Path | None = None,
    sheet_file: Path | None = None,
    train_config: TrainConfig = TrainConfig(),
    data_config: DataConfig | None = None,
    model_ref: str | None = None,
    resume: bool = False,
    show_progress: bool = False,
) -> RunResult:
    """Learn the K mixture weights of one or several characters on their training lines (at most `shots`
    each), the basis frozen. Several characters share one run and one loaded model, and characters of one
    book are each other's rivals under the speaker term.

    Characters come from the corpus (`character`: one or several ids or names; shards default to the basis
    run's) or, with `lines_file`, from a UTF-8 file of one character's lines (one per line; `character` is
    then its display name).
    """
    train_config.validate()
    out = Path(out)
    check_out_folder(out, resume)
    device = resolve_device(train_config.device)
    basis = checkpoint.read_persona(basis_run)
    data_config = data_config or config_from_dict(DataConfig, basis.meta.get("data", {}))
    data_config.validate()
    fitted = _fit_lines(basis, character, shards, lines_file, data_config)
    fit_lines = {info.character_id: lines[: train_config.shots] for info, lines in fitted}
    for info, _ in fitted:
        if not fit_lines[info.character_id] and train_config.shots != 0:
            raise CorpusError(f"{info.character_id} has no training lines to fit on")
    base, tokenizer, model_ref = load_base_model(model_ref or basis.model)
    # start from the average pretrained character: the zero-shot persona when shots is 0
    average = basis.mixture_logits.mean(dim=0, keepdim=True).expand(len(fitted), -1)
    model = PersonaPromptModel.from_weights(base, basis.prompt_config, basis.basis, average, str(basis_run))
    model.basis.requires_grad_(False)
    job = _character_job(model, tokenizer, model_ref, "fit", [info for info, _ in fitted], fit_lines, data_config,
                         train_config, sheet_file, {"basis_run": str(Path(basis_run).resolve()),
                                                    "lines_file": str(lines_file) if lines_file else None})
    return _train(job, train_config, out, resume, device, show_progress)


def tune_prompts(
    shards: Path,
    model_ref: str,
    out: Path,
    characters: Sequence[str],
    data_config: DataConfig = DataConfig(),
    prompt_length: int = SoftPromptConfig.length,
    train_config: TrainConfig = TrainConfig(),
    resume: bool = False,
    show_progress: bool = False,
) -> RunResult:
    """Per-character prompt tuning in the persona module: each character owns one free soft prompt of
    `prompt_length` virtual tokens, trained on its own training lines (at most `shots`) under `fit`'s
    objectives, the speaker term included (characters of one book are each other's rivals).

    The run is a persona run like any other: a basis of one prompt per character (K = characters) mixed by
    fixed one-hot linear weights, so everything that reads persona runs (evaluation, export) reads it.
    """
    for config in (data_config, train_config):
        config.validate()
    out = Path(out)
    check_out_folder(out, resume)
    device = resolve_device(train_config.device)
    corpus = load_corpus(shards, data_config)
    ids = list(dict.fromkeys(corpus.resolve(q) for q in characters))
    if not ids:
        raise CorpusError("give at least one character to tune a prompt for")
    fit_lines = {cid: corpus.split(cid, "train")[: train_config.shots] for cid in ids}
    empty = [cid for cid, lines in fit_lines.items() if not lines and train_config.shots != 0]
    if empty:
        raise CorpusError(f"{', '.join(empty)} has no training lines to tune a prompt on")
    base, tokenizer, model_ref = load_base_model(model_ref)
    prompt_config = SoftPromptConfig(k=len(ids), length=prompt_length, mixture="linear")
    prompt_config.validate()
    model = PersonaPromptModel(base, prompt_config, len(ids))
    model.initialise_basis(tokenizer)  # each character's prompt: embeddings of its own sampled word tokens
    with torch.no_grad():
        model.personas.mixture_logits.copy_(torch.eye(len(ids)))
    model.personas.requires_grad_(False)
    job = _character_job(model, tokenizer, model_ref, "prompts", [corpus.characters[c] for c in ids], fit_lines,
                         data_config, train_config, None, {"shards": str(Path(shards).resolve())})
    return _train(job, train_config, out, resume, device, show_progress)


def _character_job(model: PersonaPromptModel, tokenizer, model_ref: str, kind: str, infos: list[CharacterInfo],
                   fit_lines: dict[str, list[Utterance]], data_config: DataConfig, train_config: TrainConfig,
                   sheet_file: Path | None, meta: dict[str, Any]) -> TrainingJob:
    """The training job of characters fitted on their own lines (`fit`, `tune_prompts`)."""
    budget = token_budget(data_config, model.config.length, max_positions(model.base), train_config.objective != "nll")
    cache = TokenCache(tokenizer, data_config.token_cache)
    index = {info.character_id: i for i, info in enumerate(infos)}
    examples = encode_examples([u for lines in fit_lines.values() for u in lines], index, cache, budget)
    teacher = None
    if train_config.objective != "nll":
        sheets = [_read_sheet(sheet_file) if sheet_file else
                  character_sheet(info, fit_lines[info.character_id], data_config.sheet_lines) for info in infos]
        teacher = _teacher(model, cache, sheets, budget.sheet)
    cache.save()
    run = PersonaRun(
        model.config, [i.character_id for i in infos], [i.name for i in infos], model_ref, kind,
        model.basis.prompts, model.personas.mixture_logits,
        meta={"data": config_to_dict(data_config), "train": config_to_dict(train_config), **meta,
              "characters": _character_meta(infos), "shots": {cid: len(lines) for cid, lines in fit_lines.items()}},
    )
    return TrainingJob(model, examples, teacher, tokenizer.pad_token_id, run, book_groups(infos))


def _fit_lines(
    basis: PersonaRun, character: str | Sequence[str] | None, shards: Path | None, lines_file: Path | None,
    data_config: DataConfig,
) -> list[tuple[CharacterInfo, list[Utterance]]]:
    queries = [character] if isinstance(character, str) else list(character or ())
    if lines_file is not None:
        if len(queries) != 1:
            raise CorpusError("--lines needs one --character NAME, the display name of the new character")
        return [lines_from_text_file(lines_file, queries[0])]
    if not queries:
        raise CorpusError("give --character (a corpus character) or --lines FILE with --character NAME")
    shards = shards or basis.meta.get("shards")
    if not shards:
        raise CorpusError("the basis run records no shard folder; pass --shards")
    corpus = load_corpus(Path(shards), data_config)
    ids = list(dict.fromkeys(corpus.resolve(q) for q in queries))
    return [(corpus.characters[cid], corpus.split(cid, "train")) for cid in ids]


def _read_sheet(path: Path) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read character sheet {path}: {exc}") from exc
    if not text.strip():
        raise CorpusError(f"character sheet {path} is empty")
    return text.rstrip() + "\n\n"


def _restore(job: TrainingJob, optimizer: torch.optim.Optimizer, out: Path) -> int:
    saved, optimizer_state, rng = checkpoint.read_checkpoint(checkpoint.latest_checkpoint(out))
    model = job.model
    if saved.character_ids != job.run.character_ids or saved.basis.shape != model.basis.prompts.shape:
        raise CorpusError(f"the checkpoint in {out} was made for other characters or another K/L; cannot resume")
    model.load_weights(saved.basis, saved.mixture_logits, str(out))
    optimizer.load_state_dict(optimizer_state)
    checkpoint.restore_rng(rng)
    checkpoint.truncate_metrics(out, saved.step)
    return saved.step


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[tps]:,.0f} tok/s"),
        TimeRemainingColumn(), disable=not enabled,
    )


def _snapshot(job: TrainingJob, step: int) -> PersonaRun:
    run = job.run
    return PersonaRun(run.prompt_config, run.character_ids, run.character_names, run.model, run.kind,
                      job.model.basis.prompts, job.model.personas.mixture_logits, step, run.meta)


@dataclass
class StepStats:
    """One optimizer step's mean loss, its parts, and the tokens it read."""

    loss: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    tokens: int = 0


def _optimizer_step(accelerator: Accelerator, wrapped, lm_head, optimizer, batches, job: TrainingJob,
                    config: TrainConfig) -> StepStats:
    """Accumulate gradients over `grad_accumulation` micro-batches (synchronising only on the last), then step."""
    stats, accumulation = StepStats(), config.grad_accumulation
    for micro in range(accumulation):
        batch = next(batches).to(accelerator.device)
        sync = contextlib.nullcontext() if micro == accumulation - 1 else accelerator.no_sync(wrapped)
        rivals = (sample_rivals(batch.character_idx, job.groups, config.speaker_rivals)
                  if config.speaker_weight > 0 else None)
        with sync, accelerator.autocast():
            loss, parts = persona_loss(wrapped, lm_head, batch, config.objective, config.kl_weight, job.teacher,
                                       rivals, config.speaker_weight)
            accelerator.backward(loss / accumulation)
        stats.loss += float(loss.detach()) / accumulation
        stats.tokens += batch.n_tokens * accelerator.num_processes
        for name, value in parts.items():
            stats.parts[name] = stats.parts.get(name, 0.0) + value / accumulation
    with untouched_rows_kept(job.model.personas.mixture_logits):
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return stats


@contextlib.contextmanager
def untouched_rows_kept(logits: torch.nn.Parameter) -> Iterator[None]:
    """Around an optimizer step: rows of the mixture logits with no gradient (characters in no batch of the
    step, as line or rival, on any process) keep their values. Adam's stale momentum would otherwise keep
    moving a character for steps after its last lines, far more than its lines moved it (lazy Adam)."""
    if logits.grad is None:
        yield
        return
    idle = logits.grad.abs().sum(dim=1) == 0
    kept = logits.detach()[idle].clone()
    yield
    with torch.no_grad():
        logits[idle] = kept


def _accelerator(device: str) -> Accelerator:
    """An Accelerator on `device`, bf16 autocast on CUDA. Accelerate keeps its device and precision in
    process-wide state; outside a multi-process launch each run starts it afresh, so a CUDA run after a
    CPU run in the same process (a notebook, the tests) gets CUDA and bf16."""
    if PartialState._shared_state and PartialState().num_processes == 1:
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=device == "cpu", mixed_precision="bf16" if device == "cuda" else "no")


def _train(
    job: TrainingJob, config: TrainConfig, out: Path, resume: bool, device: str, show_progress: bool
) -> RunResult:
    accelerator = _accelerator(device)
    torch.manual_seed(config.seed)
    model = job.model
    groups = [{"params": [p for p in module.parameters() if p.requires_grad], "lr": lr}
              for module, lr in ((model.basis, config.lr), (model.personas, config.mixture_lr or config.lr))]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, weight_decay=config.weight_decay)
    start = _restore(job, optimizer, out) if resume else 0
    lm_head = model.base.get_output_embeddings()
    per_step = config.grad_accumulation * accelerator.num_processes
    sampler = BucketBatchSampler([len(e) for e in job.examples], config.batch_size, config.seed,
                                 config.steps * per_step, start * per_step)
    loader = DataLoader(ExampleDataset(job.examples), batch_sampler=sampler, collate_fn=partial(collate, pad_id=job.pad_id))
    wrapped, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    result = RunResult(out, start, [], job.run.character_ids)
    batches = iter(loader)
    wrapped.train()
    with _progress(show_progress and accelerator.is_main_process) as progress:
        task = progress.add_task(job.run.kind, total=config.steps, completed=start, loss=float("nan"), tps=0.0)
        for done in range(start + 1, config.steps + 1) if job.examples else ():
            began = time.perf_counter()
            stats = _optimizer_step(accelerator, wrapped, lm_head, optimizer, batches, job, config)
            tokens_per_s = stats.tokens / (time.perf_counter() - began)
            result.losses.append(stats.loss)
            result.step = done
            progress.update(task, completed=done, loss=stats.loss, tps=tokens_per_s)
            if accelerator.is_main_process:
                out.mkdir(parents=True, exist_ok=True)
                if done % config.log_every == 0 or done == config.steps:
                    checkpoint.append_metrics(out, {"step": done, "loss": stats.loss, **stats.parts,
                                                    "tokens": stats.tokens, "tokens_per_s": tokens_per_s, "lr": config.lr})
                if done % config.checkpoint_every == 0 or done == config.steps:
                    checkpoint.write_checkpoint(out, _snapshot(job, done), optimizer)
            accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        checkpoint.write_persona(out, _snapshot(job, result.step))
    accelerator.wait_for_everyone()
    return result
