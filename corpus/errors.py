"""The one exception type users can cause, and the CLI wrapper that reports it in one line (and keeps
the commands' --help free of a `<bool>` type beside flags)."""

from __future__ import annotations

import sys
from typing import Callable


class CorpusError(Exception):
    """A problem the user can act on (bad input, missing file, unknown id, ...)."""


def run_cli(app: Callable[[], object], errors: tuple[type[BaseException], ...] = (CorpusError,)) -> None:
    """Run a typer app; report the project's errors as one stderr line and a non-zero exit."""
    _plain_flag_help(app)
    try:
        app()
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


def _plain_flag_help(app: object) -> None:
    """Make the help of a typer app's commands show no `<bool>` type beside flags (--json, --help): they take no value."""
    from typer.core import TyperCommand

    class PlainFlagCommand(TyperCommand):
        def get_params(self, ctx):  # noqa: ANN001, ANN201 (click's signature)
            params = super().get_params(ctx)
            for param in params:
                if getattr(param, "is_flag", False) and param.metavar is None:
                    param.metavar = ""
            return params

    for command in getattr(app, "registered_commands", ()):
        if command.cls in (None, TyperCommand):
            command.cls = PlainFlagCommand
