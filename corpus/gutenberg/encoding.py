"""Raw Gutenberg bytes -> text: the declared or detected charset, and repair of double-encoded UTF-8."""

from __future__ import annotations

import codecs
import re

from corpus.errors import CorpusError

_DECLARED_CHARSET = re.compile(rb"Character set encoding:\s*([^\r\n]+)", re.IGNORECASE)
_HTML_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_PREAMBLE_BYTES = 8192  # the charset line always sits in the first few lines
_MOJIBAKE_MARK = "\u00e2\u0080"  # UTF-8 punctuation that was decoded as latin-1 and re-encoded


def codec_name(declared: str) -> str | None:
    """Python codec name for a charset declaration like 'ISO-8859-1', 'UTF-8.' or 'ISO-646-US (US-ASCII)'."""
    for token in re.findall(r"[A-Za-z0-9_:-]+", declared):
        token = token.strip("-_:")
        if token.upper().startswith("ISO-646") or token.upper() in {"ASCII", "US-ASCII"}:
            return "ascii"
        try:
            return codecs.lookup(token).name
        except LookupError:
            continue
    return None


def declared_charset(raw: bytes, http_charset: str | None = None) -> str | None:
    """The charset the file declares (preamble line or HTML meta), else the HTTP header's."""
    head = raw[:_PREAMBLE_BYTES]
    for pattern in (_DECLARED_CHARSET, _HTML_CHARSET):
        match = pattern.search(head)
        if match:
            name = codec_name(match.group(1).decode("ascii", "replace"))
            if name:
                return name
    return codec_name(http_charset) if http_charset else None


def decode(raw: bytes, http_charset: str | None = None, forced: str | None = None) -> tuple[str, str]:
    """Decode raw bytes -> (text, codec used).

    Order: a forced codec; a UTF-8 BOM; the declared charset; UTF-8 as the fallback when the declared
    charset does not fit (ASCII-declared files often hold UTF-8). Anything else is an error rather than
    a silent guess, because a wrong guess shifts every later offset.
    """
    if forced:
        name = codec_name(forced)
        if name is None:
            raise CorpusError(f"unknown text encoding {forced!r}")
        try:
            return _repair_double_encoding(raw.decode(name), name)
        except UnicodeDecodeError as exc:
            raise CorpusError(f"the file does not decode as {name}: {exc.reason} at byte {exc.start}") from exc
    if raw.startswith(codecs.BOM_UTF8):
        return _repair_double_encoding(raw[len(codecs.BOM_UTF8):].decode("utf-8", "strict"), "utf-8")
    declared = declared_charset(raw, http_charset)
    for name in dict.fromkeys(n for n in (declared, "utf-8") if n):
        try:
            return _repair_double_encoding(raw.decode(name), name)
        except UnicodeDecodeError:
            continue
    if declared:
        raise CorpusError(f"the file declares {declared} but decodes neither as that nor as UTF-8; pass --encoding")
    raise CorpusError("the file is not UTF-8 and declares no character set; pass --encoding (e.g. latin-1)")


def _repair_double_encoding(text: str, name: str) -> tuple[str, str]:
    """Undo UTF-8 that was once decoded as latin-1 and saved again (whole-file mojibake like 'â\\x80\\x9c')."""
    if name != "utf-8" or _MOJIBAKE_MARK not in text:
        return text, name
    try:
        return text.encode("latin-1").decode("utf-8"), "utf-8 (repaired double encoding)"
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text, name
