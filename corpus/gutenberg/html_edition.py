"""Gutenberg HTML editions (books without a plain-text file) -> the same clean text as `clean_book`."""

from __future__ import annotations

import re

from corpus.errors import CorpusError
from corpus.gutenberg.chapters import find_chapters
from corpus.gutenberg.clean import CleanBook, CleanConfig, detect_rights, normalise, split_boilerplate
from corpus.gutenberg.encoding import decode
from corpus.gutenberg.preamble import Preamble, merge_preamble, parse_preamble

_HTML_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "li", "dt", "dd", "tr", "td", "th", "caption")
_HTML_BOILERPLATE = ("#pg-header", "#pg-footer", ".pg-boilerplate", "#pg-machine-header")
_HTML_DROP = ("script", "style", "head", "noscript")
_HTML_TITLE_SUFFIX = re.compile(r"\s*\|\s*Project Gutenberg\s*$", re.IGNORECASE)
_LINE_BREAK = "\ue000"  # stands for <br> while source newlines are collapsed like any whitespace
_HTML_BY = re.compile(r"^by\s+(.+)$", re.IGNORECASE)


def html_to_text(html: str) -> tuple[str, Preamble, str]:
    """A Gutenberg HTML edition -> (plain text with one block per paragraph, preamble, boilerplate text).

    Paragraph and heading elements become paragraphs, `<br>` a line break; the site's header/footer
    sections are cut out and returned apart so their metadata and licence can still be read.
    """
    from bs4 import BeautifulSoup  # only HTML-only books need it

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    page_title = _HTML_TITLE_SUFFIX.sub("", title_tag.get_text(" ", strip=True)) if title_tag else ""
    boilerplate = []
    for selector in _HTML_BOILERPLATE:
        for element in soup.select(selector):
            for block in element.find_all(_HTML_BLOCKS + ("div", "section")):
                block.append("\n")
            boilerplate.append(element.get_text())
            element.decompose()
    for element in soup.find_all(_HTML_DROP):
        element.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_LINE_BREAK)
    paragraphs = []
    for element in soup.find_all(_HTML_BLOCKS):
        if element.find_parent(_HTML_BLOCKS) is not None:
            continue
        raw = element.get_text(" ") if element.name == "tr" else element.get_text()
        if element.name == "pre":
            block = raw.replace(_LINE_BREAK, "\n").strip("\n")
        else:
            block = "\n".join(" ".join(line.split()) for line in raw.split(_LINE_BREAK) if line.strip())
        if block.strip():
            paragraphs.append(block)
    boilerplate_text = "\n".join(boilerplate)
    preamble = parse_preamble(boilerplate_text)
    preamble.title = preamble.title or page_title or None
    if preamble.author is None:
        byline = next((m for m in (_HTML_BY.match(p) for p in paragraphs[:5]) if m), None)
        if byline:
            preamble.author, preamble.authors = byline.group(1).strip(), [byline.group(1).strip()]
    return "\n\n".join(paragraphs), preamble, boilerplate_text


def clean_html_book(raw: bytes, http_charset: str | None = None, forced_encoding: str | None = None,
                    config: CleanConfig = CleanConfig()) -> CleanBook:
    """Raw bytes of a Gutenberg HTML edition -> CleanBook (paragraphs are already logical: no unwrapping)."""
    html, encoding = decode(raw, http_charset, forced_encoding)
    text, preamble, boilerplate = html_to_text(html)
    header, body, footer = split_boilerplate(text)
    if header:
        preamble = merge_preamble(parse_preamble(header), preamble)
    body = normalise(body, config, unwrap=False)
    if not body.strip():
        raise CorpusError("the HTML edition has no text between the Gutenberg header and footer")
    rights = detect_rights(boilerplate + "\n" + header, footer)
    return CleanBook(body, preamble, rights, encoding, find_chapters(body, config.chapters), bool(header or boilerplate))
