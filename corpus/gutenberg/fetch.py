"""`corpus fetch`: download Gutenberg books through the polite client, cache them, write clean text + metadata.

Layout (OUT is --out, CACHE is --cache-dir, default OUT/.cache):
  OUT/<id>.txt                 clean UTF-8 text; every later offset refers to this file
  OUT/<id>.json                metadata (title, author, language, release_date, encoding, rights, source_url,
                               text_sha256, chapters as offsets into OUT/<id>.txt); written last, so it marks
                               a book as complete
  CACHE/cache/epub/<id>/...    raw downloads, in the site's layout
  CACHE/index.json             per raw file: url, size, sha256, ETag, Last-Modified
  CACHE/pg_catalog.csv         the catalog downloaded from the mirror
  OUT/.fetch.lock, CACHE/...   file locks held while a fetch writes; a second fetch of the same folders waits

A download goes to `<file>.part` and is renamed only once its size (and so its hash) is verified; the index
is rewritten atomically after each book. After a crash or kill -9 a rerun skips every complete book,
re-cleans books whose raw file is cached and verified, and downloads the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from filelock import FileLock, Timeout

from corpus.gutenberg import catalog as catalog_mod
from corpus.gutenberg.catalog import CatalogEntry
from corpus.gutenberg.clean import CleanBook, CleanConfig, clean_book
from corpus.gutenberg.html_edition import clean_html_book
from corpus.gutenberg.client import ClientConfig, Download, GutenbergClient, MirrorUnreachable, sha256_file
from corpus.errors import CorpusError
from corpus.shards.parquet import atomic_write_bytes

INDEX_NAME = "index.json"
LOCK_NAME = ".fetch.lock"  # in OUT and CACHE: one `corpus fetch` writes a folder at a time
CATALOG_NAME = "pg_catalog.csv"
LANGUAGE_CODES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "finnish": "fi", "swedish": "sv", "danish": "da", "norwegian": "no", "latin": "la",
    "greek": "el", "russian": "ru", "chinese": "zh", "japanese": "ja", "polish": "pl", "hungarian": "hu",
    "esperanto": "eo", "tagalog": "tl", "catalan": "ca", "czech": "cs", "welsh": "cy", "irish": "ga",
}


@dataclass(frozen=True)
class FetchConfig:
    """Where books go and how they are obtained."""

    out_dir: Path = field(default=Path("build/books"), metadata={"help": "folder for <id>.txt and <id>.json"})
    cache_dir: Path | None = field(default=None, metadata={"help": "raw download cache; default OUT/.cache"})
    refresh: bool = field(default=False, metadata={"help": "revalidate cached books with ETag/Last-Modified instead of skipping them"})
    encoding: str | None = field(default=None, metadata={"help": "decode every book with this codec instead of its declared charset"})
    catalog_max_age_days: float = field(default=7.0, metadata={"help": "re-download the mirror's catalog when the cached copy is older"})
    catalog_connect_timeout: float = field(default=3.0, metadata={"help": "seconds to wait for the mirror before the catalog falls back to the bundled one"})
    lock_timeout: float = field(default=600.0, metadata={"help": "seconds to wait for another fetch writing the same folders before giving up"})
    client: ClientConfig = field(default_factory=ClientConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir is not None else Path(self.out_dir) / ".cache"


@dataclass
class BookResult:
    """What happened to one requested book."""

    gutenberg_id: int
    status: str  # "downloaded", "cleaned from cache", "up to date", "failed"
    title: str | None = None
    author: str | None = None
    source: str | None = None  # "txt" or "html"
    chars: int = 0
    chapters: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return dict(vars(self))


def text_path(book_id: int) -> str:
    """Site-relative path of a book's plain-text file."""
    return f"cache/epub/{book_id}/pg{book_id}.txt"


def html_path(book_id: int) -> str:
    """Site-relative path of a book's HTML edition."""
    return f"cache/epub/{book_id}/pg{book_id}-images.html"


def parse_book_ids(values: Iterable[str]) -> list[int]:
    """'46', '43' -> [46, 43] in order, without duplicates; anything else is a CorpusError."""
    ids: list[int] = []
    for value in values:
        if not value.strip().isdigit() or int(value) <= 0:
            raise CorpusError(f"not a Gutenberg book id: {value!r} (ids are positive numbers, e.g. 1342)")
        if int(value) not in ids:
            ids.append(int(value))
    return ids


class DownloadIndex:
    """CACHE/index.json: what was downloaded, with the facts needed to trust or revalidate it."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.path = cache_dir / INDEX_NAME
        try:
            self.entries: dict[str, dict[str, object]] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.entries = {}
        except (OSError, ValueError):
            self.entries = {}  # an unreadable index only costs re-downloads; it never fakes a complete file

    def file(self, rel_path: str) -> Path:
        return self.cache_dir / rel_path

    def verified(self, rel_path: str) -> dict[str, object] | None:
        """The index entry of `rel_path` if the cached file is still exactly what was downloaded."""
        entry = self.entries.get(rel_path)
        path = self.file(rel_path)
        if entry is None or not path.is_file() or path.stat().st_size != entry.get("size"):
            return None
        return entry if sha256_file(path) == entry.get("sha256") else None

    def record(self, rel_path: str, download: Download) -> None:
        self.entries[rel_path] = {
            "url": download.url, "size": download.size, "sha256": download.sha256, "etag": download.etag,
            "last_modified": download.last_modified, "charset": download.charset,
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def save(self) -> None:
        atomic_write_bytes(self.path, json.dumps(self.entries, indent=1, sort_keys=True).encode("utf-8"))


def book_is_complete(out_dir: Path, book_id: int) -> dict[str, object] | None:
    """The metadata of a finished book (its text hash matches), else None."""
    meta_file, text_file = out_dir / f"{book_id}.json", out_dir / f"{book_id}.txt"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not text_file.is_file() or meta.get("text_sha256") != sha256_file(text_file):
        return None
    return meta


def _ensure_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"  # per process: two fetches may probe one folder at once
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CorpusError(f"{what} {folder} is not writable: {exc.strerror or exc}") from exc


def lock_folders(folders: list[Path], timeout: float, on_wait: Callable[[Path], None] | None = None) -> list[FileLock]:
    """Hold the fetch lock of each folder (in path order, so two fetches cannot deadlock), waiting up to `timeout`
    seconds for another fetch; `on_wait(folder)` is called when one must wait."""
    held: list[FileLock] = []
    try:
        for folder in sorted({Path(f).resolve() for f in folders}):
            lock = FileLock(folder / LOCK_NAME)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if on_wait is not None:
                    on_wait(folder)
                try:
                    lock.acquire(timeout=timeout)
                except Timeout:
                    raise CorpusError(
                        f"another `corpus fetch` is still writing {folder} after {timeout:g} s "
                        f"(it holds {folder / LOCK_NAME}); wait for it to finish or choose another --out"
                    ) from None
            held.append(lock)
    except BaseException:
        _release(held)
        raise
    return held


def _release(locks: list[FileLock]) -> None:
    for lock in reversed(locks):
        lock.release()


class Fetcher:
    """Fetches books one at a time into `config.out_dir` (sequential on purpose: one polite client)."""

    def __init__(self, config: FetchConfig = FetchConfig(), catalog: dict[int, CatalogEntry] | None = None,
                 on_wait: Callable[[Path], None] | None = None) -> None:
        self.config = config
        self.out_dir = Path(config.out_dir)
        _ensure_writable(self.out_dir, "output folder")
        _ensure_writable(config.cache, "cache folder")
        self._locks = lock_folders([self.out_dir, config.cache], config.lock_timeout, on_wait)
        try:
            self.client = GutenbergClient(config.client)
        except BaseException:
            _release(self._locks)
            raise
        self.index = DownloadIndex(config.cache)  # read under the lock: another fetch may have just saved it
        self.catalog = catalog or {}

    def close(self) -> None:
        self.client.close()
        _release(self._locks)

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, book_id: int) -> BookResult:
        """Make OUT/<id>.txt and OUT/<id>.json complete; a CorpusError says why a book cannot be had."""
        if not self.config.refresh:
            meta = book_is_complete(self.out_dir, book_id)
            if meta is not None:
                return BookResult(book_id, "up to date", meta.get("title"), meta.get("author"), meta.get("source_format"),
                                  (self.out_dir / f"{book_id}.txt").stat().st_size, len(meta.get("chapters", [])))
        rel_path, entry, downloaded = self._raw(book_id)
        raw = self.index.file(rel_path).read_bytes()
        source = "html" if rel_path.endswith(".html") else "txt"
        cleaner = clean_html_book if source == "html" else clean_book
        try:
            book = cleaner(raw, entry.get("charset"), self.config.encoding, self.config.clean)
        except CorpusError as exc:
            raise CorpusError(f"book {book_id}: {exc}") from exc
        meta = self._write(book_id, book, str(entry["url"]), source)
        status = "downloaded" if downloaded else "cleaned from cache"
        return BookResult(book_id, status, meta["title"], meta["author"], source, len(book.text), len(book.chapters))

    def _raw(self, book_id: int) -> tuple[str, dict[str, object], bool]:
        """(site-relative path, index entry, whether it was downloaded now) of the book's raw file."""
        for rel_path in (text_path(book_id), html_path(book_id)):
            entry = self.index.verified(rel_path)
            if entry is not None and not self.config.refresh:
                return rel_path, entry, False
            validators = (entry.get("etag"), entry.get("last_modified")) if entry else (None, None)
            download = self.client.download(rel_path, self.index.file(rel_path), *validators)
            if download is None:
                continue
            if download.not_modified and entry is not None:
                return rel_path, entry, False
            self.index.record(rel_path, download)
            self.index.save()
            return rel_path, self.index.entries[rel_path], True
        raise CorpusError(
            f"book {book_id} is not on the mirror (no {self.client.url(text_path(book_id))} "
            f"nor {html_path(book_id).rsplit('/', 1)[1]}); check the id with `corpus search`"
        )

    def _write(self, book_id: int, book: CleanBook, source_url: str, source: str) -> dict[str, object]:
        entry = self.catalog.get(book_id)
        p = book.preamble
        language = (p.language or "").strip()
        text_bytes = book.text.encode("utf-8")
        meta = {
            "gutenberg_id": book_id,
            "title": p.title or (entry.display_title if entry else None),
            "subtitle": p.subtitle,
            "author": p.author or (entry.author if entry else None),
            "authors": p.authors or ([entry.author] if entry and entry.author else []),
            "language": LANGUAGE_CODES.get(language.lower(), language) or (entry.languages[0] if entry and entry.languages else None),
            "release_date": p.release_date or (entry.issued if entry else None),
            "encoding": book.encoding,
            "rights": book.rights,
            "source_url": source_url,
            "source_format": source,
            "text_sha256": hashlib.sha256(text_bytes).hexdigest(),
            "text_chars": len(book.text),
            "chapters": [chapter.to_dict() for chapter in book.chapters],
        }
        try:
            atomic_write_bytes(self.out_dir / f"{book_id}.txt", text_bytes)
            atomic_write_bytes(self.out_dir / f"{book_id}.json",
                               json.dumps(meta, indent=1, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            raise CorpusError(f"cannot write book {book_id} to {self.out_dir}: {exc.strerror or exc}") from exc
        return meta


def fetch_books(book_ids: list[int], config: FetchConfig = FetchConfig(),
                catalog: dict[int, CatalogEntry] | None = None,
                on_book: Callable[[BookResult], None] | None = None,
                on_wait: Callable[[Path], None] | None = None) -> list[BookResult]:
    """Fetch every book; a book that fails is reported in its result, an unreachable mirror stops the run.

    `on_wait(folder)` is called when another fetch holds the folder's lock (this one then waits for it).
    """
    results: list[BookResult] = []
    with Fetcher(config, catalog, on_wait) as fetcher:
        for book_id in book_ids:
            try:
                result = fetcher.fetch(book_id)
            except MirrorUnreachable:
                raise
            except CorpusError as exc:
                result = BookResult(book_id, "failed", error=str(exc))
            results.append(result)
            if on_book is not None:
                on_book(result)
    return results


def load_catalog(client_config: ClientConfig, cache_dir: Path, catalog_file: Path | None = None,
                 max_age_days: float = FetchConfig.catalog_max_age_days,
                 connect_timeout: float = FetchConfig.catalog_connect_timeout) -> tuple[list[CatalogEntry], str]:
    """The catalog and a note saying where it came from.

    Order: `catalog_file`; a cached copy younger than `max_age_days`; the mirror's
    /cache/epub/feeds/pg_catalog.csv (saved to the cache); the small catalog bundled in data/. A mirror
    that cannot be connected to within `connect_timeout` seconds falls back at once, without retries.
    """
    if catalog_file is not None:
        return catalog_mod.read_catalog(Path(catalog_file)), f"catalog: {catalog_file}"
    cached = Path(cache_dir) / CATALOG_NAME
    if cached.is_file() and time.time() - cached.stat().st_mtime < max_age_days * 86400:
        return catalog_mod.read_catalog(cached), f"catalog: {cached} (cached)"
    client_config = replace(client_config, connect_timeout=min(client_config.connect_timeout, connect_timeout))
    try:
        with GutenbergClient(client_config) as client:
            if client.local_root is not None:
                site_copy = client.local_root / catalog_mod.SITE_PATH
                if site_copy.is_file():
                    return catalog_mod.read_catalog(site_copy), f"catalog: {site_copy}"
                download = None
            else:
                cached.parent.mkdir(parents=True, exist_ok=True)
                download = client.download(catalog_mod.SITE_PATH, cached)
            if download is not None:
                return catalog_mod.read_catalog(cached), f"catalog: {download.url}"
            missing = f"the mirror has no {catalog_mod.SITE_PATH}"
    except CorpusError as exc:
        missing = f"the mirror's catalog is unavailable ({exc})"
    except OSError as exc:
        missing = f"cannot cache the catalog in {cached.parent}: {exc.strerror or exc}"
    bundled = catalog_mod.BUNDLED_CATALOG
    if not bundled.is_file():
        raise CorpusError(f"{missing}, and the bundled catalog {bundled} is missing; pass --catalog FILE")
    return catalog_mod.read_catalog(bundled), f"note: {missing}; using the small bundled catalog {bundled}"
