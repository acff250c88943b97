"""`corpus` command line: parses arguments, prints, sets exit codes; the work lives in the stage modules."""

from __future__ import annotations

import typer
from rich.console import Console

from corpus.errors import run_cli

app = typer.Typer(
    help="Build character-persona corpora from public-domain novels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def main() -> None:
    """Entry point of the `corpus` console script."""
    run_cli(app)


if __name__ == "__main__":
    main()
