"""Input books: local files, folders, `corpus fetch` folders, and every bad input a user can give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.gutenberg.books import BookSource, discover_books, read_book, text_sha256
from corpus.errors import CorpusError
from tests.attribute_fixtures import HARBOUR, harbour_text, write_fetched_book


def test_local_file_keeps_its_exact_text_and_finds_chapters() -> None:
    [source] = discover_books([HARBOUR])
    book = read_book(source)
    assert source.book_id == "harbour" and source.metadata_path is None
    assert book.text == harbour_text()
    assert book.text_sha256 == text_sha256(harbour_text())
    assert [c.title for c in book.chapters] == ["CHAPTER I. THE LETTER", "CHAPTER II. THE CAPTAIN"]
    assert book.metadata.source == str(HARBOUR.resolve()) and book.metadata.title is None


def test_crlf_and_bom_are_kept_so_offsets_match_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes("\ufeff\u201cHello,\u201d she said.\r\n\r\n\u201cBye.\u201d\r\n".encode("utf-8"))
    book = read_book(BookSource("crlf", path))
    assert book.text.startswith("\ufeff\u201cHello") and "\r\n\r\n" in book.text


def test_fetch_folder_uses_gutenberg_ids_and_metadata(tmp_path: Path) -> None:
    text = harbour_text()
    write_fetched_book(tmp_path, 1342, text, chapters=[{"title": "Only", "start": 10, "end": len(text)}])
    write_fetched_book(tmp_path, 84, text)
    sources = discover_books([tmp_path])
    assert [s.book_id for s in sources] == ["1342", "84"]
    book = read_book(sources[0])
    assert book.metadata.title == "The Harbour" and book.metadata.rights == "Public domain in the USA."
    assert book.metadata.source.endswith("/pg1342.txt")
    assert [(c.title, c.start) for c in book.chapters] == [("Only", 10)]
    assert [s.book_id for s in discover_books([tmp_path], ["84"])] == ["84"]


def test_unknown_book_id_suggests_close_ids(tmp_path: Path) -> None:
    write_fetched_book(tmp_path, 1342, harbour_text())
    with pytest.raises(CorpusError, match=r"unknown book id '1343'.*1342"):
        discover_books([tmp_path], ["1343"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b" \n\n\t\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("\u201cHi,\u201d she said.".encode("utf-16"), "binary file"),
        ("\u201cCaf\u00e9,\u201d she said.".encode("cp1252"), "not UTF-8 text"),
    ],
)
def test_bad_text_files_are_refused_in_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        read_book(BookSource("bad", path))


def test_missing_inputs_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="input not found"):
        discover_books([tmp_path / "nope.txt"])
    with pytest.raises(CorpusError, match=r"no \.txt books"):
        discover_books([tmp_path])
    with pytest.raises(CorpusError, match="no input books"):
        discover_books([])


def test_text_changed_after_fetch_is_refused(tmp_path: Path) -> None:
    path = write_fetched_book(tmp_path, 7, harbour_text())
    path.write_text(harbour_text() + "\nAn added line.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="does not match the text_sha256"):
        read_book(discover_books([path])[0])


def test_bad_metadata_is_refused(tmp_path: Path) -> None:
    path = write_fetched_book(tmp_path, 7, harbour_text(), chapters=[{"title": "x", "start": 0, "end": 10**9}])
    with pytest.raises(CorpusError, match="point outside the text"):
        read_book(discover_books([path])[0])
    (tmp_path / "7.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusError, match="cannot read book metadata"):
        discover_books([path])
    (tmp_path / "7.json").write_text(json.dumps({"title": "no id"}), encoding="utf-8")
    with pytest.raises(CorpusError, match="no gutenberg_id"):
        discover_books([path])


def test_two_files_with_one_id_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "story.txt").write_text("\u201cHi.\u201d", encoding="utf-8")
    with pytest.raises(CorpusError, match="two inputs have the book id story"):
        discover_books([tmp_path / "a", tmp_path / "b"])
