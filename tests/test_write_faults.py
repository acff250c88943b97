"""A full disk or an unwritable target while writing shards or a release: one clear error line, no partial
file, and the previous complete output untouched.

A full disk is produced without privileges by a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored, so a
write past it fails with EFBIG as a full disk fails with ENOSPC); an unwritable target by a file where a
folder is expected (chmod alone does not stop root, which runs these tests in CI).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.attribute_fixtures import DATA, harbour_text, write_fetched_book
from tests.release_fixtures import FakeBook, write_run

resource = pytest.importorskip("resource")  # POSIX only
signal = pytest.importorskip("signal")
ROOT = Path(__file__).resolve().parents[1]
FILE_LIMIT = 4096  # bytes; every shard and release file here is larger


def _limited(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return apply


def _corpus(*args: str, file_limit: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("HF_TOKEN", None)
    return subprocess.run([sys.executable, "-c", "from corpus.cli import main; main()", *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(file_limit) if file_limit else None)


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def _can_limit_file_size(tmp_path: Path) -> bool:
    code = (f"import os; fd = os.open({str(tmp_path / 'probe')!r}, os.O_WRONLY | os.O_CREAT); "
            f"os.write(fd, bytes({FILE_LIMIT})); os.write(fd, b'x')")
    return subprocess.run([sys.executable, "-c", code], preexec_fn=_limited(FILE_LIMIT)).returncode != 0


def test_disk_full_while_writing_shards_keeps_the_previous_run(tmp_path: Path) -> None:
    if not _can_limit_file_size(tmp_path):
        pytest.skip("this system does not enforce RLIMIT_FSIZE")
    books, out = tmp_path / "books", tmp_path / "run"
    write_fetched_book(books, 101, harbour_text())
    write_fetched_book(books, 102, (DATA / "attribute" / "garden.txt").read_text(encoding="utf-8"))
    assert _corpus("attribute", books, "--out", out).returncode == 0
    before = _snapshot(out)
    write_fetched_book(books, 101, harbour_text().replace("Thomas", "Tom"))  # changed: its shard is redone
    result = _corpus("attribute", books, "--out", out, file_limit=FILE_LIMIT)
    _one_error_line(result, "cannot write", "101.utterances.parquet", "File too large")
    assert _snapshot(out) == before  # no temp file left, the previous shards and run tables unchanged


@pytest.mark.parametrize("fault", ["disk full", "file where the folder goes"])
def test_a_release_that_cannot_be_written_keeps_the_previous_release(fault: str, tmp_path: Path) -> None:
    if fault == "disk full" and not _can_limit_file_size(tmp_path):
        pytest.skip("this system does not enforce RLIMIT_FSIZE")
    run = write_run(tmp_path / "shards", [FakeBook(b, f"Book {b}", "An Author", lines=60) for b in ("1", "2", "3")])
    out = tmp_path / "site" / "release"
    args = ("release", run, "--repo-id", "someone/personas", "--dry-run", "--out", out)
    assert _corpus(*args).returncode == 0
    before = _snapshot(tmp_path / "site")
    if fault == "disk full":
        result = _corpus(*args, file_limit=FILE_LIMIT)
        _one_error_line(result, "cannot write", "File too large")
        assert _snapshot(tmp_path / "site") == before  # the half-built folder is gone, the old release intact
    else:
        blocker = tmp_path / "site" / "not-a-folder"
        blocker.write_bytes(b"a file")
        result = _corpus(*args[:-1], blocker / "release")
        _one_error_line(result, "cannot write", "not-a-folder")
        assert blocker.read_bytes() == b"a file" and _snapshot(out) == {k.split("/", 1)[1]: v for k, v in
                                                                        before.items() if k.startswith("release/")}
