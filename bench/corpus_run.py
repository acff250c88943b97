"""The whole corpus pipeline over every book available offline: fetch -> attribute -> stats -> release --dry-run.

    python bench/corpus_run.py [--gutenberg ../shared/gutenberg] [--sample data/gutenberg] [--out build/corpus_run]
        [--books 41 844 ...] [--executor ray] [--workers 2] [--ray-address HOST:PORT]
        [--json bench/results/corpus_run.json] [--plots bench/results/corpus_plots]
    python bench/corpus_run.py --books 41 1250 ... --stages fetch --compare local,process,ray [--json ...]
    python bench/corpus_run.py --books 120 --stages fetch --profile 120

Fetch. The --gutenberg folder (site layout, MANIFEST.tsv) is served by the tests' HTTP server on
127.0.0.1 and fetched through it as a mirror; the embedded sample (--sample, a local folder mirror) is
fetched into the same book folder. A book the pipeline cannot handle (fetch or attribution) is
reported with its reason and left out; the others finish.

Attribute. `attribute_books` with the chosen executor (default: a local Ray instance with --workers
CPUs; --ray-address joins a running cluster). Each book's result carries the wall seconds, the CPU
seconds of the worker process on it (all its threads) and the worker's peak RSS. Throughput is given
as CPU seconds per 100k words (whitespace-separated words of the clean text) because wall time on a
shared machine depends on what else runs; wall time, books/hour and words/hour are given beside it.

--compare runs attribution of the same books once per executor (fresh output folders) and prints
one row per executor; the ratio is each executor's wall time against the in-process run's.

--profile BOOK_ID attributes one fetched book in this process, each phase's function wrapped by a
CPU-time clock, and splits its CPU seconds into spaCy loading and parsing, cast discovery, the sieve,
the ranker, and reading/writing (text in, Parquet shard out).

Projection. From the run's worker CPU seconds per 100k words and its mean book length: the core-hours
of GUTENBERG_FICTION_BOOKS books, the hours on N single-core workers, the memory 32 workers need at
the run's peak worker RSS, and how far the cost is from TARGET_CPU_S_PER_100K_WORDS.

Stats and release. `corpus_stats` over the shards (with PNG plots under --plots), then `build_release`
as `corpus release --dry-run` does, with its selection (books left out and why) recorded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from corpus.attribution.runner import AttributeConfig, BookResult, attribute_books, peak_rss_mb
from corpus.gutenberg.client import ClientConfig
from corpus.errors import CorpusError
from corpus.gutenberg.fetch import FetchConfig, fetch_books
from corpus.attribution.parallel import ParallelConfig
from corpus.release.build import build_release
from corpus.release.types import ReleaseConfig
from corpus.shards.parquet import atomic_write_bytes
from gutenberg_server import GutenbergServer, site_book_ids

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GUTENBERG = ROOT.parent / "shared" / "gutenberg"
DEFAULT_SAMPLE = ROOT / "data" / "gutenberg"
WORDS_UNIT = 100_000  # throughput is per 100k words
REPO_ID = "local/gutenberg-personas"  # the dry-run release's name; nothing is uploaded
STAGES = ("fetch", "attribute", "stats", "release")
GUTENBERG_FICTION_BOOKS = 20_000  # English-language fiction on Gutenberg, roughly: what the projection covers
PROJECTION_WORKERS = (2, 8, 32, 64, 128)
TARGET_CPU_S_PER_100K_WORDS = 10.0  # the goal: all of Gutenberg fiction in under a day on 32 cores


def fetch_stage(gutenberg: Path, sample: Path | None, ids: list[int], books: Path) -> dict:
    """Fetch `ids` from `gutenberg` over HTTP and the sample's books from its folder; per-book status and seconds."""
    rows: list[dict] = []

    def fetch_from(mirror: str, wanted: list[int], origin: str) -> None:
        client = replace(ClientConfig(), mirror=mirror, min_delay=0.0)
        last = time.perf_counter()

        def record(result) -> None:
            nonlocal last
            now = time.perf_counter()
            rows.append({**result.to_dict(), "origin": origin, "seconds": round(now - last, 3)})
            last = now

        fetch_books(wanted, FetchConfig(out_dir=books, client=client), on_book=record)

    started = time.perf_counter()
    with GutenbergServer(gutenberg) as server:
        fetch_from(server.url, ids, f"http mirror {gutenberg}")
    if sample is not None:
        fetch_from(str(sample), site_book_ids(sample), f"folder mirror {sample}")
    return {"seconds": round(time.perf_counter() - started, 2), "books": rows,
            "failed": {str(r["gutenberg_id"]): r["error"] for r in rows if r["status"] == "failed"}}


def book_words(books: Path, book_id: str) -> int:
    """Whitespace-separated words of a fetched book's clean text."""
    return len((books / f"{book_id}.txt").read_text(encoding="utf-8").split())


def attribute_stage(books: Path, shards: Path, parallel: ParallelConfig, book_ids: list[str] | None = None) -> dict:
    """Attribute the fetched books; per-book results with words, and the run's throughput figures."""
    config = AttributeConfig(parallel=parallel, book_ids=tuple(book_ids or ()))
    started, cpu_started = time.perf_counter(), time.process_time()
    finished: list[BookResult] = []

    def report(result: BookResult) -> None:
        finished.append(result)
        print(f"  {len(finished):3d} {result.book_id:>6} {result.status:10s} {result.quotations:6d} quotations "
              f"{result.seconds:7.1f} s wall {result.cpu_seconds:7.1f} s cpu {result.peak_rss_mb:6.0f} MiB"
              + (f"  {result.error}" if result.error else ""), flush=True)

    results = attribute_books([books], shards, config, on_result=report)
    wall = time.perf_counter() - started
    rows = [{**asdict(r), "words": book_words(books, r.book_id)} for r in results]
    return {"executor": parallel.resolved_executor(), "workers": parallel.workers, "ray_address": parallel.ray_address,
            "wall_seconds": round(wall, 2), "driver_cpu_seconds": round(time.process_time() - cpu_started, 2),
            "driver_peak_rss_mb": round(peak_rss_mb(), 1), "books": rows, "throughput": throughput(rows, wall),
            "failed": {r["book_id"]: r["error"] for r in rows if r["status"] == "failed"}}


def throughput(rows: list[dict], wall: float) -> dict:
    """CPU s per 100k words (worker CPU), wall s per 100k words, books and words per hour, peak worker RSS."""
    done = [r for r in rows if r["status"] == "attributed"]
    words = sum(r["words"] for r in done)
    cpu = sum(r["cpu_seconds"] for r in done)
    if not done or not words:
        return {"books": 0}
    per_book = sorted(r["cpu_seconds"] / r["words"] * WORDS_UNIT for r in done if r["words"])
    return {
        "books": len(done),
        "words": words,
        "worker_cpu_seconds": round(cpu, 1),
        "cpu_s_per_100k_words": round(cpu / words * WORDS_UNIT, 2),
        "cpu_s_per_100k_words_median_book": round(per_book[len(per_book) // 2], 2),
        "wall_s_per_100k_words": round(wall / words * WORDS_UNIT, 2),
        "books_per_hour": round(len(done) / wall * 3600, 1),
        "words_per_hour": round(words / wall * 3600),
        "peak_worker_rss_mb": round(max(r["peak_rss_mb"] for r in done), 1),
    }


def projection(throughput: dict) -> dict:
    """What GUTENBERG_FICTION_BOOKS books of this run's mean length would take at its CPU cost per word,
    on N single-core workers (Ray tasks or processes; scheduling overhead is milliseconds a book)."""
    mean_words = throughput["words"] / throughput["books"]
    cpu_per_book = throughput["cpu_s_per_100k_words"] * mean_words / WORDS_UNIT
    core_hours = cpu_per_book * GUTENBERG_FICTION_BOOKS / 3600
    target_core_hours = TARGET_CPU_S_PER_100K_WORDS * mean_words / WORDS_UNIT * GUTENBERG_FICTION_BOOKS / 3600
    return {
        "books": GUTENBERG_FICTION_BOOKS,
        "mean_words_per_book": round(mean_words),
        "cpu_s_per_book": round(cpu_per_book, 1),
        "core_hours": round(core_hours, 1),
        "hours_on_workers": {str(n): round(core_hours / n, 2) for n in PROJECTION_WORKERS},
        "memory_gib_per_32_workers": round(throughput["peak_worker_rss_mb"] * 32 / 1024, 1),
        "target_cpu_s_per_100k_words": TARGET_CPU_S_PER_100K_WORDS,
        "times_the_target": round(throughput["cpu_s_per_100k_words"] / TARGET_CPU_S_PER_100K_WORDS, 2),
        "hours_on_32_at_target": round(target_core_hours / 32, 2),
    }


def stats_stage(shards: Path, plots: Path | None) -> dict:
    """The corpus report of the shards (and its plots)."""
    from corpus.shards.stats import corpus_stats
    from corpus.shards.stats_plots import write_plots

    started = time.perf_counter()
    stats = corpus_stats(shards)
    written = [str(p) for p in write_plots(stats, plots)] if plots is not None else []
    return {"seconds": round(time.perf_counter() - started, 2), "report": stats.to_dict(), "plots": written}


def release_stage(shards: Path, folder: Path) -> dict:
    """`corpus release --dry-run`: build and validate the release folder; what went in and what was left out."""
    started = time.perf_counter()
    built = build_release(shards, folder, REPO_ID, ReleaseConfig())
    selection = built.selection
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),  # of this process: run the release stage alone to read it as its own
        "utterances": built.tables.utterances.num_rows,
        "folder": str(built.folder),
        "rows": {name: files.rows for name, files in built.configs.items()},
        "not_public_domain": selection.not_public_domain,
        "duplicate_editions": selection.duplicate_editions,
        "licence_utterances_dropped": selection.licence_utterances_dropped,
        "empty_splits": built.empty_splits,
    }


# Where one book's CPU time goes: (phase, module, function) wrapped with a CPU timer while it runs.
PROFILE_PHASES = (
    ("spaCy model load", "corpus.attribution.runner", "load_nlp"),
    ("spaCy parse", "corpus.attribution.book", "parse_paragraphs"),
    ("cast discovery", "corpus.attribution.book", "discover_characters"),
    ("sieve (tags, turns)", "corpus.attribution.book", "run_sieve"),
    ("ranker", "corpus.attribution.book", "rerank"),
    ("read text", "corpus.attribution.runner", "read_book"),
    ("write shard", "corpus.attribution.runner", "write_book"),
)


def profile_stage(books: Path, out: Path, book_id: str) -> dict:
    """CPU seconds of one book's attribution by phase, in this process.

    Each phase's function is wrapped with a process-time timer for the run (cProfile's per-call hook
    would inflate spaCy's many small Python calls several times over).
    """
    import importlib

    from corpus.attribution.runner import BookTask, attribute_one, settings_fingerprint
    from corpus.gutenberg.books import discover_books

    [source] = discover_books([books], [book_id])
    config = AttributeConfig()
    shards = out / "profile"
    shutil.rmtree(shards, ignore_errors=True)
    task = BookTask(source, shards, config, None, settings_fingerprint(config, None))
    spent: dict[str, float] = {phase: 0.0 for phase, _, _ in PROFILE_PHASES}
    originals = []
    for phase, module_name, name in PROFILE_PHASES:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, _timed(original, phase, spent))
    try:
        result = attribute_one(task)
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    total = result.cpu_seconds
    phases = {phase: round(seconds, 2) for phase, seconds in spent.items()}
    phases["other (mentions, genders, calibration, rows)"] = round(total - sum(spent.values()), 2)
    words = book_words(books, book_id)
    return {"book_id": book_id, "words": words, "cpu_seconds": round(total, 2),
            "cpu_s_per_100k_words": round(total / words * WORDS_UNIT, 2), "phases": phases,
            "phase_shares": {k: round(v / total, 3) for k, v in phases.items()}}


def _timed(fn, phase: str, spent: dict[str, float]):
    """`fn` that adds its CPU seconds (this process, all threads) to spent[phase]."""
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[phase] += time.process_time() - started
    return timed


def compare(books: Path, out: Path, executors: list[str], workers: int, book_ids: list[str]) -> dict:
    """Attribute the same books once per executor into fresh folders; throughput rows and wall ratios."""
    runs = {}
    for executor in executors:
        shards = out / f"compare-{executor}"
        shutil.rmtree(shards, ignore_errors=True)
        parallel = ParallelConfig(executor=executor, workers=1 if executor == "local" else workers)
        print(f"{executor} ({parallel.workers} worker(s)):", flush=True)
        runs[executor] = attribute_stage(books, shards, parallel, book_ids)
    base = runs.get("local", next(iter(runs.values())))["wall_seconds"]
    for run in runs.values():
        run["wall_ratio_vs_local"] = round(run["wall_seconds"] / base, 3)
    return runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gutenberg", type=Path, default=DEFAULT_GUTENBERG, help="site-layout folder served over HTTP")
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="embedded sample (folder mirror); '' for none")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "corpus_run", help="books, shards, release")
    parser.add_argument("--books", nargs="*", type=int, help="only these ids of --gutenberg (default: all)")
    parser.add_argument("--executor", default="ray", help="local, process or ray")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray-address", help="Ray cluster to join, e.g. 127.0.0.1:6379")
    parser.add_argument("--compare", help="comma-separated executors to compare on the same books (e.g. local,process,ray)")
    parser.add_argument("--profile", metavar="BOOK_ID", help="profile one fetched book's attribution by phase")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="which of fetch,attribute,stats,release to run (a later stage reads what an earlier "
                             "run left in OUT; figures merge into an existing --json file)")
    parser.add_argument("--plots", type=Path, help="folder for the stats plots")
    parser.add_argument("--json", type=Path, help="write the figures here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.gutenberg.is_dir():
        print(f"error: no Gutenberg folder at {args.gutenberg}", file=sys.stderr)
        return 1
    stages = set(args.stages.split(","))
    if stages - set(STAGES):
        print(f"error: unknown stage(s) {', '.join(sorted(stages - set(STAGES)))}; choose from {', '.join(STAGES)}",
              file=sys.stderr)
        return 1
    ids = args.books or site_book_ids(args.gutenberg)
    sample = args.sample if args.sample and str(args.sample) != "." and not args.books else None
    books, shards = args.out / "books", args.out / "shards"
    figures = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    figures["machine"] = machine()
    try:
        if "fetch" in stages:
            print(f"fetch: {len(ids)} books from {args.gutenberg}" + (f" + sample {sample}" if sample else ""), flush=True)
            figures["fetch"] = fetch_stage(args.gutenberg, sample, ids, books)
        wanted = [str(i) for i in ids if (books / f"{i}.json").is_file()]
        if args.profile:
            figures["profile"] = profile_stage(books, args.out, args.profile)
            print(json.dumps(figures["profile"], indent=2))
            return 0
        if args.compare:
            figures["compare"] = compare(books, args.out, args.compare.split(","), args.workers, wanted)
            _print_compare(figures["compare"])
            return 0
        if "attribute" in stages:
            parallel = ParallelConfig(executor=args.executor, workers=args.workers, ray_address=args.ray_address)
            print(f"attribute: {len(wanted)} books, {parallel.resolved_executor()}", flush=True)
            figures["attribute"] = attribute_stage(books, shards, parallel, wanted if args.books else None)
        if figures.get("attribute", {}).get("throughput", {}).get("books"):  # also for a run attributed before
            figures["projection"] = projection(figures["attribute"]["throughput"])
            print(json.dumps({"throughput": figures["attribute"]["throughput"], "projection": figures["projection"]},
                             indent=2), flush=True)
        if "stats" in stages:
            figures["stats"] = stats_stage(shards, args.plots)
        if "release" in stages:
            figures["release"] = release_stage(shards, args.out / "release")
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(args.json, json.dumps(figures, indent=2, default=str).encode())
    return 0


def machine() -> dict:
    """What the figures were measured on (CPU count and load: this machine's cores are shared)."""
    import os
    import platform

    return {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


def _print_compare(runs: dict) -> None:
    print(f"{'executor':10s} {'workers':>7s} {'books':>5s} {'cpu s/100k w':>12s} {'wall s/100k w':>13s} "
          f"{'books/h':>8s} {'peak RSS MiB':>12s} {'wall ratio':>10s}")
    for name, run in runs.items():
        t = run["throughput"]
        print(f"{name:10s} {run['workers']:7d} {t.get('books', 0):5d} {t.get('cpu_s_per_100k_words', 0):12.2f} "
              f"{t.get('wall_s_per_100k_words', 0):13.2f} {t.get('books_per_hour', 0):8.1f} "
              f"{t.get('peak_worker_rss_mb', 0):12.0f} {run['wall_ratio_vs_local']:10.3f}")


if __name__ == "__main__":
    sys.exit(main())
