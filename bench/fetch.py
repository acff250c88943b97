"""Fetch throughput: our polite client and full `corpus fetch` vs a naive `requests.get` loop, then a cached rerun.

    python bench/fetch.py [--source ../shared/gutenberg] [--books 30] [--delay 0.05] [--json out.json]

The source folder (Gutenberg site layout) is served by the tests' HTTP server on 127.0.0.1. All three
downloaders wait the same `--delay` between requests. Measured, in one process, on the same books:
  naive      requests.get + write, one new connection per book, no retry/verification
  client     GutenbergClient.download: keep-alive session, retries, .part + size check + sha256, rename
  fetch      fetch_books: client download + header/footer strip + normalisation + chapters + JSON, atomic writes
  cached     fetch_books again on the finished output (verifies each book's text hash, no request)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import requests

from corpus.gutenberg.client import ClientConfig, GutenbergClient
from corpus.gutenberg.fetch import FetchConfig, fetch_books, text_path
from corpus.shards.parquet import atomic_write_bytes
from gutenberg_server import GutenbergServer, site_book_ids

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_SOURCE = ROOT.parent / "shared" / "gutenberg"


def naive(url: str, ids: list[int], out: Path, delay: float) -> float:
    """Seconds for a plain requests.get loop (the baseline)."""
    out.mkdir(parents=True)
    start = time.perf_counter()
    for i, book_id in enumerate(ids):
        if i:
            time.sleep(delay)
        response = requests.get(f"{url}/{text_path(book_id)}", timeout=60)
        response.raise_for_status()
        (out / f"{book_id}.txt").write_bytes(response.content)
    return time.perf_counter() - start


def client_only(url: str, ids: list[int], out: Path, delay: float) -> float:
    """Seconds for GutenbergClient.download on every book."""
    start = time.perf_counter()
    with GutenbergClient(ClientConfig(mirror=url, min_delay=delay)) as client:
        for book_id in ids:
            client.download(text_path(book_id), out / f"pg{book_id}.txt")
    return time.perf_counter() - start


def full_fetch(url: str, ids: list[int], out: Path, delay: float) -> tuple[float, int]:
    """(seconds, characters of clean text) for fetch_books."""
    config = FetchConfig(out_dir=out, client=ClientConfig(mirror=url, min_delay=delay))
    start = time.perf_counter()
    results = fetch_books(ids, config)
    seconds = time.perf_counter() - start
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"fetch failed: {failed[0].error}")
    return seconds, sum(r.chars for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder in Gutenberg's site layout")
    parser.add_argument("--books", type=int, default=30, help="how many books to fetch")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between requests, for every downloader")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    if not (args.source / "cache" / "epub").is_dir():
        print(f"skipped: {args.source} has no cache/epub folder (pass --source with a Gutenberg-layout mirror)")
        return
    ids = site_book_ids(args.source)[: args.books]
    megabytes = sum((args.source / text_path(i)).stat().st_size for i in ids) / 1e6
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp, GutenbergServer(args.source) as server:
        work = Path(tmp)
        naive_s = naive(server.url, ids, work / "naive", args.delay)
        client_s = client_only(server.url, ids, work / "client", args.delay)
        fetch_s, chars = full_fetch(server.url, ids, work / "fetch", args.delay)
        requests_before = len(server.log)
        cached_s, _ = full_fetch(server.url, ids, work / "fetch", args.delay)
        cached_requests = len(server.log) - requests_before
    n = len(ids)
    figures = {
        "books": n, "megabytes": round(megabytes, 2), "delay_s": args.delay, "clean_chars": chars,
        "books_per_s": {"naive": n / naive_s, "client": n / client_s, "fetch": n / fetch_s, "cached_rerun": n / cached_s},
        "seconds": {"naive": naive_s, "client": client_s, "fetch": fetch_s, "cached_rerun": cached_s},
        "ratios": {"client_vs_naive": naive_s / client_s, "fetch_vs_naive": naive_s / fetch_s,
                   "cached_rerun_vs_fetch": fetch_s / cached_s},
        "cached_rerun_requests": cached_requests,
    }
    print(f"{n} books, {megabytes:.1f} MB, {args.delay:.3f} s between requests")
    for name, rate in figures["books_per_s"].items():
        print(f"  {name:13s} {rate:8.2f} books/s  ({figures['seconds'][name]:.2f} s)")
    ratios = figures["ratios"]
    print(f"  client / naive       {ratios['client_vs_naive']:.2f}x books/s")
    print(f"  fetch  / naive       {ratios['fetch_vs_naive']:.2f}x books/s (fetch also cleans and writes JSON)")
    print(f"  cached rerun / fetch {ratios['cached_rerun_vs_fetch']:.1f}x books/s, {cached_requests} requests")
    if args.json:
        atomic_write_bytes(args.json, json.dumps(figures, indent=2).encode("utf-8"))


if __name__ == "__main__":
    main()
