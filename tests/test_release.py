"""`corpus release`: build a Hub dataset folder from shards, load it with `datasets`, push it to a fake Hub."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import datasets
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from corpus import cli
from corpus.shards import parquet, schema
from corpus.errors import CorpusError
from corpus.release.build import build_release, strip_gutenberg_licence
from corpus.release.splits import split_of
from corpus.release.types import ReleaseConfig, Selection, SplitUnit
from corpus.release.card import features_of
from corpus.release.upload import upload_release
from release_fixtures import (
    FORBIDDEN_NAMESPACE, FakeBook, FakeHub, FakeRepo, rewrite_with_schema_version, utterance_row, write_run,
)

TOKEN = "hf_testTokenThatMustNeverBePrinted0123"
REPO = "someone/novel-personas"
LICENCE = re.compile(r"(?i)project\s+gutenberg")
CORPUS = [sys.executable, "-c", "from corpus.cli import main; main()"]


def fake_books() -> list[FakeBook]:
    """Six public-domain works, a second edition of one, and a copyrighted book."""
    return [
        FakeBook(
            "1342", "Pride and Prejudice", "Austen, Jane",
            extra_utterances=[
                {"text": "Project Gutenberg", "context": "Sighs.\n\n*** END OF THE PROJECT GUTENBERG EBOOK 1342 ***"},
                {"text": "Hello there.", "context": "Read the Project Gutenberg License at the end.\n\nShe smiled,",
                 "lead_in_chars": len("She smiled,")},
            ],
        ),
        FakeBook("42671", "Pride and prejudice", "Jane Austen, 1775-1817"),
        FakeBook("98", "A Tale of Two Cities", "Dickens, Charles"),
        FakeBook("1400", "Great Expectations", "Dickens, Charles"),
        FakeBook("730", "Oliver Twist", "Dickens, Charles"),
        FakeBook("11", "Alice's Adventures in Wonderland", "Carroll, Lewis"),
        FakeBook("84", "Frankenstein", "Shelley, Mary Wollstonecraft"),
        FakeBook("9999", "A Modern Novel", "Someone Living", rights="Copyrighted"),
    ]


RELEASED_BOOKS = {"1342", "98", "1400", "730", "11", "84"}


@pytest.fixture(autouse=True)
def offline_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a local folder must not need the network."""
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "shards", fake_books())


def card_yaml(folder: Path) -> dict:
    return yaml.safe_load((folder / "README.md").read_text(encoding="utf-8").split("---\n")[1])


def released(folder: Path, config_name: str) -> dict[str, list[dict]]:
    """Rows of every split of a config, read straight from the Parquet files."""
    splits: dict[str, list[dict]] = {}
    for path in sorted((folder / "data" / config_name).glob("*.parquet")):
        splits.setdefault(path.name.split("-")[0], []).extend(pq.read_table(path).to_pylist())
    return splits


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


# ---------------------------------------------------------------- build and load


def test_release_loads_with_datasets_with_the_declared_features_and_counts(run_dir: Path, tmp_path: Path):
    folder = build_release(run_dir, tmp_path / "release", REPO).folder
    card = card_yaml(folder)
    assert card["license"] == ReleaseConfig.license and card["language"] == ["en"]
    assert card["pretty_name"] and card["task_categories"] and card["size_categories"] == ["n<1K"]
    declared = {info["config_name"]: info for info in card["dataset_info"]}
    assert {c["config_name"] for c in card["configs"]} == set(declared) == {"utterances", "characters", "books"}
    for name, info in declared.items():
        loaded = datasets.load_dataset(str(folder), name, cache_dir=str(tmp_path / "cache"))
        assert {s["name"]: s["num_examples"] for s in info["splits"]} == {s: d.num_rows for s, d in loaded.items()}
        for split in loaded.values():
            assert split.features == features_of(name) == datasets.Features.from_arrow_schema(schema.TABLES[name])
            assert datasets.Features._from_yaml_list(info["features"]) == split.features
    utterances = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))  # the default config
    # 6 released books of 9 lines each, plus 1342's extra line that is not licence text
    assert sum(d.num_rows for d in utterances.values()) == 6 * 9 + 1


def test_only_public_domain_books_one_edition_each_and_licence_text_removed(run_dir: Path, tmp_path: Path):
    release = build_release(run_dir, tmp_path / "release", REPO)
    assert release.selection.not_public_domain == {"9999": "Copyrighted"}
    assert release.selection.duplicate_editions == {"42671": "1342"}
    assert release.selection.licence_utterances_dropped == 1
    assert release.selection.licence_paragraphs_removed == 1
    for name in ("utterances", "characters", "books"):
        rows = [r for split in released(release.folder, name).values() for r in split]
        assert {r["book_id"] for r in rows} == RELEASED_BOOKS
    utterances = [r for split in released(release.folder, "utterances").values() for r in split]
    assert not [r for r in utterances if LICENCE.search(r["text"]) or LICENCE.search(r["context"])]
    hello = next(r for r in utterances if r["text"] == "Hello there.")
    assert hello["context"] == "She smiled," and hello["lead_in_chars"] == len("She smiled,")
    assert all(r["pipeline_version"] == schema.PIPELINE_VERSION and r["char_end"] > r["char_start"] for r in utterances)
    card = (release.folder / "README.md").read_text(encoding="utf-8")
    assert "42671 (kept 1342)" in card and "9999" in card
    assert "not measured for this release" in card


def test_book_split_keeps_each_book_in_one_split_and_is_deterministic(run_dir: Path, tmp_path: Path):
    first = build_release(run_dir, tmp_path / "a", REPO)
    second = build_release(run_dir, tmp_path / "b", REPO)
    assert digests(first.folder) == digests(second.folder)
    for name in ("utterances", "characters", "books"):
        books_by_split = {s: {r["book_id"] for r in rows} for s, rows in released(first.folder, name).items()}
        assert len(books_by_split) >= 2
        assert sum(map(len, books_by_split.values())) == len(set().union(*books_by_split.values()))
        for split, books in books_by_split.items():
            assert all(split_of(b, first.config) == split for b in books)
    reseeded = build_release(run_dir, tmp_path / "c", REPO, ReleaseConfig(seed=7))
    assert digests(reseeded.folder) != digests(first.folder)


def _public_text(path: Path) -> str:
    """A release file as text: Parquet files as their rows, the rest as read."""
    if path.suffix == ".parquet":
        return json.dumps(pq.read_table(path).to_pylist(), default=str) + str(pq.read_metadata(path).metadata)
    return path.read_text(encoding="utf-8", errors="replace")


def test_release_cites_canonical_gutenberg_urls_and_no_local_paths_or_hosts(tmp_path: Path):
    mirror = tmp_path / "home" / "someone" / "mirror"
    books = [
        FakeBook("46", "A Christmas Carol", "Dickens, Charles", source=(mirror / "cache/epub/46/pg46.txt").as_uri()),
        FakeBook("43", "Jekyll and Hyde", "Stevenson, Robert Louis",
                 source="http://127.0.0.1:8123/gutenberg/cache/epub/43/pg43-images.html"),
        FakeBook("55", "The Wonderful Wizard of Oz", "Baum, L. Frank",
                 source="https://user:secret@mirror.internal.example:8443/gutenberg/files/55/55-0.txt"),
        FakeBook("mine", "My Novel", "Me", rights=None, source=str(tmp_path / "home" / "someone" / "my_novel.txt")),
    ]
    run = write_run(tmp_path / "shards", books)
    release = build_release(run, tmp_path / "release", REPO, ReleaseConfig(assume_public_domain=("mine",)))
    sources = {r["book_id"]: r["source"] for rows in released(release.folder, "books").values() for r in rows}
    assert sources == {"46": "https://www.gutenberg.org/ebooks/46", "43": "https://www.gutenberg.org/ebooks/43",
                       "55": "https://www.gutenberg.org/ebooks/55", "mine": "my_novel.txt"}
    forbidden = (str(tmp_path), "file:", "/home/", "127.0.0.1", "localhost", "mirror.internal", "8123", "secret")
    files = [p for p in release.folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "README.md" for p in files)
    for path in files:
        text = _public_text(path)
        assert not [f for f in forbidden if f in text], path


def test_card_states_the_splits_made_and_reports_an_empty_one(tmp_path: Path, monkeypatch, capsys):
    """Three books rarely fill train/validation/test at 80/10/10: the card says what was made, the CLI warns."""
    books = [FakeBook(i, f"Book {i}", "An Author") for i in ("46", "43", "55")]
    seed = next(s for s in range(100) if "test" not in {split_of(b.book_id, ReleaseConfig(seed=s)) for b in books}
                and len({split_of(b.book_id, ReleaseConfig(seed=s)) for b in books}) == 2)
    run = write_run(tmp_path / "shards", books)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, stdout, stderr = run_corpus(monkeypatch, capsys, "release", str(run), "--repo-id", REPO, "--dry-run",
                                      "--out", str(tmp_path / "release"), "--seed", str(seed))
    assert code == 0, stderr
    assert "warning: split 'test' is empty: none of the 3 book(s) fell into it" in " ".join(stderr.split())
    card = " ".join((tmp_path / "release" / "README.md").read_text(encoding="utf-8").split())
    made = {split_of(b.book_id, ReleaseConfig(seed=seed)) for b in books}
    counts = {s: sum(split_of(b.book_id, ReleaseConfig(seed=seed)) == s for b in books) for s in made}
    expected = ", ".join(f"{s} {counts[s]} book{'s' if counts[s] > 1 else ''} ({counts[s] / 3:.0%})"
                         for s, _ in ReleaseConfig().splits if s in counts)
    assert f"The splits made, of 3 books: {expected}." in card
    assert "`test` is empty: no book fell into it, so this release has no such split." in card
    assert "target shares train 80%, validation 10%, test 10%" in card
    assert {s["split"] for c in card_yaml(tmp_path / "release")["configs"] for s in c["data_files"]} == made


@pytest.mark.parametrize("unit", [SplitUnit.CHARACTER, SplitUnit.LINE])
def test_character_and_line_splits(run_dir: Path, tmp_path: Path, unit: SplitUnit):
    release = build_release(run_dir, tmp_path / "release", REPO, ReleaseConfig(split_by=unit))
    utterances = released(release.folder, "utterances")
    assert sum(map(len, utterances.values())) == 6 * 9 + 1
    assert list(released(release.folder, "books")) == ["train"]
    if unit is SplitUnit.CHARACTER:
        speakers = {s: {r["speaker_id"] for r in rows if r["speaker_id"]} for s, rows in utterances.items()}
        assert sum(map(len, speakers.values())) == len(set().union(*speakers.values()))
        characters = released(release.folder, "characters")
        for split, rows in characters.items():
            assert {r["character_id"] for r in rows} >= speakers.get(split, set())
    else:
        assert list(released(release.folder, "characters")) == ["train"]
        books = [{r["book_id"] for r in rows} for rows in utterances.values()]
        assert len(books) >= 2 and set.intersection(*books)  # a line split spreads books over splits


def bench_report() -> dict:
    """A report laid out like the JSON of bench/attribution.py."""
    summary = {"quotations": 6478, "accuracy": 0.5718, "accuracy_explicit": 0.8762, "accuracy_anaphoric": 0.3465,
               "accuracy_implicit": 0.4273, "curve": [{"min_confidence": 0.5, "coverage": 0.4, "precision": 0.9}],
               "coverage_at_p95": 0.3019}
    unseen = summary | {"quotations": 2100, "accuracy": 0.8781, "coverage_at_p95": 0.7741}
    return {
        "spans": {"char": {"precision": 0.9163, "recall": 0.9996, "f1": 0.9561}},
        "settings": {"end-to-end/discovered": {"all": summary, "tuning": summary, "unseen": unseen,
                                               "per_novel": {"Emma": summary}, "methods": {}}},
        "timings": {"Emma": {"parse": 12.5}},
        "unseen_novels": ["Persuasion"], "split": "all",
    }


@pytest.mark.parametrize("layout", ["bench", "other"])
def test_card_quotes_the_attribution_report(run_dir: Path, tmp_path: Path, layout: str):
    report = bench_report() if layout == "bench" else {"speaker": {"accuracy": 0.8712}, "curve": [[0.1, 1.0]] * 20}
    path = tmp_path / "attribution.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    release = build_release(run_dir, tmp_path / "release", REPO, ReleaseConfig(attribution_report=path))
    card = (release.folder / "README.md").read_text(encoding="utf-8")
    if layout == "bench":
        rows = ["| end-to-end/discovered | unseen | 2100 | 0.8781 | 0.8762 | 0.3465 | 0.4273 | 0.7741 |",
                "| end-to-end/discovered | tuning | 6478 | 0.5718 | 0.8762 | 0.3465 | 0.4273 | 0.3019 |",
                "| end-to-end/discovered | all | 6478 | 0.5718 | 0.8762 | 0.3465 | 0.4273 | 0.3019 |"]
        assert all(row in card for row in rows) and card.index(rows[0]) < card.index(rows[1])  # unseen first
        assert ("**Expected on a new book: speaker accuracy 0.8781; filtered on `confidence`, 0.7741 of the "
                "quotations keep a precision of 0.95**") in card and "never read while developing the pipeline " \
               "(Persuasion)" in card.replace("\n", " ")
        assert "| char | 0.9163 | 0.9996 | 0.9561 |" in card
        assert "Emma" not in card  # per-novel figures stay in the JSON
    else:
        assert "| `speaker.accuracy` | 0.8712 |" in card
    assert "not measured" not in card
    assert json.loads((release.folder / "reports" / "attribution.json").read_text()) == report


def test_missing_rights_is_an_error_unless_the_book_is_named_or_excluded(tmp_path: Path):
    books = [
        FakeBook("1", "Local Novel", "Anon", rights=None),
        FakeBook("2", "Other", "Anon"),
        FakeBook("3", "Recent Novel", "Alive", rights="Copyrighted"),
    ]
    run = write_run(tmp_path / "shards", books)
    with pytest.raises(CorpusError, match=r"books 1 have no rights metadata.*--assume-public-domain"):
        build_release(run, tmp_path / "release", REPO)
    with pytest.raises(CorpusError, match=r"not in the shards: 77"):
        build_release(run, tmp_path / "release", REPO, ReleaseConfig(assume_public_domain=("1", "77")))
    assert not (tmp_path / "release").exists()
    release = build_release(run, tmp_path / "release", REPO, ReleaseConfig(assume_public_domain=("1", "3")))
    assert release.selection.assumed_public_domain == ["1"]
    assert release.selection.not_public_domain == {"3": "Copyrighted"}  # metadata beats the publisher's word
    rights = {r["book_id"]: r["rights"] for rows in released(release.folder, "books").values() for r in rows}
    assert set(rights) == {"1", "2"} and rights["1"].startswith("Public domain in the USA (asserted")
    assert "released on the publisher's word" in (release.folder / "README.md").read_text(encoding="utf-8")
    release = build_release(run, tmp_path / "release", REPO, ReleaseConfig(exclude_books=("1",)))
    assert release.selection.excluded == ["1"] and release.tables.books.column("book_id").to_pylist() == ["2"]
    with pytest.raises(CorpusError, match=r"--exclude-book names books that are not in the shards: 9"):
        build_release(run, tmp_path / "release", REPO, ReleaseConfig(exclude_books=("9",)))


def test_a_rebuild_replaces_only_a_release_folder(run_dir: Path, tmp_path: Path):
    folder = build_release(run_dir, tmp_path / "release", REPO).folder
    (folder / "data" / "utterances" / "stale-00000-of-00001.parquet").write_bytes(b"old")
    build_release(run_dir, folder, REPO)
    assert not (folder / "data" / "utterances" / "stale-00000-of-00001.parquet").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(CorpusError, match="not a release folder"):
        build_release(run_dir, other, REPO)
    assert (other / "keep.txt").read_text() == "mine"


# ---------------------------------------------------------------- CLI, in process


def run_corpus(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["corpus", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dry_run_builds_validates_and_prints_a_summary(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)  # a dry run needs no token
    out = tmp_path / "release"
    args = ["release", str(run_dir), "--repo-id", REPO, "--dry-run", "--out", str(out)]
    code, stdout, stderr = run_corpus(monkeypatch, capsys, *args)
    assert code == 0, stderr
    stdout, stderr = " ".join(stdout.split()), " ".join(stderr.split())
    assert "nothing uploaded" in stdout and "utterances" in stdout and "validation" in stdout
    assert "book 9999 is not public domain" in stderr and "book 42671 is another edition of book 1342" in stderr
    assert (out / "README.md").is_file()


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = write_run(tmp_path / "mixed", fake_books()[:3])
    rewrite_with_schema_version(mixed / "98.utterances.parquet", schema.SCHEMA_VERSION + 1)
    unlicensed = write_run(tmp_path / "unlicensed", [FakeBook("5", "A Book", "An Author", rights=None)])
    good = write_run(tmp_path / "good", fake_books()[:2])
    unsourced = write_run(tmp_path / "unsourced", fake_books()[:2])
    shard = pq.read_table(unsourced / "1342.utterances.parquet")
    index = shard.schema.get_field_index("pipeline_version")
    nullable = shard.schema.field(index).with_nullable(True)
    shard = shard.set_column(index, nullable, pa.nulls(shard.num_rows, pa.string()))
    pq.write_table(shard, unsourced / "1342.utterances.parquet")
    no_json = tmp_path / "report.json"
    no_json.write_text("{not json", encoding="utf-8")
    return {
        "empty shards": ([str(empty), "--repo-id", REPO], "no utterance shards"),
        "mixed schema versions": ([str(mixed), "--repo-id", REPO], "mix schema versions"),
        "missing licence metadata": ([str(unlicensed), "--repo-id", REPO], "no rights metadata"),
        "no provenance": ([str(unsourced), "--repo-id", REPO], "'pipeline_version' with null values"),
        "invalid repo id": ([str(good), "--repo-id", "someone/bad name!"], "invalid --repo-id"),
        "repo id without user": ([str(good), "--repo-id", "personas"], "invalid --repo-id"),
        "unreadable report": ([str(good), "--repo-id", REPO, "--attribution-report", str(no_json)], "not readable"),
    }


def test_bad_input_is_one_clear_line_and_a_non_zero_exit(tmp_path, monkeypatch, capsys):
    for case, (args, message) in _bad_inputs(tmp_path).items():
        out = tmp_path / f"out-{case.replace(' ', '-')}"
        code, stdout, stderr = run_corpus(monkeypatch, capsys, "release", *args, "--dry-run", "--out", str(out))
        assert code == 1, case
        assert stderr.startswith("error: ") and len(stderr.strip().splitlines()) == 1, (case, stderr)
        assert message in stderr, (case, stderr)
        assert not out.exists(), case


# ---------------------------------------------------------------- upload to a fake Hub, in a subprocess


def hub_env(hub: FakeHub, tmp_path: Path, token: str | None = TOKEN) -> dict[str, str]:
    """Environment of a `corpus` subprocess that talks to the fake Hub (huggingface_hub reads it at import)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(tmp_path / "hf-home"),  # no login cache of the machine running the tests
        HF_HUB_DISABLE_XET="1",  # the fake Hub speaks git-LFS, not Xet
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_VERBOSITY="debug",  # the most logging huggingface_hub does: the token must not be in it
        HF_DATASETS_OFFLINE="1",
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def corpus_release(hub: FakeHub, tmp_path: Path, *args: str, token: str | None = TOKEN):
    return subprocess.run(
        [*CORPUS, "release", *args], env=hub_env(hub, tmp_path, token), capture_output=True, text=True, timeout=120
    )


def test_upload_sends_every_file_once_and_a_rerun_sends_nothing(run_dir: Path, tmp_path: Path):
    out = tmp_path / "release"
    with FakeHub(TOKEN) as hub:
        first = corpus_release(hub, tmp_path, str(run_dir), "--repo-id", REPO, "--out", str(out), "--private")
        assert first.returncode == 0, first.stderr
        repo = hub.repos[REPO]
        assert repo.private
        local = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert repo.files == local
        assert repo.lfs_paths == {p for p in local if p.endswith(".parquet")}  # parquet through git-LFS
        assert len(hub.requests_where("PUT", "/lfs-upload/")) == len(repo.lfs_paths)
        hub_api, storage = [r for r in hub.requests if r.method != "PUT"], hub.requests_where("PUT", "/lfs-upload/")
        assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub_api)
        assert not [r for r in storage if TOKEN in str(r.headers)]  # the token goes to the Hub only
        assert "uploaded" in first.stdout

        sent_before = len(hub.requests)
        second = corpus_release(hub, tmp_path, str(run_dir), "--repo-id", REPO, "--out", str(out))
        assert second.returncode == 0, second.stderr
        new = hub.requests[sent_before:]
        assert not [r for r in new if r.method == "PUT" or "/preupload/" in r.path or "/commit/" in r.path]
        assert not [r for r in new if r.body.startswith(b"PAR1") or b"lfs" in r.body]
        assert len(repo.commits) == 1 and "up to date" in second.stdout

        write_run(run_dir, [*fake_books(), FakeBook("1661", "The Adventures of Sherlock Holmes", "Doyle, Arthur")])
        sent_before = len(hub.requests)
        args = [str(run_dir), "--repo-id", REPO, "--out", str(out), "--commit-message", "add Holmes"]
        third = corpus_release(hub, tmp_path, *args)
        assert third.returncode == 0, third.stderr
        local = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert repo.files == local and repo.commits[-1][0]["value"]["summary"] == "add Holmes"
        committed = {line["value"]["path"] for line in repo.commits[-1][1:]}
        assert "README.md" in committed and len(committed) < len(local)  # only the files that changed
        uploaded = sum(len(r.body) for r in hub.requests[sent_before:] if r.method == "PUT")
        assert 0 < uploaded < sum(len(c) for p, c in local.items() if p.endswith(".parquet"))
    for result in (first, second, third):
        assert TOKEN not in result.stdout + result.stderr
        assert TOKEN[3:12] not in result.stdout + result.stderr


def test_upload_errors_are_one_line_without_the_token(run_dir: Path, tmp_path: Path):
    with FakeHub(TOKEN) as hub:
        refused_repo = f"{FORBIDDEN_NAMESPACE}/personas"
        refused = corpus_release(hub, tmp_path, str(run_dir), "--repo-id", refused_repo, "--out", str(tmp_path / "a"))
        assert hub.requests and hub.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert hub.requests_where("POST", "/api/repos/create")  # the server did echo the token back
        sent = len(hub.requests)
        args = [str(run_dir), "--repo-id", REPO, "--out", str(tmp_path / "b")]
        no_token = corpus_release(hub, tmp_path, *args, token=None)
        assert len(hub.requests) == sent  # nothing was sent, not even the repository creation
        assert not hub.repos
    assert refused.returncode == 1 and no_token.returncode == 1
    for result, message in ((refused, "upload to forbidden/personas failed"), (no_token, "no Hugging Face token")):
        assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message}"), result.stderr
        assert TOKEN not in result.stdout + result.stderr
    assert "***" in refused.stderr
    assert not (tmp_path / "b").exists()


def test_private_release_refuses_an_existing_public_repository(run_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    release = build_release(run_dir, tmp_path / "release", REPO)
    with FakeHub(TOKEN) as hub:
        hub.repos[REPO] = FakeRepo(private=False)
        with pytest.raises(CorpusError, match="exists and is public"):
            upload_release(release, TOKEN, private=True, endpoint=hub.url)
        assert hub.requests_where("GET", f"/api/datasets/{REPO}")  # it did look
        assert not hub.repos[REPO].files and not hub.requests_where("POST", "/preupload/")


def test_upload_plan_sends_changed_files_and_deletes_stale_release_files(run_dir: Path, tmp_path: Path):
    from huggingface_hub.hf_api import RepoFile

    from corpus.release.upload import file_digests, plan_upload
    from release_fixtures import git_blob_oid

    folder = build_release(run_dir, tmp_path / "release", REPO).folder
    card, parquet = "README.md", "data/books/train-00000-of-00001.parquet"
    stale = "data/books/old-00000-of-00001.parquet"
    sha256, _ = file_digests(folder / parquet)
    remote = {
        card: RepoFile(path=card, size=1, oid=git_blob_oid((folder / card).read_bytes())),  # same card
        parquet: RepoFile(path=parquet, size=1, oid="0" * 40, lfs={"oid": sha256, "size": 1, "pointerSize": 1}),
        stale: RepoFile(path=stale, size=1, oid="1" * 40),
        ".gitattributes": RepoFile(path=".gitattributes", size=1, oid="2" * 40),  # not the release's to delete
    }
    plan = plan_upload(folder, remote)
    assert plan.unchanged == [card, parquet]
    assert plan.delete == [stale]
    assert card not in plan.send and parquet not in plan.send
    assert "data/utterances/train-00000-of-00001.parquet" in plan.send


def test_a_lead_in_cut_as_licence_text_leaves_no_lead_in():
    rows = [utterance_row("1", 0, None, "Hi.", "He left.\n\nOn gutenberg.org, she wrote,", len("On gutenberg.org, she wrote,"))]
    selection = Selection()
    [row] = strip_gutenberg_licence(parquet.to_table(rows, schema.UTTERANCES), selection).to_pylist()
    assert (row["context"], row["lead_in_chars"], selection.licence_paragraphs_removed) == ("He left.", 0, 1)
