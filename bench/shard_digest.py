"""Digests of every shard `corpus attribute` writes for a set of books: the evidence that a refactoring
left the pipeline's output unchanged.

    python bench/shard_digest.py --json digest.json [--pdnc ../shared/pdnc] [--mirror data/gutenberg]
        [--books 46 43 55] [--work /tmp/shard-digest] [--workers 1]
    python bench/shard_digest.py --digest RUN_FOLDER --json digest.json   # an existing run's shards
    python bench/shard_digest.py --compare before.json after.json

It fetches the books from the mirror (the demo's sample by default), links every PDNC novel's
`novel_text.txt` as `<Novel>.txt`, runs the installed `corpus attribute` CLI on both, and writes, per
Parquet file of the run folder, the sha256 of its bytes and of its content: the table (Arrow IPC
bytes, schema metadata left out) and every schema-metadata entry but the settings fingerprint. The
fingerprint hashes the attribution source files themselves, so a move or rename changes the file's bytes
while nothing a reader sees changes; `--compare` therefore compares contents, and reports the bytes.

Across shard schema versions the content is compared in the oldest version's terms: ADDED_COLUMNS are
left out (and digested on their own), and the schema version is taken out of `pipeline_version` and of
the metadata. Schema 2 only added `lead_in_chars`, so shards of 1 and 2 compare equal exactly when every
column both have is identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DEMO_BOOKS = ("46", "43", "55")
SETTINGS_KEY = b"persona_settings"  # the resume fingerprint: hashes the source files, not the output
SCHEMA_VERSION_KEY = b"persona_schema_version"
ADDED_COLUMNS = ("lead_in_chars",)  # columns added after schema version 1
SCHEMA_SUFFIX = re.compile(r"\+schema\d+")  # the schema version inside a pipeline version string


def _versionless(value: str) -> str:
    return SCHEMA_SUFFIX.sub("+schema", value)


def comparable_table(table: pa.Table) -> pa.Table:
    """The table in schema-1 terms: no metadata, no ADDED_COLUMNS, the schema version out of pipeline_version."""
    table = table.replace_schema_metadata(None).drop_columns([c for c in ADDED_COLUMNS if c in table.column_names])
    if "pipeline_version" in table.column_names:
        index = table.column_names.index("pipeline_version")
        versions = pa.array([_versionless(v) for v in table.column(index).to_pylist()], table.schema.field(index).type)
        table = table.set_column(index, table.schema.field(index), versions)
    return table


def _ipc_digest(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def content_digest(path: Path) -> dict[str, str]:
    """sha256 of a Parquet file's bytes, of its table and of its metadata entries (see comparable_table),
    and of each added column on its own."""
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata or {})
    entries = {
        key.decode(): hashlib.sha256(_versionless(value.decode()).encode()).hexdigest()
        for key, value in sorted(metadata.items()) if key not in (SETTINGS_KEY, SCHEMA_VERSION_KEY)
    }
    digests = {
        "bytes": hashlib.sha256(path.read_bytes()).hexdigest(),
        "table": _ipc_digest(comparable_table(table)),
        "rows": str(table.num_rows),
        "metadata": hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest(),
    }
    for column in ADDED_COLUMNS:
        if column in table.column_names:
            digests[f"added:{column}"] = _ipc_digest(table.select([column]))
    return digests


def prepare_inputs(work: Path, mirror: Path, books: list[str], pdnc: Path | None) -> list[Path]:
    """Fetch the sample books and link the PDNC novels; returns the `corpus attribute` inputs."""
    inputs = []
    if books:
        fetched = work / "books"
        _corpus("fetch", *books, "--mirror", str(mirror), "--out", str(fetched))
        inputs.append(fetched)
    if pdnc is not None:
        novels = work / "pdnc"
        novels.mkdir(parents=True, exist_ok=True)
        for folder in sorted(p for p in pdnc.iterdir() if (p / "novel_text.txt").is_file()):
            link = novels / f"{folder.name}.txt"
            if not link.exists():
                link.symlink_to((folder / "novel_text.txt").resolve())
        inputs.append(novels)
    return inputs


def _corpus(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "corpus.cli", *args], check=True, env=os.environ.copy())


def compare(before: dict, after: dict) -> int:
    """Print how two digest files differ; 0 when every file's content is identical."""
    names = sorted(set(before["files"]) | set(after["files"]))
    compared = ("table", "rows", "metadata")
    differ = [n for n in names if [before["files"].get(n, {}).get(k) for k in compared]
              != [after["files"].get(n, {}).get(k) for k in compared]]
    same_bytes = sum(before["files"].get(n, {}).get("bytes") == after["files"].get(n, {}).get("bytes") for n in names)
    print(f"{len(names)} files: {len(names) - len(differ)} with identical content, "
          f"{same_bytes} byte-identical")
    for name in differ:
        print(f"differs: {name}")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="where to write the digests")
    parser.add_argument("--pdnc", type=Path, default=None, help="the PDNC folder (novels to attribute)")
    parser.add_argument("--mirror", type=Path, default=Path("data/gutenberg"))
    parser.add_argument("--books", nargs="*", default=list(DEMO_BOOKS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/shard-digest"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--digest", type=Path, help="digest this existing run folder instead of attributing")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*(json.loads(p.read_text()) for p in args.compare))
    if args.json is None:
        parser.error("--json is required unless --compare is given")
    if args.digest:
        inputs, out = [], args.digest
    else:
        inputs = prepare_inputs(args.work, args.mirror, args.books, args.pdnc)
        out = args.work / "shards"
        _corpus("attribute", *map(str, inputs), "--out", str(out), "--workers", str(args.workers))
    files = {p.name: content_digest(p) for p in sorted(out.glob("*.parquet"))}
    args.json.write_text(json.dumps({"inputs": [str(p) for p in inputs], "files": files}, indent=1) + "\n")
    print(f"{len(files)} shard files -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
