"""Gutenberg raw file -> clean text: header/footer strip, normalisation (decoding in encoding.py, metadata in
preamble.py, chapters in chapters.py, HTML editions in html_edition.py).

The clean text is what every later stage's character offsets refer to, so everything here is
deterministic: the same raw bytes always give the same text.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from corpus.errors import CorpusError
from corpus.gutenberg.chapters import Chapter, ChapterConfig, find_chapters
from corpus.gutenberg.encoding import decode
from corpus.gutenberg.preamble import Preamble, parse_preamble

PUBLIC_DOMAIN_USA = "Public domain in the USA."
COPYRIGHTED = "Copyrighted"


@dataclass(frozen=True)
class CleanConfig:
    """How raw Gutenberg text becomes clean text."""

    wrapped_line_min: int = field(default=45, metadata={"help": "a paragraph is unwrapped when all its lines but the last are at least this long"})
    credits_paragraphs: int = field(default=6, metadata={"help": "how many leading body paragraphs are searched for 'Produced by' credits"})
    chapters: ChapterConfig = field(default_factory=ChapterConfig)


@dataclass
class CleanBook:
    """The clean text of one book and what was learnt while cleaning it."""

    text: str
    preamble: Preamble
    rights: str | None
    encoding: str
    chapters: list[Chapter]
    header_found: bool


# --- header / footer ------------------------------------------------------------------------------

_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE |THIS )?PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b[^\n]*$"
    r"|^[ \t]*\*END\*THE SMALL PRINT![^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_END = re.compile(
    r"^[ \t]*\*{3}[ \t]*END OF (?:THE |THIS )?PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b"
    r"|^[ \t]*End of (?:the |this )?Project Gutenberg(?:['’]s)?\b"
    r"|^[ \t]*\*{3}[ \t]*START: FULL LICENSE",
    re.IGNORECASE | re.MULTILINE,
)
_MARKER_CLOSE_LINES = 3  # a START marker's closing *** may be wrapped onto the next lines
_CREDITS = re.compile(
    r"^(?:Produced by|E-?text prepared by|Transcribed (?:from|by)|This (?:e-?text|e-?book) was (?:prepared|produced)"
    r"|Text file produced by|HTML version by|Updated editions will)",
    re.IGNORECASE,
)
_COPYRIGHTED = re.compile(
    r"This is a COPYRIGHTED Project Gutenberg|one of the few copyrighted individual works", re.IGNORECASE
)
_PUBLIC_DOMAIN = re.compile(
    r"not protected by U\.?S\.? copyright|public domain in the United States"
    r"|for the use of anyone anywhere(?: in the United States)?(?: and most other parts of the world)? at no cost",
    re.IGNORECASE,
)


def split_boilerplate(text: str) -> tuple[str, str, str]:
    """Split a Gutenberg file -> (header, body, footer); header/footer are '' when no marker is found."""
    start = _START.search(text)
    body_start = 0
    if start:
        body_start = start.end()
        if not start.group(0).rstrip().endswith("*"):
            tail = text[body_start:].split("\n", _MARKER_CLOSE_LINES + 1)
            for i, line in enumerate(tail[:_MARKER_CLOSE_LINES + 1]):
                if line.rstrip().endswith("***"):
                    body_start += sum(len(part) + 1 for part in tail[: i + 1])
                    break
    end = _END.search(text, body_start)
    body_end = end.start() if end else len(text)
    return text[:body_start], text[body_start:body_end], text[body_end:]


def detect_rights(header: str, footer: str) -> str | None:
    """'Copyrighted' when the boilerplate says so, 'Public domain in the USA.' for the standard licence, else None."""
    boilerplate = header + "\n" + footer
    if _COPYRIGHTED.search(boilerplate):
        return COPYRIGHTED
    if _PUBLIC_DOMAIN.search(re.sub(r"\s+", " ", boilerplate)):
        return PUBLIC_DOMAIN_USA
    return None


def drop_credits(paragraphs: list[str], config: CleanConfig) -> list[str]:
    """Remove 'Produced by ...' style transcriber credits from the first paragraphs of the body."""
    head = [p for p in paragraphs[: config.credits_paragraphs] if not _CREDITS.match(p.strip())]
    return head + paragraphs[config.credits_paragraphs:]


# --- normalisation --------------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
_DASH_END = ("--", "—", "–")


def split_paragraphs(text: str) -> list[str]:
    """Blocks of text separated by blank lines, without the blank lines."""
    return [p for p in _BLANK_LINES.split(text.strip("\n")) if p.strip()]


def normalise_paragraph(paragraph: str, config: CleanConfig, unwrap: bool = True) -> str:
    """Join a hard-wrapped prose paragraph into one line; keep verse, tables and short-line blocks as lines."""
    lines = [line.rstrip() for line in paragraph.split("\n")]
    while len(lines) > 1 and not lines[0]:  # a whitespace-only first line (text starting " \n"): cleaning must be idempotent
        lines.pop(0)
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    is_prose = len(lines) == 1 or (unwrap and all(len(l.strip()) >= config.wrapped_line_min for l in lines[:-1]))
    if not is_prose:
        return textwrap.dedent("\n".join(lines))
    joined = lines[0].strip()
    for line in lines[1:]:
        joined += ("" if joined.endswith(_DASH_END) else " ") + line.strip()
    return re.sub(r" {2,}", " ", joined)


def normalise(text: str, config: CleanConfig = CleanConfig(), unwrap: bool = True) -> str:
    """Unix line endings, no BOM/trailing spaces, unwrapped prose, exactly one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").expandtabs()
    paragraphs = drop_credits(split_paragraphs(text), config)
    out = "\n\n".join(normalise_paragraph(p, config, unwrap) for p in paragraphs)
    return out + "\n" if out else ""


def clean_text(raw_text: str, config: CleanConfig = CleanConfig(), unwrap: bool = True) -> tuple[str, Preamble, str | None, bool]:
    """Decoded Gutenberg text -> (clean body, preamble, rights, whether a START marker was found)."""
    raw_text = raw_text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    header, body, footer = split_boilerplate(raw_text)
    return normalise(body, config, unwrap), parse_preamble(header), detect_rights(header, footer), bool(header)


def clean_book(raw: bytes, http_charset: str | None = None, forced_encoding: str | None = None,
               config: CleanConfig = CleanConfig()) -> CleanBook:
    """Raw bytes of a plain-text Gutenberg file -> CleanBook (raises CorpusError when empty or undecodable)."""
    text, encoding = decode(raw, http_charset, forced_encoding)
    body, preamble, rights, header_found = clean_text(text, config)
    if not body.strip():
        raise CorpusError("the book has no text between the Gutenberg header and footer")
    return CleanBook(body, preamble, rights, encoding, find_chapters(body, config.chapters), header_found)
