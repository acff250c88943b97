"""`corpus` command line: parses arguments, prints, sets exit codes; the work lives in the stage modules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from corpus.attribution.runner import DEFAULT_OUT_DIR, AttributeConfig, BookResult, attribute_books
from corpus.attribution import AttributionConfig
from corpus.cli_progress import BookProgress
from corpus.cli_tables import attribute_table, cast_rows_table, print_release, stats_tables
from corpus.gutenberg.client import ClientConfig
from corpus.errors import CorpusError, run_cli
from corpus.gutenberg.fetch import FetchConfig
from corpus.attribution.parallel import ParallelConfig
from corpus.shards.writer import ShardConfig
from corpus.shards.personas import cast_table, character_lines, find_character
from corpus.release.build import build_release, default_release_folder
from corpus.release.types import ReleaseConfig, SplitUnit
from corpus.release.upload import check_repo_id, resolve_token, upload_release
from corpus.shards.stats import StatsConfig

app = typer.Typer(
    help="Build character-persona corpora from public-domain novels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def _field_help(config_class: type, name: str) -> str:
    """The help text a config dataclass field carries."""
    return next(f.metadata.get("help", "") for f in dataclasses.fields(config_class) if f.name == name)


# --- search, fetch: Gutenberg books -----------------------------------------------------------------


def _fetch_help(name: str) -> str:
    for config_class in (FetchConfig, ClientConfig):
        if name in {f.name for f in dataclasses.fields(config_class)}:
            return _field_help(config_class, name)
    raise KeyError(name)


def _client_config(mirror: str | None, delay: float, retries: int, backoff: float, timeout: float) -> ClientConfig:
    if delay < 0 or retries < 0 or backoff < 0 or timeout <= 0:
        raise CorpusError("--delay, --retries and --backoff must be >= 0 and --timeout > 0")
    return dataclasses.replace(ClientConfig(), mirror=mirror, min_delay=delay, retries=retries,
                               backoff_factor=backoff, read_timeout=timeout)


_MIRROR_HELP = "Gutenberg mirror: base URL, file:// URL or local folder (default $PERSONA_GUTENBERG_MIRROR, else gutenberg.org)"
_CATALOG_HELP = "pg_catalog.csv to search instead of the mirror's (cached) catalog"


@app.command()
def search(
    query: list[str] = typer.Argument(..., help="words and field:value terms, e.g. dickens, author:Austen, title:\"two cities\""),
    language: Optional[str] = typer.Option(None, "--language", help="ISO language code, e.g. en"),
    limit: int = typer.Option(20, "--limit", help="show at most this many books (0: all)"),
    mirror: Optional[str] = typer.Option(None, "--mirror", help=_MIRROR_HELP),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    cache_dir: Path = typer.Option(FetchConfig().cache, "--cache-dir", help="where the downloaded catalog is kept"),
    as_json: bool = typer.Option(False, "--json", help="print the matches as JSON on stdout"),
) -> None:
    """Search the Gutenberg catalog: prints id, title, author, issued."""
    from corpus.gutenberg.catalog import search as search_catalog
    from corpus.gutenberg.fetch import load_catalog

    entries, note = load_catalog(dataclasses.replace(ClientConfig(), mirror=mirror), cache_dir, catalog)
    found = search_catalog(entries, " ".join(query), language=language, limit=limit or None)
    Console(stderr=True).print(note, markup=False, highlight=False, soft_wrap=True)
    if as_json:
        rows = [{"id": e.id, "title": e.display_title, "author": e.author, "authors": e.authors, "issued": e.issued,
                 "languages": list(e.languages), "subjects": e.subjects} for e in found]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("id", "title", "author", "issued", title=f"{len(found)} match(es) for {escape(' '.join(query))}")
    for e in found:
        table.add_row(str(e.id), escape(e.display_title), escape(e.author), e.issued)
    console.print(table)


@app.command()
def fetch(
    book_ids: list[str] = typer.Argument(None, metavar="[IDS]...", help="Gutenberg ebook numbers, e.g. 1400 98"),
    query: Optional[str] = typer.Option(None, "--query", help="fetch the catalog's matches, e.g. \"author:Dickens\""),
    language: Optional[str] = typer.Option(None, "--language", help="with --query: only this ISO language code"),
    limit: int = typer.Option(50, "--limit", help="with --query: at most this many books"),
    out: Path = typer.Option(FetchConfig.out_dir, "--out", "-o", help=_fetch_help("out_dir")),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=_fetch_help("cache_dir")),
    mirror: Optional[str] = typer.Option(None, "--mirror", help=_MIRROR_HELP),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    delay: float = typer.Option(ClientConfig.min_delay, "--delay", help=_fetch_help("min_delay")),
    retries: int = typer.Option(ClientConfig.retries, "--retries", help=_fetch_help("retries")),
    backoff: float = typer.Option(ClientConfig.backoff_factor, "--backoff", help=_fetch_help("backoff_factor")),
    timeout: float = typer.Option(ClientConfig.read_timeout, "--timeout", help=_fetch_help("read_timeout")),
    refresh: bool = typer.Option(False, "--refresh", help=_fetch_help("refresh")),
    encoding: Optional[str] = typer.Option(None, "--encoding", help=_fetch_help("encoding")),
    as_json: bool = typer.Option(False, "--json", help="print one result per book as JSON on stdout"),
) -> None:
    """Download Gutenberg books, strip the licence header/footer, write OUT/<id>.txt + OUT/<id>.json (resumable)."""
    from corpus.gutenberg.catalog import by_id, search as search_catalog
    from corpus.gutenberg.fetch import FetchConfig, fetch_books, load_catalog, parse_book_ids

    ids = parse_book_ids(book_ids or [])
    client = _client_config(mirror, delay, retries, backoff, timeout)
    config = FetchConfig(out_dir=out, cache_dir=cache_dir, refresh=refresh, encoding=encoding, client=client)
    stderr = Console(stderr=True)
    entries = []
    if query is not None or catalog is not None:
        entries, note = load_catalog(client, config.cache, catalog)
        stderr.print(note, markup=False, highlight=False, soft_wrap=True)
    if query is not None:
        matches = search_catalog(entries, query, language=language, limit=limit or None)
        if not matches:
            raise CorpusError(f"no book in the catalog matches {query!r}; try `corpus search`")
        ids += [e.id for e in matches if e.id not in ids]
    if not ids:
        raise CorpusError("nothing to fetch: give book ids or --query")
    with BookProgress(stderr, "fetch", total=len(ids)) as progress:

        def advance(result) -> None:
            progress.advance(f"{result.gutenberg_id} {result.status}")

        def wait(folder: Path) -> None:
            progress.note(f"note: another `corpus fetch` is writing {folder}; waiting for it to finish "
                          f"(up to {config.lock_timeout:g} s)")

        results = fetch_books(ids, config, by_id(entries), on_book=advance, on_wait=wait)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    else:
        table = Table("id", "title", "author", "status", "from", "chars", "chapters", title=f"books in {escape(str(out))}")
        for r in results:
            table.add_row(str(r.gutenberg_id), escape(r.title or ""), escape(r.author or ""),
                          escape(r.error) if r.error else r.status, r.source or "", f"{r.chars:,}", str(r.chapters))
        console.print(table)
    failed = [r for r in results if r.status == "failed"]
    if len(results) == 1 and failed:
        raise CorpusError(str(failed[0].error))
    if failed:
        raise CorpusError(f"{len(failed)} of {len(results)} books failed; first: {failed[0].error}")


# --- attribute, characters, show: persona shards -------------------------------------------------


@app.command()
def attribute(
    inputs: list[Path] = typer.Argument(..., help="book .txt files, folders of them, or a `corpus fetch` folder"),
    out: Path = typer.Option(DEFAULT_OUT_DIR, "--out", "-o", help="run folder for the persona shards"),
    book: list[str] = typer.Option([], "--book", help=_field_help(AttributeConfig, "book_ids")),
    characters: Optional[Path] = typer.Option(None, "--characters", help=_field_help(AttributeConfig, "cast_csv")),
    spacy_model: str = typer.Option(
        AttributionConfig.spacy_model,
        help=_field_help(AttributionConfig, "spacy_model") or "spaCy pipeline for sentences, tags and PERSON mentions",
    ),
    min_confidence: float = typer.Option(
        AttributionConfig.min_confidence,
        help=_field_help(AttributionConfig, "min_confidence") or "speakers below this confidence stay unattributed",
    ),
    context_paragraphs: int = typer.Option(ShardConfig.context_paragraphs, help=_field_help(ShardConfig, "context_paragraphs")),
    context_chars: int = typer.Option(ShardConfig.context_max_chars, help=_field_help(ShardConfig, "context_max_chars")),
    workers: int = typer.Option(ParallelConfig.workers, help=_field_help(ParallelConfig, "workers")),
    executor: str = typer.Option(ParallelConfig.executor, help=_field_help(ParallelConfig, "executor")),
    ray_address: Optional[str] = typer.Option(None, help=_field_help(ParallelConfig, "ray_address")),
    backend: str = typer.Option(AttributeConfig.backend, help=_field_help(AttributeConfig, "backend")),
    as_json: bool = typer.Option(False, "--json", help="print the run summary as JSON on stdout"),
) -> None:
    """Find quotations, characters and speakers; write one persona shard per book (resumable)."""
    if not 0.0 <= min_confidence <= 1.0:
        raise CorpusError(f"--min-confidence must be between 0 and 1, got {min_confidence}")
    if context_paragraphs < 0 or context_chars < 0:
        raise CorpusError("--context-paragraphs and --context-chars must be >= 0")
    config = AttributeConfig(
        attribution=dataclasses.replace(AttributionConfig(), spacy_model=spacy_model, min_confidence=min_confidence),
        shards=ShardConfig(context_paragraphs=context_paragraphs, context_max_chars=context_chars),
        parallel=ParallelConfig(executor=executor, workers=workers, ray_address=ray_address),
        backend=backend,
        cast_csv=characters,
        book_ids=tuple(book),
    )
    stderr = Console(stderr=True)
    with BookProgress(stderr, "attribute") as progress:

        def advance(result: BookResult) -> None:
            progress.advance(f"{result.book_id} {result.status} ({result.quotations} quotations, {result.seconds:.1f} s)",
                             result.book_id)
            if result.warning:
                progress.note(f"warning: {result.warning}")
            if result.error:
                progress.note(f"warning: book {result.book_id} failed, no shard written: {result.error}")

        results = attribute_books(inputs, out, config, on_result=advance, on_start=progress.start,
                                  on_progress=progress.step)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    else:
        console.print(attribute_table(results, out))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise CorpusError(f"{len(failed)} of {len(results)} books failed (no shard); first: book "
                          f"{failed[0].book_id}: {failed[0].error}")


_SHARD_TARGET_HELP = "a run folder of shards (e.g. build/shards), one book in it (build/shards/1342) or a shard file"


@app.command("characters")
def characters_command(
    target: Path = typer.Argument(..., help=_SHARD_TARGET_HELP),
    book: Optional[str] = typer.Option(None, "--book", help="only this book id"),
    as_json: bool = typer.Option(False, "--json", help="print the rows as JSON"),
) -> None:
    """Print the cast of a book: name, aliases, lines, words, gender (from the shards)."""
    rows = cast_table(target, book)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console.print(cast_rows_table(rows))


@app.command()
def show(
    target: Path = typer.Argument(..., help=_SHARD_TARGET_HELP),
    name: str = typer.Argument(..., help="character name, alias or id (e.g. 'Elizabeth' or 1342:elizabeth-bennet)"),
    book: Optional[str] = typer.Option(None, "--book", help="look only in this book id"),
    limit: int = typer.Option(20, help="show at most this many lines (0: all)"),
    context_chars: int = typer.Option(300, help="characters of context shown before each line (0: none)"),
) -> None:
    """Print a character's lines with the context before each."""
    character = find_character(target, name, book)
    lines = character_lines(target, character, limit or None)
    console.print(Text(f"{character['name']} ({character['character_id']}): {character['lines']} lines", style="bold"))
    for row in lines:
        console.print(Text(f"\nchapter {row['chapter']}, paragraph {row['paragraph']} · {row['quote_type']} "
                           f"· {row['confidence']:.2f} · {row['method']}", style="cyan"))
        if context_chars and row["context"]:
            context = row["context"][-context_chars:]
            console.print(Text(("…" if len(row["context"]) > context_chars else "") + context, style="dim"))
        console.print(Text(f"“{row['text']}”", style="bold"))


@app.command("stats")
def stats_command(
    target: Path = typer.Argument(..., metavar="SHARDS", help=_SHARD_TARGET_HELP),
    plots: Optional[Path] = typer.Option(None, "--plots", help="write PNG plots (lines per character, confidence, "
                                         "quote types per book) into this folder"),
    min_lines: list[int] = typer.Option(list(StatsConfig.min_lines), "--min-lines",
                                        help="count characters with at least this many lines (repeatable)"),
    confidence: list[float] = typer.Option(list(StatsConfig.confidence_levels), "--confidence",
                                           help="... at or above this speaker confidence (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON on stdout"),
) -> None:
    """The corpus report: books, quotations by type, characters, usable personas, outlier books (and plots)."""
    from corpus.shards.stats import corpus_stats

    config = dataclasses.replace(StatsConfig(), min_lines=tuple(min_lines), confidence_levels=tuple(confidence))
    report = corpus_stats(target, config)
    written = []
    if plots is not None:
        from corpus.shards.stats_plots import write_plots

        written = [str(p) for p in write_plots(report, plots)]
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "plots": written}, indent=2, ensure_ascii=False))
        return
    for table in stats_tables(report):
        console.print(table)
    if written:
        console.print(f"plots: {', '.join(written)}", markup=False, highlight=False, soft_wrap=True)


# --- release: the persona dataset on the Hugging Face Hub ------------------------------------------


@app.command()
def release(
    shard_dir: Path = typer.Argument(
        ..., metavar="SHARDS", help="run folder of `corpus attribute` (utterance shards, characters and books tables)"
    ),
    repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository, user/name"),
    dry_run: bool = typer.Option(False, "--dry-run", help="build and validate the folder locally; upload nothing"),
    out: Optional[Path] = typer.Option(None, "--out", help="release folder (default: build/release/USER__NAME)"),
    split_by: SplitUnit = typer.Option(
        ReleaseConfig.split_by, "--split-by", help=_field_help(ReleaseConfig, "split_by")
    ),
    seed: int = typer.Option(ReleaseConfig.seed, "--seed", help=_field_help(ReleaseConfig, "seed")),
    assume_public_domain: list[str] = typer.Option(
        [], "--assume-public-domain", metavar="BOOK_ID",
        help=_field_help(ReleaseConfig, "assume_public_domain") + " (repeatable)",
    ),
    exclude_book: list[str] = typer.Option(
        [], "--exclude-book", metavar="BOOK_ID", help=_field_help(ReleaseConfig, "exclude_books") + " (repeatable)"
    ),
    attribution_report: Optional[Path] = typer.Option(
        None, "--attribution-report", help=_field_help(ReleaseConfig, "attribution_report")
    ),
    private: bool = typer.Option(False, "--private", help="create the repository as private"),
    commit_message: Optional[str] = typer.Option(
        None, "--commit-message", help="commit message (default: what the release holds)"
    ),
) -> None:
    """Package the shards as a Hugging Face dataset (card, splits, licence) and push it."""
    check_repo_id(repo_id)
    token = None if dry_run else resolve_token()
    config = ReleaseConfig(
        split_by=split_by,
        seed=seed,
        assume_public_domain=tuple(assume_public_domain),
        exclude_books=tuple(exclude_book),
        attribution_report=attribution_report,
    )
    built = build_release(shard_dir, out or default_release_folder(repo_id), repo_id, config)
    print_release(built, console)
    if token is None:
        console.print(f"dry run: built and validated {built.folder}; nothing uploaded", markup=False, soft_wrap=True)
        return
    report = upload_release(built, token, private=private, commit_message=commit_message)
    plan = report.plan
    if report.commit_url is None:
        console.print(
            f"{report.repo_url} is up to date: {len(plan.unchanged)} files unchanged, nothing uploaded",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"uploaded {len(plan.send)} files, deleted {len(plan.delete)}, {len(plan.unchanged)} unchanged: "
            f"{report.commit_url}",
            markup=False,
            soft_wrap=True,
        )


def main() -> None:
    """Entry point of the `corpus` console script."""
    run_cli(app)


if __name__ == "__main__":
    main()
