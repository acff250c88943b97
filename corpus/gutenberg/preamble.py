"""Book metadata from the lines above Gutenberg's `*** START OF ...` marker (title, author, release date,
language, encoding)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from corpus.gutenberg.encoding import codec_name

@dataclass
class Preamble:
    """Metadata parsed from the lines above the `*** START OF ...` marker."""

    title: str | None = None
    subtitle: str | None = None
    author: str | None = None
    authors: list[str] = field(default_factory=list)
    release_date: str | None = None
    language: str | None = None
    encoding: str | None = None


_FIELD = re.compile(r"^(Title|Author|Release [Dd]ate|Language|Character set encoding)\s*:\s*(.*)$")
_FIRST_LINE = re.compile(r"The Project Gutenberg E-?(?:Book|Text) of (.+?), by (.+)$", re.IGNORECASE)
_DATE_FORMATS = (("%B %d, %Y", "%Y-%m-%d"), ("%B, %Y", "%Y-%m"), ("%B %Y", "%Y-%m"), ("%Y", "%Y"))


def parse_preamble(header: str) -> Preamble:
    """Title, author(s), release date, language and declared encoding from the header lines."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in header.splitlines():
        match = _FIELD.match(line.strip())
        if match:
            current = fields.setdefault(match.group(1).lower(), [])
            current.append(match.group(2).strip())
        elif current is not None and line.startswith((" ", "\t")) and line.strip() and ":" not in line:
            current.append(line.strip())
        else:
            current = None
    preamble = Preamble()
    titles = fields.get("title", [])
    authors = [a for a in fields.get("author", []) if a]
    if titles:
        preamble.title = titles[0]
        preamble.subtitle = " ".join(titles[1:]) or None
    if authors:
        preamble.author, preamble.authors = authors[0], authors
    if not titles or not authors:
        first = _FIRST_LINE.search(" ".join(header.strip().splitlines()[:2]))
        if first:
            preamble.title = preamble.title or first.group(1).strip()
            if not authors:
                preamble.author = first.group(2).strip()
                preamble.authors = [preamble.author]
    release = fields.get("release date", [])
    if release:
        preamble.release_date = parse_release_date(release[0])
    if fields.get("language"):
        preamble.language = fields["language"][0]
    if fields.get("character set encoding"):
        preamble.encoding = codec_name(fields["character set encoding"][0])
    return preamble


def parse_release_date(value: str) -> str:
    """'June 25, 2008 [EBook #43]' -> '2008-06-25'; 'March, 1998' -> '1998-03'; unparseable dates stay as written."""
    value = re.sub(r"\[.*?\]", "", value).strip()
    for parse_format, out_format in _DATE_FORMATS:
        try:
            return datetime.strptime(value, parse_format).strftime(out_format)
        except ValueError:
            continue
    return value


def merge_preamble(first: Preamble, second: Preamble) -> Preamble:
    """Fields of `first`, falling back to `second` where `first` has none."""
    merged = Preamble()
    for name in vars(merged):
        setattr(merged, name, getattr(first, name) or getattr(second, name))
    return merged
