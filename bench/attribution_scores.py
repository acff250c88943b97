"""Scores of bench/attribution.py: each quotation's outcome against PDNC, span P/R/F1, speaker accuracy,
precision-coverage, addressees, cast metrics, leave-novels-out calibration, and the printed table.

See bench/attribution.py for what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from corpus.attribution.calibration import Calibration
from corpus.attribution.mentions import CastIndex, normalise_name
from corpus.attribution.names import TITLES
from corpus.shards.schema import QUOTE_TYPES
from pdnc import PdncNovel

COVERAGE_THRESHOLDS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
TARGET_PRECISION = 0.95  # the high-precision mode's target: coverage is reported at this precision
MIN_CAST_LINES = 5  # a discovered character with this many attributed lines is judged as cast
MERGE_SHARE = 0.25  # a character whose second gold speaker has this share of its lines merges two


@dataclass
class Outcome:
    """One gold quotation's result: gold type, predicted method, confidence, right or not."""

    novel: str
    gold_type: str | None
    method: str
    confidence: float
    correct: bool
    attributed: bool
    signals: dict[str, float] = field(default_factory=dict)  # the ranker's evidence (calibration input)
    addressees: tuple[int, int, int] = (0, 0, 0)  # right, predicted and gold addressees
    ours: str | None = None  # the predicted speaker's slug, before mapping to the gold cast
    gold: str | None = None  # the gold speaker's slug


@dataclass
class NovelResult:
    name: str
    tokens: int
    spans: dict = field(default_factory=dict)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)  # setting -> outcomes
    mapped: dict[str, set[str]] = field(default_factory=dict)  # setting -> our slugs that map to a gold one
    perturbations: list[str] = field(default_factory=list)  # what --perturb-cast did to the discovered cast


def span_scores(novel: PdncNovel, predicted) -> dict:
    """Character-level and exact-quotation precision/recall counts."""
    gold_mask = np.zeros(len(novel.text), bool)
    pred_mask = np.zeros(len(novel.text), bool)
    for g in novel.quotations:
        for s, e in g.quotation.parts:
            gold_mask[s:e] = True
    for q in predicted:
        for s, e in q.parts:
            pred_mask[s:e] = True
    gold_exact = {g.quotation.parts for g in novel.quotations}
    pred_exact = {q.parts for q in predicted}
    return {
        "char_tp": int((gold_mask & pred_mask).sum()), "char_pred": int(pred_mask.sum()),
        "char_gold": int(gold_mask.sum()), "exact_tp": len(gold_exact & pred_exact),
        "exact_pred": len(pred_exact), "exact_gold": len(gold_exact),
    }


def map_cast(ours, novel: PdncNovel) -> dict[str, str]:
    """Our slug -> gold slug by name votes (see the module docstring)."""
    gold_main = {c.name: c.slug for c in novel.cast}
    # names, aliases, and unambiguous given names / surnames; any case (PDNC title-cases: "Mr. Mcbryde")
    gold_names = {name.lower(): slug for name, slug in CastIndex(novel.cast).slug_of.items()}
    quotes_per_gold: dict[str, int] = {}
    for g in novel.quotations:
        quotes_per_gold[g.speaker] = quotes_per_gold.get(g.speaker, 0) + 1
    mapping = {}
    for character in ours:
        votes: dict[str, int] = {}
        for name in character.names():
            variants = [name] + ([name[4:]] if name.lower().startswith("the ") else [])
            if len(name.split()) == 2 and name.split()[0].rstrip(".") in TITLES:
                variants.append(name.split()[1])  # "Miss Quested" -> "Quested"
            variants = [normalise_name(v).lower() for v in variants]
            gold = next((gold_names[v] for v in variants if v in gold_names), None)
            if gold:
                votes[gold] = votes.get(gold, 0) + 1 + (name in gold_main) + (name == character.name)
        if votes:
            mapping[character.slug] = max(votes, key=lambda s: (votes[s], quotes_per_gold.get(s, 0)))
    return mapping


def overlap(a, b) -> int:
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a.parts for s2, e2 in b.parts)


def outcomes_for(novel: PdncNovel, result, mapping: dict[str, str] | None) -> list[Outcome]:
    """One Outcome per gold quotation, matched to the predicted quotation overlapping it most."""
    attributions = result.attributions
    starts = [a.quotation.start for a in attributions]
    import bisect

    outcomes = []
    for g in novel.quotations:
        lo = max(bisect.bisect_left(starts, g.quotation.start) - 3, 0)
        best, best_overlap = None, 0
        for a in attributions[lo : lo + 8]:
            o = overlap(g.quotation, a.quotation)
            if o > best_overlap:
                best, best_overlap = a, o
        gold_addressees = set(g.addressees)
        if best is None or best.speaker is None:
            outcomes.append(Outcome(novel.name, g.quote_type, best.method if best else "unmatched",
                                    best.confidence if best else 0.0, False, False,
                                    addressees=(0, 0, len(gold_addressees))))
            continue
        speaker = mapping.get(best.speaker) if mapping is not None else best.speaker
        # two of our characters may map to one gold character; one we could not map counts wrong
        addressees = {mapping.get(a, f"unmapped:{a}") if mapping is not None else a for a in best.addressees}
        right = len(gold_addressees & addressees)
        outcomes.append(Outcome(novel.name, g.quote_type, best.method, best.confidence,
                                speaker is not None and speaker == g.speaker, True, best.signals,
                                (right, len(addressees), len(gold_addressees)), best.speaker, g.speaker))
    return outcomes


def folds_of(names: list[str], folds: int) -> dict[str, int]:
    """Novel -> fold, round robin over the sorted names (the same split for ranker and calibration)."""
    return {name: i % folds for i, name in enumerate(sorted(names))}


def recalibrate(results: list[NovelResult], setting: str, folds: int) -> None:
    """Leave-novels-out confidences: each fold's calibration is fitted on the other folds."""
    fold_of = folds_of([r.name for r in results], folds)
    for k in range(folds):
        train = [(o.method, o.signals, o.correct) for r in results if fold_of[r.name] != k
                 for o in r.outcomes[setting] if o.attributed]
        calibration = Calibration.fit(train)
        for r in results:
            if fold_of[r.name] == k:
                for o in r.outcomes[setting]:
                    if o.attributed:
                        o.confidence = calibration.confidence(o.method, o.signals)


def summarise(outcomes: list[Outcome]) -> dict:
    """Accuracy overall and per gold type, and the precision-coverage curve."""
    n = len(outcomes)
    summary = {"quotations": n, "accuracy": rate([o.correct for o in outcomes])}
    for t in QUOTE_TYPES:
        summary[f"accuracy_{t}"] = rate([o.correct for o in outcomes if o.gold_type == t])
    ranked = sorted((o for o in outcomes if o.attributed), key=lambda o: -o.confidence)
    curve = []
    for threshold in COVERAGE_THRESHOLDS:
        kept = [o for o in ranked if o.confidence >= threshold]
        curve.append({"min_confidence": threshold, "coverage": len(kept) / n if n else 0.0,
                      "precision": rate([o.correct for o in kept])})
    summary["curve"] = curve
    correct = np.cumsum([o.correct for o in ranked]) if ranked else np.zeros(0)
    precision = correct / np.arange(1, len(ranked) + 1) if ranked else correct
    confidences = [o.confidence for o in ranked]
    # coverage at precision >= TARGET_PRECISION, cutting only between distinct confidence values
    ok = [i + 1 for i in range(len(ranked))
          if precision[i] >= TARGET_PRECISION and (i + 1 == len(ranked) or confidences[i + 1] < confidences[i])]
    summary["coverage_at_p95"] = (max(ok) / n) if ok and n else 0.0
    summary["addressees"] = _scores(*(sum(o.addressees[i] for o in outcomes) for i in range(3)))
    return summary


def cast_metrics(results: list[NovelResult], setting: str) -> dict:
    """How the cast behind a setting's attributions matches PDNC's, weighted by lines (each gold
    quotation with a predicted speaker and a gold one counts once): cluster precision (the share of
    lines whose character's most frequent gold speaker is theirs) and recall (the share whose gold
    speaker's most frequent character is theirs); merges (characters of at least MIN_CAST_LINES lines
    whose second gold speaker has MERGE_SHARE of them and MIN_CAST_LINES); splits (gold speakers that
    two characters of MIN_CAST_LINES lines each have as their main gold speaker); cast precision (the
    share of characters with MIN_CAST_LINES attributed lines that map to a PDNC character)."""
    lines = purity = inverse = merges = splits = judged = false = false_lines = attributed = 0
    for r in results:
        counts: dict[str, dict[str, int]] = {}  # ours -> gold -> lines
        per_character: dict[str, int] = {}
        for o in r.outcomes[setting]:
            if o.ours is not None:
                per_character[o.ours] = per_character.get(o.ours, 0) + 1
                if o.gold is not None:
                    row = counts.setdefault(o.ours, {})
                    row[o.gold] = row.get(o.gold, 0) + 1
        by_gold: dict[str, dict[str, int]] = {}
        for ours, row in counts.items():
            for gold, n in row.items():
                by_gold.setdefault(gold, {})[ours] = n
        lines += sum(sum(row.values()) for row in counts.values())
        purity += sum(max(row.values()) for row in counts.values())
        inverse += sum(max(row.values()) for row in by_gold.values())
        for row in counts.values():
            ranked = sorted(row.values(), reverse=True) + [0]
            merges += sum(row.values()) >= MIN_CAST_LINES and ranked[1] >= max(
                MIN_CAST_LINES, MERGE_SHARE * sum(row.values()))
        owners: dict[str, int] = {}
        for ours, row in counts.items():
            if sum(row.values()) >= MIN_CAST_LINES:
                main = max(row, key=row.get)
                owners[main] = owners.get(main, 0) + 1
        splits += sum(n > 1 for n in owners.values())
        attributed += sum(per_character.values())
        for ours, n in per_character.items():
            if n >= MIN_CAST_LINES:
                judged += 1
                false += ours not in r.mapped[setting]
                false_lines += n if ours not in r.mapped[setting] else 0
    return {"cluster_precision": _rate_of(purity, lines), "cluster_recall": _rate_of(inverse, lines),
            "merges": merges, "splits": splits, "characters": judged, "false_characters": false,
            "cast_precision": _rate_of(judged - false, judged), "false_character_lines": _rate_of(false_lines, attributed)}


def _rate_of(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def span_summary(results: list[NovelResult]) -> dict:
    if not results[0].spans:  # gold spans only: nothing found to score
        return {}
    total = {k: sum(r.spans[k] for r in results) for k in results[0].spans}
    return {kind: _scores(total[f"{kind}_tp"], total[f"{kind}_pred"], total[f"{kind}_gold"])
            for kind in ("char", "exact")}


def _scores(right: int, predicted: int, gold: int) -> dict:
    """Precision, recall and F1, rounded."""
    precision, recall = right / predicted if predicted else 0.0, right / gold if gold else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0}


def method_table(outcomes: list[Outcome]) -> dict:
    table: dict[str, list[int]] = {}
    for o in outcomes:
        t = table.setdefault(o.method, [0, 0])
        t[0] += o.correct
        t[1] += 1
    return {m: {"n": n, "accuracy": round(c / n, 4)} for m, (c, n) in sorted(table.items(), key=lambda kv: -kv[1][1])}


def print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    spans = report["spans"]
    if spans:
        console.print(f"quote spans: char-level P/R/F1 {spans['char']['precision']:.3f}/{spans['char']['recall']:.3f}/"
                      f"{spans['char']['f1']:.3f}; exact-quotation P/R/F1 {spans['exact']['precision']:.3f}/"
                      f"{spans['exact']['recall']:.3f}/{spans['exact']['f1']:.3f}")
    table = Table(title="speaker accuracy (leave-novels-out rankers and confidence); unseen = expected on a new book")
    for col in ("setting", "novels", "n", "acc", "explicit", "anaphoric", "implicit", "cov@P.95", "addressee P/R/F1",
                "cast P/R", "merges/splits", "false chars"):
        table.add_column(col)
    for setting, groups in report["settings"].items():
        for group in ("unseen", "tuning", "all"):
            s = groups.get(group)
            if s:
                cast = s["cast"]
                table.add_row(setting, group, str(s["quotations"]), *(_fmt(s[k]) for k in (
                    "accuracy", "accuracy_explicit", "accuracy_anaphoric", "accuracy_implicit", "coverage_at_p95")),
                    "/".join(_fmt(s["addressees"][k]) for k in ("precision", "recall", "f1")),
                    f"{_fmt(cast['cluster_precision'])}/{_fmt(cast['cluster_recall'])}",
                    f"{cast['merges']}/{cast['splits']}", f"{cast['false_characters']}/{cast['characters']}")
    console.print(table)
    expected = report["settings"].get("end-to-end/discovered", {}).get("unseen")
    if expected:
        console.print(f"expected on a new book (unseen split, end to end, discovered cast): accuracy "
                      f"{_fmt(expected['accuracy'])}, coverage at precision >= {TARGET_PRECISION} "
                      f"{_fmt(expected['coverage_at_p95'])}; precision-coverage: " + ", ".join(
                          f"{_fmt(c['precision'])}@{c['coverage']:.2f}" for c in expected["curve"]))
    if "speed" in report:
        sp = report["speed"]
        console.print(f"speed: {sp['seconds_per_100k_tokens']} s per 100k whitespace tokens "
                      f"({sp['seconds_per_100k_spacy_tokens']} per 100k spaCy tokens; {sp['novel']}, "
                      f"spaCy included, {sp['processes']} processes); "
                      f"{sp['speedup_vs_published_pipeline']}x the speed with the spaCy pipeline as published")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
