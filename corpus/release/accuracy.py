"""The dataset card's attribution accuracy section, from the JSON report `bench/attribution.py` writes: the
unseen novels' end-to-end figures lead as the expected accuracy on a new book, the tuning novels' beside
them; any other report is shown as its flattened figures. Without a report the card says accuracy was not
measured for this release."""

from __future__ import annotations

import json
from pathlib import Path

from corpus.errors import CorpusError
from corpus.release.types import ATTRIBUTION_REPORT_FILE

REPORT_MAX_FIGURES = 60  # figures of the attribution report shown in the card; the JSON has them all
REPORT_MAX_LIST = 10  # short lists of numbers are shown inline; longer ones (curves) stay in the JSON
ACCURACY_COLUMNS = (  # per-setting summary figures of bench/attribution.py shown in the card
    "quotations", "accuracy", "accuracy_explicit", "accuracy_anaphoric", "accuracy_implicit", "coverage_at_p95",
)
SUMMARY_GROUPS = ("unseen", "tuning", "all")  # novel groups of bench/attribution.py; per-novel rows stay in the JSON
EXPECTED_SETTING = "end-to-end/discovered"  # what `corpus attribute` does to a new book: our spans, our cast


def read_attribution_report(path: Path) -> dict:
    """The JSON object `bench/attribution.py` wrote."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"attribution report not found: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorpusError(f"attribution report {path} is not readable JSON: {exc}") from exc
    if not isinstance(report, dict) or not report:
        raise CorpusError(f"attribution report {path} is not a JSON object with figures")
    return report


def report_figures(report: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, value) of the scalar figures of a report, nested objects flattened in order."""
    figures: list[tuple[str, str]] = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            figures.extend(report_figures(value, f"{name}."))
        elif isinstance(value, (str, int, float, bool)) or value is None:
            figures.append((name, _shown(value)))
        elif isinstance(value, list) and len(value) <= REPORT_MAX_LIST and all(
            isinstance(v, (str, int, float)) for v in value
        ):
            figures.append((name, ", ".join(_shown(v) for v in value)))
    return figures


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)


def accuracy_section(report: dict | None) -> str:
    """The card's accuracy section: the report's figures, or a statement that none were measured."""
    if report is None:
        return (
            "## Attribution accuracy\n\nAttribution accuracy was **not measured for this release**. "
            "Treat `speaker_id` as a machine guess and `confidence` as its model's own estimate."
        )
    version = ""
    if "pipeline_version" in report:
        version = f" The report names pipeline version `{report['pipeline_version']}`."
    tables = _bench_tables(report) or _figures_table(report)
    return (
        "## Attribution accuracy\n\nMeasured by `bench/attribution.py` on the Project Dialogism Novel Corpus "
        f"(PDNC), whose speakers are annotated by hand; the full report is `{ATTRIBUTION_REPORT_FILE}`.{version}\n\n"
        f"{tables}"
    )


def _bench_tables(report: dict) -> str | None:
    """Speaker accuracy per setting and span precision/recall, when the report has the bench's layout."""
    settings = report.get("settings")
    if not isinstance(settings, dict) or not settings:
        return None
    rows = [
        f"| {setting} | {group} | " + " | ".join(_shown(groups[group].get(c, "n/a")) for c in ACCURACY_COLUMNS) + " |"
        for setting, groups in settings.items() if isinstance(groups, dict)
        for group in SUMMARY_GROUPS if isinstance(groups.get(group), dict)
    ]
    if not rows:
        return None
    text = (
        f"{_expected(report)}Settings are `<quotations>/<cast>`: `gold-spans` attributes PDNC's own quotations, "
        "`end-to-end` our quotations matched to PDNC's; `gold` uses PDNC's character list, `discovered` the "
        "characters our pipeline found, as in this dataset. `unseen` novels' text and errors were never read while "
        "developing the pipeline, so their figures are what a new book gets; `tuning` novels are the ones the rules "
        "were developed on, shown only beside them.\n\n"
        f"| setting | novels | {' | '.join(c.replace('_', ' ') for c in ACCURACY_COLUMNS)} |\n"
        f"|---|---|{'---|' * len(ACCURACY_COLUMNS)}\n" + "\n".join(rows)
    )
    spans = report.get("spans")
    if isinstance(spans, dict):
        span_rows = [
            f"| {match} | " + " | ".join(_shown(figures.get(k, "n/a")) for k in ("precision", "recall", "f1")) + " |"
            for match, figures in spans.items() if isinstance(figures, dict)
        ]
        header = "| match | precision | recall | F1 |\n|---|---|---|---|\n"
        text += "\n\nQuotation spans:\n\n" + header + "\n".join(span_rows)
    return text


def _expected(report: dict) -> str:
    """The unseen novels' end-to-end figures with the discovered cast, as the expected accuracy on a new book."""
    unseen = report["settings"].get(EXPECTED_SETTING, {}).get("unseen")
    if not isinstance(unseen, dict) or "accuracy" not in unseen:
        return ""
    novels = report.get("unseen_novels")
    named = f" ({', '.join(map(str, novels))})" if isinstance(novels, list) and novels else ""
    return (
        f"**Expected on a new book: speaker accuracy {_shown(unseen['accuracy'])}; filtered on `confidence`, "
        f"{_shown(unseen.get('coverage_at_p95', 'n/a'))} of the quotations keep a precision of 0.95**, "
        f"measured end to end with the discovered cast on PDNC novels never read while developing the "
        f"pipeline{named}.\n\n"
    )


def _figures_table(report: dict) -> str:
    """Any other report: its scalar figures, flattened."""
    figures = report_figures(report)
    shown = "\n".join(f"| `{name}` | {cell(value)} |" for name, value in figures[:REPORT_MAX_FIGURES])
    more = ""
    if len(figures) > REPORT_MAX_FIGURES:
        more = f"\n\n{len(figures) - REPORT_MAX_FIGURES} more figures are in `{ATTRIBUTION_REPORT_FILE}`."
    return f"| figure | value |\n|---|---|\n{shown}{more}"


def cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, newlines flattened, empty for null."""
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
