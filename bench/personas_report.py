"""The report of bench/personas.py: results.json, a Markdown summary and the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from corpus.shards import parquet

def accuracy_cell(speaker_id: dict[str, float]) -> str:
    """Speaker-ID accuracy with its binomial standard error, e.g. "0.342 ± 0.044"."""
    if not speaker_id.get("lines"):
        return "n/a"
    accuracy = speaker_id["accuracy"]
    return f"{accuracy:.3f} ± {np.sqrt(accuracy * (1 - accuracy) / speaker_id['lines']):.3f}"


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown tables."""
    out = [f"# Persona methods on PDNC ({results['profile_name']} profile)", "",
           f"Model `{results['model']}`; {len(results['characters'])} evaluated characters of "
           f"{', '.join(results['profile']['eval_books'])}; {results['heldout_lines']} gold held-out lines; "
           + ("no basis (ours not run). " if not results["profile"]["objectives"] else
              f"basis reused from `{results['basis']}`. " if results.get("basis") else
              f"basis pretrained on {', '.join(results['profile']['pretrain_books'])}. ") +
           f"Speaker ID chance: accuracy {results['chance_accuracy']:.3f}, MRR {results['chance_mrr']:.3f}. "
           f"Device {results['device']}; total {results['seconds']:.0f} s.", ""]
    header = ("| shards | method | lines / character | steps | trainable / character | NLL / token | perplexity "
              "| gain vs no prompt (nats/token) | speaker-ID acc | debiased acc | MRR |")
    out += ["## Main comparison", "", header, "|" + "---|" * 11]
    rows = [("both", results["noprompt"])] + [(s, r) for s in results["sources"] for r in results["sources"][s]["main"].values()]
    rows += [("gold", r) for r in results["sources"].get("gold", {}).get("ablations", [])]
    for source, r in rows:
        out.append(f"| {source} | {r['method']} | {r.get('shots', '-')} | {r.get('steps', '-')} | "
                   f"{r['trainable_per_character']:,} | {r['nll_per_token']:.3f} | "
                   f"{r['perplexity']:.1f} | {r['gain_nats_per_token']:+.3f} | {accuracy_cell(r['speaker_id'])} | "
                   f"{accuracy_cell(r.get('speaker_id_debiased', {}))} | {r['speaker_id'].get('mrr', float('nan')):.3f} |")
    out += ["", "## Few-shot curves (lines per held-out character)", "",
            "| shards | method | shots | NLL / token | speaker-ID acc | debiased acc | MRR |", "|" + "---|" * 7]
    for source, data in results["sources"].items():
        for method, curve in data["few_shot"].items():
            for r in curve:
                out.append(f"| {source} | {method} | {r['shots']} | {r['nll_per_token']:.3f} | "
                           f"{accuracy_cell(r['speaker_id'])} | {accuracy_cell(r.get('speaker_id_debiased', {}))} | "
                           f"{r['speaker_id'].get('mrr', float('nan')):.3f} |")
    out += ["", "Debiased speaker-ID subtracts from each persona's gain its mean gain on the gold validation lines "
            "of the book's candidates (every speaker weighing the same), so a prompt that makes every line likelier "
            "does not win every line; n/a where no validation lines were scored.", "",
            "Zero shots for ours is the softmax of the mean of the pretrained characters' mixture logits "
            "(the same persona for every character); for prompt tuning an untrained prompt of sampled vocabulary "
            "embeddings; for LoRA the unchanged model.", ""]
    if {"gold", "attributed"} <= set(results["sources"]):
        gold, ours = results["sources"]["gold"]["main"], results["sources"]["attributed"]["main"]
        out += ["## What attribution errors cost (attributed minus gold shards, same gold test lines)", "",
                "| method | NLL / token | speaker-ID acc |", "|---|---|---|"]
        for key in (k for k in gold if k in ours):
            out.append(f"| {gold[key]['method']} | {ours[key]['nll_per_token'] - gold[key]['nll_per_token']:+.3f} | "
                       f"{ours[key]['speaker_id'].get('accuracy', np.nan) - gold[key]['speaker_id'].get('accuracy', np.nan):+.3f} |")
        out.append("")
    if not results.get("complete"):
        out += ["**Partial results: the run had not finished when this was written.**", ""]
    out += ["## Stage timings (s)", "", "| stage | seconds |", "|---|---|"]
    out += [f"| {k} | {v:.1f} |" for k, v in results["timings"].items()]
    return "\n".join(out) + "\n"


def plots(results: dict[str, Any], out: Path) -> list[Path]:
    """few_shot.png (NLL and accuracy against shots) and speaker_id.png (accuracy per method and source)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for source, data in results["sources"].items():
        for method, curve in data["few_shot"].items():
            x = np.arange(len(curve))
            style = "-" if source == "gold" else "--"
            axes[0].plot(x, [r["nll_per_token"] for r in curve], style, marker="o", label=f"{method} ({source})")
            axes[1].plot(x, [r["speaker_id"].get("accuracy", np.nan) for r in curve], style, marker="o",
                         label=f"{method} ({source})")
            for ax in axes:
                ax.set_xticks(x, [r["shots"] for r in curve])
    axes[0].axhline(results["noprompt"]["nll_per_token"], color="grey", lw=1, label="no prompt")
    axes[1].axhline(results["chance_accuracy"], color="grey", lw=1, label="chance")
    axes[0].set(xlabel="training lines per character", ylabel="held-out NLL / token")
    axes[1].set(xlabel="training lines per character", ylabel="speaker-ID accuracy")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    written.append(out / "few_shot.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4.5))
    methods = [results["noprompt"]["method"]] + [r["method"] for r in next(iter(results["sources"].values()))["main"].values()]
    width = 0.8 / len(results["sources"])
    for i, (source, data) in enumerate(results["sources"].items()):
        by_method = {r["method"]: r for r in [results["noprompt"], *data["main"].values()]}
        acc = [by_method[m]["speaker_id"].get("accuracy", np.nan) if m in by_method else np.nan for m in methods]
        ax.bar(np.arange(len(methods)) + i * width, acc, width, label=source)
    ax.axhline(results["chance_accuracy"], color="grey", ls="--", lw=1, label="chance")
    ax.set_xticks(np.arange(len(methods)) + width * (len(results["sources"]) - 1) / 2, methods, rotation=25,
                  ha="right", fontsize=8)
    ax.set_ylabel("speaker-ID accuracy")
    ax.legend()
    fig.tight_layout()
    written.append(out / "speaker_id.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written


def write_results(results: dict[str, Any], out: Path, plot: bool) -> None:
    """results.json and results.md (rewritten after every method), and the plots."""
    out.mkdir(parents=True, exist_ok=True)
    parquet.atomic_write_bytes(out / "results.json", json.dumps(results, indent=2).encode())
    parquet.atomic_write_bytes(out / "results.md", markdown(results).encode())
    if plot:
        plots(results, out)
