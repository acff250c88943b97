"""Cast-perturbation stress test for bench/attribution.py (--perturb-cast): how sure the attributions
are when the cast is wrong in the ways an independent check on unseen PDNC novels found.

Starting from the cast our discovery finds for a novel, `perturb_cast` injects those errors, seeded
per novel and decided only from the cast's own names, genders and mention counts (never from the
text): (a) family merges: a family's standalone name ("Mr. Harrow", "Mrs. Harrow", bare "Harrow")
moved, with its whole cluster when it is the cluster's main name, into another member of the family
whose given name is known, where the move is surely wrong: the name's owner has a given name of its
own, or the two differ in gender (the father's surname given to the son, the elder brother's "Mr. X"
to his sister; a lone "Miss X" may be the known Jane X herself and is left alone); (b) splits: a shorter form of a character's name (a one-word given name or diminutive, or a
titled surname such as "Mrs. Vale") cut off into a character of its own; (c) false characters: a
few capitalised abstractions and exclamations (FALSE_NAMES) added as characters. The bench then
attributes with the perturbed cast and scores it as it scores the discovered cast (map_cast).

`stress_report` compares calibrations on the fixed split, clean and perturbed (see its docstring).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from attribution_scores import Outcome, TARGET_PRECISION, folds_of, summarise
from corpus.attribution.calibration import Calibration
from corpus.attribution.cast_evidence import without_cast_evidence
from corpus.attribution.characters import Character, unique_slugs
from corpus.attribution.names import FEMALE_TITLES, MALE_TITLES, parse_name

# Capitalised abstractions and dialect exclamations a discovery may take for characters.
FALSE_NAMES = ("Heaven", "Providence", "Lord", "God", "Fate", "Nature", "Fortune", "Love", "Death", "Mercy",
               "Gracious", "Goodness", "Lor", "Lawk", "Gad", "Golly", "Bless", "Truth", "Society", "Time")
FAMILY_TITLES = {"Mr", "Mrs", "Miss", "Master", "Mister"}
CLEAN, PERTURBED = "end-to-end/discovered", "end-to-end/perturbed"


@dataclass(frozen=True)
class PerturbConfig:
    """How many errors of each class one novel's cast gets, and the seed (mixed with the novel's name)."""

    merges: int = 2
    splits: int = 2
    false_characters: int = 3
    seed: int = 0


@dataclass
class Perturbation:
    """A perturbed cast and what was done to it (one line per change)."""

    cast: list[Character]
    changes: list[str] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # names already moved (none is moved back)


def perturb_cast(cast: list[Character], novel: str, config: PerturbConfig = PerturbConfig()) -> Perturbation:
    """The cast with config's merges, splits and false characters, the same for the same seed and novel."""
    rng = random.Random(f"{config.seed}:{novel}")
    result = Perturbation([replace(c, aliases=list(c.aliases)) for c in cast])
    for _ in range(config.merges):
        _merge_family(result, rng)
    for _ in range(config.splits):
        _split_alias(result, rng)
    taken = {c.name for c in result.cast}
    free = [n for n in FALSE_NAMES if n not in taken]
    names = rng.sample(free, min(config.false_characters, len(free)))
    for name, slug in zip(names, unique_slugs(names, {c.slug for c in result.cast})):
        result.cast.append(Character(slug, name, [], None))
        result.changes.append(f"false character {name}")
    return result


def family_names(character: Character) -> tuple[set[str], dict[str, str]]:
    """A character's surnames, and its standalone family names ("Mr. Vale", "Vale") -> their surname."""
    parsed = {n: parse_name(n) for n in character.names()}
    surnames = {p.surname for p in parsed.values() if p and p.surname and " " not in p.surname}
    standalone = {n: p.surname or p.given for n, p in parsed.items() if p and (
        (p.title in FAMILY_TITLES and not p.given and p.surname in surnames)
        or (not p.title and not p.surname and p.given in surnames))}
    return surnames, standalone


def _weighted(options: list, rng: random.Random, weight) -> object | None:
    """One option, drawn with probability proportional to `weight(option)`; None when there is none."""
    return rng.choices(options, [weight(o) for o in options])[0] if options else None


def _merge_family(result: Perturbation, rng: random.Random) -> None:
    """Move a family's standalone name (with its cluster when it is the main name) to another member
    of the family who has a given name."""
    named = {c.slug: family_names(c) for c in result.cast}
    options = []
    for owner in result.cast:
        for name, surname in sorted(named[owner.slug][1].items()):
            if name in result.touched:
                continue
            options += [(owner, name, target) for target in result.cast if target.slug != owner.slug
                        and surname in named[target.slug][0] and _has_given(target) and _wrong_merge(owner, target)]
    choice = _weighted(options, rng, lambda o: o[0].mentions + o[2].mentions + 1)
    if choice is None:
        return
    owner, name, target = choice
    result.touched.update(owner.names() if name == owner.name else [name])
    if name == owner.name:  # the whole cluster is the family's standalone name: it joins the target
        result.cast.remove(owner)
        target.aliases += [n for n in owner.names() if n not in target.names()]
    else:
        owner.aliases.remove(name)
        target.aliases.append(name)
    result.changes.append(f"merge {name!r} of {owner.name} into {target.name}")


def _wrong_merge(owner: Character, target: Character) -> bool:
    """Whether moving a family name of `owner` to `target` is surely an error: the owner is a person
    with a given name of its own, or the two are of different genders."""
    return _has_given(owner) or None not in (owner.gender, target.gender) and owner.gender != target.gender


def _has_given(character: Character) -> bool:
    return any(p is not None and p.given and p.title is None for p in map(parse_name, character.names()))


def _split_alias(result: Perturbation, rng: random.Random) -> None:
    """Cut a shorter form of a character's name (a one-word name, or a titled surname) off into a
    character of its own."""
    options = [(c, alias) for c in result.cast for alias in c.aliases
               if alias != c.name and alias not in result.touched and not c.name.lower().startswith("the ")
               and _short_form(alias, family_names(c)[0])]
    choice = _weighted(options, rng, lambda o: o[0].mentions + 1)
    if choice is None:
        return
    character, alias = choice
    character.aliases.remove(alias)
    result.touched.add(alias)
    slug = unique_slugs([alias], {c.slug for c in result.cast})[0]
    result.cast.append(Character(slug, alias, [], character.gender))
    result.changes.append(f"split {alias!r} off {character.name}")


def _short_form(alias: str, surnames: set[str]) -> bool:
    """A one-word given name or diminutive (not one of the `surnames`), or a titled surname."""
    parsed = parse_name(alias)
    if parsed is None:
        return False
    one_word = parsed.title is None and parsed.surname is None and parsed.given not in (None, *surnames)
    titled_surname = parsed.title in set(MALE_TITLES) | set(FEMALE_TITLES) and not parsed.given
    return one_word or titled_surname


# ---- calibrations judged on the fixed split, clean and perturbed ----

VARIANTS = {  # name -> (with the cast evidence, the settings the calibration is fitted on)
    "no cast evidence, fit clean": (False, (CLEAN,)),
    "no cast evidence, fit clean+perturbed": (False, (CLEAN, PERTURBED)),
    "cast evidence, fit clean+perturbed": (True, (CLEAN, PERTURBED)),
}


def stress_report(results: list, unseen: tuple[str, ...], folds: int) -> dict:
    """Per calibration variant (VARIANTS): confidences on the tuning novels fitted leave-novels-out
    over them (`folds` folds), on the unseen ones fitted on all tuning novels; per group and cast
    (clean, perturbed) the summary, plus the precision and coverage of the decisions at or above the
    confidence threshold that gives precision >= TARGET_PRECISION on the clean tuning novels."""
    tuning = [r for r in results if r.name not in unseen]
    report = {}
    for variant, (evidence, fit_on) in VARIANTS.items():
        scored = _confidences(results, tuning, evidence, fit_on, folds)
        groups = {"tuning": [r.name for r in tuning], "unseen": [r.name for r in results if r.name in unseen]}
        threshold = target_threshold([o for name in groups["tuning"] for o in scored[name, CLEAN]])
        report[variant] = {"threshold": threshold}
        for group, names in groups.items():
            for setting in (CLEAN, PERTURBED):
                outcomes = [o for name in names for o in scored.get((name, setting), [])]
                if outcomes:
                    report[variant][f"{group}/{setting.split('/')[1]}"] = _with_threshold(outcomes, threshold)
    return report


def _confidences(results: list, tuning: list, evidence: bool, fit_on: tuple[str, ...],
                 folds: int) -> dict[tuple[str, str], list[Outcome]]:
    """(novel, setting) -> outcomes with this variant's confidences (copies; the results are untouched)."""
    def fit(rs: list) -> Calibration:
        return Calibration.fit([(o.method, _signals(o, evidence), o.correct) for r in rs for s in fit_on
                                for o in r.outcomes.get(s, []) if o.attributed])

    fold_of = folds_of([r.name for r in tuning], folds)
    by_fold = {k: fit([r for r in tuning if fold_of[r.name] != k]) for k in range(folds)}
    on_tuning = fit(tuning)
    scored = {}
    for r in results:
        calibration = by_fold[fold_of[r.name]] if r.name in fold_of else on_tuning
        for setting in (CLEAN, PERTURBED):
            scored[r.name, setting] = [replace(o, confidence=calibration.confidence(o.method, _signals(o, evidence)))
                                       if o.attributed else o for o in r.outcomes.get(setting, [])]
    return scored


def _signals(outcome: Outcome, evidence: bool) -> dict[str, float]:
    return outcome.signals if evidence else without_cast_evidence(outcome.signals)


def target_threshold(outcomes: list[Outcome]) -> float:
    """The lowest confidence whose decisions at or above it have precision >= TARGET_PRECISION (cut only
    between distinct confidences, as summarise's coverage); 1.0 (above every confidence) if none."""
    ranked = sorted((o for o in outcomes if o.attributed), key=lambda o: -o.confidence)
    threshold, correct = 1.0 + 1e-9, 0
    for i, o in enumerate(ranked):
        correct += o.correct
        boundary = i + 1 == len(ranked) or ranked[i + 1].confidence < o.confidence
        if boundary and correct / (i + 1) >= TARGET_PRECISION:
            threshold = o.confidence
    return threshold


def _with_threshold(outcomes: list[Outcome], threshold: float) -> dict:
    summary = summarise(outcomes)
    kept = [o for o in outcomes if o.attributed and o.confidence >= threshold]
    summary["at_threshold"] = {"precision": round(sum(o.correct for o in kept) / len(kept), 4) if kept else None,
                               "coverage": round(len(kept) / len(outcomes), 4)}
    return summary


def print_stress(report: dict) -> None:
    """The stress report as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="cast stress: calibrations on clean and perturbed discovered casts (end to end)")
    for col in ("calibration", "novels/cast", "n", "acc", "cov@P.95", "P@thr", "cov@thr", "precision@coverage"):
        table.add_column(col)
    for variant, groups in report.items():
        for key, s in groups.items():
            if key == "threshold":
                continue
            at = s["at_threshold"]
            curve = " ".join(f"{c['precision'] or 0:.3f}@{c['coverage']:.2f}" for c in s["curve"])
            table.add_row(variant, key, str(s["quotations"]), f"{s['accuracy']:.3f}", f"{s['coverage_at_p95']:.3f}",
                          "-" if at["precision"] is None else f"{at['precision']:.3f}", f"{at['coverage']:.3f}", curve)
    Console(width=220).print(table)
    Console().print("thresholds (P >= 0.95 on clean tuning): " + ", ".join(
        f"{v}: {g['threshold']:.4f}" for v, g in report.items()))
