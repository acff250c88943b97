"""The polite client against a real local HTTP server with injected faults, and against local mirrors."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import pytest
from urllib3.util.retry import Retry

from corpus.gutenberg.client import ClientConfig, GutenbergClient, MirrorUnreachable, resolve_mirror
from corpus.errors import CorpusError
from bench.gutenberg_server import GutenbergServer, gutenberg_file, write_book

REL = "cache/epub/7/pg7.txt"
FAST = ClientConfig(min_delay=0.0, retries=3, backoff_factor=0.01, backoff_jitter=0.01, read_timeout=0.5)


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    write_book(root, 7, gutenberg_file(7, "Seven", "Ann Author").encode("utf-8"))
    return root


def _client(server: GutenbergServer, config: ClientConfig = FAST) -> GutenbergClient:
    return GutenbergClient(ClientConfig(**{**vars(config), "mirror": server.url}))


def _no_part_files(folder: Path) -> bool:
    return not list(folder.rglob("*.part"))


def test_download_verifies_and_records_validators(site: Path, tmp_path: Path) -> None:
    with GutenbergServer(site) as server, _client(server) as client:
        dest = tmp_path / "out" / "pg7.txt"
        got = client.download(REL, dest)
        assert got is not None and dest.read_bytes() == (site / REL).read_bytes()
        assert got.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest() and got.size == dest.stat().st_size
        assert got.etag and got.last_modified
        again = client.download(REL, dest, etag=got.etag)
        assert again is not None and again.not_modified
        agent = server.log[0][2]["User-Agent"]
        assert agent.startswith("novel-personas/") and "requests" not in agent


@pytest.mark.parametrize("fault", ["500-once", "truncate-once", "stall-once"])
def test_transient_faults_end_with_a_complete_file(fault: str, site: Path, tmp_path: Path) -> None:
    with GutenbergServer(site, faults={REL: fault}) as server, _client(server) as client:
        dest = tmp_path / "pg7.txt"
        got = client.download(REL, dest)
        assert got is not None and dest.read_bytes() == (site / REL).read_bytes()
        assert server.requests_for(REL) == 2
        assert _no_part_files(tmp_path)


def test_retry_after_is_honoured(site: Path, tmp_path: Path) -> None:
    with GutenbergServer(site, faults={REL: "429-once"}, retry_after=1) as server, _client(server) as client:
        client.download(REL, tmp_path / "pg7.txt")
        (first, *_), (second, *_) = server.log
        assert second - first >= 0.9  # the backoff alone would wait ~0.01 s


def test_retry_after_is_capped(site: Path, tmp_path: Path) -> None:
    config = ClientConfig(**{**vars(FAST), "retry_after_max": 0.2})
    with GutenbergServer(site, faults={REL: "429-once"}, retry_after=30) as server, _client(server, config) as client:
        client.download(REL, tmp_path / "pg7.txt")
        (first, *_), (second, *_) = server.log
        assert 0.15 <= second - first < 5


@pytest.mark.parametrize("fault", ["500", "truncate"])
def test_persistent_faults_give_one_error_and_no_file(fault: str, site: Path, tmp_path: Path) -> None:
    with GutenbergServer(site, faults={REL: fault}) as server, _client(server) as client:
        dest = tmp_path / "pg7.txt"
        with pytest.raises(CorpusError, match="failed after 3 retries") as info:
            client.download(REL, dest)
        assert "\n" not in str(info.value)
        assert not dest.exists() and _no_part_files(tmp_path)
        assert server.requests_for(REL) == 4


def test_missing_file_is_none(site: Path, tmp_path: Path) -> None:
    with GutenbergServer(site) as server, _client(server) as client:
        assert client.download("cache/epub/8/pg8.txt", tmp_path / "pg8.txt") is None
        assert not (tmp_path / "pg8.txt").exists()


def test_minimum_delay_between_requests_to_one_host(site: Path, tmp_path: Path) -> None:
    polite = ClientConfig(**{**vars(FAST), "min_delay": 0.2})
    with GutenbergServer(site) as server, _client(server, polite) as client:
        for i in range(3):
            client.download(REL, tmp_path / f"copy{i}.txt")
        times = [t for t, *_ in server.log]
        assert all(b - a >= 0.18 for a, b in zip(times, times[1:]))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits urllib3's Retry asks for (recorded, not slept)."""
    waits: list[float] = []
    monkeypatch.setattr(Retry, "sleep", lambda self, response=None: waits.append(self.get_backoff_time()))
    return waits


def test_unreachable_mirror_fails_at_once(tmp_path: Path, backoff_sleeps: list[float]) -> None:
    """A host that never answered and refuses (or has no address) is not retried: the default policy's
    5 retries with 1 s backoff made `corpus search` stall 31 s before its bundled-catalog fallback."""
    config = ClientConfig(mirror=f"http://127.0.0.1:{_closed_port()}", min_delay=0)
    with GutenbergClient(config) as client, pytest.raises(MirrorUnreachable, match="connection refused"):
        client.download(REL, tmp_path / "pg7.txt")
    assert backoff_sleeps == []


def test_a_mirror_that_answered_before_is_retried_when_it_goes_away(site: Path, tmp_path: Path,
                                                                    backoff_sleeps: list[float]) -> None:
    with GutenbergServer(site) as server:
        client = _client(server)
        assert client.download(REL, tmp_path / "first.txt") is not None
    client.session.close()  # drop the kept-alive connection, which the stopped server's handler thread still serves
    # the mirror went down mid-run: it may be restarting, so the backoff is worth waiting for
    with client, pytest.raises(MirrorUnreachable, match="connection refused"):
        client.download(REL, tmp_path / "second.txt")
    assert len(backoff_sleeps) == FAST.retries


@pytest.mark.parametrize("as_url", [False, True])
def test_local_folder_and_file_url_mirrors(as_url: bool, site: Path, tmp_path: Path) -> None:
    mirror = site.as_uri() if as_url else str(site)
    with GutenbergClient(ClientConfig(mirror=mirror)) as client:
        start = time.monotonic()
        got = client.download(REL, tmp_path / "pg7.txt")
        client.download(REL, tmp_path / "again.txt")
        assert time.monotonic() - start < 0.5  # no per-host delay for a folder
        assert got is not None and got.url == (site / REL).resolve().as_uri()
        assert (tmp_path / "pg7.txt").read_bytes() == (site / REL).read_bytes()
        assert client.download("cache/epub/8/pg8.txt", tmp_path / "pg8.txt") is None


def test_missing_local_mirror_and_mirror_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MirrorUnreachable, match="mirror folder not found"):
        GutenbergClient(ClientConfig(mirror=str(tmp_path / "nowhere")))
    monkeypatch.setenv("PERSONA_GUTENBERG_MIRROR", "http://mirror.example/gutenberg")
    assert resolve_mirror(None) == "http://mirror.example/gutenberg"
    assert resolve_mirror("https://other") == "https://other"
    monkeypatch.delenv("PERSONA_GUTENBERG_MIRROR")
    assert resolve_mirror(None) == "https://www.gutenberg.org"
