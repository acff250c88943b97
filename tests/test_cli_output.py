"""What the CLIs print for a person at 80 columns: whole names, aliases and headers; option help without noise."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from corpus.cli_progress import BookProgress
from corpus.shards.writer import write_book
from corpus.shards.personas import cast_table
from tests.attribute_fixtures import harbour_attribution, harbour_text, write_fetched_book

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 80


def _run(*args: str) -> str:
    """stdout of a console script run as in a pipe (not a terminal) at WIDTH columns."""
    env = {**os.environ, "COLUMNS": str(WIDTH)}
    result = subprocess.run([sys.executable, "-c", f"from {args[0]}.cli import main; main()", *args[1:]], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with a character of many long aliases (as Scrooge has), written through the shard writer."""
    attribution = harbour_attribution(harbour_text())
    margaret = dataclasses.replace(attribution.characters[0], aliases=[
        "Margaret", "Meg", "Miss Hale", "Miss Margaret Hale", "Margaret Hale of Helstone", "Young Miss Hale"])
    attribution.characters[0] = margaret
    out = tmp_path_factory.mktemp("run")
    write_book(out, "harbour", harbour_text(), attribution)
    return out


def test_characters_keeps_names_aliases_and_headers_whole_at_80_columns(run_dir: Path) -> None:
    printed = _run("corpus", "characters", str(run_dir))
    lines = printed.splitlines()
    assert all(len(line) <= WIDTH for line in lines) and "…" not in printed
    header = lines[0].split()
    assert header[:2] == ["name", "(aliases)"] and {"lines", "words", "gender", "mentions", "id"} <= set(header)
    rows = cast_table(run_dir, None)
    for row in rows:
        assert any(line.startswith(row["name"]) for line in lines), row["name"]  # a name is never wrapped
        assert re.search(rf"\b{re.escape(row['character_id'])}\s*$", printed, re.M), row["character_id"]
        if row["aliases"]:
            assert _flat("; ".join(row["aliases"])) in _flat(printed)  # aliases wrap but are never cut
    assert any(len(r["aliases"]) == 6 for r in rows)


@pytest.mark.parametrize("command", [("corpus", "characters"), ("corpus", "attribute"), ("training", "fit"),
                                     ("training", "pretrain")])
def test_help_shows_no_type_for_flags(command: tuple[str, str]) -> None:
    printed = _run(*command, "--help")
    assert "--help" in printed and "<bool>" not in printed and "<path>" in printed


def test_shots_help_says_what_it_does() -> None:
    printed = _flat(_run("training", "fit", "--help").replace("│", " "))
    assert "--shots <int> fit on at most this many of each character's training lines (default: all of them)" in printed
    assert "fit only" not in printed and "None" not in printed


def test_off_a_terminal_a_long_run_prints_log_lines_and_a_short_one_stays_quiet() -> None:
    """In CI or behind `| tee` a bar shows nothing for minutes: past the first heartbeat, lines do."""
    output = io.StringIO()
    console = Console(file=output, force_terminal=False, width=WIDTH)
    with BookProgress(console, "attribute", heartbeat=0.2) as progress:
        progress.start(3)
        progress.advance("46 attributed")  # before the first heartbeat: quiet
        time.sleep(0.5)
        progress.advance("43 attributed")
    lines = output.getvalue().splitlines()
    assert lines[0] == "attribute: 1/3 books done, still working [0m00s]", lines
    assert "attribute: 2/3 43 attributed [0m00s]" in lines and not [line for line in lines if "46" in line]
    quiet = io.StringIO()
    with BookProgress(Console(file=quiet, force_terminal=False), "fetch", total=2) as progress:
        progress.advance("46 downloaded")
        progress.advance("43 downloaded")
    assert quiet.getvalue() == ""


def test_on_a_terminal_a_long_book_shows_its_own_progress() -> None:
    """The bar counted whole books and sat at 0/3 for a long one: each book in progress gets its own line."""
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=WIDTH)
    with BookProgress(console, "attribute") as progress:
        progress.start(3)
        progress.step("1342", 256, 2000)
        shown = {task.description: (task.completed, task.total) for task in progress._bar.tasks}
        assert shown["  1342 paragraphs parsed"] == (256, 2000)
        progress.advance("1342 attributed", "1342")
        assert [task.description for task in progress._bar.tasks] == ["1342 attributed"]
