"""Atomic Parquet writes and validated reads of persona shards (schemas in `corpus.shards.schema`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.shards import schema
from corpus.errors import CorpusError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp alone gives 0600


def write_error(path: Path, exc: OSError) -> CorpusError:
    """The one-line error of a failed write (disk full, read-only folder, a file where a folder should be)."""
    reason = exc.strerror or str(exc)
    return CorpusError(f"cannot write {path}: {reason}; nothing was changed there")


def _temp_file(path: Path) -> str:
    """A new temp file beside `path` (its folder created), named so a killed run's leftovers can be found."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from exc
    os.close(fd)
    return tmp


def _commit(tmp: str, path: Path, write: Callable[[str], None]) -> None:
    """Run `write(tmp)`, then rename the temp file onto `path`; on any failure remove it and leave `path` as it was."""
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:  # pyarrow's IO errors are OSErrors too
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and a rename (CorpusError when it cannot)."""
    path = Path(path)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    _commit(_temp_file(path), path, write)


def to_table(rows: Sequence[Mapping[str, object]], table_schema: pa.Schema) -> pa.Table:
    """Build a table of `table_schema` from row dicts (missing nullable columns become null)."""
    try:
        return pa.Table.from_pylist(list(rows), schema=table_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CorpusError(f"rows do not match the {table_schema.metadata[b'table'].decode()} schema: {exc}") from exc


def write_table(table: pa.Table, path: Path, table_schema: pa.Schema) -> Path:
    """Validate `table` against `table_schema` and write it atomically as Parquet (CorpusError when it cannot)."""
    path = Path(path)
    if not table.schema.equals(table_schema, check_metadata=False):
        table = table.select(table_schema.names).cast(table_schema)
    table = table.replace_schema_metadata(table_schema.metadata)
    _commit(_temp_file(path), path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return path


def write_rows(rows: Sequence[Mapping[str, object]], path: Path, table_schema: pa.Schema) -> Path:
    """Write row dicts as a Parquet file of `table_schema`, atomically."""
    return write_table(to_table(rows, table_schema), path, table_schema)


def read_table(path: Path, table_schema: pa.Schema, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a shard, checking it is Parquet, of the current schema version, with the expected columns
    (only `columns` of `table_schema`, when given: a report need not load every utterance's context)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"shard not found: {path}")
    if columns is not None:
        table_schema = pa.schema([table_schema.field(name) for name in columns], metadata=table_schema.metadata)
    try:
        file_schema = pq.read_schema(path)
        present = [name for name in table_schema.names if name in file_schema.names]
        table = pq.read_table(path, columns=present if columns is not None else None)
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(f"corrupt or unreadable Parquet shard {path}: {exc}") from exc
    version = schema.schema_version_of(file_schema)
    if version != schema.SCHEMA_VERSION:
        raise CorpusError(
            f"{path} has shard schema version {version}, this tool reads version {schema.SCHEMA_VERSION}; "
            "re-run `corpus attribute`"
        )
    missing = [name for name in table_schema.names if name not in table.column_names]
    if missing:
        raise CorpusError(f"{path} lacks the columns {', '.join(missing)}")
    try:
        return table.select(table_schema.names).cast(table_schema)
    except (pa.ArrowException, ValueError) as exc:  # wrong types, or nulls in a required column
        raise CorpusError(f"{path} does not match the {table_schema.metadata[b'table'].decode()} schema: {exc}") from exc


def utterance_shard_path(shard_dir: Path, book_id: str) -> Path:
    """Where the utterance shard of `book_id` lives in `shard_dir`."""
    return Path(shard_dir) / f"{book_id}{schema.UTTERANCES_FILE_SUFFIX}"


def utterance_shards(shard_dir: Path) -> list[Path]:
    """All utterance shards of a run folder, sorted by name; an error if there are none."""
    shard_dir = Path(shard_dir)
    if not shard_dir.is_dir():
        raise CorpusError(f"shard directory not found: {shard_dir}")
    try:
        paths = sorted(shard_dir.glob(f"*{schema.UTTERANCES_FILE_SUFFIX}"))
    except OSError as exc:
        raise CorpusError(f"cannot read shard directory {shard_dir}: {exc}") from exc
    if not paths:
        raise CorpusError(f"no utterance shards (*{schema.UTTERANCES_FILE_SUFFIX}) in {shard_dir}")
    return paths


def read_utterances(shard_dir: Path, book_ids: Iterable[str] | None = None) -> pa.Table:
    """All utterances of a run folder (optionally only some books) as one table."""
    wanted = set(book_ids) if book_ids is not None else None
    paths = [
        p for p in utterance_shards(shard_dir)
        if wanted is None or p.name[: -len(schema.UTTERANCES_FILE_SUFFIX)] in wanted
    ]
    if wanted is not None and not paths:
        raise CorpusError(f"none of the books {', '.join(sorted(wanted))} has a shard in {shard_dir}")
    return pa.concat_tables([read_table(p, schema.UTTERANCES) for p in paths])


def read_characters(shard_dir: Path) -> pa.Table:
    """The characters table of a run folder."""
    return read_table(Path(shard_dir) / schema.CHARACTERS_FILE, schema.CHARACTERS)


def read_books(shard_dir: Path) -> pa.Table:
    """The books table of a run folder."""
    return read_table(Path(shard_dir) / schema.BOOKS_FILE, schema.BOOKS)
