"""Hugging Face dataset release of persona shards: select, clean, split, write, card, validate.

`build_release(shard_dir, out, repo_id)` turns a run folder of `corpus attribute` into the folder of a
Hub dataset repository: `data/<config>/<split>-NNNNN-of-NNNNN.parquet` for the configs `utterances`,
`characters` and `books` (schemas from `corpus.shards.schema`), and a `README.md` dataset card
(`corpus.release.card`). It then loads the folder back with `datasets.load_dataset` and checks the
features and row counts it declares. `corpus.release.upload` pushes the folder.

Only books whose rights say "Public domain in the USA." are released; books without rights metadata
(local texts, PDNC) are an error unless their ids are listed in `assume_public_domain` (the publisher
then vouches for each one, and the card and its books row say so). There is deliberately no switch
that waves all of them through: PDNC, for one, holds novels still in copyright in the USA.

Editions of the same work (same normalised title and author) collapse to the lowest book id. A book's
source is published as its canonical Gutenberg URL (`corpus.release.sources`), never the mirror's path.
Utterances quoting Project Gutenberg licence text are dropped, and licence paragraphs are cut out of
the contexts: rows never change otherwise, so their offsets keep pointing into the clean text whose
sha256 the books table records.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.shards import parquet, schema
from corpus.shards.schema import PARAGRAPH_BREAK
from corpus.errors import CorpusError
from corpus.attribution.quotes import paragraph_spans
from corpus.release.accuracy import read_attribution_report
from corpus.release.card import features_of, write_card
from corpus.release.sources import public_source
from corpus.release.splits import book_order, count_split_units, split_table
from corpus.release.types import (
    CARD_FILE,
    CONFIGS,
    DATA_DIR,
    ConfigFiles,
    Release,
    ReleaseConfig,
    ReleaseTables,
    Selection,
)

if TYPE_CHECKING:
    import datasets

PUBLIC_DOMAIN_USA = "public domain in the usa"  # Gutenberg's wording, normalised by `_normalised_rights`
ASSUMED_RIGHTS = "Public domain in the USA (asserted by the publisher of this release; no Gutenberg rights metadata)."
# Licence and trademark text of Project Gutenberg that a header/footer strip may have left behind.
GUTENBERG_LICENCE_PATTERN = r"(?i)project\s+gutenberg|gutenberg\s+literary\s+archive|gutenberg\.org|gutenberg-tm"
GUTENBERG_LICENCE = re.compile(GUTENBERG_LICENCE_PATTERN)
GUTENBERG_END = r"(?i)\*\*\*\s*end\s+of\s+(the\s+|this\s+)?project\s+gutenberg"  # all after it is licence


# ---------------------------------------------------------------- reading


def read_release_tables(shard_dir: Path) -> ReleaseTables:
    """The utterances, characters and books of a run folder, checked for one schema version and consistency."""
    shard_dir = Path(shard_dir)
    utterance_paths = parquet.utterance_shards(shard_dir)
    _check_one_schema_version([*utterance_paths, shard_dir / schema.CHARACTERS_FILE, shard_dir / schema.BOOKS_FILE])
    try:
        tables = ReleaseTables(
            parquet.read_utterances(shard_dir), parquet.read_characters(shard_dir), parquet.read_books(shard_dir)
        )
    except ValueError as exc:  # the cast to the schema refuses nulls where provenance columns must have values
        raise CorpusError(
            f"the shards in {shard_dir} do not match the schema ({exc}); re-run `corpus attribute`"
        ) from exc
    if tables.utterances.num_rows == 0:
        raise CorpusError(f"the shards in {shard_dir} hold no utterances; nothing to release")
    book_ids = set(tables.books.column("book_id").to_pylist())
    orphans = sorted(set(tables.utterances.column("book_id").to_pylist()) - book_ids, key=book_order)
    if orphans:
        raise CorpusError(
            f"{shard_dir / schema.BOOKS_FILE} has no row for books {_listed(orphans)} that have utterances; "
            "rebuild the run tables with `corpus attribute`"
        )
    return tables


def _check_one_schema_version(paths: list[Path]) -> None:
    versions: dict[int | None, list[str]] = {}
    for path in paths:
        if not path.is_file():
            raise CorpusError(f"shard not found: {path}")
        try:
            version = schema.schema_version_of(pq.read_schema(path))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise CorpusError(f"corrupt or unreadable Parquet shard {path}: {exc}") from exc
        versions.setdefault(version, []).append(path.name)
    if len(versions) > 1:
        described = "; ".join(f"version {v}: {_listed(names)}" for v, names in sorted(versions.items(), key=str))
        raise CorpusError(
            f"the shards mix schema versions ({described}); re-run `corpus attribute` so all use version "
            f"{schema.SCHEMA_VERSION}"
        )


# ---------------------------------------------------------------- selection


def _normalised_rights(rights: str | None) -> str:
    return " ".join((rights or "").casefold().split()).rstrip(".")


def exclude_books(tables: ReleaseTables, excluded: tuple[str, ...], selection: Selection) -> ReleaseTables:
    """Leave out the books named in `excluded` (all must be in the shards)."""
    book_ids = tables.books.column("book_id").to_pylist()
    strangers = sorted(set(excluded) - set(book_ids), key=book_order)
    if strangers:
        raise CorpusError(f"--exclude-book names books that are not in the shards: {_listed(strangers)}")
    selection.excluded = sorted(set(excluded), key=book_order)
    return _keep_books(tables, [b for b in tables.books.to_pylist() if b["book_id"] not in excluded])


def select_public_domain(tables: ReleaseTables, assumed: tuple[str, ...], selection: Selection) -> ReleaseTables:
    """Keep the books that are public domain in the USA; the others are recorded in `selection`.

    Books without rights metadata are an error unless their ids are in `assumed` (the publisher has
    checked them); rights metadata, where present, always wins over `assumed`.
    """
    books = tables.books.to_pylist()
    strangers = sorted(set(assumed) - {b["book_id"] for b in books}, key=book_order)
    if strangers:
        raise CorpusError(f"--assume-public-domain names books that are not in the shards: {_listed(strangers)}")
    unknown = [b["book_id"] for b in books if not _normalised_rights(b["rights"]) and b["book_id"] not in assumed]
    if unknown:
        raise CorpusError(
            f"books {_listed(sorted(unknown, key=book_order))} have no rights metadata; fetch them with "
            "`corpus fetch` (it records the Gutenberg copyright status) or name each one you have checked is "
            "public domain in the USA with --assume-public-domain BOOK_ID"
        )
    kept = []
    for book in books:
        rights = _normalised_rights(book["rights"])
        if not rights:
            selection.assumed_public_domain.append(book["book_id"])
            kept.append({**book, "rights": ASSUMED_RIGHTS})
        elif rights == PUBLIC_DOMAIN_USA:
            kept.append(book)
        else:
            selection.not_public_domain[book["book_id"]] = book["rights"]
    return _keep_books(tables, kept)


def _work_key(title: str | None, author: str | None) -> tuple[str, str] | None:
    """Normalised (title, author) of a work; None when either is unknown (such books never collapse)."""
    if not title or not author:
        return None
    title_words = _plain_words(title)
    if title_words and title_words[0] in ("the", "a", "an"):
        title_words = title_words[1:]
    author_words = sorted(w for w in _plain_words(author) if not w.isdigit())  # "Austen, Jane, 1775-1817"
    return " ".join(title_words), " ".join(author_words)


def _plain_words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"[\W_]+", " ", letters).split()


def collapse_editions(tables: ReleaseTables, selection: Selection) -> ReleaseTables:
    """Keep one edition (the lowest book id) of each work; the others are recorded in `selection`."""
    books = sorted(tables.books.to_pylist(), key=lambda b: book_order(b["book_id"]))
    first_of_work: dict[tuple[str, str], str] = {}
    kept = []
    for book in books:
        key = _work_key(book["title"], book["author"])
        if key is not None and key in first_of_work:
            selection.duplicate_editions[book["book_id"]] = first_of_work[key]
            continue
        if key is not None:
            first_of_work[key] = book["book_id"]
        kept.append(book)
    return _keep_books(tables, kept)


def with_public_sources(tables: ReleaseTables) -> ReleaseTables:
    """The books with their `source` as a release publishes it: canonical Gutenberg URLs, no local paths or hosts."""
    return _keep_books(tables, [{**b, "source": public_source(b["source"])} for b in tables.books.to_pylist()])


def _keep_books(tables: ReleaseTables, kept_books: list[dict]) -> ReleaseTables:
    ids = pa.array([b["book_id"] for b in kept_books], pa.string())
    return ReleaseTables(
        tables.utterances.filter(pc.is_in(tables.utterances.column("book_id"), ids)),
        tables.characters.filter(pc.is_in(tables.characters.column("book_id"), ids)),
        parquet.to_table(kept_books, schema.BOOKS),
    )


# ---------------------------------------------------------------- Gutenberg licence text


def strip_gutenberg_licence(utterances: pa.Table, selection: Selection) -> pa.Table:
    """Drop utterances that quote Project Gutenberg licence text or follow its end marker, and cut
    licence paragraphs out of the remaining contexts."""
    licence_line = pc.match_substring_regex(utterances.column("text"), GUTENBERG_LICENCE_PATTERN)
    after_end = pc.match_substring_regex(utterances.column("context"), GUTENBERG_END)
    keep = pc.invert(pc.or_(licence_line, after_end))
    kept = utterances.filter(keep)
    selection.licence_utterances_dropped += utterances.num_rows - kept.num_rows
    context = kept.column("context").combine_chunks()
    mentions = pc.match_substring_regex(context, GUTENBERG_LICENCE_PATTERN)
    if not pc.any(mentions).as_py():
        return kept
    lead_in = kept.column("lead_in_chars").combine_chunks()
    cleaned, cleaned_lead_in = [], []
    for value, chars in zip(context.filter(mentions).to_pylist(), lead_in.filter(mentions).to_pylist()):
        new_value, new_chars, removed = _without_licence_paragraphs(value, chars)  # only the few that mention it
        cleaned.append(new_value)
        cleaned_lead_in.append(new_chars)
        selection.licence_paragraphs_removed += removed
    context = pc.replace_with_mask(context, mentions, pa.array(cleaned, pa.string()))
    lead_in = pc.replace_with_mask(lead_in, mentions, pa.array(cleaned_lead_in, pa.int32()))
    for name, column in (("context", context), ("lead_in_chars", lead_in)):
        index = kept.schema.get_field_index(name)
        kept = kept.set_column(index, kept.schema.field(index), column)
    return kept


def _without_licence_paragraphs(context: str, lead_in_chars: int) -> tuple[str, int, int]:
    """The context without its paragraphs that mention Project Gutenberg, its lead-in's length then (0 when
    the lead-in was one of them), and how many were cut."""
    paragraphs = [context[start:end] for start, end in paragraph_spans(context)]
    kept = [p for p in paragraphs if not GUTENBERG_LICENCE.search(p)]
    separator = "\n\n" if PARAGRAPH_BREAK.search(context) else "\n"
    lead_in = context[len(context) - lead_in_chars :]
    return separator.join(kept), 0 if GUTENBERG_LICENCE.search(lead_in) else lead_in_chars, len(paragraphs) - len(kept)


# ---------------------------------------------------------------- writing and validating


def write_config(folder: Path, config_name: str, splits: dict[str, pa.Table], config: ReleaseConfig) -> ConfigFiles:
    """Write a config's splits as `data/<config>/<split>-NNNNN-of-NNNNN.parquet`."""
    table_schema = schema.TABLES[config_name]
    written = ConfigFiles()
    for split, table in splits.items():
        n_files = -(-table.num_rows // config.rows_per_file)
        paths = []
        for i in range(n_files):
            relative = f"{DATA_DIR}/{config_name}/{split}-{i:05d}-of-{n_files:05d}.parquet"
            part = table.slice(i * config.rows_per_file, config.rows_per_file)
            parquet.write_table(part, folder / relative, table_schema)
            paths.append(relative)
        written.files[split] = paths
        written.rows[split] = table.num_rows
        written.nbytes[split] = table.nbytes
    return written


def validate_release(release: Release) -> None:
    """Load every config with `datasets.load_dataset` and check its splits, features and row counts."""
    import datasets  # heavy; only needed here


    progress_was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        with tempfile.TemporaryDirectory(prefix="release-validate-") as cache_dir:
            for name, files in release.configs.items():
                try:
                    loaded = datasets.load_dataset(str(release.folder), name, cache_dir=cache_dir)
                except Exception as exc:  # datasets raises many types; any of them means the folder is unusable
                    raise CorpusError(f"datasets cannot load config {name!r} of {release.folder}: {exc}") from exc
                _check_loaded(name, loaded, files, features_of(name))
    finally:
        if progress_was_enabled:
            datasets.enable_progress_bars()


def _check_loaded(name: str, loaded: "datasets.DatasetDict", files: ConfigFiles, expected: "datasets.Features") -> None:
    if set(loaded.keys()) != set(files.rows):
        raise CorpusError(f"config {name}: datasets loads splits {sorted(loaded)}, expected {sorted(files.rows)}")
    for split, rows in files.rows.items():
        if loaded[split].features != expected:
            raise CorpusError(f"config {name}, split {split}: loaded features differ from the schema")
        if loaded[split].num_rows != rows:
            raise CorpusError(f"config {name}, split {split}: loaded {loaded[split].num_rows} rows, wrote {rows}")


def build_release(
    shard_dir: Path, out: Path, repo_id: str, config: ReleaseConfig = ReleaseConfig(), validate: bool = True
) -> Release:
    """Build (and by default validate) the release folder `out` from the shards in `shard_dir`.

    The folder is built next to `out` and swapped in only once complete; an existing `out` must be
    an earlier release folder (README.md and data/), which is replaced.
    """

    config.validate()
    out = Path(out)
    _check_replaceable(out)
    report = read_attribution_report(config.attribution_report) if config.attribution_report else None
    selection = Selection()
    tables = read_release_tables(shard_dir)
    tables = exclude_books(tables, config.exclude_books, selection)
    tables = select_public_domain(tables, config.assume_public_domain, selection)
    tables = with_public_sources(collapse_editions(tables, selection))
    tables.utterances = strip_gutenberg_licence(tables.utterances, selection)
    if tables.utterances.num_rows == 0:
        raise CorpusError(f"no utterances of public-domain books are left to release from {shard_dir}")
    if tables.characters.num_rows == 0:
        raise CorpusError(f"the released books of {shard_dir} have no characters; nothing to release")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
    except OSError as exc:
        raise parquet.write_error(out, exc) from exc
    try:
        configs = {
            name: write_config(building, name, split_table(name, getattr(tables, name), config), config)
            for name in CONFIGS
        }
        units = count_split_units(tables.utterances, config)
        release = Release(building, repo_id, config, configs, selection, tables, units)
        write_card(release, report)
        if validate:
            validate_release(release)
        _swap_in(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    release.folder = out
    return release


def _is_release_folder(path: Path) -> bool:
    return (path / CARD_FILE).is_file() and (path / DATA_DIR).is_dir()


def _check_replaceable(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_release_folder(out))):
        raise CorpusError(f"{out} exists and is not a release folder; choose a new or empty --out folder")


def _swap_in(building: Path, out: Path) -> None:
    """Replace `out` by the finished folder `building` with renames (the old release is removed last)."""
    try:
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            try:
                building.rename(out)
            except OSError:
                old.rename(out)
                raise
            shutil.rmtree(old)
        else:
            building.rename(out)
    except OSError as exc:
        raise CorpusError(f"cannot move the release into {out}: {exc.strerror or exc}") from exc


def _listed(items: list[str], limit: int = 10) -> str:
    """Items joined by commas, at most `limit` of them and a count of the rest."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def default_release_folder(repo_id: str) -> Path:
    """Where a release of `repo_id` is built when no folder is given: build/release/<user>__<name>."""
    return Path("build") / "release" / repo_id.replace("/", "__")
