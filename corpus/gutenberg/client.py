"""Polite Gutenberg client: one session, retries with backoff and jitter, a per-host delay, verified downloads.

The mirror is an http(s) base URL (the site or a mirror of it), a `file://` URL, or a local folder laid out
like the site (`cache/epub/<id>/pg<id>.txt`), so the tool also runs offline on a copied mirror.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.exceptions import ConnectTimeoutError, HTTPError as Urllib3Error, MaxRetryError, NewConnectionError, ProtocolError
from urllib3.util.retry import Retry

from corpus.errors import CorpusError

MIRROR_ENV = "PERSONA_GUTENBERG_MIRROR"
DEFAULT_MIRROR = "https://www.gutenberg.org"
USER_AGENT = "novel-personas/0.1 (corpus builder for character personas; polite: 1 request/s, retries with backoff)"
_NOT_FOUND = (404, 410)
_NOT_MODIFIED = 304


@dataclass(frozen=True)
class ClientConfig:
    """How the client talks to the mirror."""

    mirror: str | None = field(default=None, metadata={"help": f"base URL or local folder; default ${MIRROR_ENV}, else {DEFAULT_MIRROR}"})
    user_agent: str = field(default=USER_AGENT, metadata={"help": "User-Agent header sent with every request"})
    connect_timeout: float = field(default=10.0, metadata={"help": "seconds to wait for a connection"})
    read_timeout: float = field(default=60.0, metadata={"help": "seconds to wait for the next bytes of a response"})
    min_delay: float = field(default=1.0, metadata={"help": "minimum seconds between two requests to the same host"})
    retries: int = field(default=5, metadata={"help": "retries on 429/5xx, connection errors, timeouts and cut-off bodies"})
    backoff_factor: float = field(default=1.0, metadata={"help": "retry n waits backoff_factor * 2**(n-1) seconds (plus jitter)"})
    backoff_jitter: float = field(default=0.5, metadata={"help": "up to this many random extra seconds per retry"})
    backoff_max: float = field(default=60.0, metadata={"help": "longest wait between retries, in seconds"})
    retry_after_max: float = field(default=300.0, metadata={"help": "longest Retry-After wait honoured, in seconds"})
    retry_statuses: tuple[int, ...] = field(default=(429, 500, 502, 503, 504), metadata={"help": "HTTP statuses that are retried"})
    chunk_bytes: int = field(default=1 << 16, metadata={"help": "download chunk size"})


@dataclass(frozen=True)
class Download:
    """A file now complete at `path` (or, when `not_modified`, the caller's copy is still current)."""

    url: str
    path: Path
    size: int
    sha256: str
    etag: str | None
    last_modified: str | None
    charset: str | None
    not_modified: bool = False


class MirrorUnreachable(CorpusError):
    """The mirror cannot be reached at all (no point trying the next book)."""


def resolve_mirror(mirror: str | None) -> str:
    """The mirror to use: the argument, else $PERSONA_GUTENBERG_MIRROR, else the Gutenberg site."""
    return (mirror or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR).strip()


def local_mirror_root(mirror: str) -> Path | None:
    """The folder of a local mirror (a path or file:// URL); None for http(s) mirrors."""
    parts = urlsplit(mirror)
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # one letter is a Windows drive
        raise CorpusError(f"unsupported mirror {mirror!r}: use an http(s) URL, a file:// URL or a folder")
    return Path(mirror)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def part_path(dest: Path) -> Path:
    """Where a download to `dest` is written until it is verified."""
    return dest.with_name(dest.name + ".part")


class GutenbergClient:
    """Downloads site-relative paths ('cache/epub/46/pg46.txt') from the mirror to verified local files."""

    def __init__(self, config: ClientConfig = ClientConfig()) -> None:
        self.config = config
        self.mirror = resolve_mirror(config.mirror)
        self.local_root = local_mirror_root(self.mirror)
        if self.local_root is not None and not self.local_root.is_dir():
            raise MirrorUnreachable(f"mirror folder not found: {self.local_root}")
        self.session = self._session()
        self._last_request: dict[str, float] = {}
        self._answered_hosts: set[str] = set()  # hosts that sent a response in this session
        self._lock = threading.Lock()

    def _retry(self) -> Retry:
        c = self.config
        client = self

        class CappedRetry(Retry):
            """Retry that honours Retry-After up to `retry_after_max`, so one server cannot stall a fetch for hours,
            and gives up at once on a host that never answered and cannot be connected to (no network, unknown
            name, refused, connect timeout): retrying those only delays the fallback by the whole backoff."""

            def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
                wait = super().get_retry_after(response)
                return None if wait is None else min(wait, c.retry_after_max)

            def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
                host = getattr(_pool, "host", None)
                if _unreachable(error) and host not in client._answered_hosts:
                    raise MaxRetryError(_pool, url, error) from error
                return super().increment(method, url, response, error, _pool, _stacktrace)

        return CappedRetry(
            total=c.retries, connect=c.retries, read=c.retries, status=c.retries, other=0,
            backoff_factor=c.backoff_factor, backoff_jitter=c.backoff_jitter, backoff_max=c.backoff_max,
            status_forcelist=c.retry_statuses, allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True, raise_on_status=True,
        )

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = self.config.user_agent
        adapter = HTTPAdapter(max_retries=self._retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "GutenbergClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, rel_path: str) -> str:
        """Full URL (or local path) of a site-relative path."""
        if self.local_root is not None:
            return str(self.local_root / rel_path)
        return f"{self.mirror.rstrip('/')}/{rel_path.lstrip('/')}"

    def _wait_turn(self, url: str) -> None:
        """Sleep so that two requests to one host are at least `min_delay` seconds apart."""
        host = urlsplit(url).netloc
        with self._lock:
            last = self._last_request.get(host)
            now = time.monotonic()
            if last is not None and now - last < self.config.min_delay:
                time.sleep(self.config.min_delay - (now - last))
            self._last_request[host] = time.monotonic()

    def download(self, rel_path: str, dest: Path, etag: str | None = None,
                 last_modified: str | None = None) -> Download | None:
        """Fetch `rel_path` to `dest` through `dest.part` (verified, then renamed); None when the mirror has no such file.

        With `etag`/`last_modified` the request is conditional and a 304 gives `not_modified=True`.
        """
        dest = Path(dest)
        if self.local_root is not None:
            return self._copy_local(rel_path, dest)
        return self._download_http(self.url(rel_path), dest, etag, last_modified)

    def _copy_local(self, rel_path: str, dest: Path) -> Download | None:
        source = self.local_root / rel_path
        if not source.is_file():
            return None
        _make_parent(dest)
        part = part_path(dest)
        try:
            shutil.copyfile(source, part)
            size = part.stat().st_size
            if size != source.stat().st_size:
                raise CorpusError(f"copy of {source} is incomplete")
            digest = sha256_file(part)
            os.replace(part, dest)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise CorpusError(f"cannot copy {source} to {dest}: {exc.strerror or exc}") from exc
        modified = formatdate(source.stat().st_mtime, usegmt=True)
        return Download(source.resolve().as_uri(), dest, size, digest, None, modified, None)

    def _download_http(self, url: str, dest: Path, etag: str | None, last_modified: str | None) -> Download | None:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        retry = self._retry()
        while True:
            try:
                return self._attempt(url, dest, headers)
            except _BodyError as exc:
                # urllib3 retries only up to the response headers; a body cut short is retried here
                # with the same Retry policy (counts and backoff).
                part_path(dest).unlink(missing_ok=True)
                try:
                    retry = retry.increment("GET", url, error=exc.cause)
                except Urllib3Error:
                    raise CorpusError(f"GET {url} failed after {self.config.retries} retries: {exc}") from exc
                retry.sleep()

    def _attempt(self, url: str, dest: Path, headers: dict[str, str]) -> Download | None:
        self._wait_turn(url)
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            response = self.session.get(url, headers=headers, timeout=timeout, stream=True)
        except requests.exceptions.RetryError as exc:
            raise CorpusError(f"GET {url} failed after {self.config.retries} retries: {_reason(exc)}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise MirrorUnreachable(f"cannot reach the mirror at {url}: {_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise CorpusError(f"GET {url} failed: {_reason(exc)}") from exc
        self._answered_hosts.add(urlsplit(url).hostname)
        with response:
            if response.status_code in _NOT_FOUND:
                return None
            if response.status_code == _NOT_MODIFIED:
                return Download(url, dest, 0, "", response.headers.get("ETag"),
                                response.headers.get("Last-Modified"), None, not_modified=True)
            if response.status_code != 200:
                raise CorpusError(f"GET {url} answered HTTP {response.status_code} {response.reason}")
            return self._save_body(url, response, dest)

    def _save_body(self, url: str, response: requests.Response, dest: Path) -> Download:
        _make_parent(dest)
        part = part_path(dest)
        digest = hashlib.sha256()
        size = 0
        try:
            with part.open("wb") as handle:
                for chunk in response.iter_content(self.config.chunk_bytes):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except (requests.exceptions.RequestException, Urllib3Error) as exc:
            raise _BodyError(exc) from exc
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise CorpusError(f"cannot write {part}: {exc.strerror or exc}") from exc
        expected = response.headers.get("Content-Length")
        if expected is not None and "Content-Encoding" not in response.headers and int(expected) != size:
            raise _BodyError(ProtocolError(f"got {size} of {expected} bytes"))
        os.replace(part, dest)
        return Download(url, dest, size, digest.hexdigest(), response.headers.get("ETag"),
                        response.headers.get("Last-Modified"), response.encoding if "charset" in
                        response.headers.get("Content-Type", "") else None)


def _make_parent(dest: Path) -> None:
    """Create the folder of a file about to be written (only then: a book the mirror lacks leaves no empty folder)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create cache folder {dest.parent}: {exc.strerror or exc}") from exc


class _BodyError(Exception):
    """The response body broke off (timeout, connection reset, fewer bytes than Content-Length)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(_reason(cause))
        inner = cause
        while not isinstance(inner, Urllib3Error) and inner.__context__ is not None:
            inner = inner.__context__
        self.cause = inner if isinstance(inner, Urllib3Error) else ProtocolError(str(cause))


def _unreachable(error: BaseException | None) -> bool:
    """Whether a connection attempt failed before any byte was exchanged (name, refusal, connect timeout)."""
    return isinstance(error, (NewConnectionError, ConnectTimeoutError))


def _reason(exc: BaseException) -> str:
    """The innermost readable cause of a requests/urllib3 error, on one line."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    text = str(getattr(inner, "reason", None) or inner)
    for needle, short in _SHORT_REASONS:
        if needle in text:
            return short
    return " ".join(text.split())[:_REASON_CHARS]


_SHORT_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name not found"),
    ("Temporary failure in name resolution", "host name not found"),
    ("timed out", "timed out"),
    ("IncompleteRead", "the response was cut off before its end"),
)
_REASON_CHARS = 200
