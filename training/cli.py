"""`training` command line: parses arguments, prints, sets exit codes; the work lives in the modules."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console

from corpus.errors import run_cli
from corpus.shards.parquet import utterance_shards
from training.arguments import require_file, require_one_persona
from training.config import DataConfig, GenerateConfig, SoftPromptConfig, TrainConfig, help_of
from training.run_files import check_out_folder, require_finished_run

app = typer.Typer(
    help="Learn soft-prompt personas from corpus shards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def _opt(config_class: type, name: str, *flags: str):
    """A typer option whose default and help come from the config dataclass field `name`."""
    return typer.Option(getattr(config_class(), name), *flags, help=help_of(config_class, name))


# TrainConfig fields that pretrain and fit both take as options (fit adds --shots).
TRAIN_OPTIONS = ("objective", "kl_weight", "lr", "mixture_lr", "weight_decay", "steps", "batch_size",
                 "grad_accumulation", "seed", "device", "checkpoint_every", "log_every", "speaker_weight",
                 "speaker_rivals")


def with_train_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` (which takes `train: TrainConfig`) with one option per TRAIN_OPTIONS field instead, gathered
    into that TrainConfig: the options are declared once for every command that trains."""
    defaults = TrainConfig()
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "train"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=_opt(TrainConfig, name),
                               annotation=type(getattr(defaults, name))) for name in TRAIN_OPTIONS]

    @functools.wraps(command)
    def run(**options) -> None:
        train = TrainConfig(**{name: options.pop(name) for name in TRAIN_OPTIONS})
        command(train=train, **options)

    run.__signature__ = inspect.Signature([*own, *added])  # type: ignore[attr-defined]
    run.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != "train"},
                           **{p.name: p.annotation for p in added}}
    return run


@app.command()
@with_train_options
def pretrain(
    shards: Path = typer.Option(..., help="folder of persona shards written by `corpus attribute`"),
    model: str = typer.Option(..., help="HF causal LM id, local folder, .gguf file, or gemma-3-270m (kept frozen)"),
    out: Path = typer.Option(..., help="run folder to create (persona, checkpoints, metrics.jsonl)"),
    k: int = _opt(SoftPromptConfig, "k"),
    length: int = _opt(SoftPromptConfig, "length"),
    mixture: str = _opt(SoftPromptConfig, "mixture"),
    temperature: float = _opt(SoftPromptConfig, "temperature"),
    init_seed: int = _opt(SoftPromptConfig, "init_seed"),
    min_confidence: float = _opt(DataConfig, "min_confidence"),
    min_lines: int = _opt(DataConfig, "min_lines"),
    books: str = typer.Option("", help="comma-separated book ids (empty: all books in the shard folder)"),
    heldout_fraction: float = _opt(DataConfig, "heldout_fraction"),
    split_seed: int = _opt(DataConfig, "split_seed"),
    context_tokens: int = _opt(DataConfig, "context_tokens"),
    utterance_tokens: int = _opt(DataConfig, "utterance_tokens"),
    sheet_tokens: int = _opt(DataConfig, "sheet_tokens"),
    token_cache: Optional[str] = _opt(DataConfig, "token_cache"),
    resume: bool = typer.Option(False, help="continue the run in --out from its latest checkpoint"),
    train: TrainConfig = TrainConfig(),
) -> None:
    """Learn a shared basis of K soft prompts and every eligible character's mixture weights."""
    data = DataConfig(
        min_confidence=min_confidence, min_lines=min_lines, books=tuple(b for b in books.split(",") if b),
        heldout_fraction=heldout_fraction, split_seed=split_seed, context_tokens=context_tokens,
        utterance_tokens=utterance_tokens, sheet_tokens=sheet_tokens, token_cache=token_cache,
    )
    prompt = SoftPromptConfig(k=k, length=length, mixture=mixture, temperature=temperature, init_seed=init_seed)
    for config in (data, prompt, train):
        config.validate()
    utterance_shards(shards)
    check_out_folder(out, resume)
    from training.trainer import pretrain as run_pretrain  # torch and transformers: only once the arguments are good

    result = run_pretrain(shards, model, out, data, prompt, train, resume=resume, show_progress=True)
    console.print(f"pretrained {len(result.character_ids)} characters for {result.step} steps -> {result.out}")


@app.command()
@with_train_options
def fit(
    basis: Path = typer.Option(..., help="a pretrain run folder whose basis stays frozen"),
    out: Path = typer.Option(..., help="run folder to create for the fitted character"),
    character: Optional[list[str]] = typer.Option(
        None, help="character id or name; repeat it to fit several in one run (with --lines: the new name)"),
    shards: Optional[Path] = typer.Option(None, help="shard folder (default: the one the basis was trained on)"),
    lines: Optional[Path] = typer.Option(None, help="UTF-8 file of a new character's lines, one per line"),
    sheet: Optional[Path] = typer.Option(None, help="your own character sheet for the KL teacher (text file)"),
    shots: Optional[int] = _opt(TrainConfig, "shots"),
    model: Optional[str] = typer.Option(None, help="base model (default: the basis run's)"),
    resume: bool = typer.Option(False, help="continue the run in --out from its latest checkpoint"),
    train: TrainConfig = TrainConfig(),
) -> None:
    """Learn the K mixture weights of one or several characters from a few lines each, the basis frozen."""
    train = dataclasses.replace(train, shots=shots)
    train.validate()
    require_finished_run(basis)
    check_out_folder(out, resume)
    if shards is not None:
        utterance_shards(shards)
    require_file(lines, "lines file")
    require_file(sheet, "character sheet")
    from training.trainer import fit as run_fit  # torch and transformers: only once the arguments are good

    result = run_fit(basis, out, character=character, shards=shards, lines_file=lines, sheet_file=sheet,
                     train_config=train, model_ref=model, resume=resume, show_progress=True)
    console.print(f"fitted {', '.join(result.character_ids)} for {result.step} steps -> {result.out}")


@app.command()
def export(
    run: Path = typer.Option(..., help="a pretrain or fit run folder"),
    character: str = typer.Option(..., help="character id or name in that run"),
    out: Path = typer.Option(..., help="folder for adapter_config.json + adapter_model.safetensors"),
    model: Optional[str] = typer.Option(None, help="base model (default: the run's)"),
) -> None:
    """Write a character's persona prompt as a PEFT PromptTuning adapter."""
    require_finished_run(run)
    from training.export import export_adapter

    console.print(f"PEFT adapter -> {export_adapter(run, character, out, model)}")


@app.command()
def generate(
    run: Path = typer.Option(..., help="a pretrain or fit run folder"),
    prompt: str = typer.Option(..., help="the narrative before the line the character says"),
    character: Optional[str] = typer.Option(None, help="character id or name in that run"),
    blend: Optional[str] = typer.Option(None, help='interpolated personas, e.g. "A=0.7,B=0.3"'),
    max_new_tokens: int = _opt(GenerateConfig, "max_new_tokens"),
    temperature: float = _opt(GenerateConfig, "temperature"),
    top_p: float = _opt(GenerateConfig, "top_p"),
    seed: int = _opt(GenerateConfig, "seed"),
    device: str = _opt(GenerateConfig, "device"),
    model: Optional[str] = typer.Option(None, help="base model (default: the run's)"),
) -> None:
    """Say the character's (or the blend's) next line after --prompt."""
    require_one_persona(character, blend)
    require_finished_run(run)
    from training.generate import generate_line

    config = GenerateConfig(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed, device=device)
    console.print(generate_line(run, prompt, character, blend, config, model))


@app.command()
def evaluate(
    run: Path = typer.Option(..., help="a pretrain run folder"),
    out: Path = typer.Option(..., help="JSON report to write"),
    shards: Optional[Path] = typer.Option(None, help="shard folder (default: the one the run was trained on)"),
    split: Optional[str] = typer.Option(None, help="line split to score: test or validation (default: test)"),
    max_lines: Optional[int] = typer.Option(None, help="at most this many lines per character (default: 24; 0: all)"),
    bias_lines: Optional[int] = typer.Option(None, help="validation lines per character that estimate each persona's "
                                             "bias for the debiased speaker-ID (default: 8; 0: off)"),
    few_shot: bool = typer.Option(False, help="also fit the run's held-out characters at each --shots level"),
    shots: Optional[str] = typer.Option(None, help="few-shot levels, e.g. 0,8,32,128,all (the default)"),
    steps: int = _opt(TrainConfig, "steps"),
    lr: float = _opt(TrainConfig, "lr"),
    batch_size: int = _opt(TrainConfig, "batch_size"),
    device: str = _opt(TrainConfig, "device"),
    work: Optional[Path] = typer.Option(None, help="folder for the few-shot fits (default: RUN/few-shot)"),
    model: Optional[str] = typer.Option(None, help="base model (default: the run's)"),
) -> None:
    """Held-out NLL, speaker identification (and few-shot curve) of a run's personas against no prompt."""
    import json

    require_finished_run(run)
    if shards is not None:
        utterance_shards(shards)
    from corpus.shards.parquet import atomic_write_bytes
    from training.config import parse_shots
    from training.evaluate import EvalConfig, evaluate_run

    overrides = {"split": split, "max_lines": max_lines, "bias_lines": bias_lines,
                 "shots": parse_shots(shots) if shots else None}
    config = EvalConfig(**{k: v for k, v in overrides.items() if v is not None})
    train = TrainConfig(lr=lr, steps=steps, batch_size=batch_size, device=device)
    train.validate()
    report = evaluate_run(run, shards, config, few_shot, train, work, model)
    atomic_write_bytes(out, json.dumps(report, indent=2).encode())
    for row in report["methods"] + report.get("few_shot", []):
        sid = row["speaker_id"]
        label = row["method"] + (f" ({row['shots']} shots)" if "shots" in row else "")
        debiased = row.get("speaker_id_debiased", {}).get("accuracy")
        console.print(f"{label}: NLL/token {row['nll_per_token']:.3f}, perplexity {row['perplexity']:.1f}, "
                      f"speaker-ID accuracy {sid.get('accuracy', float('nan')):.3f} "
                      f"(chance {sid.get('chance_accuracy', float('nan')):.3f}), MRR {sid.get('mrr', float('nan')):.3f}"
                      + (f", debiased {debiased:.3f}" if debiased is not None else ""))
    console.print(f"report -> {out}")


def main() -> None:
    """Entry point of the `training` console script."""
    run_cli(app)


if __name__ == "__main__":
    main()
