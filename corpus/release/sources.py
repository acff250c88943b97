"""What a release says a text came from: the canonical Project Gutenberg page, never the mirror it was read from.

`corpus fetch` records the URL it downloaded (`file:///home/.../cache/epub/46/pg46.txt`,
`http://127.0.0.1:8000/...`, a mirror's host); published artefacts must name neither local paths nor
hosts, so a Gutenberg text is cited as `https://www.gutenberg.org/ebooks/<id>` whatever mirror served it,
and any other local text by its file name only.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlsplit

CANONICAL_EBOOK_URL = "https://www.gutenberg.org/ebooks/{id}"
# Where a Gutenberg book's id shows in a mirror's paths: cache/epub/<id>/pg<id>.txt, files/<id>/<id>-0.txt,
# ebooks/<id>, and the old dirs/1/3/4/1342/ layout.
_GUTENBERG_PATHS = (
    re.compile(r"(?:^|/)cache/epub/(\d+)/pg\1(?:-images)?\.[a-z0-9.]+$"),
    re.compile(r"(?:^|/)files/(\d+)/\1(?:-\d+)?\.[a-z0-9.]+$"),
    re.compile(r"(?:^|/)ebooks/(\d+)(?:\.[a-z0-9.]+)?/?$"),
    re.compile(r"(?:^|/)(?:\d/)+(\d+)/\1(?:-\d+)?\.[a-z0-9.]+$"),
)
_PUBLIC_SCHEMES = ("http", "https")
_LOCAL_HOSTS = re.compile(r"^(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|::1|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|"
                          r"172\.(?:1[6-9]|2\d|3[01])\.\d+\.\d+|[^.]+)$")


def gutenberg_id_of(source: str) -> int | None:
    """The Gutenberg ebook number a source URL or path points at, if it has a Gutenberg mirror's layout."""
    path = unquote(urlsplit(source).path if "://" in source else source).replace("\\", "/")
    for pattern in _GUTENBERG_PATHS:
        match = pattern.search(path)
        if match:
            return int(match.group(1))
    return None


def public_source(source: str) -> str:
    """The source as a release may publish it: a canonical Gutenberg URL, a public web URL, or a file name."""
    book_id = gutenberg_id_of(source)
    if book_id is not None:
        return CANONICAL_EBOOK_URL.format(id=book_id)
    parts = urlsplit(source)
    if parts.scheme in _PUBLIC_SCHEMES and parts.hostname and not _LOCAL_HOSTS.match(parts.hostname):
        return parts._replace(netloc=parts.hostname, query="", fragment="").geturl()
    path = unquote(parts.path) if parts.scheme in ("file", *_PUBLIC_SCHEMES) else source
    name = PureWindowsPath(path).name if "\\" in path else PurePosixPath(path).name
    return name or "local text"
