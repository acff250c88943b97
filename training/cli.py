"""`training` command line: parses arguments, prints, sets exit codes; the work lives in the modules."""

from __future__ import annotations

import typer
from rich.console import Console

from corpus.errors import run_cli

app = typer.Typer(
    help="Learn soft-prompt personas from corpus shards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def main() -> None:
    """Entry point of the `training` console script."""
    run_cli(app)


if __name__ == "__main__":
    main()
