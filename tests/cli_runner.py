"""Run a console script's `main()` in this process (the console script's code path, no start-up cost)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

import pytest


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run_main(
    main: Callable[[], None], argv: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Outcome:
    """Call `main()` with `argv` as sys.argv; its exit code and captured output."""
    monkeypatch.setattr(sys, "argv", argv)
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def assert_one_line_error(result: Outcome | subprocess.CompletedProcess, expected: str) -> None:
    """A non-zero exit with exactly one `error: ...` line on stderr that contains `expected`, no traceback."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
