"""Chapters of a clean text: headings ("CHAPTER I.", "STAVE THREE", "FIRST ACT", a letter's address over its
salutation, bare numerals and upper-case titles), the table of contents told apart from the chapters it lists."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ChapterConfig:
    """How chapter headings are recognised."""

    heading_max_chars: int = field(default=80, metadata={"help": "longest line that can be a chapter heading"})
    heading_max_lines: int = field(default=2, metadata={"help": "most lines a chapter heading paragraph may have"})
    subtitle_max_chars: int = field(default=60, metadata={"help": "longest one-line paragraph after a heading taken as its subtitle"})
    min_chapter_chars: int = field(default=400, metadata={"help": "a heading followed by less text than this is a TOC entry or a part heading"})
    prose_case_ratio: float = field(default=3.0, metadata={"help": "prose has this many times more lower- than upper-case letters"})
    toc_min_run: int = field(default=3, metadata={"help": "this many back-to-back headings of one kind are a table of contents"})
    caps_fallback_below: int = field(default=3, metadata={"help": "a book with fewer headings than this also takes its one-off upper-case lines as headings"})
    salutation_max_chars: int = field(default=40, metadata={"help": "longest salutation ('DEAR LEWIS,') under a letter's address line"})


@dataclass(frozen=True)
class Chapter:
    """A chapter: its heading and its [start, end) character offsets in the clean text."""

    title: str
    start: int
    end: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    "|seventeen|eighteen|nineteen|twenty|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
    "|eleventh|twelfth|last|the\\s+\\w+"
)
_KEYWORD_HEADING = re.compile(
    r"^(?P<kind>chapter|chap\.|stave|book|part|adventure|letter|canto|act|scene|volume|section)\s+"
    rf"(?:[IVXLCDM]+|\d{{1,3}}|{_NUMBER_WORDS})\b\.?(?:(?:\s+|\s*[-—–:.]+\s*).*)?$",
    re.IGNORECASE,
)
_ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth"
    "|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-\\w+|thirtieth|last|final"
)
# 'FIRST ACT', 'Second Part', 'THE FIRST REMOVE': an ordinal before the unit (plays, parts, captivity narratives).
_ORDINAL_HEADING = re.compile(
    rf"^(?:the\s+)?(?:{_ORDINALS})\s+(?P<kind>act|part|book|chapter|scene|volume|epoch|period|remove|removal|canto"
    r"|section|letter|epistle|story|tale|day|night|week|year)\.?$",
    re.IGNORECASE,
)
# 'IV.', '12', '-1-' (Wodehouse's chapters), optionally followed by an upper-case or contents-listed title.
_BARE_NUMERAL = re.compile(r"^[-–—]?\s*(?:[IVXL]+|\d{1,3})\.?\s*[-–—]?(?:\s+(?P<rest>.+))?$")
_STANDALONE = re.compile(r"^(?P<kind>prologue|epilogue|preface|introduction|conclusion|finale)\.?$", re.IGNORECASE)
_CONTENTS = re.compile(r"^(?:table of )?contents[.:]?$", re.IGNORECASE)
# A letter of an epistolary novel opens with its address ('To Dr LEWIS.') over a salutation ('DEAR LEWIS,').
_LETTER_ADDRESS = re.compile(r"^to\s+\S", re.IGNORECASE)
_SALUTATION = re.compile(r"^(?:(?:my\s+)?dear(?:est)?|sir|madam|honoured|respected)\b.*,$", re.IGNORECASE)
_THE_END = re.compile(r"^the\s+end\b", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"\s+\d+$")
_ENTRY_TEXT = re.compile(r"[^\W\d_]")
_SENTENCE_END = (".", "!", "?", ",", ";", ":")
_QUOTES = ("\"", "'", "“", "‘", "_")


@dataclass
class _Heading:
    kind: str
    label: str  # the heading paragraph alone, lower-cased: how a contents entry is recognised again
    title: str  # the label as written, plus its subtitle
    start: int
    end: int  # end of the heading paragraph (and subtitle)


def find_chapters(text: str, config: ChapterConfig = ChapterConfig()) -> list[Chapter]:
    """Chapters of a clean text, in order; [] when the text has no recognisable headings.

    A heading is a short paragraph such as 'CHAPTER IV.', 'Stave I: Marley's Ghost', 'BOOK FIRST.--A JUST MAN',
    'FIRST ACT', a bare roman numeral or '-1-', an entry of the book's own table of contents, or a letter's
    address over its salutation; a book with fewer than `caps_fallback_below` of these also takes its
    one-off upper-case lines ('THE SON OF THE BRAHMAN') as headings. Headings inside the table of
    contents (or in a run of back-to-back headings of one kind) are dropped; a heading followed by too
    little text (a 'PART ONE' above 'CHAPTER I') is merged into the next one. A chapter runs from its
    heading to the next heading; text before the first heading belongs to no chapter.
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text)]
    toc_entries, toc_end = _contents(text, spans, config)
    kinds = [_heading_kind(text[a:b], toc_entries, config) if a >= toc_end else None for a, b in spans]
    for index in range(len(spans) - 1):
        if kinds[index] is None and spans[index][0] >= toc_end and _opens_letter(text, spans, index, config):
            kinds[index] = "letter"
    if sum(kind is not None for kind in kinds) < config.caps_fallback_below:
        kinds = _with_caps_titles(text, spans, kinds, toc_end, config)
    headings: list[_Heading] = []
    for index, (start, end) in enumerate(spans):
        kind = kinds[index]
        if kind is None or (headings and start < headings[-1].end):  # taken as the last heading's subtitle
            continue
        title = " ".join(text[start:end].split())
        label = title.lower()
        if index + 1 < len(spans):
            nxt_start, nxt_end = spans[index + 1]
            if _is_subtitle(text[nxt_start:nxt_end], toc_entries, config):
                title, end = f"{title} {text[nxt_start:nxt_end].strip()}", nxt_end
        headings.append(_Heading(kind, label, title, start, end))
    headings = _drop_contents_runs(headings, config)
    headings = _merge_short(headings, config)
    body_end = len(text.rstrip())
    return [
        Chapter(h.title, h.start, headings[i + 1].start if i + 1 < len(headings) else body_end)
        for i, h in enumerate(headings)
    ]


def _heading_kind(paragraph: str, toc_entries: set[str], config: ChapterConfig) -> str | None:
    lines = paragraph.split("\n")
    if len(lines) > config.heading_max_lines or any(len(l.strip()) > config.heading_max_chars for l in lines):
        return None
    first = " ".join(lines[0].split())
    match = _KEYWORD_HEADING.match(first) or _STANDALONE.match(first)
    if match:
        return match.group("kind").lower()
    ordinal = _ORDINAL_HEADING.match(first)
    if ordinal and len(lines) == 1:  # a play's 'SECOND SERVANT.' over a speech is a speaker, not a heading
        return ordinal.group("kind").lower()
    bare = _BARE_NUMERAL.match(first)
    rest = bare.group("rest") if bare else None
    if bare and (rest is None or rest.isupper() or _normalise_entry(rest.rstrip(".")) in toc_entries):
        return "numeral"
    if _normalise_entry(" ".join(paragraph.split())) in toc_entries:
        return "contents entry"
    return None


def _opens_letter(text: str, spans: list[tuple[int, int]], index: int, config: ChapterConfig) -> bool:
    """Whether paragraph `index` is a letter's address line ('To Mrs JERMYN at her house in Gloucester.')
    with a salutation ('DEAR MADAM,') as the next paragraph."""
    address = text[spans[index][0]:spans[index][1]]
    salutation = text[spans[index + 1][0]:spans[index + 1][1]].strip()
    return (
        "\n" not in address and len(address) <= config.heading_max_chars and bool(_LETTER_ADDRESS.match(address))
        and "\n" not in salutation and len(salutation) <= config.salutation_max_chars
        and (bool(_SALUTATION.match(salutation)) or (salutation.isupper() and salutation.endswith(",")))
    )


def _with_caps_titles(text: str, spans: list[tuple[int, int]], kinds: list[str | None], toc_end: int,
                      config: ChapterConfig) -> list[str | None]:
    """`kinds` plus the one-line upper-case titles ('THE SON OF THE BRAHMAN') that occur once in the book,
    for books whose chapters have bare titles (a name said again, like a play's 'ROMEO.', is no heading)."""
    lines = [text[a:b].strip() if "\n" not in text[a:b] else "" for a, b in spans]
    seen: dict[str, int] = {}
    for line in lines:
        seen[line] = seen.get(line, 0) + 1
    caps = [
        index for index, line in enumerate(lines)
        if kinds[index] is None and spans[index][0] >= toc_end and seen[line] == 1 and _is_caps_title(line, config)
    ]
    if len(caps) < 2:
        return kinds
    titles = set(caps)
    return ["title" if index in titles else kind for index, kind in enumerate(kinds)]


def _is_caps_title(line: str, config: ChapterConfig) -> bool:
    letters = sum(c.isalpha() for c in line)
    return (
        3 <= letters and len(line) <= config.heading_max_chars and line.isupper() and not line.startswith(_QUOTES)
        and not line.startswith(("[", "(", "*")) and not line.endswith((",", ";", ":")) and not _THE_END.match(line)
    )


def _is_subtitle(paragraph: str, toc_entries: set[str], config: ChapterConfig) -> bool:
    line = paragraph.strip()
    if "\n" in line or len(line) > config.subtitle_max_chars or line.startswith(_QUOTES):
        return False
    if _heading_kind(line, toc_entries, config) is not None:
        return False
    return line.isupper() or not line.endswith(_SENTENCE_END)


def _contents(text: str, spans: list[tuple[int, int]], config: ChapterConfig) -> tuple[set[str], int]:
    """The first 'Contents' section -> (its normalised entries, the offset where the book proper resumes).

    The section ends at the first heading that repeats one of its entries, or at the first prose paragraph
    (less the one-line headings right above it): books often go straight from the contents to 'CHAPTER I'.
    """
    for index, (start, end) in enumerate(spans):
        if not _CONTENTS.match(text[start:end].split("\n")[0].strip()):
            continue
        blocks: list[tuple[int, set[str]]] = []
        toc_end = len(text)
        for offset, (nxt_start, nxt_end) in enumerate(spans[index + 1:], start=index + 1):
            block = text[nxt_start:nxt_end]
            if any(_normalise_entry(" ".join(block.split())) in entries for _, entries in blocks):
                toc_end = nxt_start
                break
            if _is_prose(block, config):
                toc_end = _heading_block_start(text, spans, offset, config)
                break
            lines = block.split("\n")
            blocks.append((nxt_start, {_normalise_entry(l) for l in lines} | {_normalise_entry(" ".join(block.split()))}))
        entries = set().union(*(e for block_start, e in blocks if block_start < toc_end))
        return {e for e in entries if _ENTRY_TEXT.search(e) and not e.startswith("[")}, toc_end
    return set(), 0


def _is_prose(block: str, config: ChapterConfig) -> bool:
    """A long one-line paragraph of mostly lower-case text (not a heading or an upper-case contents line)."""
    if "\n" in block or len(block) <= config.heading_max_chars or _KEYWORD_HEADING.match(block):
        return False
    return sum(c.islower() for c in block) > sum(c.isupper() for c in block) * config.prose_case_ratio


def _heading_block_start(text: str, spans: list[tuple[int, int]], prose_index: int, config: ChapterConfig) -> int:
    """Start of the one-line headings (e.g. 'I' + 'Introduction') right above the prose paragraph `prose_index`.

    A line in a list of same-kind lines, or a one-off heading like 'Epilogue' that comes again later in the
    book, is the end of the contents, not a heading.
    """
    later = {_normalise_entry(text[a:b]) for a, b in spans[prose_index:]}
    index = prose_index
    while index > 0 and prose_index - index < config.heading_max_lines + 1:
        start, end = spans[index - 1]
        block = text[start:end]
        if "\n" in block or len(block) > config.heading_max_chars:
            break
        kind = _heading_kind(block, set(), config)
        if _STANDALONE.match(block.strip()) and _normalise_entry(block) in later:
            break
        if kind is not None and index > 1:
            before = text[spans[index - 2][0]:spans[index - 2][1]]
            if "\n" not in before and _heading_kind(before, set(), config) == kind:
                break
        index -= 1
    return spans[index][0]


def _normalise_entry(line: str) -> str:
    return " ".join(_PAGE_NUMBER.sub("", line.strip()).lower().split())


def _drop_contents_runs(headings: list[_Heading], config: ChapterConfig) -> list[_Heading]:
    """Drop runs of >= toc_min_run back-to-back headings where a kind repeats (a table of contents).

    The run's last heading is followed by real text, so it is kept, with a different-kind heading right
    above it ('BOOK ONE' over 'CHAPTER I'), unless those headings come again later or the book goes on
    with another kind of heading (both mean the run was a table of contents).
    """
    kept: list[_Heading] = []
    i = 0
    while i < len(headings):
        j = i
        while j + 1 < len(headings) and headings[j + 1].start - headings[j].end < config.min_chapter_chars:
            j += 1
        run = headings[i:j + 1]
        kinds = [h.kind for h in run]
        if len(run) >= config.toc_min_run and len(set(kinds)) < len(kinds):
            run = run[-2:] if run[-2].kind != run[-1].kind else run[-1:]
            later = headings[j + 1:]
            if all(h.label in {x.label for x in later} for h in run) or (
                    later and run[-1].kind not in {x.kind for x in later}):
                run = []
        kept.extend(run)
        i = j + 1
    return kept


def _merge_short(headings: list[_Heading], config: ChapterConfig) -> list[_Heading]:
    """Merge a heading followed by too little text into the next heading ('PART ONE / CHAPTER I')."""
    merged: list[_Heading] = []
    pending: _Heading | None = None
    for i, heading in enumerate(headings):
        if pending is not None:
            heading = _Heading(heading.kind, heading.label, f"{pending.title} / {heading.title}", pending.start, heading.end)
            pending = None
        nxt = headings[i + 1] if i + 1 < len(headings) else None
        if nxt is not None and nxt.start - heading.end < config.min_chapter_chars:
            pending = heading
        else:
            merged.append(heading)
    return merged
