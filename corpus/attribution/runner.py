"""The attribution stage: books in, one persona shard per book plus the run's characters and books tables.

Resumable: a book whose shard exists, reads back, and was made by this pipeline version (package,
attribution code and model files, spaCy model) from the same text with the same settings is skipped.
Shards are written atomically, so a crash mid-book leaves no partial shard; the run tables are rebuilt
from all shards at the end.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from corpus import progress
from corpus.shards import parquet, schema
from corpus.attribution import AttributionConfig, BookAttribution, attribute_book
from corpus.attribution.booknlp import attribute_with_booknlp, require_booknlp
from corpus.gutenberg.books import Book, BookSource, discover_books, read_book
from corpus.attribution.characters import Character, read_cast_csv
from corpus.errors import CorpusError
from corpus.attribution.nlp import load_nlp
from corpus.attribution.parallel import ParallelConfig, map_unordered
from corpus.shards.writer import ShardConfig, ShardInfo, read_shard_info, write_book, write_run_tables

BACKENDS = ("native", "booknlp")
CONFIDENCE_LEVELS = (0.5, 0.8, 0.95)  # the summary counts the attributed quotations that clear each level
DEFAULT_OUT_DIR = Path("build/shards")  # beside `corpus fetch`'s build/books
BOOKNLP_WORKDIR = "booknlp"  # BookNLP's own output files are kept in this subfolder of the run folder
# Modules outside corpus/attribution whose code changes a shard's content (part of the resume fingerprint).
SHARD_MODULES = ("gutenberg/books.py", "gutenberg/chapters.py", "shards/parquet.py", "shards/schema.py",
                 "shards/writer.py")


@dataclass
class AttributeConfig:
    """Settings of an attribution run."""

    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    backend: str = field(
        default="native",
        metadata={"help": "native: our quotation and speaker sieve; booknlp: run BookNLP and convert its output"},
    )
    cast_csv: Path | None = field(
        default=None, metadata={"help": "curated cast of a single book: CSV with name, aliases (';'-separated), gender"}
    )
    book_ids: tuple[str, ...] = field(default=(), metadata={"help": "only these book ids of the inputs (default: all)"})


@dataclass(frozen=True)
class BookTask:
    """Everything a worker needs to attribute one book."""

    source: BookSource
    out_dir: Path
    config: AttributeConfig
    cast: tuple[Character, ...] | None
    settings: str


@dataclass(frozen=True)
class BookResult:
    """What happened to one book of a run."""

    book_id: str
    title: str | None
    status: str  # "attributed", "skipped" (already complete) or "failed" (no shard; `error` says why)
    quotations: int
    attributed: int  # quotations with a speaker
    characters: int
    seconds: float
    shard: str
    warning: str | None = None
    confident: dict[str, int] = field(default_factory=dict)  # level ("0.8") -> attributed quotations at or above it
    error: str | None = None
    cpu_seconds: float = 0.0  # CPU time of the worker process on this book (all its threads)
    peak_rss_mb: float = 0.0  # the worker process's peak resident memory when the book ended


def attribute_books(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    config: AttributeConfig | None = None,
    on_result: Callable[[BookResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: progress.Sink | None = None,
) -> list[BookResult]:
    """Attribute every input book into `out_dir`; returns one result per book, in input order.

    `on_start(number_of_books)` is called once the inputs are validated, `on_result` as each book ends,
    `on_progress(book_id, paragraphs_parsed, paragraphs)` while a book is parsed.
    """
    config = config or AttributeConfig()
    if config.backend not in BACKENDS:
        raise CorpusError(f"unknown backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
    config.parallel.resolved_executor()
    if config.backend == "booknlp":
        require_booknlp()
    sources = discover_books(inputs, config.book_ids)
    cast = _read_cast(config.cast_csv, len(sources))
    digests = {source.book_id: read_book(source).text_sha256 for source in sources}  # validates every input first
    out_dir = _prepare_out_dir(Path(out_dir))
    settings = settings_fingerprint(config, cast)
    if on_start:
        on_start(len(sources))
    report = on_result or (lambda result: None)
    results: dict[str, BookResult] = {}
    todo: list[BookTask] = []
    for source in sources:
        path = parquet.utterance_shard_path(out_dir, source.book_id)
        done = completed_shard(path, digests[source.book_id], settings)
        if done is None:
            _remove_stale_temp_files(path)
            todo.append(BookTask(source, out_dir, config, cast, settings))
        else:
            results[source.book_id] = _skipped_result(done, path)
            report(results[source.book_id])
    for result in map_unordered(attribute_one, todo, config.parallel, on_progress):
        results[result.book_id] = result
        report(result)
    write_run_tables(out_dir)
    return [results[source.book_id] for source in sources]


def attribute_one(task: BookTask) -> BookResult:
    """Attribute one book and write its shard (runs in a worker; spaCy is loaded once per process).

    A book that trips a bug of the attributor comes back as a "failed" result with the reason, so one odd
    book does not end a run over many; a CorpusError (a bad setting, a shard that cannot be written) still
    ends the run, since every later book would fail the same way.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        return _attribute_and_write(task, started, cpu_started)
    except CorpusError:
        raise
    except Exception as exc:  # noqa: BLE001 - any bug a book triggers is reported with that book
        return _failed_result(task.source, exc, time.perf_counter() - started, time.process_time() - cpu_started)


def _attribute_and_write(task: BookTask, started: float, cpu_started: float) -> BookResult:
    book = read_book(task.source)
    with progress.book(book.book_id):
        book_attribution = _attribution_of(book, task)
    path = write_book(
        task.out_dir,
        book.book_id,
        book.text,
        book_attribution,
        book.chapters,
        task.config.shards.context_paragraphs,
        context_max_chars=task.config.shards.context_max_chars,
        metadata=book.metadata,
        text_sha256=book.text_sha256,
        settings=task.settings,
    )
    return _attributed_result(book, book_attribution, path, time.perf_counter() - started,
                              time.process_time() - cpu_started)


def _attribution_of(book: Book, task: BookTask) -> BookAttribution:
    """The book's cast and speakers, by our sieve or by BookNLP."""
    if task.config.backend == "booknlp":
        attribution = task.config.attribution
        return attribute_with_booknlp(
            book, task.out_dir / BOOKNLP_WORKDIR / book.book_id, attribution.spacy_model, attribution.min_confidence
        )
    nlp = load_nlp(task.config.attribution.spacy_model)
    cast = copy.deepcopy(list(task.cast)) if task.cast is not None else None
    return attribute_book(book.text, task.config.attribution, cast=cast, nlp=nlp)


def completed_shard(path: Path, text_sha256: str, settings: str) -> ShardInfo | None:
    """The shard's info if it is complete and current (readable, same pipeline, text and settings)."""
    if not path.is_file():
        return None
    try:
        info = read_shard_info(path)
        parquet.read_table(path, schema.UTTERANCES)
    except CorpusError:
        return None  # unreadable or from another schema: attribute the book again
    row = info.book_row
    current = (
        row.get("pipeline_version") == schema.PIPELINE_VERSION
        and row.get("text_sha256") == text_sha256
        and info.settings == settings
    )
    return info if current else None


def settings_fingerprint(config: AttributeConfig, cast: Sequence[Character] | None) -> str:
    """A hash of every setting that changes a shard's content (parallelism and book selection excluded).

    It covers the code and bundled model files of attribution and the installed spaCy model's version,
    so a shard made by an older attributor is redone even when the package version was not bumped.
    """
    payload = {
        "code": _code_fingerprint(),
        "spacy_model": _spacy_model_version(config.attribution.spacy_model),
        "backend": config.backend,
        "attribution": asdict(config.attribution),
        "shards": asdict(config.shards),
        "cast": [asdict(c) for c in cast] if cast is not None else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _code_fingerprint() -> str:
    """SHA-256 of the source and data files of the modules that shape a shard's content."""
    package = Path(__file__).parents[1]
    files = [package / name for name in SHARD_MODULES]
    files += sorted(p for p in (package / "attribution").iterdir() if p.suffix in (".py", ".json"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _spacy_model_version(model: str) -> str | None:
    """The installed version of a packaged spaCy model (None for a path or an unknown name)."""
    from spacy.util import get_package_version

    return get_package_version(model)


def _read_cast(path: Path | None, n_books: int) -> tuple[Character, ...] | None:
    if path is None:
        return None
    if n_books != 1:
        raise CorpusError(f"--characters gives the cast of one book, but {n_books} books were given; pass one book")
    cast = read_cast_csv(path)
    return tuple(cast)


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusError(f"output path {out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise CorpusError(f"output folder {out_dir} is not writable")
    return out_dir


def _remove_stale_temp_files(shard: Path) -> None:
    """Delete temp files a killed run left while writing this shard (named as `parquet.write_table` names them)."""
    for stale in shard.parent.glob(f".{shard.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def confidence_counts(confidences: Sequence[float]) -> dict[str, int]:
    """How many of the attributed quotations' confidences clear each of CONFIDENCE_LEVELS.

    Compared in float32, as the shards store them, so a rerun that reads them back counts the same.
    """
    values = np.asarray(confidences, dtype=np.float32)
    return {f"{level:g}": int((values >= np.float32(level)).sum()) for level in CONFIDENCE_LEVELS}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux's VmHWM, since ru_maxrss also counts what a spawned worker's parent held when it forked; where
    there is no /proc, ru_maxrss (KiB on Linux, bytes on macOS: read as KiB).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _failed_result(source: BookSource, exc: Exception, seconds: float, cpu_seconds: float) -> BookResult:
    return BookResult(book_id=source.book_id, title=None, status="failed", quotations=0, attributed=0, characters=0,
                      seconds=seconds, shard="", error=f"{type(exc).__name__}: {exc}", cpu_seconds=cpu_seconds,
                      peak_rss_mb=peak_rss_mb())


def _attributed_result(book: Book, book_attribution: BookAttribution, path: Path, seconds: float,
                       cpu_seconds: float) -> BookResult:
    quotations = len(book_attribution.attributions)
    return BookResult(
        book_id=book.book_id,
        title=book.metadata.title,
        status="attributed",
        quotations=quotations,
        attributed=sum(1 for a in book_attribution.attributions if a.speaker is not None),
        characters=len(book_attribution.characters),
        seconds=seconds,
        shard=str(path),
        warning=None if quotations else f"book {book.book_id} has no quotations; wrote an empty shard",
        confident=confidence_counts([a.confidence for a in book_attribution.attributions if a.speaker is not None]),
        cpu_seconds=cpu_seconds,
        peak_rss_mb=peak_rss_mb(),
    )


def _skipped_result(info: ShardInfo, path: Path) -> BookResult:
    row = info.book_row
    table = parquet.read_table(path, schema.UTTERANCES).select(["speaker_id", "confidence"])
    confidences = [c for s, c in zip(table.column("speaker_id").to_pylist(), table.column("confidence").to_pylist())
                   if s is not None]
    return BookResult(
        book_id=row["book_id"],
        title=row.get("title"),
        status="skipped",
        quotations=int(row["quotations"]),
        attributed=sum(int(c["lines"]) for c in info.character_rows),
        characters=int(row["characters"]),
        seconds=0.0,
        shard=str(path),
        confident=confidence_counts(confidences),
    )
