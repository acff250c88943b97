"""Header/footer stripping, preamble metadata, decoding, normalisation and chapters."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from corpus.gutenberg.chapters import ChapterConfig, find_chapters
from corpus.gutenberg.clean import (
    COPYRIGHTED, PUBLIC_DOMAIN_USA, CleanConfig, clean_book, normalise, split_boilerplate,
)
from corpus.gutenberg.encoding import decode
from corpus.gutenberg.html_edition import clean_html_book
from corpus.gutenberg.preamble import parse_release_date
from corpus.errors import CorpusError
from bench.gutenberg_server import gutenberg_file

LICENCE = re.compile(
    r"START OF (THE|THIS) PROJECT GUTENBERG|END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg"
    r"|Project Gutenberg(-tm|™) License|PROJECT GUTENBERG LICENSE|Gutenberg Literary Archive Foundation"
    r"|^Produced by",
    re.IGNORECASE | re.MULTILINE,
)
OLD_STYLE = (
    "The Project Gutenberg EBook of Old Book, by Some One\r\n\r\n"
    "This eBook is for the use of anyone anywhere at no cost and with\r\nalmost no restrictions whatsoever.\r\n\r\n"
    "Title: Old Book\r\n       Being a Subtitle\r\n\r\nAuthor: Some One\r\n\r\n"
    "Release Date: March, 1998 [EBook #1234]\r\n\r\nLanguage: English\r\n\r\n"
    "***START OF THE PROJECT GUTENBERG EBOOK\r\nOLD BOOK***\r\n\r\n\r\n"
    "Produced by Some Volunteers\r\n\r\n\r\n"
    "It was a dark night.  The wind blew across the moor and the rain fell on\r\n"
    "the roofs of the village, where nobody was awake but the old miller.\r\n\r\n"
    "    The owl, the owl,\r\n    sings in the tower.\r\n\r\n"
    "End of the Project Gutenberg EBook of Old Book, by Some One\r\n\r\n"
    "*** END OF THIS PROJECT GUTENBERG EBOOK OLD BOOK ***\r\n"
)


def test_old_style_header_footer_and_preamble() -> None:
    book = clean_book(OLD_STYLE.encode("ascii"))
    assert book.text == (
        "It was a dark night. The wind blew across the moor and the rain fell on the roofs of the village, "
        "where nobody was awake but the old miller.\n\nThe owl, the owl,\nsings in the tower.\n"
    )
    p = book.preamble
    assert (p.title, p.subtitle, p.author, p.release_date, p.language) == (
        "Old Book", "Being a Subtitle", "Some One", "1998-03", "English")
    assert book.rights == PUBLIC_DOMAIN_USA and book.header_found


def test_modern_file_with_licence_and_chapters() -> None:
    book = clean_book(gutenberg_file(9, "Nine Lives", "A. Cat").encode("utf-8"))
    assert not LICENCE.search(book.text) and "Produced by" not in book.text
    assert book.text.startswith("CHAPTER 1\n\n\u201cThis is line 0")
    assert [c.title for c in book.chapters] == ["CHAPTER 1", "CHAPTER 2", "CHAPTER 3"]
    assert book.chapters[0].start == 0 and book.chapters[-1].end == len(book.text.rstrip())
    assert all(a.end == b.start for a, b in zip(book.chapters, book.chapters[1:]))
    assert book.preamble.release_date == "2008-06-25" and book.encoding == "utf-8"


def test_split_boilerplate_without_markers_keeps_everything() -> None:
    assert split_boilerplate("Just a text.\n") == ("", "Just a text.\n", "")


def test_copyrighted_and_unknown_rights() -> None:
    text = OLD_STYLE.replace("Language: English", "** This is a COPYRIGHTED Project Gutenberg eBook **")
    assert clean_book(text.encode()).rights == COPYRIGHTED
    plain = "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\nSome text here.\n"
    assert clean_book(plain.encode()).rights is None


def test_decoding_by_declared_charset_and_fallbacks() -> None:
    latin = gutenberg_file(5, "Caf\u00e9", "Ren\u00e9", charset="ISO-8859-1").replace("\u201c", '"').replace("\u201d", '"')
    book = clean_book(latin.encode("latin-1"))
    assert book.encoding == "iso8859-1" and book.preamble.title == "Caf\u00e9"
    ascii_declared = gutenberg_file(6, "Na\u00efve", "Zo\u00eb", charset="ASCII").encode("utf-8")
    assert clean_book(ascii_declared).encoding == "utf-8"  # declared ASCII, really UTF-8
    assert decode(b"\xef\xbb\xbfHello")[0] == "Hello"
    assert decode("\u201cHi\u201d".encode("utf-8").decode("latin-1").encode("utf-8")) == (
        "\u201cHi\u201d", "utf-8 (repaired double encoding)")
    with pytest.raises(CorpusError, match="not UTF-8 and declares no character set"):
        decode("caf\u00e9".encode("latin-1"))
    with pytest.raises(CorpusError, match="unknown text encoding"):
        decode(b"x", forced="klingon")
    assert decode("caf\u00e9".encode("latin-1"), forced="latin-1")[0] == "caf\u00e9"


def test_empty_book_is_an_error() -> None:
    empty = "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n"
    with pytest.raises(CorpusError, match="no text between"):
        clean_book(empty.encode())


def test_normalise_keeps_paragraphs_and_short_lines() -> None:
    text = "Line one of a long paragraph that was wrapped at seventy columns or so\nand goes on.\n\n\n\nShort\nlines\n"
    assert normalise(text) == (
        "Line one of a long paragraph that was wrapped at seventy columns or so and goes on.\n\nShort\nlines\n")
    assert normalise("all waiting--all of them wanted to go home very much indeed, sir--\nand then\n") == (
        "all waiting--all of them wanted to go home very much indeed, sir--and then\n")


def test_release_dates() -> None:
    assert parse_release_date("June 25, 2008 [EBook #43]") == "2008-06-25"
    assert parse_release_date("1992 [eBook #46]") == "1992"
    assert parse_release_date("January, 15") == "January, 15"


def test_chapters_skip_the_table_of_contents() -> None:
    prose = "Some prose that runs on. " * 30
    text = "\n\n".join([
        "CONTENTS", "CHAPTER I. The Start", "CHAPTER II. The End",
        "CHAPTER I. The Start", prose, "CHAPTER II. The End", prose,
    ]) + "\n"
    chapters = find_chapters(text)
    assert [c.title for c in chapters] == ["CHAPTER I. The Start", "CHAPTER II. The End"]
    assert text[chapters[0].start:].startswith("CHAPTER I. The Start\n\nSome prose")
    assert text[chapters[1].start:chapters[1].end].strip().endswith("runs on.")
    part = "\n\n".join(["PART ONE", "CHAPTER 1", prose, "CHAPTER 2", prose]) + "\n"
    assert [c.title for c in find_chapters(part)] == ["PART ONE / CHAPTER 1", "CHAPTER 2"]
    assert find_chapters(prose) == []


CHAPTER_EXCERPTS = Path(__file__).resolve().parent / "data" / "chapters"


@pytest.mark.parametrize("excerpt, titles", [
    # Plays: the act is named by an ordinal first (The Importance of Being Earnest, Gutenberg 844).
    ("earnest", ["FIRST ACT SCENE", "SECOND ACT SCENE", "THIRD ACT SCENE"]),
    # A letter novel: each letter opens with its address over a salutation (Humphry Clinker, 2160).
    ("clinker", ["To Dr LEWIS. DOCTOR,", "To Mrs GWYLLIM, house-keeper at Brambleton-hall. MRS GWILLIM,",
                 "TO Mrs MARY JONES, at Brambleton-hall. DEAR MOLLY,"]),
    # Bare upper-case chapter titles under 'FIRST PART' (Siddhartha, 2500).
    ("siddhartha", ["FIRST PART To Romain Rolland, my dear friend / THE SON OF THE BRAHMAN", "WITH THE SAMANAS",
                    "GOTAMA"]),
    # Chapters numbered '-1-' (Right Ho, Jeeves, 10554).
    ("jeeves", ["-1-", "-2-", "-3-"]),
    # An ordinal before the unit: 'THE FIRST REMOVE' (Mary Rowlandson's captivity narrative, 851).
    ("rowlandson", ["THE FIRST REMOVE", "THE SECOND REMOVE", "THE THIRD REMOVE"]),
    # 'CONTENTS:' with a colon, and tale titles that only the contents name (Grimms' Fairy Tales, 2591).
    ("grimm", ["THE GOLDEN BIRD", "HANS IN LUCK", "JORINDA AND JORINDEL"]),
    # A numeral over a title-case title that the contents list without its full stop (Incidents, 11030).
    ("incidents", ["I. Childhood", "II. The New Master And Mistress.", "III. The Slaves' New Year's Day."]),
    # A tale and its postscript under upper-case titles, each with its subtitle (Sleepy Hollow, 41).
    ("sleepy_hollow", ["THE LEGEND OF SLEEPY HOLLOW by Washington Irving / FOUND AMONG THE PAPERS OF THE LATE "
                       "DIEDRICH KNICKERBOCKER.", "POSTSCRIPT. FOUND IN THE HANDWRITING OF MR. KNICKERBOCKER."]),
    # A play's speaker label over a speech ('SECOND SERVANT.') is no heading (Romeo and Juliet, 1513).
    ("romeo", ["SCENE V. A Hall in Capulet’s House."]),
])
def test_chapters_of_plays_letters_and_bare_titles(excerpt: str, titles: list[str]) -> None:
    text = (CHAPTER_EXCERPTS / f"{excerpt}.txt").read_text(encoding="utf-8")
    chapters = find_chapters(text)
    assert [c.title for c in chapters] == titles
    assert all(text[c.start:].startswith(c.title.split()[0]) for c in chapters)


def test_a_title_and_the_end_alone_make_no_chapters() -> None:
    text = "THE TALE\n\n" + "Once there was a long story without any chapters in it. " * 12 + "\n\nTHE END.\n"
    assert find_chapters(text) == []


def test_html_edition() -> None:
    html = """<html><head><meta charset="utf-8"><title>Small Book | Project Gutenberg</title>
    <style>p {color: red}</style></head><body>
    <section id="pg-header" class="pg-boilerplate"><p>This eBook is for the use of anyone anywhere in the United
    States and most other parts of the world at no cost</p>
    <div id="pg-machine-header"><p><strong>Title</strong>: Small Book</p><p><strong>Author</strong>: Jo March</p></div>
    <div>*** START OF THE PROJECT GUTENBERG EBOOK SMALL BOOK ***</div></section>
    <h1>Small Book</h1><h2>CHAPTER I.</h2>
    <p>&ldquo;Christmas won&rsquo;t be Christmas without any presents,&rdquo; grumbled Jo,
    lying on the rug.</p><p>Verse one<br>verse two</p>
    <section id="pg-footer" class="pg-boilerplate"><p>*** END OF THE PROJECT GUTENBERG EBOOK ***</p></section>
    </body></html>"""
    book = clean_html_book(html.encode("utf-8"), config=CleanConfig(chapters=ChapterConfig(min_chapter_chars=10)))
    assert book.text == ("Small Book\n\nCHAPTER I.\n\n\u201cChristmas won\u2019t be Christmas without any presents,"
                         "\u201d grumbled Jo, lying on the rug.\n\nVerse one\nverse two\n")
    assert (book.preamble.title, book.preamble.author) == ("Small Book", "Jo March")
    assert book.rights == PUBLIC_DOMAIN_USA and [c.title for c in book.chapters] == ["CHAPTER I."]


def _manifest(gutenberg_dir: Path) -> list[dict[str, str]]:
    with (gutenberg_dir / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_every_shared_book_is_stripped_and_parsed(gutenberg_dir: Path) -> None:
    for row in _manifest(gutenberg_dir):
        raw = (gutenberg_dir / "cache" / "epub" / row["id"] / f"pg{row['id']}.txt").read_bytes()
        book = clean_book(raw)
        where = f"book {row['id']}"
        assert book.header_found, where
        leftover = LICENCE.search(book.text)
        assert leftover is None, f"{where}: {leftover.group(0)!r} left in the text"
        assert 0.6 < len(book.text) / len(raw.decode("utf-8")) < 1.0, where
        assert (book.preamble.title, book.preamble.author) == (row["title"], row["author"]), where
        assert book.preamble.language == row["language"], where
        assert book.rights in (PUBLIC_DOMAIN_USA, COPYRIGHTED), where
        assert "\r" not in book.text and "\n\n\n" not in book.text and book.text.endswith("\n"), where
        starts = [c.start for c in book.chapters]
        assert starts == sorted(starts) and all(0 <= c.start < c.end <= len(book.text) for c in book.chapters), where


def test_shared_html_editions_match_their_text(gutenberg_dir: Path) -> None:
    for html_file in sorted((gutenberg_dir / "cache" / "epub").glob("*/pg*-images.html")):
        book_id = html_file.parent.name
        from_html = clean_html_book(html_file.read_bytes())
        from_text = clean_book((html_file.parent / f"pg{book_id}.txt").read_bytes())
        assert from_html.preamble.title == from_text.preamble.title
        assert 0.9 < len(from_html.text) / len(from_text.text) < 1.1
        assert len(from_html.chapters) >= 10 and not LICENCE.search(from_html.text)
