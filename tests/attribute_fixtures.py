"""Shared helpers of the attribute-stage tests: a short dialogue text and `corpus fetch`-style folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from corpus.attribution.types import Attribution, BookAttribution
from corpus.attribution.characters import Character
from corpus.gutenberg.chapters import find_chapters
from corpus.attribution.quotes import find_quotations

DATA = Path(__file__).resolve().parent / "data"
HARBOUR = DATA / "attribute" / "harbour.txt"
BOOKNLP = DATA / "booknlp"


def harbour_text() -> str:
    """The test story (two chapters of dialogue, curly quotes), exactly as stored."""
    return HARBOUR.read_bytes().decode("utf-8")


def write_fetched_book(folder: Path, gutenberg_id: int, text: str, **metadata: object) -> Path:
    """Write `<id>.txt` and `<id>.json` as `corpus fetch` does; returns the text path."""
    folder.mkdir(parents=True, exist_ok=True)
    text_path = folder / f"{gutenberg_id}.txt"
    text_path.write_bytes(text.encode("utf-8"))
    record = {
        "gutenberg_id": gutenberg_id,
        "title": "The Harbour",
        "author": "A. Tester",
        "language": "en",
        "release_date": "January 1, 1900 [eBook #%d]" % gutenberg_id,
        "encoding": "utf-8",
        "rights": "Public domain in the USA.",
        "source_url": f"https://www.gutenberg.org/cache/epub/{gutenberg_id}/pg{gutenberg_id}.txt",
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "chapters": [{"title": c.title, "start": c.start, "end": c.end} for c in find_chapters(text)],
    }
    record.update(metadata)
    (folder / f"{gutenberg_id}.json").write_text(json.dumps(record), encoding="utf-8")
    return text_path


CAST = [
    Character("margaret-hale", "Margaret Hale", ["Margaret", "Meg", "Miss Hale"], "female", 6),
    Character("thomas-hale", "Thomas Hale", ["Thomas"], "male", 5),
    Character("mrs-hale", "Mrs. Hale", [], "female", 1),
    Character("captain-ward", "Captain Ward", ["Ward"], "male", 4),
]
# Gold speakers of the 15 quotations of harbour.txt, in order.
SPEAKERS = [
    "thomas-hale", "margaret-hale", "thomas-hale", "margaret-hale", "thomas-hale", "mrs-hale", "thomas-hale",
    "mrs-hale", "captain-ward", "margaret-hale", "captain-ward", "thomas-hale", "captain-ward", "margaret-hale",
    "captain-ward",
]


def harbour_attribution(text: str) -> BookAttribution:
    """A hand-made attribution of harbour.txt: gold speakers, quotation 6 left unattributed."""
    quotations = find_quotations(text)
    assert len(quotations) == len(SPEAKERS)
    attributions = [
        Attribution(q, speaker, ["margaret-hale"] if speaker == "thomas-hale" else [], "explicit", 0.9, "test")
        for q, speaker in zip(quotations, SPEAKERS)
    ]
    attributions[6] = Attribution(quotations[6], None, [], "implicit", 0.2, "none")
    return BookAttribution(list(CAST), attributions)
