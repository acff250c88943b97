"""Train the candidate ranker on PDNC (gold quotation spans; each novel with its gold cast and with the
cast we discover) and write its weights.

    python bench/train_ranker.py --pdnc ../shared/pdnc [--novels ...] [--out corpus/attribution/ranker.json]

The shipped weights are trained on all given novels; bench/attribution.py reports figures with
rankers re-trained leave-novels-out (each fold's ranker never saw its novels).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from corpus.attribution.book import prepare_context, run_sieve
from corpus.attribution.context import BookContext
from corpus.attribution.ranker import RANKER_FILE, Ranker, fit_scorer, training_examples
from corpus.attribution.types import AttributionConfig
from pdnc import novel_folders, read_novel


FORWARD_ROUNDS = 2  # rounds on a ranker's own decisions; a second one measured better on held-out novels


def novel_context(folder: Path, docs: list, config: AttributionConfig,
                  discovered: bool = False) -> tuple[BookContext, list[set[str]]]:
    """A PDNC novel prepared for the sieve on gold spans, with the gold cast or the cast we discover,
    and each quotation's right speakers (with ours: the characters mapped to the gold speaker)."""
    novel = read_novel(folder)
    spans = [g.quotation for g in novel.quotations]
    if not discovered:
        cast = [replace(c, aliases=list(c.aliases)) for c in novel.cast]
        ctx = prepare_context(novel.text, config, cast, quotations=spans, docs=docs)
        return ctx, [{g.speaker} if g.speaker else set() for g in novel.quotations]
    from attribution_scores import map_cast  # how bench/attribution.py scores our characters against the gold cast

    ctx = prepare_context(novel.text, config, quotations=spans, docs=docs)
    ours: dict[str, set[str]] = {}
    for slug, gold in map_cast(ctx.index.cast, novel).items():
        ours.setdefault(gold, set()).add(slug)
    return ctx, [ours.get(g.speaker, set()) for g in novel.quotations]


def novel_examples(book: tuple[BookContext, list[set[str]]], config: AttributionConfig,
                   ranker: Ranker | None = None, refining: bool = False) -> list:
    """Ranker training examples of one prepared novel (the sieve re-run, so earlier rounds leave no trace)."""
    ctx, gold = book
    anchors, parity = run_sieve(ctx, config)
    return training_examples(ctx, anchors, parity, gold, config, ranker, refining)


def train(folders: list[Path], docs: dict[str, list], config: AttributionConfig) -> Ranker:
    """A ranker on the sieve's context; FORWARD_ROUNDS rounds each learning from the decisions (and
    their probabilities) of the ranker before it, the last being the first pass; then the refining
    second pass on the first pass's decisions. Each novel is read twice, with the gold cast and with
    the cast we discover (as users run it)."""
    books = [novel_context(f, docs[f.name], config, discovered) for f in folders for discovered in (False, True)]
    ranker = Ranker(fit_scorer([e for b in books for e in novel_examples(b, config)]))
    for _ in range(FORWARD_ROUNDS):
        ranker = Ranker(fit_scorer([e for b in books for e in novel_examples(b, config, ranker)]))
    refine = fit_scorer([e for b in books for e in novel_examples(b, config, ranker, refining=True)])
    return Ranker(ranker.first, refine)


def main(argv: list[str] | None = None) -> int:
    from attribution import load_docs  # bench/attribution.py: the DocBin parse cache

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdnc", type=Path, required=True)
    parser.add_argument("--novels", nargs="*")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/attribution-core/parses"))
    parser.add_argument("--out", type=Path, default=RANKER_FILE)
    args = parser.parse_args(argv)
    config = AttributionConfig()
    folders = [f for f in novel_folders(args.pdnc) if not args.novels or f.name in args.novels]
    docs = {f.name: load_docs(read_novel(f), f, args.cache, config.spacy_model)[0] for f in folders}
    train(folders, docs, config).save(args.out)
    print(f"trained on {len(folders)} novels; weights written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
