"""Progress of a command over many books: a bar on a terminal, plain log lines anywhere else.

In CI or behind `| tee` a live bar prints nothing until the end, so off a terminal a run that takes
longer than `heartbeat` seconds says every `heartbeat` seconds that it is still going, and from then on
prints one line per finished book. A short run stays quiet (its one `error:` line stays the only one).
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

HEARTBEAT_S = 30.0


class BookProgress:
    """Counts finished books of a command (`name`, e.g. "attribute") on `console`."""

    def __init__(self, console: Console, name: str, total: int | None = None, heartbeat: float = HEARTBEAT_S) -> None:
        self.console, self.name, self.total, self.heartbeat = console, name, total, heartbeat
        self.done = 0
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._talking = False  # off a terminal: whether the first heartbeat has been printed
        self._inside: dict[str, tuple[int, int]] = {}  # book in progress -> (paragraphs parsed, paragraphs)
        self._inside_tasks: dict[str, object] = {}  # book in progress -> its line under the bar

    def __enter__(self) -> "BookProgress":
        if self.console.is_terminal:
            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
            self._bar = Progress(*columns, console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.name, total=self.total)
        else:
            threading.Thread(target=self._beat, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._bar is not None:
            self._bar.stop()

    def start(self, total: int) -> None:
        """The number of books is known."""
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def step(self, book_id: str, done: int, total: int) -> None:
        """Within a book: `done` of its `total` paragraphs are parsed (a line of its own under the bar)."""
        with self._lock:
            self._inside[book_id] = (done, total)
        if self._bar is None:
            return
        if book_id not in self._inside_tasks:
            self._inside_tasks[book_id] = self._bar.add_task(f"  {book_id} paragraphs parsed", total=total)
        self._bar.update(self._inside_tasks[book_id], completed=done, total=total)

    def advance(self, label: str, book_id: str | None = None) -> None:
        """One more book (`book_id`) is finished; `label` says what happened to it."""
        with self._lock:
            self.done += 1
            self._inside.pop(book_id, None)
        if self._bar is not None:
            if book_id in self._inside_tasks:
                self._bar.remove_task(self._inside_tasks.pop(book_id))
            self._bar.update(self._task, advance=1, description=label)
        elif self._talking:
            self._log(f"{self._count()} {label}")

    def note(self, message: str) -> None:
        """A line (a warning) printed above the bar, or as it is."""
        (self._bar.console if self._bar is not None else self.console).print(message, markup=False, highlight=False,
                                                                             soft_wrap=True)

    def _count(self) -> str:
        return f"{self.done}/{self.total if self.total is not None else '?'}"

    def _log(self, message: str) -> None:
        elapsed = int(time.monotonic() - self._started)
        self.note(f"{self.name}: {message} [{elapsed // 60}m{elapsed % 60:02d}s]")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            self._talking = True
            with self._lock:
                inside = "".join(f"; {book} at {done}/{total} paragraphs" for book, (done, total) in self._inside.items())
            self._log(f"{self._count()} books done{inside}, still working")
