"""bench/shard_digest.py: shards of schema 1 and 2 compare equal exactly when every column both have is equal."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.shards import schema
from corpus.shards.writer import write_book
from tests.attribute_fixtures import harbour_attribution, harbour_text


@pytest.fixture
def digest(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import shard_digest

    return shard_digest


def _as_schema_1(table: pa.Table, context: str | None = None) -> pa.Table:
    """The table as schema 1 wrote it: no lead_in_chars, "+schema1" versions (and optionally one context changed)."""
    rows = table.drop_columns(["lead_in_chars"]).to_pylist()
    for row in rows:
        row["pipeline_version"] = row["pipeline_version"].replace("+schema2", "+schema1")
    if context is not None:
        rows[0]["context"] = context
    metadata = {k: v.replace(b"+schema2", b"+schema1") for k, v in (table.schema.metadata or {}).items()}
    columns = table.schema.remove(table.schema.get_field_index("lead_in_chars")).with_metadata(metadata)
    return pa.Table.from_pylist(rows, schema=columns)


def test_an_added_column_and_the_version_bump_compare_equal_and_a_changed_value_does_not(digest, tmp_path):
    text = harbour_text()
    path = write_book(tmp_path / "now", "harbour", text, harbour_attribution(text))
    assert schema.SCHEMA_VERSION == 2
    table = pq.read_table(path)
    (tmp_path / "old").mkdir()
    pq.write_table(_as_schema_1(table), tmp_path / "old" / path.name)
    pq.write_table(_as_schema_1(table, "changed"), tmp_path / "changed.parquet")
    now, old = digest.content_digest(path), digest.content_digest(tmp_path / "old" / path.name)
    assert now["table"] == old["table"] and now["metadata"] == old["metadata"] and now["bytes"] != old["bytes"]
    assert "added:lead_in_chars" in now and "added:lead_in_chars" not in old
    assert digest.content_digest(tmp_path / "changed.parquet")["table"] != now["table"]
    for name, files in (("a.json", {path.name: now}), ("b.json", {path.name: old})):
        (tmp_path / name).write_text(json.dumps({"files": files}))
    assert digest.compare(*(json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))) == 0
