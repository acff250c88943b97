"""A real HTTP server on 127.0.0.1 serving a folder in Gutenberg's site layout, with injectable faults.

Used by the fetch tests and by bench/fetch.py. Faults are per site-relative path:
  "500-once"       first request answers 500, later ones succeed
  "500"            every request answers 500
  "429-once"       first request answers 429 with Retry-After (seconds), later ones succeed
  "stall-once"     first response sends half its body, then stalls `stall_seconds` (past the client's read timeout)
  "truncate-once"  first response announces the full Content-Length but sends half the body and closes
  "truncate"       every response is truncated so
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {".txt": "text/plain", ".html": "text/html", ".csv": "text/csv"}


class GutenbergServer:
    """`with GutenbergServer(root) as server:` serves `root` at `server.url` until the block ends."""

    def __init__(self, root: Path, faults: dict[str, str] | None = None, retry_after: int = 1,
                 stall_seconds: float = 1.0, response_delay: float = 0.0) -> None:
        self.root = Path(root).resolve()
        self.faults = dict(faults or {})
        self.retry_after = retry_after
        self.stall_seconds = stall_seconds
        self.response_delay = response_delay
        self.log: list[tuple[float, str, dict[str, str]]] = []  # (arrival time, path, request headers)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "GutenbergServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def requests_for(self, rel_path: str) -> int:
        """How many requests reached `rel_path`."""
        return sum(1 for _, path, _ in self.log if path == rel_path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (GutenbergHandler,), {"site": self})


class GutenbergHandler(BaseHTTPRequestHandler):
    """Serves the files under `site.root`, with the faults `site` asks for per path."""

    site: "GutenbergServer"

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        rel_path = unquote(urlsplit(self.path).path).lstrip("/")
        with self.site._lock:
            self.site._counts[rel_path] += 1
            count = self.site._counts[rel_path]
            self.site.log.append((time.monotonic(), rel_path, dict(self.headers)))
        if self.site.response_delay:
            time.sleep(self.site.response_delay)
        self._respond(rel_path, self.site.faults.get(rel_path, ""), count)

    def _respond(self, rel_path: str, fault: str, count: int) -> int:
        first = count == 1
        if fault == "500" or (fault == "500-once" and first):
            return self._empty(500)
        if fault == "429-once" and first:
            return self._empty(429, {"Retry-After": str(self.site.retry_after)})
        path = (self.site.root / rel_path).resolve()
        if self.site.root not in path.parents or not path.is_file():
            return self._empty(404)
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            return self._empty(304, {"ETag": etag})
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
        self.end_headers()
        half = len(body) // 2
        if fault == "truncate" or (fault == "truncate-once" and first):
            self.wfile.write(body[:half])
            self.close_connection = True
            return 200
        if fault == "stall-once" and first:
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(self.site.stall_seconds)
            self.close_connection = True
            return 200
        self.wfile.write(body)
        return 200

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> int:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return status


def gutenberg_file(book_id: int, title: str, author: str, chapters: int = 3, charset: str | None = "UTF-8",
                   body_extra: str = "") -> str:
    """The text of a small book in the modern Gutenberg layout: preamble, START marker, chapters, END marker, licence."""
    declared = f"Character set encoding: {charset}\n\n" if charset else ""
    parts = [
        f"The Project Gutenberg eBook of {title}, by {author}\n\n"
        "This eBook is for the use of anyone anywhere in the United States and\n"
        "most other parts of the world at no cost and with almost no restrictions\n"
        "whatsoever.\n\n"
        f"Title: {title}\n\nAuthor: {author}\n\nRelease Date: June 25, 2008 [EBook #{book_id}]\n\n"
        f"Language: English\n\n{declared}"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n\n"
        "Produced by A. Volunteer\n\n\n"
    ]
    for number in range(1, chapters + 1):
        parts.append(f"CHAPTER {number}\n\n")
        for line in range(6):
            parts.append(
                f"\u201cThis is line {line} of chapter {number},\u201d said the narrator of book {book_id}, who\n"
                "kept on talking for a long while so that every paragraph is hard-wrapped\n"
                f"over several lines, as Gutenberg files are.{body_extra}\n\n"
            )
    parts.append(
        f"*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n"
        "Updated editions will replace the previous one.\n\n"
        "START: FULL LICENSE\n\nTHE FULL PROJECT GUTENBERG LICENSE\n\n"
        "Creating the works from print editions not protected by U.S. copyright\nlaw means that no one owns a "
        "United States copyright in these works.\n"
    )
    return "".join(parts)


def site_book_ids(root: Path) -> list[int]:
    """Book ids of a site-layout folder: MANIFEST.tsv's order if there is one, else its cache/epub folders."""
    import csv

    manifest = Path(root) / "MANIFEST.tsv"
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as handle:
            return [int(row["id"]) for row in csv.DictReader(handle, delimiter="\t")]
    return sorted(int(p.name) for p in (Path(root) / "cache" / "epub").iterdir() if p.name.isdigit())


def write_book(root: Path, book_id: int, content: bytes, html: bool = False) -> Path:
    """Place a book's bytes at its site path under `root`."""
    name = f"pg{book_id}-images.html" if html else f"pg{book_id}.txt"
    path = Path(root) / "cache" / "epub" / str(book_id) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_catalog(root: Path, rows: list[tuple[int, str, str]]) -> Path:
    """Write pg_catalog.csv at the site's feeds path with (id, title, 'Last, First') rows."""
    import csv

    path = Path(root) / "cache" / "epub" / "feeds" / "pg_catalog.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Text#", "Type", "Issued", "Title", "Language", "Authors", "Subjects", "LoCC", "Bookshelves"])
        for book_id, title, authors in rows:
            writer.writerow([book_id, "Text", "2008-06-25", title, "en", authors, "Fiction", "PR", "Best Books Ever"])
    return path
