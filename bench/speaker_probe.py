"""How much speaker information do the lines carry? Linear probes, read beside bench/personas.py's speaker ID.

    python bench/speaker_probe.py --profile gemma-cpu-upper --model gemma-3-270m [--pdnc ../shared/pdnc]
        [--shots 32,128] [--context-tokens N] [--out bench/results/personas] [--json bench/results/speaker_probe.json]

Not a persona method: a multinomial logistic regression over a book's evaluated characters (classes weighted
equally), trained on the first `shots` training lines of each (the lines a persona is fitted on) and scored on
the same gold held-out lines as bench/personas.py with the same profile. Its features are
  model layer N   the frozen model's hidden states after layer N, averaged over the utterance's tokens, read
                  with the example's context before it (no prompt); the middle and the last layer
  tokens          the utterance's token counts, log(1 + count), with no model at all
A persona identifies a speaker by how likely its prompt makes a line; a probe that cannot separate the speakers
from the model's own features, or from the words, says the lines hold little speaker signal at this length.
The L2 strength is chosen by 4-fold cross-validation on the training lines only. `--context-tokens` reads the
same lines with more (or less) of the text before them than the profile gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from corpus.errors import CorpusError
from corpus.shards.parquet import atomic_write_bytes
from personas_experiment import Experiment, evaluation_lines, settings_key
from personas_profiles import PROFILES
from personas_shards import build_gold_shards
from training.config import parse_shots, shots_label
from training.data import Example, TokenBudget, TokenCache, collate, encode_examples, load_corpus
from training.modeling import load_base_model, resolve_device

ROOT = Path(__file__).resolve().parents[1]
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # mean-loss ridge strengths tried by cross-validation
FOLDS = 4
BATCH = 16


@torch.no_grad()
def pooled_states(base: torch.nn.Module, examples: list[Example], pad_id: int, layers: list[int]) -> dict[int, np.ndarray]:
    """Per layer, the hidden states averaged over each example's utterance tokens [examples, d]."""
    pooled: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
    for start in range(0, len(examples), BATCH):
        batch = collate(examples[start : start + BATCH], pad_id)
        position_ids = (batch.attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
        states = base.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                 position_ids=position_ids, output_hidden_states=True, use_cache=False).hidden_states
        weights = batch.target_mask.float() / batch.target_mask.sum(dim=1, keepdim=True)
        for layer in layers:
            pooled[layer].append(torch.einsum("bt,btd->bd", weights, states[layer].float()).numpy())
    return {layer: np.concatenate(parts) for layer, parts in pooled.items()}


def token_counts(train: list[Example], test: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + count) of the utterance tokens seen in the training lines, for both sets."""
    vocabulary = {t: i for i, t in enumerate(sorted({t for e in train for t in e.target_ids}))}

    def counts(examples: list[Example]) -> np.ndarray:
        x = np.zeros((len(examples), len(vocabulary)), dtype=np.float32)
        for row, e in enumerate(examples):
            for t in e.target_ids:
                if t in vocabulary:
                    x[row, vocabulary[t]] += 1
        return np.log1p(x)

    return counts(train), counts(test)


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features, every class weighing the same (the persona
    methods rank speakers by likelihood alone, with no prior); returns (mean, scale, weights [d + 1, classes])."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    xs = torch.tensor((x - mean) / scale, dtype=torch.float64)
    xs = torch.cat([xs, torch.ones(len(xs), 1, dtype=torch.float64)], dim=1)
    targets = torch.tensor(y)
    balance = torch.tensor(len(y) / (classes * np.maximum(np.bincount(y, minlength=classes), 1)), dtype=torch.float64)
    weights = torch.zeros(xs.shape[1], classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], max_iter=500, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(xs @ weights, targets, weight=balance) + l2 * weights[:-1].pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return mean, scale, weights.detach().numpy()


def predict(model: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    mean, scale, weights = model
    return (np.concatenate([(x - mean) / scale, np.ones((len(x), 1))], axis=1) @ weights).argmax(axis=1)


def chosen_l2(x: np.ndarray, y: np.ndarray, classes: int) -> float:
    """The ridge strength of L2_GRID with the best cross-validated accuracy on the training lines (folds by line
    order within each class; the smaller strength on ties)."""
    folds = np.zeros(len(y), dtype=int)
    for c in range(classes):
        rows = np.flatnonzero(y == c)
        folds[rows] = np.arange(len(rows)) % FOLDS
    scores = []
    for l2 in L2_GRID:
        right = sum(int((predict(fit_logistic(x[folds != f], y[folds != f], classes, l2), x[folds == f])
                         == y[folds == f]).sum()) for f in range(FOLDS))
        scores.append(right / len(y))
    return L2_GRID[int(np.argmax(scores))]


def probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
          classes: int) -> dict[str, float]:
    """Held-out accuracy and its standard error of the cross-validated probe."""
    l2 = chosen_l2(x_train, y_train, classes)
    accuracy = float((predict(fit_logistic(x_train, y_train, classes, l2), x_test) == y_test).mean())
    return {"accuracy": accuracy, "stderr": float(np.sqrt(accuracy * (1 - accuracy) / len(y_test))), "l2": l2,
            "train_lines": int(len(y_train)), "test_lines": int(len(y_test))}


def run(profile_name: str, pdnc: Path, model_ref: str, out: Path, shots_levels: tuple[int | None, ...],
        device: str, context_tokens: int | None = None) -> dict:
    """Every probe (model layers and tokens) at every shots level on the profile's evaluation books."""
    profile = PROFILES[profile_name]
    if context_tokens is not None:
        profile = replace(profile, context_tokens=context_tokens)
    shared = out / "work"
    exp = Experiment(profile, pdnc, model_ref, shared / settings_key(profile, model_ref), resolve_device(device),
                     timings={})
    build_gold_shards(pdnc, profile.eval_books, shared / "shards-gold")  # before the model: a bad --pdnc fails at once
    exp.base, exp.tokenizer, exp.model_ref = load_base_model(model_ref)
    exp.base.to(exp.device)
    exp.gold = load_corpus(shared / "shards-gold", exp.data_config(profile.eval_books))
    cache, budget = evaluation_lines(exp, None)
    n_layers = exp.base.config.get_text_config().num_hidden_layers
    layers = [n_layers // 2, n_layers]
    results = {"profile_name": profile_name, "model": exp.model_ref, "context_tokens": profile.context_tokens,
               "utterance_tokens": profile.utterance_tokens, "layers": layers, "books": {}}
    for book in exp.books:
        test_x = pooled_states(exp.base, book.examples, exp.tokenizer.pad_token_id, layers)
        test_y = book.speakers
        section = results["books"][book.book_id] = {"candidates": book.candidates, "chance": 1 / len(book.candidates),
                                                     "probes": {}}
        most = None if None in shots_levels else max(shots_levels)
        examples = training_examples(exp, book.candidates, most, cache, budget)
        labels = np.array([e.character_index for e in examples])
        rank = np.array([int((labels[:i] == y).sum()) for i, y in enumerate(labels)])  # index among its speaker's lines
        states = pooled_states(exp.base, examples, exp.tokenizer.pad_token_id, layers)
        for shots in shots_levels:
            rows = np.flatnonzero(rank < (shots or len(rank)))
            train, train_y = [examples[i] for i in rows], labels[rows]
            level = section["probes"][shots_label(shots)] = {
                f"model layer {layer}": probe(states[layer][rows], train_y, test_x[layer], test_y, len(book.candidates))
                for layer in layers}
            train_counts, test_counts = token_counts(train, book.examples)
            level["tokens"] = probe(train_counts, train_y, test_counts, test_y, len(book.candidates))
            print(f"{book.book_id} {shots_label(shots)} lines: " + ", ".join(
                f"{name} {r['accuracy']:.3f} ± {r['stderr']:.3f}" for name, r in level.items()), flush=True)
    cache.save()
    return results


def training_examples(exp: Experiment, candidates: list[str], shots: int | None, cache: TokenCache,
                      budget: TokenBudget) -> list[Example]:
    """The first `shots` training lines of each candidate, labelled by its slot."""
    index = {cid: i for i, cid in enumerate(candidates)}
    lines = [u for cid in candidates for u in exp.gold.split(cid, "train")[:shots]]
    return encode_examples(lines, index, cache, budget)


def markdown(results: dict) -> str:
    rows = ["| book | lines / character | features | held-out accuracy | L2 |", "|---|---|---|---|---|"]
    for book, section in results["books"].items():
        for shots, level in section["probes"].items():
            rows += [f"| {book} | {shots} | {name} | {r['accuracy']:.3f} ± {r['stderr']:.3f} | {r['l2']:g} |"
                     for name, r in level.items()]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="gemma-cpu-upper", choices=sorted(PROFILES))
    parser.add_argument("--pdnc", type=Path, default=ROOT.parent / "shared" / "pdnc")
    parser.add_argument("--model", default=str(ROOT.parent / "shared" / "models" / "gutenberg-gpt2"),
                        help="Hub id, local folder, .gguf file or gemma-3-270m (the packaged Gemma 3 270M)")
    parser.add_argument("--shots", default="32,128", help="training lines per character, comma-separated (or all)")
    parser.add_argument("--context-tokens", type=int, help="tokens of text before each line (default: the profile's)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "personas",
                        help="bench/personas.py's output folder: its shards and token cache are shared")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "speaker_probe.json")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    args = parser.parse_args(argv)
    try:
        shots = parse_shots(args.shots)
        if not shots or 0 in shots:
            raise CorpusError(f"--shots takes positive line counts or all, got {args.shots!r}")
        if args.context_tokens is not None and args.context_tokens < 0:
            raise CorpusError(f"--context-tokens takes a count of tokens, got {args.context_tokens}")
        results = run(args.profile, args.pdnc, args.model, args.out, shots, args.device, args.context_tokens)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    atomic_write_bytes(args.json, json.dumps(results, indent=2).encode())
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
