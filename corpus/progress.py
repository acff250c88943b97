"""Progress inside one book, reported from where the work runs (this process or a worker) to the command.

The parser reports `report(done, total)` as it goes; `book(book_id)` says which book that is, and the
sink (`set_sink`) is the command's callback in this process, or a worker's queue back to it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

Sink = Callable[[str, int, int], None]  # (book id, paragraphs done, paragraphs in all)

_sink: Sink | None = None
_book: str | None = None


def set_sink(sink: Sink | None) -> Sink | None:
    """Send this process's reports to `sink` (None: drop them); returns the previous sink."""
    global _sink
    previous, _sink = _sink, sink
    return previous


@contextmanager
def book(book_id: str) -> Iterator[None]:
    """Reports made inside this block are about `book_id`."""
    global _book
    previous, _book = _book, book_id
    try:
        yield
    finally:
        _book = previous


def report(done: int, total: int) -> None:
    """`done` of `total` units of the current book are finished."""
    if _sink is not None and _book is not None:
        _sink(_book, done, total)
