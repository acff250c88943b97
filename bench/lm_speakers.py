"""Does a causal LM know who speaks? The check to run before building an LM feature into the ranker.

    python bench/lm_speakers.py --pdnc ../shared/pdnc [--model ../shared/models/gutenberg-gpt2]
        [--per-novel 40] [--json OUT]

For a sample of PDNC's anaphoric and implicit quotations (those without a named speech tag, where the
ranker errs) each cast member named in the text before the quotation is scored twice by the LM:
`lm_name`, the log-probability of its name (likeliest alias) after that text, the quotation and
' said'; `lm_quote`, the log-probability of the quotation's words after that text and 'NAME said, "'
(who would say this). Its peers in the same process are the positional rules the ranker already has: the
latest-named and the second-latest-named character. A conditional logit over those positions is then
fitted leave-novels-out with and without the LM score: the accuracy the LM adds there is what it can
add as a ranker feature. Candidates are the gold cast members named within --window characters, so
quotations whose speaker is not named there are left out (counted as `unreached`).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch


from corpus.errors import CorpusError
from pdnc import PdncNovel, novel_folders, read_novel
from corpus.shards.parquet import atomic_write_bytes
from training.data import document_lead
from training.modeling import load_base_model, max_positions, resolve_device

CUE = " said"  # appended after the quotation's closing mark: the name is what the LM predicts next
LEAD = ' said, "'  # after a candidate's name, before the quotation's words
QUOTE_TOKENS = 64  # the quotation's words scored
LM_COLUMNS = ("lm_name", "lm_quote")
POSITIONS = 3  # positional features: the candidate is the latest, second or third latest named
FOLDS = 3


@dataclass
class Sample:
    """One quotation: each candidate's features (the LM_COLUMNS log-probabilities, each normalised over
    the candidates, then one-hot latest / second / third named, then 1 / (1 + recency rank)) and the
    gold's index."""

    novel: str
    features: list[list[float]]
    gold: int


def named_in(novel: PdncNovel, lo: int, hi: int) -> dict[str, tuple[int, list[str]]]:
    """Cast members named in text[lo:hi]: slug -> (offset of the last naming, the aliases used, ordered
    by their last use)."""
    window = novel.text[lo:hi]
    found: dict[str, tuple[int, list[str]]] = {}
    for character in novel.cast:
        last = sorted((hits[-1].start(), name) for name in character.names()
                      if (hits := list(re.finditer(rf"\b{re.escape(name)}\b", window))))
        if last:
            found[character.slug] = (last[-1][0], [name for _, name in last])
    return found


@torch.no_grad()
def name_log_probs(model, tokenizer, text: str, aliases: dict[str, list[str]], device: str,
                   max_tokens: int) -> dict[str, float]:
    """log P(" " + alias | text) for each slug's likeliest alias, within `max_tokens` positions; the text
    is read once and each alias continues from a copy of its cache."""
    conts = {slug: [_ids(tokenizer, " " + name) for name in names] for slug, names in aliases.items()}
    room = max_tokens - max(len(cont) for options in conts.values() for cont in options)
    out = model(torch.tensor([_document(tokenizer, text, room)], device=device), use_cache=True, logits_to_keep=1)
    cache, first = out.past_key_values, torch.log_softmax(out.logits[0, -1].float(), -1)
    scores = {}
    for slug, options in conts.items():
        best = -math.inf
        for cont in options:
            total = float(first[cont[0]])
            if len(cont) > 1:
                rest = _continue(model, cache, cont[:-1], device)
                steps = torch.log_softmax(rest[0].float(), -1)
                total += float(steps[torch.arange(len(cont) - 1), torch.tensor(cont[1:])].sum())
            best = max(best, total)
        scores[slug] = best
    return scores


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def _document(tokenizer, text: str, room: int) -> list[int]:
    """The document lead (BOS, for models that read one) and the last tokens of `text`, `room` in all."""
    lead = list(document_lead(tokenizer))
    return lead + _ids(tokenizer, text)[-(room - len(lead)):]


def _continue(model, cache, ids: list[int], device: str) -> torch.Tensor:
    """Logits [1, len(ids), V] of `ids` read after a copy of `cache` (the cache itself is left as it was:
    sliding-window caches, Gemma's, cannot be cut back)."""
    return model(torch.tensor([ids], device=device), past_key_values=copy.deepcopy(cache), use_cache=True).logits


@torch.no_grad()
def quote_log_probs(model, tokenizer, before: str, quote: str, names: dict[str, str], device: str,
                    max_tokens: int) -> dict[str, float]:
    """log P(the quotation's first QUOTE_TOKENS tokens | before + NAME + LEAD) for each slug's name, within
    `max_tokens` positions."""
    quote_ids = _ids(tokenizer, quote)[:QUOTE_TOKENS]
    leads = {slug: _ids(tokenizer, name + LEAD) for slug, name in names.items()}
    room = max_tokens - len(quote_ids) - max(map(len, leads.values()))
    cache = model(torch.tensor([_document(tokenizer, before, room)], device=device), use_cache=True).past_key_values
    scores = {}
    for slug, lead in leads.items():
        logits = _continue(model, cache, lead + quote_ids, device)[0]
        steps = torch.log_softmax(logits[len(lead) - 1:-1].float(), -1)
        scores[slug] = float(steps[torch.arange(len(quote_ids)), torch.tensor(quote_ids)].sum())
    return scores


def samples_of(novel: PdncNovel, model, tokenizer, device: str, per_novel: int, window: int,
               rng: random.Random) -> tuple[list[Sample], int]:
    """The novel's sampled quotations with two or more named candidates, and how many lacked the gold."""
    pool = [g for g in novel.quotations if g.quote_type in ("anaphoric", "implicit") and g.speaker]
    max_tokens = max_positions(model)
    samples, unreached = [], 0
    for gold in rng.sample(pool, min(per_novel, len(pool))):
        lo, end = max(0, gold.quotation.start - window), gold.quotation.end
        named = named_in(novel, lo, end)
        if gold.speaker not in named:
            unreached += 1
            continue
        start = gold.quotation.start
        if len(named) < 2 or start - 1 <= lo:  # one candidate, or no text before the quotation
            continue
        closing = novel.text[end:end + 1] if novel.text[end:end + 1] in "\"'\u201d\u2019" else ""
        lm_name = name_log_probs(model, tokenizer, novel.text[lo:end] + closing + CUE,
                                 {s: used for s, (_, used) in named.items()}, device, max_tokens)
        # the text up to the opening mark, then the name its window uses last
        lm_quote = quote_log_probs(model, tokenizer, novel.text[lo:start - 1], novel.text[start:end],
                                   {s: used[-1] for s, (_, used) in named.items()}, device, max_tokens)
        lm_name, lm_quote = normalised(lm_name), normalised(lm_quote)
        rank = {slug: i for i, slug in enumerate(sorted(named, key=lambda s: -named[s][0]))}
        rows = [[lm_name[s], lm_quote[s], *(float(rank[s] == k) for k in range(POSITIONS)), 1 / (1 + rank[s])]
                for s in named]
        samples.append(Sample(novel.name, rows, list(named).index(gold.speaker)))
    return samples, unreached


def normalised(scores: dict[str, float]) -> dict[str, float]:
    """Log-probabilities renormalised over the candidates (a log-softmax)."""
    norm = torch.logsumexp(torch.tensor(list(scores.values())), 0).item()
    return {slug: value - norm for slug, value in scores.items()}


def fit_logit(samples: list[Sample], columns: list[int]) -> torch.Tensor:
    """Weights of a conditional logit (softmax over each quotation's candidates), L-BFGS with small L2."""
    weights = torch.zeros(len(columns), requires_grad=True)
    xs = [torch.tensor(s.features)[:, columns] for s in samples]
    optimizer = torch.optim.LBFGS([weights], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = sum(-torch.log_softmax(x @ weights, 0)[s.gold] for x, s in zip(xs, samples)) / len(samples)
        loss = loss + 1e-3 * weights.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weights.detach()


def leave_novels_out(samples: list[Sample], columns: list[int], folds: int = FOLDS) -> float:
    """Accuracy of the conditional logit over `columns`, each fold's novels scored by a fit on the others."""
    novels = sorted({s.novel for s in samples})
    right = 0
    for k in range(folds):
        held = set(novels[k::folds])
        weights = fit_logit([s for s in samples if s.novel not in held], columns)
        right += sum(int(torch.argmax(torch.tensor(s.features)[:, columns] @ weights)) == s.gold
                     for s in samples if s.novel in held)
    return right / len(samples)


def lm_arguments(description: str, per_novel: int, sampled: str) -> argparse.ArgumentParser:
    """The options of the LM speaker benches (this one and lm_ranker.py): novels, model, sample, output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pdnc", type=Path, required=True, help="folder laid out like ../shared/pdnc")
    parser.add_argument("--model", default="../shared/models/gutenberg-gpt2",
                        help="Hub id, local folder, .gguf file or gemma-3-270m (the packaged Gemma 3 270M)")
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument("--per-novel", type=int, default=per_novel, help=f"{sampled} sampled per novel")
    parser.add_argument("--window", type=int, default=2000, help="characters read before each quotation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = lm_arguments(__doc__.split("\n\n")[0], 40, "quotations").parse_args(argv)
    try:
        folders = novel_folders(args.pdnc)
        device = resolve_device(args.device)
        model, tokenizer, reference = load_base_model(args.model)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model.to(device)
    rng, samples, unreached, started = random.Random(args.seed), [], 0, time.perf_counter()
    for folder in folders:
        found, missed = samples_of(read_novel(folder), model, tokenizer, device, args.per_novel, args.window, rng)
        samples += found
        unreached += missed
    if len({s.novel for s in samples}) < FOLDS:
        print(f"error: need quotations from at least {FOLDS} novels, got {len(samples)} quotations", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    top = {name: sum(max(range(len(s.features)), key=lambda i: s.features[i][col]) == s.gold for s in samples)
           / len(samples) for col, name in enumerate((*LM_COLUMNS, "latest_named", "second_named"))}
    top["chance"] = sum(1 / len(s.features) for s in samples) / len(samples)
    positions = list(range(len(LM_COLUMNS), len(LM_COLUMNS) + POSITIONS + 1))
    logit = {"positions": leave_novels_out(samples, positions)}
    for col, name in enumerate(LM_COLUMNS):
        logit[f"positions+{name}"] = leave_novels_out(samples, [col, *positions])
    logit["positions+both"] = leave_novels_out(samples, [*range(len(LM_COLUMNS)), *positions])
    best_rule = max(top["latest_named"], top["second_named"])
    report = {
        "model": reference, "device": device, "quotations": len(samples), "unreached": unreached,
        "mean_candidates": sum(len(s.features) for s in samples) / len(samples), "top1": top,
        "lm_vs_best_rule": {name: top[name] / best_rule for name in LM_COLUMNS},
        "leave_novels_out_logit": logit, "lm_gain": logit["positions+both"] - logit["positions"],
        "seconds": elapsed, "seconds_per_quotation": elapsed / len(samples),
        "settings": {"per_novel": args.per_novel, "window": args.window, "seed": args.seed},
        "samples_per_novel": {n: sum(s.novel == n for s in samples) for n in sorted({s.novel for s in samples})},
    }
    print(f"{len(samples)} quotations ({unreached} unreached), {report['mean_candidates']:.1f} candidates each")
    print("top-1: " + ", ".join(f"{name} {value:.3f}" for name, value in top.items())
          + " (LM / best rule: " + ", ".join(f"{n} {v:.2f}x" for n, v in report["lm_vs_best_rule"].items()) + ")")
    print("leave-novels-out logit: " + ", ".join(f"{name} {value:.3f}" for name, value in logit.items()))
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
