"""Catalog parsing and queries, on a pg_catalog.csv sample and on the bundled data/catalog.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from corpus.gutenberg.catalog import BUNDLED_CATALOG, COLUMNS, display_author, parse_query, read_catalog, search
from corpus.errors import CorpusError

ROWS = [
    ["1342", "Text", "1998-06-01", "Pride and Prejudice", "en", "Austen, Jane, 1775-1817",
     "Courtship -- Fiction; England -- Fiction", "PR", "Best Books Ever Listings"],
    ["98", "Text", "1994-01-01", "A Tale of Two Cities\nA Story of the French Revolution", "en",
     "Dickens, Charles, 1812-1870", "French Revolution -- Fiction", "PR", ""],
    ["46", "Text", "2004-08-11", "A Christmas Carol in Prose; Being a Ghost Story of Christmas", "en",
     "Dickens, Charles, 1812-1870; Leech, John, 1817-1864 [Illustrator]", "Christmas stories", "PR", ""],
    ["1260", "Text", "1998-03-01", "Jane Eyre: An Autobiography", "en", "Brontë, Charlotte, 1816-1855", "", "PR", ""],
    ["17489", "Text", "2006-01-10", "Les misérables, Tome I", "fr", "Hugo, Victor, 1802-1885", "", "PQ", ""],
    ["19994", "Sound", "2006-12-01", "A Christmas Carol", "en", "Dickens, Charles, 1812-1870", "", "", ""],
]


@pytest.fixture()
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "pg_catalog.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(ROWS)
    return path


def ids(entries) -> list[int]:
    return [e.id for e in entries]


def test_parse_rows_with_multiline_titles(catalog_file: Path) -> None:
    entries = read_catalog(catalog_file)
    assert ids(entries) == [1342, 98, 46, 1260, 17489, 19994]
    tale = entries[1]
    assert tale.display_title == "A Tale of Two Cities A Story of the French Revolution"
    assert tale.author == "Charles Dickens" and tale.languages == ("en",)


def test_queries(catalog_file: Path) -> None:
    entries = read_catalog(catalog_file)
    assert ids(search(entries, "author:Dickens")) == [98, 46]  # the Sound edition is not a text
    assert ids(search(entries, "author:dickens type:Sound")) == [19994]
    assert ids(search(entries, 'title:"two cities"')) == [98]
    assert ids(search(entries, "bronte")) == [1260]  # accents folded
    assert ids(search(entries, "fiction", limit=1)) == [1342]
    assert ids(search(entries, "misérables", language="fr")) == [17489]
    assert ids(search(entries, "misérables", language="en")) == []
    assert ids(search(entries, "id:46")) == [46]
    assert ids(search(entries, "christmas illustrator")) == [46]
    assert parse_query('author:Dickens "two cities"').words == ("two cities",)


def test_bad_queries_and_files(catalog_file: Path, tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="unknown search field 'colour'"):
        parse_query("colour:red")
    with pytest.raises(CorpusError, match="cannot parse query"):
        parse_query('title:"unclosed')
    with pytest.raises(CorpusError, match="catalog not found"):
        read_catalog(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="not a Gutenberg catalog: missing column"):
        read_catalog(bad)
    bad.write_text(",".join(COLUMNS) + "\nabc,Text,,T,en,A,,,\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="Text# is not a number"):
        read_catalog(bad)


def test_display_author() -> None:
    assert display_author("Dickens, Charles, 1812-1870") == "Charles Dickens"
    assert display_author("Leech, John, 1817-1864 [Illustrator]") == "John Leech"
    assert display_author("Homer, 751? BCE-651? BCE") == "Homer"
    assert display_author("Anonymous") == "Anonymous"


def test_bundled_catalog_covers_the_shared_mirror(gutenberg_dir: Path) -> None:
    bundled = {e.id: e for e in read_catalog(BUNDLED_CATALOG)}
    with (gutenberg_dir / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        manifest = list(csv.DictReader(handle, delimiter="\t"))
    assert {int(row["id"]) for row in manifest} == set(bundled)
    for row in manifest:
        entry = bundled[int(row["id"])]
        assert entry.display_title == row["title"]
        assert entry.author.replace(",", "") == row["author"].rstrip(".").replace(",", "")
    assert {e.id for e in search(list(bundled.values()), "author:Dickens")} == {46, 98, 766, 1400}
