"""The dataset card (README.md) of a release: YAML front matter that `datasets` and the Hub read, and
the text a person reads (sources, pipeline, measured attribution accuracy, limits, how to load).

Figures come only from the release itself (its corpus report, `corpus.shards.stats`) and from the attribution
report of `bench/attribution.py` (its section: `accuracy.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from corpus.shards import parquet, schema
from corpus.release.accuracy import accuracy_section, cell
from corpus.release.splits import book_order, is_partitioned
from corpus.release.types import (
    ATTRIBUTION_REPORT_FILE,
    CARD_FILE,
    CONFIGS,
    DATA_DIR,
    DEFAULT_CONFIG,
    WHOLE_TABLE_SPLIT,
    Release,
    SplitUnit,
)
from corpus.shards.stats import report_markdown, stats_of

if TYPE_CHECKING:
    import datasets
    from huggingface_hub import DatasetCardData

SIZE_CATEGORIES = (  # the Hub's size_categories labels and their upper bounds
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
)
LARGEST_SIZE_CATEGORY = "n>100M"
KIB = 1024
CARD_MAX_BOOKS = 50  # books listed in the card; the books config has them all
TAGS = ("fiction", "novels", "dialogue", "quotation-attribution", "personas", "project-gutenberg")


def features_of(config_name: str) -> "datasets.Features":
    """The `datasets` features of a config, derived from its Arrow schema in `corpus.shards.schema`."""
    import datasets

    return datasets.Features.from_arrow_schema(schema.TABLES[config_name])


def size_category(rows: int) -> str:
    """The Hub's size category of a dataset with `rows` rows."""
    return next((label for bound, label in SIZE_CATEGORIES if rows < bound), LARGEST_SIZE_CATEGORY)



def card_metadata(release: Release) -> "DatasetCardData":
    """The YAML front matter: licence, language, tasks, size, configs (data files per split), features."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    config = release.config
    data = DatasetCardData(
        pretty_name=config.pretty_name,
        license=config.license,
        language=list(config.language),
        task_categories=list(config.task_categories),
        size_categories=[size_category(release.tables.utterances.num_rows)],
        tags=list(TAGS),
    )
    MetadataConfigs(
        {
            name: {
                "data_files": [
                    {"split": split, "path": f"{DATA_DIR}/{name}/{split}-*.parquet"}
                    for split in release.configs[name].files
                ],
                **({"default": True} if name == DEFAULT_CONFIG else {}),
            }
            for name in CONFIGS
        }
    ).to_dataset_card_data(data)
    DatasetInfosDict({name: _dataset_info(release, name) for name in CONFIGS}).to_dataset_card_data(data)
    return data


def _dataset_info(release: Release, name: str) -> "datasets.DatasetInfo":
    import datasets

    files = release.configs[name]
    splits = datasets.SplitDict()
    for split, rows in files.rows.items():
        splits.add(datasets.SplitInfo(name=split, num_bytes=files.nbytes[split], num_examples=rows))
    return datasets.DatasetInfo(
        features=features_of(name),
        splits=splits,
        download_size=release.file_bytes(name),
        dataset_size=sum(files.nbytes.values()),
    )


def write_card(release: Release, report: dict | None) -> Path:
    """Write README.md (and a copy of the attribution report) into the release folder."""
    from huggingface_hub import DatasetCard

    if report is not None:
        parquet.atomic_write_bytes(
            release.folder / ATTRIBUTION_REPORT_FILE, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
        )
    card = DatasetCard(f"---\n{card_metadata(release).to_yaml()}\n---\n\n{card_text(release, report)}")
    path = release.folder / CARD_FILE
    parquet.atomic_write_bytes(path, card.content.encode("utf-8"))
    return path


def card_text(release: Release, report: dict | None) -> str:
    """The Markdown body of the card."""
    sections = [
        _summary(release),
        _loading(release),
        _splits(release),
        _corpus_figures(release),
        _sources(release),
        _pipeline(release),
        accuracy_section(report),
        _limits(),
        _licence(release),
    ]
    return "\n\n".join(sections) + "\n"


def _summary(release: Release) -> str:
    tables = release.tables
    return (
        f"# {release.config.pretty_name}\n\n"
        f"Quoted speech from {tables.books.num_rows} public-domain novels, each quotation attributed to the "
        f"character who speaks it, with the narration before it as context: "
        f"{tables.utterances.num_rows} utterances and {tables.characters.num_rows} characters. "
        "It is meant for modelling how characters speak (persona prompts, speaker identification).\n\n"
        "| config | one row per | columns |\n|---|---|---|\n"
        + "\n".join(
            f"| `{name}` | {what} | {', '.join(f'`{c}`' for c in schema.TABLES[name].names)} |"
            for name, what in (("utterances", "quotation"), ("characters", "character"), ("books", "book"))
        )
    )


def _corpus_figures(release: Release) -> str:
    """The corpus report of what is released: quote types, confidence, personas by lines, outlier books."""
    tables = release.tables
    return report_markdown(stats_of(tables.utterances, tables.characters.to_pylist(), tables.books.to_pylist()))


def _loading(release: Release) -> str:
    repo = release.repo_id
    return (
        "## How to load\n\n```python\nfrom datasets import load_dataset\n\n"
        f'utterances = load_dataset("{repo}", "utterances")  # the default config\n'
        f'characters = load_dataset("{repo}", "characters")\n'
        f'books = load_dataset("{repo}", "books")\n'
        "# keep the lines whose speaker the pipeline is confident about\n"
        'confident = utterances["train"].filter(lambda row: row["confidence"] >= 0.9)\n'
        "```"
    )


def _splits(release: Release) -> str:
    config = release.config
    unit = config.split_by.value
    shares = ", ".join(f"{name} {share:.0%}" for name, share in config.splits)
    rows = "\n".join(
        f"| {name} | {split} | {rows} | {len(release.configs[name].files[split])} | "
        f"{release.file_bytes(name, split) / KIB:,.1f} |"
        for name in CONFIGS
        for split, rows in release.configs[name].rows.items()
    )
    unsplit = [f"`{name}`" for name in CONFIGS if not is_partitioned(name, config.split_by)]
    note = " Lines without a speaker are placed one by one." if config.split_by is SplitUnit.CHARACTER else ""
    if unsplit:
        note += f" {' and '.join(unsplit)} are not partitioned by {unit}: all their rows are in `{WHOLE_TABLE_SPLIT}`."
    return (
        f"## Splits and sizes\n\nSplit by **{unit}**: every {unit} lies in exactly one split. Its split is fixed "
        f"by a salted SHA-256 of its id (seed {config.seed}) against the target shares {shares}, so it stays put "
        f"when other books are added in later releases. {_splits_made(release)}{note}\n\n"
        f"| config | split | rows | files | KiB |\n|---|---|---|---|---|\n{rows}"
    )


def _splits_made(release: Release) -> str:
    """The splits this release has, with their share of the split units, and the ones left empty."""
    unit = release.config.split_by.value
    total = sum(release.split_units.values())
    made = ", ".join(
        f"{name} {count} {_units(unit, count)} ({count / total:.0%})"
        for name, count in release.split_units.items() if count
    )
    text = f"The splits made, of {total} {_units(unit, total)}: {made}."
    empty = release.empty_splits
    if empty:
        names = " and ".join(f"`{name}`" for name in empty)
        text += (
            f" {names} {'is' if len(empty) == 1 else 'are'} empty: no {unit} fell into "
            f"{'it' if len(empty) == 1 else 'them'}, so this release has no such split."
        )
    return text


def _units(unit: str, count: int) -> str:
    return unit if count == 1 else f"{unit}s"


def _sources(release: Release) -> str:
    books = sorted(release.tables.books.to_pylist(), key=lambda b: book_order(b["book_id"]))
    listed = "\n".join(
        f"| {b['book_id']} | {cell(b['title'])} | {cell(b['author'])} | {cell(b['source'])} |"
        for b in books[:CARD_MAX_BOOKS]
    )
    more = ""
    if len(books) > CARD_MAX_BOOKS:
        more = f"\n\n... and {len(books) - CARD_MAX_BOOKS} more in the `books` config."
    selection = release.selection
    notes = [
        f"- Left out on request ({len(selection.excluded)}): {_ids(selection.excluded)}." if selection.excluded else "",
        f"- Left out, not public domain in the USA ({len(selection.not_public_domain)}): "
        f"{_ids(selection.not_public_domain)}." if selection.not_public_domain else "",
        f"- Duplicate editions collapsed into the lowest book id ({len(selection.duplicate_editions)}): "
        + ", ".join(f"{d} (kept {k})" for d, k in sorted(selection.duplicate_editions.items())) + "."
        if selection.duplicate_editions else "",
        f"- Without Gutenberg rights metadata, released on the publisher's word that they are public domain in "
        f"the USA ({len(selection.assumed_public_domain)}): {_ids(selection.assumed_public_domain)}."
        if selection.assumed_public_domain else "",
        f"- Project Gutenberg licence and trademark text removed: {selection.licence_utterances_dropped} "
        f"utterances dropped, {selection.licence_paragraphs_removed} context paragraphs cut.",
    ]
    return (
        "## Sources\n\nThe novels are public-domain texts, most from Project Gutenberg (https://www.gutenberg.org); "
        "`source` in the `books` config is each text's Project Gutenberg page (or, for a text from elsewhere, its "
        "file name). A book is released only if Project "
        "Gutenberg lists it as public domain in the USA, or if the publisher of this release vouches for it (listed "
        "below). Project Gutenberg's header, footer, licence and trademark text are not part of this dataset, which "
        "is not affiliated with or endorsed by Project Gutenberg.\n\n"
        + "\n".join(n for n in notes if n)
        + f"\n\n| book id | title | author | source |\n|---|---|---|---|\n{listed}{more}"
    )


def _pipeline(release: Release) -> str:
    versions = sorted(
        set(release.tables.books.column("pipeline_version").to_pylist())
        | set(pc.unique(release.tables.utterances.column("pipeline_version")).to_pylist())
    )
    return (
        "## Pipeline\n\nBuilt by `corpus` (novel-personas), pipeline version "
        f"{', '.join(f'`{v}`' for v in versions)}, "
        f"shard schema version {schema.SCHEMA_VERSION}:\n\n"
        "1. `corpus fetch` downloads each book, strips the Project Gutenberg header and footer, normalises the "
        "text and finds its chapters.\n"
        "2. `corpus attribute` finds every quotation, discovers the characters and their aliases, attributes each "
        "quotation to its speaker (and addressees) with a calibrated confidence, and writes Parquet shards.\n"
        "3. `corpus release` keeps the public-domain books, collapses duplicate editions, removes licence text, "
        "splits, writes this repository and checks it loads with `datasets`.\n\n"
        "Every utterance keeps its provenance: `book_id`, `char_start` / `char_end` and `parts` (offsets into the "
        "clean text of the book, whose SHA-256 is `text_sha256` in the `books` config) and `pipeline_version`. "
        "`method` names the rule that gave the speaker; `speaker_id` is null when no speaker was found."
    )


def _limits() -> str:
    return (
        "## Known limits and biases\n\n"
        "- Speakers, addressees and characters are found automatically. Some lines are attributed to the wrong "
        "character, one character may be split into two, or two merged; filter on `confidence`.\n"
        "- `gender` is inferred from pronouns and honorifics in the text, binary, and sometimes wrong; it is "
        "not an identity label.\n"
        "- The novels are mostly 18th- to early 20th-century fiction in English by canonical, largely British "
        "and American authors. They carry the attitudes of their time, including racist, sexist and classist "
        "language and stereotypes, and over-represent talkative and main characters.\n"
        "- Contexts are the few paragraphs before a quotation; they may cross chapter breaks and miss what a "
        "reader would know from earlier in the book.\n"
        "- Public domain status is that of the USA; the texts may still be protected elsewhere."
    )


def _licence(release: Release) -> str:
    return (
        "## Licence\n\nThe novel texts are in the public domain in the USA. The annotations (speakers, "
        f"characters, splits) are released under `{release.config.license}`."
    )


def _ids(book_ids) -> str:
    return ", ".join(sorted(book_ids, key=book_order))
