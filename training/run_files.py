"""The files of a persona run folder, and the checks on them that need no torch.

`training.checkpoint` reads and writes these files; the CLI checks a run folder with the functions here
before it imports torch and transformers, so a wrong path is reported at once.
"""

from __future__ import annotations

from pathlib import Path

from corpus.errors import CorpusError

PERSONA_WEIGHTS = "persona.safetensors"
PERSONA_CONFIG = "persona.json"  # written last: it marks the run as finished
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
LATEST = "latest"  # CHECKPOINTS/LATEST names the latest complete checkpoint folder


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The latest complete checkpoint folder of a run, or None."""
    pointer = Path(run_dir) / CHECKPOINTS / LATEST
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return folder if folder.is_dir() else None


def require_finished_run(folder: Path) -> None:
    """CorpusError unless `folder` holds a finished run (its persona.json)."""
    folder = Path(folder)
    if not (folder / PERSONA_CONFIG).is_file():
        hint = " (it has checkpoints: finish it with --resume)" if (folder / CHECKPOINTS / LATEST).exists() else ""
        raise CorpusError(f"no finished persona run in {folder}: {PERSONA_CONFIG} is missing{hint}")


def check_out_folder(out: Path, resume: bool) -> None:
    """CorpusError when `out` holds a run and `resume` is off, or `resume` is on and there is nothing to resume."""
    out = Path(out)
    has_run = (out / PERSONA_CONFIG).exists() or (out / CHECKPOINTS).exists()
    if resume and latest_checkpoint(out) is None:
        raise CorpusError(f"nothing to resume in {out}: it has no checkpoint")
    if not resume and has_run:
        raise CorpusError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
