"""Map a function over books: in this process, in a local process pool, or on Ray (local or a cluster).

The mapped function must be a module-level function (picklable) whose results are picklable. Results
come back in completion order; a CorpusError raised in a worker is re-raised here unchanged.
"""

from __future__ import annotations

import multiprocessing
import queue
import socket
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence, TypeVar
from urllib.parse import urlsplit

from corpus import progress
from corpus.errors import CorpusError

EXECUTORS = ("local", "process", "ray")
# Workers start fresh interpreters: forking a parent that runs threads (pyarrow, rich) can deadlock.
START_METHOD = "spawn"
# Ray itself retries an unreachable cluster for minutes; a plain TCP connect says so in seconds.
CONNECT_TIMEOUT_S = 10.0
PROGRESS_POLL_S = 0.25  # how often the parent passes on the workers' progress reports

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class ParallelConfig:
    """Where the books of a run are processed."""

    executor: str = field(
        default="local",
        metadata={"help": "local: this process; process: a pool of --workers processes; ray: Ray tasks"},
    )
    workers: int = field(
        default=1,
        metadata={"help": "worker processes (CPUs of a local Ray instance); more than 1 turns local into process"},
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "Ray cluster to join (e.g. ray://head:10001); a local Ray instance when unset"}
    )

    def resolved_executor(self) -> str:
        """The executor to use: `local` with several workers becomes `process`."""
        if self.executor not in EXECUTORS:
            raise CorpusError(f"unknown executor {self.executor!r}; choose one of {', '.join(EXECUTORS)}")
        if self.workers < 1:
            raise CorpusError(f"--workers must be at least 1, got {self.workers}")
        if self.executor == "local" and self.workers > 1:
            return "process"
        return self.executor


def map_unordered(
    fn: Callable[[Item], Result], items: Sequence[Item], config: ParallelConfig | None = None,
    on_progress: progress.Sink | None = None,
) -> Iterator[Result]:
    """fn(item) for every item, yielded as each finishes; what `fn` reports to `corpus.progress` reaches
    `on_progress` (from this process and from worker processes; not from Ray tasks)."""
    config = config or ParallelConfig()
    executor = config.resolved_executor()
    if not items:
        return iter(())
    if executor == "process":
        return _process_map(fn, items, config.workers, on_progress)
    if executor == "ray":
        return _ray_map(fn, items, config)
    return _local_map(fn, items, on_progress)


def _local_map(fn: Callable[[Item], Result], items: Sequence[Item], on_progress: progress.Sink | None) -> Iterator[Result]:
    for item in items:
        previous = progress.set_sink(on_progress)
        try:
            result = fn(item)
        finally:
            progress.set_sink(previous)
        yield result


def _process_map(fn: Callable[[Item], Result], items: Sequence[Item], workers: int,
                 on_progress: progress.Sink | None) -> Iterator[Result]:
    context = multiprocessing.get_context(START_METHOD)
    reports = context.Queue() if on_progress is not None else None
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context,
                             initializer=_send_progress_to, initargs=(reports,)) as pool:
        pending = {pool.submit(fn, item) for item in items}
        try:
            while pending:
                done, pending = wait(pending, timeout=PROGRESS_POLL_S, return_when=FIRST_COMPLETED)
                _drain(reports, on_progress)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


def _send_progress_to(reports) -> None:  # reports: a multiprocessing queue, or None
    """Worker initializer: this process's progress reports go onto the parent's queue."""
    progress.set_sink(None if reports is None else lambda *report: reports.put(report))


def _drain(reports, on_progress: progress.Sink | None) -> None:
    while reports is not None and on_progress is not None:
        try:
            on_progress(*reports.get_nowait())
        except queue.Empty:
            return


def _ray_map(fn: Callable[[Item], Result], items: Sequence[Item], config: ParallelConfig) -> Iterator[Result]:
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(ray, config)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(fn)
        pending = [task.remote(item) for item in items]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, CorpusError):
                    raise CorpusError(str(exc.cause)) from None
                raise
    finally:
        if started_here:
            ray.shutdown()


def _import_ray():  # -> the ray module
    try:
        import ray
    except ImportError:
        raise CorpusError("--executor ray needs Ray: pip install 'novel-personas[ray]'") from None
    return ray


def _init_ray(ray, config: ParallelConfig) -> None:
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if config.ray_address:
            _check_reachable(config.ray_address)
            ray.init(address=config.ray_address, **options)
        else:
            ray.init(num_cpus=config.workers, **options)
    except (OSError, RuntimeError, ValueError) as exc:  # ConnectionError and TimeoutError are OSErrors
        where = config.ray_address or "a local Ray instance"
        raise CorpusError(f"cannot start Ray ({where}): {exc}") from exc


def _check_reachable(address: str) -> None:
    """Raise CorpusError unless `address` (host:port or ray://host:port) accepts a TCP connection."""
    if address in ("auto", "local"):
        return  # Ray resolves these itself, from this machine's running instance
    try:
        parts = urlsplit(address if "://" in address else f"//{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise CorpusError(f"--ray-address {address!r} is not host:port or ray://host:port")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise CorpusError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None
