"""Checks of the `training` commands' arguments that need neither torch nor transformers.

The CLI runs them before it imports the trainer (10-30 s of imports), so a wrong path or a malformed
option is reported at once. The library functions check the same things again for their own callers.
"""

from __future__ import annotations

from pathlib import Path

from corpus.errors import CorpusError


def parse_blend(spec: str) -> list[tuple[str, float]]:
    """"A=0.7,B=0.3" -> [("A", 0.7), ("B", 0.3)]; CorpusError when malformed or not positive."""
    parts = []
    for item in spec.split(","):
        name, sep, share = item.rpartition("=")
        try:
            value = float(share)
        except ValueError:
            value = float("nan")
        if not sep or not name.strip() or not value >= 0:
            raise CorpusError(f"--blend wants NAME=WEIGHT pairs separated by commas, got {item!r}")
        parts.append((name.strip(), value))
    if sum(v for _, v in parts) <= 0:
        raise CorpusError("--blend weights must not all be zero")
    return parts


def require_file(path: Path | None, what: str) -> None:
    """CorpusError unless `path` (when given) is a readable file; `what` names it ("lines file")."""
    if path is None:
        return
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"cannot read {what} {path}: {'it is a folder' if path.is_dir() else 'no such file'}")


def require_one_persona(character: str | None, blend: str | None) -> None:
    """CorpusError unless exactly one of --character and --blend is given (and the blend parses)."""
    if (character is None) == (blend is None):
        raise CorpusError("give exactly one of --character or --blend")
    if blend is not None:
        parse_blend(blend)
