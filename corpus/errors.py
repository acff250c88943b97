"""The one exception type users can cause, and the CLI wrapper that reports it in one line."""

from __future__ import annotations

import sys
from typing import Callable


class CorpusError(Exception):
    """A problem the user can act on (bad input, missing file, unknown id, ...)."""


def run_cli(app: Callable[[], object], errors: tuple[type[BaseException], ...] = (CorpusError,)) -> None:
    """Run a typer app; report the project's errors as one stderr line and a non-zero exit."""
    try:
        app()
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
