"""What an LM's name score adds to the ranker, judged on the unseen novels: the test item 4 of the
attribution issue sets before an `--lm` mode is built (it must add >= 2 points end to end).

    python bench/lm_ranker.py --pdnc ../shared/pdnc --model gemma-3-270m [--per-novel 30]
        [--cache PARSES] [--json OUT]

Each novel is attributed as `corpus attribute` does (discovered cast, bundled ranker) on PDNC's own
quotation spans, so every quotation has its gold speaker. The quotations the ranker decides among two or
more candidates are sampled; for each, every candidate is scored by the LM as in bench/lm_speakers.py
(`lm_name`: log P(" " + name | the text before and the quotation, then ' said'), its likeliest name among
those the window uses, else its main name) and renormalised over the candidates. A conditional logit over
(log ranker probability, lm_name) is fitted on the tuning novels' sample and scored on the unseen
novels' sample, against the ranker alone (its peer in the same process). The gain there, times the share
of the unseen novels' quotations the ranker decides, is the end-to-end gain a `--lm` mode would bring.
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from attribution import UNSEEN_NOVELS, load_docs
from attribution_scores import map_cast
from corpus.attribution.book import prepare_context, run_sieve
from corpus.attribution.context import BookContext
from corpus.attribution import AttributionConfig
from corpus.attribution.ranker import Ranker, rerank
from corpus.errors import CorpusError
from corpus.shards.parquet import atomic_write_bytes
from lm_speakers import CUE, Sample as GoldSample, fit_logit, lm_arguments, name_log_probs, normalised
from pdnc import PdncNovel, novel_folders, read_novel
from training.modeling import load_base_model, max_positions, resolve_device

MAX_NAMES = 3  # of a candidate's names, the ones its window used last are scored (a pass each)
PROB_FLOOR = 1e-6  # the ranker's probabilities are floored here before taking logs


@dataclass
class Sample:
    """One ranker decision: per candidate (log ranker probability, lm_name), and which are right."""

    novel: str
    features: list[list[float]]
    right: list[bool]


@dataclass
class NovelPool:
    """A novel's quotations and those the ranker decides among two or more candidates."""

    quotations: int
    decided: int
    words: int
    samples: list[Sample] = field(default_factory=list)
    lm_seconds: float = 0.0  # spent scoring the sample with the LM


def ranker_decisions(novel: PdncNovel, docs: list, config: AttributionConfig, ranker: Ranker
                     ) -> tuple[BookContext, dict[int, tuple[list[str], np.ndarray]], dict[str, str], dict[int, str]]:
    """The book's context on gold spans with the discovered cast, the ranker's final distributions
    (quotation -> candidates, probabilities), our slug -> gold slug, and gold speaker by quotation start."""
    ctx = prepare_context(novel.text, config, quotations=[g.quotation for g in novel.quotations], docs=docs)
    anchors, parity = run_sieve(ctx, config)
    record: dict[int, tuple[list[str], np.ndarray]] = {}
    rerank(ctx, ranker, anchors, parity, config, record)
    gold = {g.quotation.start: g.speaker for g in novel.quotations}
    return ctx, record, map_cast(ctx.index.cast, novel), gold


def candidate_names(ctx: BookContext, slug: str, window: str) -> list[str]:
    """The candidate's names its window uses, last used first (at most MAX_NAMES), else its main name."""
    character = ctx.index.by_slug[slug]
    used = sorted(((hits[-1].start(), name) for name in character.names()
                   if (hits := list(re.finditer(rf"\b{re.escape(name)}\b", window)))), reverse=True)
    return [name for _, name in used[:MAX_NAMES]] or [character.name]


def novel_samples(folder: Path, model, tokenizer, device: str, per_novel: int, window: int, cache: Path | None,
                  config: AttributionConfig, ranker: Ranker, rng: random.Random) -> NovelPool:
    novel = read_novel(folder)
    docs, _ = load_docs(novel, folder, cache, config.spacy_model)
    ctx, record, mapping, gold = ranker_decisions(novel, docs, config, ranker)
    pool = [qi for qi, (candidates, _) in sorted(record.items()) if len(candidates) >= 2]
    result = NovelPool(len(novel.quotations), len(pool), len(novel.text.split()))
    max_tokens = max_positions(model)
    for qi in sorted(rng.sample(pool, min(per_novel, len(pool)))):
        candidates, probs = record[qi]
        quotation = ctx.quotations[qi]
        lo, end = max(0, quotation.start - window), quotation.end
        closing = novel.text[end:end + 1] if novel.text[end:end + 1] in "\"'\u201d\u2019" else ""
        names = {slug: candidate_names(ctx, slug, novel.text[lo:quotation.start]) for slug in candidates}
        started = time.perf_counter()
        lm = normalised(name_log_probs(model, tokenizer, novel.text[lo:end] + closing + CUE, names, device, max_tokens))
        result.lm_seconds += time.perf_counter() - started
        speaker = gold.get(quotation.start)
        result.samples.append(Sample(
            novel.name, [[math.log(max(float(p), PROB_FLOOR)), lm[slug]] for slug, p in zip(candidates, probs)],
            [speaker is not None and mapping.get(slug) == speaker for slug in candidates]))
    return result


RANKER, LM = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])  # weights that read one score alone


def chosen_right(sample: Sample, weights: torch.Tensor) -> bool:
    """Whether the candidate scoring highest under `weights` is right."""
    return sample.right[int(torch.argmax(torch.tensor(sample.features) @ weights))]


def accuracy(samples: list[Sample], weights: torch.Tensor) -> float:
    return sum(chosen_right(s, weights) for s in samples) / len(samples)


def fit_combined(samples: list[Sample]) -> torch.Tensor:
    """Conditional-logit weights over (log ranker probability, lm_name), fitted where one candidate is right."""
    usable = [GoldSample(s.novel, s.features, s.right.index(True)) for s in samples if sum(s.right) == 1]
    return fit_logit(usable, [0, 1])


def report(pools: dict[str, NovelPool]) -> dict:
    """Ranker alone, LM alone and combined on each split's sample, and the end-to-end gain on unseen."""
    split = {"tuning": [n for n in pools if n not in UNSEEN_NOVELS], "unseen": [n for n in pools if n in UNSEEN_NOVELS]}
    samples = {k: [s for n in names for s in pools[n].samples] for k, names in split.items()}
    weights = fit_combined(samples["tuning"])
    out: dict = {"weights": {"log_ranker": float(weights[0]), "lm_name": float(weights[1])}, "splits": {}}
    for name, chosen in samples.items():
        if not chosen:
            continue
        quotations = sum(pools[n].quotations for n in split[name])
        decided = sum(pools[n].decided for n in split[name])
        ranker_acc = accuracy(chosen, RANKER)
        missed = [s for s in chosen if any(s.right) and not chosen_right(s, RANKER)]
        combined = accuracy(chosen, weights)
        gain = combined - ranker_acc
        out["splits"][name] = {
            "novels": split[name], "sampled": len(chosen), "ranker_decided": decided, "quotations": quotations,
            "ranker": ranker_acc, "lm_name": accuracy(chosen, LM), "combined": combined,
            "reachable": sum(any(s.right) for s in chosen) / len(chosen),
            "mean_candidates": sum(len(s.features) for s in chosen) / len(chosen),
            "lm_name_where_ranker_missed": accuracy(missed, LM) if missed else None,
            "ranker_missed": len(missed),
            "gain": gain, "gain_se": _paired_se(chosen, weights),
            "end_to_end_gain": gain * decided / quotations,
        }
    sampled = sum(len(p.samples) for p in pools.values())
    per_quotation = sum(p.lm_seconds for p in pools.values()) / max(sampled, 1)
    decided_per_100k = sum(p.decided for p in pools.values()) / sum(p.words for p in pools.values()) * 1e5
    out["seconds_per_quotation"] = per_quotation
    out["seconds_per_100k_words"] = per_quotation * decided_per_100k
    return out


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _paired_se(samples: list[Sample], weights: torch.Tensor) -> float:
    """Standard error of the accuracy difference combined - ranker (paired over the same quotations)."""
    diffs = [chosen_right(s, weights) - chosen_right(s, RANKER) for s in samples]
    return float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = lm_arguments(__doc__.split("\n\n")[0], 30, "ranker decisions")
    parser.add_argument("--cache", type=Path, help="folder of cached spaCy parses (as bench/attribution.py)")
    args = parser.parse_args(argv)
    config, ranker = AttributionConfig(), Ranker.load()
    try:
        folders = novel_folders(args.pdnc)
        device = resolve_device(args.device)
        model, tokenizer, reference = load_base_model(args.model)
        if ranker is None or ranker.refine is None:
            raise CorpusError("the bundled ranker has no refining pass to measure against")
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model.to(device)
    rng, pools = random.Random(args.seed), {}
    for folder in folders:
        pools[folder.name] = novel_samples(folder, model, tokenizer, device, args.per_novel, args.window, args.cache,
                                           config, ranker, rng)
        print(f"{folder.name}: {len(pools[folder.name].samples)} sampled of {pools[folder.name].decided} ranker decisions",
              file=sys.stderr, flush=True)
    if not any(n in UNSEEN_NOVELS for n in pools) or all(n in UNSEEN_NOVELS for n in pools):
        print("error: need novels of both the tuning and the unseen split", file=sys.stderr)
        return 1
    result = {"model": reference, "device": device, **report(pools),
              "settings": {"per_novel": args.per_novel, "window": args.window, "seed": args.seed}}
    for name, row in result["splits"].items():
        print(f"{name}: {row['sampled']} ranker decisions sampled of {row['ranker_decided']} "
              f"({row['quotations']} quotations); ranker {row['ranker']:.3f}, lm_name {row['lm_name']:.3f}, "
              f"combined {row['combined']:.3f} (gain {row['gain']:+.3f} ± {row['gain_se']:.3f}; "
              f"end to end {row['end_to_end_gain']:+.3f}); reachable {row['reachable']:.3f}, "
              f"{row['mean_candidates']:.1f} candidates; where the ranker missed a reachable speaker "
              f"({row['ranker_missed']}), lm_name finds it in {_share(row['lm_name_where_ranker_missed'])}")
    print(f"weights {result['weights']}; {result['seconds_per_quotation']:.1f} s per decision, "
          f"{result['seconds_per_100k_words']:.0f} s per 100k words on {device}")
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(result, indent=1) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
