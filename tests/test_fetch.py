"""`corpus fetch` end to end: embedded sample, HTTP mirror with faults, bad inputs, kill -9 and resume."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock
import requests
from urllib3.util.retry import Retry

from corpus.gutenberg.client import ClientConfig, sha256_file
from corpus.gutenberg.clean import PUBLIC_DOMAIN_USA
from corpus.errors import CorpusError
from corpus.gutenberg.fetch import LOCK_NAME, FetchConfig, fetch_books, load_catalog
from tests.cli_runner import assert_one_line_error, run_main
from bench.gutenberg_server import GutenbergServer, gutenberg_file, write_book, write_catalog

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "gutenberg"
CONTRACT_KEYS = {"gutenberg_id", "title", "author", "language", "release_date", "encoding", "rights", "source_url",
                 "text_sha256", "chapters"}
FAST = ClientConfig(min_delay=0.0, retries=2, backoff_factor=0.01, backoff_jitter=0.01, read_timeout=0.5)


def run_corpus(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture()
def corpus_main(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run the `corpus` entry point in this process."""
    from corpus.cli import main

    return lambda *args: run_main(main, ["corpus", *args], capsys, monkeypatch)


def fast_args(mirror: str, out: Path) -> list[str]:
    return ["--mirror", mirror, "--out", str(out), "--delay", "0", "--retries", "1", "--backoff", "0.01",
            "--timeout", "2"]


def test_fetch_embedded_sample_then_rerun(tmp_path: Path) -> None:
    out = tmp_path / "books"
    first = run_corpus("fetch", "46", "43", "55", *fast_args(str(SAMPLE), out), "--json")
    assert first.returncode == 0, first.stderr
    assert [r["status"] for r in json.loads(first.stdout)] == ["downloaded"] * 3
    for book_id, title in ((46, "A Christmas Carol"), (43, "The Strange Case Of Dr. Jekyll And Mr. Hyde")):
        meta = json.loads((out / f"{book_id}.json").read_text(encoding="utf-8"))
        text = (out / f"{book_id}.txt").read_text(encoding="utf-8")
        assert CONTRACT_KEYS <= set(meta) and meta["gutenberg_id"] == book_id and meta["title"] == title
        assert meta["rights"] == PUBLIC_DOMAIN_USA and meta["language"] == "en" and meta["encoding"] == "utf-8"
        assert meta["text_sha256"] == sha256_file(out / f"{book_id}.txt")
        assert meta["source_url"].startswith("file://")
        assert "PROJECT GUTENBERG" not in text
        assert len(meta["chapters"]) >= 5
        for chapter in meta["chapters"]:
            assert text[chapter["start"]:].startswith(chapter["title"].split(" / ")[0].split()[0])
    carol = json.loads((out / "46.json").read_text(encoding="utf-8"))
    assert carol["chapters"][0]["title"] == "STAVE I: MARLEY'S GHOST"
    again = run_corpus("fetch", "46", "43", "55", *fast_args(str(SAMPLE), out), "--json")
    assert [r["status"] for r in json.loads(again.stdout)] == ["up to date"] * 3


@pytest.fixture()
def faulty_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    write_book(site, 1, gutenberg_file(1, "Flaky Server Book", "Ann Author").encode("utf-8"))
    write_book(site, 2, gutenberg_file(2, "Rate Limited", "Bob Author").encode("utf-8"))
    write_book(site, 3, gutenberg_file(3, "Stalled", "Cy Author").encode("utf-8"))
    write_book(site, 4, gutenberg_file(4, "Cut Short", "Di Author").encode("utf-8"))
    latin = gutenberg_file(5, "Caf\u00e9 Stories", "Ren\u00e9 Author", charset="ISO-8859-1", body_extra=" Caf\u00e9!")
    write_book(site, 5, latin.replace("\u201c", '"').replace("\u201d", '"').encode("latin-1"))
    html = ("<html><head><meta charset='utf-8'><title>Only Html | Project Gutenberg</title></head><body>"
            "<h1>Only Html</h1><h2>by Eve Author</h2>" + "".join(
                f"<h2>CHAPTER {n}</h2>" + "<p>\u201cHello,\u201d said Eve, and the story went on and on. </p>" * 12
                for n in (1, 2)) + "</body></html>")
    write_book(site, 6, html.encode("utf-8"), html=True)
    write_book(site, 7, gutenberg_file(7, "No Charset", "Flo Author", charset=None).replace(
        "\u201c", "\u00ab").encode("latin-1", "replace"))
    write_book(site, 8, b"*** START OF THE PROJECT GUTENBERG EBOOK EMPTY ***\n\n*** END OF THE PROJECT GUTENBERG EBOOK ***\n")
    return site


def test_fetch_over_http_with_faults(faulty_site: Path, tmp_path: Path) -> None:
    faults = {"cache/epub/1/pg1.txt": "500-once", "cache/epub/2/pg2.txt": "429-once",
              "cache/epub/3/pg3.txt": "stall-once", "cache/epub/4/pg4.txt": "truncate-once"}
    out = tmp_path / "books"
    with GutenbergServer(faulty_site, faults=faults, retry_after=1) as server:
        config = FetchConfig(out_dir=out, client=ClientConfig(**{**vars(FAST), "mirror": server.url}))
        results = {r.gutenberg_id: r for r in fetch_books([1, 2, 3, 4, 5, 6, 7, 8, 9], config)}
        assert [results[i].status for i in range(1, 7)] == ["downloaded"] * 6
        assert results[5].title == "Caf\u00e9 Stories"
        assert "\u00e9" in (out / "5.txt").read_text(encoding="utf-8")
        assert json.loads((out / "5.json").read_text())["encoding"] == "iso8859-1"
        assert results[6].source == "html" and results[6].author == "Eve Author" and results[6].chapters == 2
        assert "declares no character set" in results[7].error
        assert "no text between" in results[8].error
        assert "not on the mirror" in results[9].error and "\n" not in results[9].error
        for failed in (7, 8, 9):
            assert results[failed].status == "failed" and not (out / f"{failed}.json").exists()
        assert not list(tmp_path.rglob("*.part"))
        index = json.loads((out / ".cache" / "index.json").read_text())
        for rel, entry in index.items():
            assert sha256_file(out / ".cache" / rel) == entry["sha256"] and entry["etag"]
        before = len(server.log)
        fetch_books([1, 2, 3, 4, 5, 6], config)
        assert len(server.log) == before  # complete books: no request at all
        refreshed = fetch_books([1], FetchConfig(out_dir=out, refresh=True, client=config.client))
        assert refreshed[0].status == "cleaned from cache"  # 304 Not Modified
        assert server.log[-1][2].get("If-None-Match")
        (out / "2.json").unlink()
        assert fetch_books([2], config)[0].status == "cleaned from cache"  # raw file verified, no request
        assert server.requests_for("cache/epub/2/pg2.txt") == 2  # the 429 and the first download
        (out / ".cache" / "cache/epub/2/pg2.txt").write_bytes(b"tampered")
        (out / "2.json").unlink()
        assert fetch_books([2], config)[0].status == "downloaded"  # hash mismatch: fetched again


def test_catalog_from_mirror_then_bundled_fallback(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_catalog(site, [(1, "Mirror Book", "Mirror, Ann")])
    with GutenbergServer(site) as server:
        client = ClientConfig(**{**vars(FAST), "mirror": server.url})
        entries, note = load_catalog(client, tmp_path / "cache")
        assert [e.id for e in entries] == [1] and server.url in note
        cached, note = load_catalog(client, tmp_path / "cache")
        assert "(cached)" in note and server.requests_for("cache/epub/feeds/pg_catalog.csv") == 1
        entries, note = load_catalog(client, tmp_path / "other-cache-without-copy", max_age_days=0)
        assert [e.id for e in entries] == [1]
    entries, note = load_catalog(ClientConfig(mirror=str(SAMPLE)), tmp_path / "c2")
    assert note.startswith("note: the mirror has no cache/epub/feeds/pg_catalog.csv") and len(entries) >= 3


def test_catalog_falls_back_at_once_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network (a refused connection here; an unknown host name behaves the same): the bundled catalog, with
    no retry backoff (the default 5 retries used to stall `corpus search` 31 s) and a short connect timeout."""
    waits, timeouts = [], []
    monkeypatch.setattr(Retry, "sleep", lambda self, response=None: waits.append(self.get_backoff_time()))
    real_get = requests.Session.get
    monkeypatch.setattr(requests.Session, "get",
                        lambda self, url, **kw: timeouts.append(kw["timeout"]) or real_get(self, url, **kw))
    entries, note = load_catalog(ClientConfig(mirror=f"http://127.0.0.1:{_closed_port()}"), tmp_path / "cache")
    assert "connection refused" in note and "bundled catalog" in note and len(entries) >= 3
    assert waits == [] and timeouts == [(FetchConfig.catalog_connect_timeout, ClientConfig.read_timeout)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_bad_inputs_give_one_line(tmp_path: Path, corpus_main) -> None:
    out = tmp_path / "books"
    assert_one_line_error(corpus_main("fetch", "abc", *fast_args(str(SAMPLE), out)), "not a Gutenberg book id: 'abc'")
    assert_one_line_error(corpus_main("fetch", "999999", *fast_args(str(SAMPLE), out)), "book 999999 is not on the mirror")
    assert_one_line_error(corpus_main("fetch", "46", *fast_args(f"http://127.0.0.1:{_closed_port()}", out)),
                          "cannot reach the mirror")
    assert_one_line_error(corpus_main("fetch", "46", *fast_args(str(tmp_path / "none"), out)), "mirror folder not found")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(corpus_main("fetch", "46", *fast_args(str(SAMPLE), blocker / "out")), "is not writable")
    assert_one_line_error(corpus_main("fetch", "--query", "x", "--catalog", str(tmp_path / "no.csv"),
                                     *fast_args(str(SAMPLE), out)), "catalog not found")
    assert_one_line_error(corpus_main("fetch", *fast_args(str(SAMPLE), out)), "nothing to fetch")
    assert_one_line_error(corpus_main("search", "zzzz", "--catalog", str(tmp_path / "no.csv")), "catalog not found")
    site = tmp_path / "site"
    write_book(site, 7, gutenberg_file(7, "Caf\u00e9", "Flo", charset=None).encode("latin-1", "replace"))
    write_book(site, 8, b"*** START OF THE PROJECT GUTENBERG EBOOK E ***\n\n*** END OF THE PROJECT GUTENBERG EBOOK ***\n")
    write_book(site, 9, gutenberg_file(9, "Fine", "Gus").encode("utf-8"))
    assert_one_line_error(corpus_main("fetch", "7", *fast_args(str(site), out)), "declares no character set")
    assert_one_line_error(corpus_main("fetch", "8", *fast_args(str(site), out)), "book 8: the book has no text")
    mixed = corpus_main("fetch", "9", "8", *fast_args(str(site), out))
    assert_one_line_error(mixed, "1 of 2 books failed; first: book 8")
    assert (out / "9.json").is_file() and not (out / "8.json").exists()


def test_search_command(corpus_main) -> None:
    result = corpus_main("search", "author:dickens", "--mirror", str(SAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    assert {46, 98, 766, 1400} == {row["id"] for row in json.loads(result.stdout)}
    assert "bundled catalog" in result.stderr
    table = corpus_main("search", "carol", "--mirror", str(SAMPLE))
    assert "A Christmas Carol" in table.stdout and "Charles Dickens" in table.stdout


BOOKS = 50


def test_kill_minus_nine_then_resume(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for book_id in range(1, BOOKS + 1):
        write_book(site, book_id, gutenberg_file(book_id, f"Story {book_id}", "Charles Dickens").encode("utf-8"))
    write_catalog(site, [(i, f"Story {i}", "Dickens, Charles, 1812-1870") for i in range(1, BOOKS + 1)])
    out = tmp_path / "books"
    with GutenbergServer(site, response_delay=0.03) as server:
        args = ["fetch", "--query", "author:Dickens", "--limit", str(BOOKS), *fast_args(server.url, out)]
        proc = subprocess.Popen([sys.executable, "-m", "corpus.cli", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list(out.glob("*.json"))) < BOOKS // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()  # SIGKILL: no cleanup code runs
        proc.wait()
        done = {int(p.stem) for p in out.glob("*.json")}
        assert BOOKS // 4 <= len(done) < BOOKS
        killed_at = len(server.log)
        rerun = run_corpus(*args, "--json")
        assert rerun.returncode == 0, rerun.stderr
        second_run = {path for _, path, _ in server.log[killed_at:]}
    statuses = {r["gutenberg_id"]: r["status"] for r in json.loads(rerun.stdout)}
    assert len(statuses) == BOOKS and all(statuses[i] == "up to date" for i in done)
    assert not any(f"cache/epub/{i}/pg{i}.txt" in second_run for i in done)
    for book_id in range(1, BOOKS + 1):
        meta = json.loads((out / f"{book_id}.json").read_text(encoding="utf-8"))
        assert meta["text_sha256"] == sha256_file(out / f"{book_id}.txt")
    assert not list(tmp_path.rglob("*.part"))


def _empty_folders(root: Path) -> list[Path]:
    return [d for d in root.rglob("*") if d.is_dir() and not any(d.iterdir())]


def test_a_book_the_mirror_lacks_leaves_no_empty_folders(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_book(site, 2, gutenberg_file(2, "Two", "Ann Author").encode("utf-8"))
    with GutenbergServer(site) as server:
        for mirror in (server.url, str(site)):
            out = tmp_path / ("http" if mirror.startswith("http") else "folder")
            config = FetchConfig(out_dir=out, client=ClientConfig(**{**vars(FAST), "mirror": mirror}))
            [result] = fetch_books([99999999], config)
            assert result.status == "failed" and "not on the mirror" in result.error
            assert _empty_folders(out) == []


def test_a_second_fetch_of_the_same_folder_waits_for_the_first(tmp_path: Path) -> None:
    out = tmp_path / "books"
    out.mkdir()
    config = FetchConfig(out_dir=out, client=ClientConfig(mirror=str(SAMPLE)), lock_timeout=0.2)
    holding = threading.Event()

    def other_fetch() -> None:  # holds the folder's lock for 2 s, as a running fetch does
        with FileLock(out.resolve() / LOCK_NAME):
            holding.set()
            time.sleep(2.0)

    other = threading.Thread(target=other_fetch)
    other.start()
    assert holding.wait(10)
    with pytest.raises(CorpusError, match="another `corpus fetch` is still writing"):
        fetch_books([46], config)
    waited: list[Path] = []
    [result] = fetch_books([46], FetchConfig(**{**vars(config), "lock_timeout": 60.0}), on_wait=waited.append)
    other.join()
    assert result.status == "downloaded" and waited == [out.resolve()]


def test_two_fetch_processes_into_one_folder_both_end_with_complete_books(tmp_path: Path) -> None:
    out = tmp_path / "books"
    command = [sys.executable, "-c", "from corpus.cli import main; main()", "fetch", "46", "43", "55", "--json",
               *fast_args(str(SAMPLE), out)]
    processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    statuses = [sorted(r["status"] for r in json.loads(stdout)) for stdout, _ in outputs]
    assert sorted(statuses) == [["downloaded"] * 3, ["up to date"] * 3]  # the second waited, then found them done
    for book_id in (46, 43, 55):
        meta = json.loads((out / f"{book_id}.json").read_text(encoding="utf-8"))
        assert meta["text_sha256"] == sha256_file(out / f"{book_id}.txt")
