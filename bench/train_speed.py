"""Trainer step speed and memory: our persona step vs PEFT PromptTuning, same model, batch and prompt length.

    python bench/train_speed.py [--model ../shared/models/gutenberg-gpt2 | gemma-3-270m] [--random-init] [--batch 8] [--context 128]
                                [--utterance 32] [--length 20] [--k 32] [--rounds 5] [--steps 4] [--device auto]
                                [--json bench/results/train_speed.json]

Both sides run one optimizer step per batch on the same right-padded batches (context then utterance,
loss on utterance tokens only) with a frozen base model, in one process, alternating in rounds so machine
noise hits both alike:
  ours   PersonaPromptModel (K-prompt basis + mixture weights, a batch mixing characters) + persona_loss:
         LM head applied only at utterance positions
  peft   get_peft_model(PromptTuningConfig(L)) called with labels (-100 on context and padding), the
         standard PEFT recipe: logits for every position, HF's causal-LM loss
Tokens/s counts real (unpadded) input tokens, timed first with nothing else running (wall-clock on CUDA; on CPU
the process's CPU time with one torch thread, which other jobs on shared cores disturb far less). Peak memory is measured
after the timing, in separate passes: torch.cuda.max_memory_allocated on CUDA; on CPU the peak of the process's
resident set (sampled from /proc every millisecond) above its level before the steps, with glibc switched
(mallopt) to give large blocks back to the system so freed tensors leave the resident set; tracemalloc does not
see torch's allocations.
"""

from __future__ import annotations

import argparse
import json
import os
import ctypes
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
from peft import PromptTuningConfig, TaskType, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

from corpus.errors import CorpusError
from corpus.shards.parquet import atomic_write_bytes
from training.config import SoftPromptConfig
from training.data import Batch, Example, collate
from training.model_source import resolve_model
from training.modeling import resolve_device
from training.objectives import persona_loss
from training.soft_prompt import PersonaPromptModel

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "gutenberg-gpt2"
# The reference model's shape, for a random stand-in when it is absent.
REFERENCE_SHAPE = dict(vocab_size=8192, n_positions=512, n_embd=256, n_layer=4, n_head=4)
LEARNING_RATE = 0.03
SAMPLE_SECONDS = 0.001
MMAP_THRESHOLD = 65536  # bytes: blocks above this are mmapped, so freeing a tensor shrinks the resident set
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter number
N_CHARACTERS = 16
TARGETS = {"cpu": {"speed_ratio_at_least": 2.5, "memory_ratio_at_most": 0.25},
           "cuda": {"speed_ratio_at_least": 2.0, "memory_ratio_at_most": 0.5}}


def load_model(model_ref: str, random_init: bool = False):
    """The model `--model` names (Hub id, folder, .gguf, gemma-3-270m) and a description; with `random_init`,
    or for a folder holding only a config.json, a randomly initialised model of its configuration (how the
    GPU machine, which the weights cannot reach, times Gemma 3 270M). The default model falls back to a
    random GPT-2 of its shape when ../shared is absent."""
    if model_ref == str(DEFAULT_MODEL) and not DEFAULT_MODEL.is_dir():
        torch.manual_seed(0)
        return GPT2LMHeadModel(GPT2Config(**REFERENCE_SHAPE)), f"random GPT-2 {REFERENCE_SHAPE} ({model_ref} absent)"
    resolved = resolve_model(model_ref)
    folder = Path(resolved)
    config_only = folder.is_dir() and not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin"))
    if random_init or config_only:
        torch.manual_seed(0)
        config = AutoConfig.from_pretrained(resolved)
        return AutoModelForCausalLM.from_config(config), f"random-init {config.model_type} of {model_ref}'s configuration"
    return AutoModelForCausalLM.from_pretrained(resolved), model_ref


def make_batches(n: int, batch: int, context: int, utterance: int, vocab: int, seed: int = 0) -> list[Batch]:
    """Right-padded batches of random token ids: contexts of 50-100 % of the budget, utterances of 30-100 %."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        examples = []
        for row in range(batch):
            c = int(torch.randint(context // 2, context + 1, (1,), generator=generator))
            u = int(torch.randint(max(1, utterance * 3 // 10), utterance + 1, (1,), generator=generator))
            ids = torch.randint(1, vocab, (c + u,), generator=generator).tolist()
            examples.append(Example(tuple(ids[:c]), tuple(ids[c:]), row % N_CHARACTERS))
        batches.append(collate(examples, pad_id=0))
    return batches


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocator stats, or sampled resident set size on CPU."""

    def __init__(self, device: str) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss() - self.base)
            time.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> "PeakMemory":
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base = self.rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
        else:
            self._stop.set()
            self._thread.join()


def return_freed_memory_to_the_system() -> None:
    """Make glibc mmap every block above MMAP_THRESHOLD (so RSS follows live tensors); after the timing only."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.malloc_trim(0)


def ours_step(model: PersonaPromptModel, optimizer, batch: Batch, autocast) -> float:
    with autocast():
        loss, _ = persona_loss(model, model.base.get_output_embeddings(), batch, "nll")
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def peft_step(model, optimizer, batch: Batch, autocast) -> float:
    labels = torch.where(batch.target_mask, batch.input_ids, torch.full_like(batch.input_ids, -100))
    with autocast():
        loss = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def timed(step, model, optimizer, batches: list[Batch], device: str, autocast) -> float:
    """Seconds of one optimizer step per batch: wall-clock on CUDA, process CPU time on CPU."""
    if device == "cuda":
        torch.cuda.synchronize()
    clock = time.perf_counter if device == "cuda" else time.process_time
    start = clock()
    for batch in batches:
        step(model, optimizer, batch, autocast)
    if device == "cuda":
        torch.cuda.synchronize()
    return clock() - start


def peak_memory(step, model, optimizer, batches: list[Batch], device: str, autocast) -> int:
    """Peak extra bytes while running one optimizer step per batch."""
    with PeakMemory(device) as memory:
        for batch in batches:
            step(model, optimizer, batch, autocast)
    return memory.peak


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="Hub id, local folder (config.json alone: random weights), .gguf file or gemma-3-270m")
    parser.add_argument("--random-init", action="store_true", help="random weights of the model's configuration")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--utterance", type=int, default=32)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per side per round")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; 1 with CPU-time clocks gives stable figures on shared cores")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "train_speed.json")
    return parser.parse_args()


def measure(args: argparse.Namespace, device: str, autocast) -> tuple[dict, int, str]:
    """Step times and peak memory of ours and of PEFT prompt tuning, per round; the tokens of a round and
    the model's name."""
    base, model_name = load_model(args.model, args.random_init)
    base = base.to(device)
    ours = PersonaPromptModel(base, SoftPromptConfig(k=args.k, length=args.length), N_CHARACTERS).to(device)
    ours.train()
    ours_optimizer = torch.optim.AdamW([p for p in ours.parameters() if p.requires_grad], lr=LEARNING_RATE)
    peft_base, _ = load_model(args.model, args.random_init)
    peft_model = get_peft_model(peft_base.to(device), PromptTuningConfig(task_type=TaskType.CAUSAL_LM,
                                                                         num_virtual_tokens=args.length))
    peft_model.eval()  # the frozen base without dropout, as in ours
    peft_optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    batches = [b.to(device) for b in make_batches(args.steps, args.batch, args.context, args.utterance, base.config.vocab_size)]
    tokens = sum(b.n_tokens for b in batches)

    for step, model, optimizer in ((ours_step, ours, ours_optimizer), (peft_step, peft_model, peft_optimizer)):
        step(model, optimizer, batches[0], autocast)  # warm-up
    results = {"ours": {"seconds": [], "peak_bytes": []}, "peft": {"seconds": [], "peak_bytes": []}}
    order = [("ours", ours_step, ours, ours_optimizer), ("peft", peft_step, peft_model, peft_optimizer)]
    for round_index in range(args.rounds):
        for name, step, model, optimizer in order if round_index % 2 == 0 else order[::-1]:
            results[name]["seconds"].append(timed(step, model, optimizer, batches, device, autocast))
    if device == "cpu":
        return_freed_memory_to_the_system()
    for name, step, model, optimizer in order:  # the first pass after the switch settles the allocator
        peak_memory(step, model, optimizer, batches, device, autocast)
    for round_index in range(2):
        for name, step, model, optimizer in order if round_index % 2 == 0 else order[::-1]:
            results[name]["peak_bytes"].append(peak_memory(step, model, optimizer, batches, device, autocast))
    return results, tokens, model_name


def summarise(results: dict, tokens: int) -> dict:
    """Per method: tokens/s (median round), peak memory, and the raw rounds."""
    summary = {}
    for name, measured in results.items():
        seconds = statistics.median(measured["seconds"])
        summary[name] = {"tokens_per_s": tokens / seconds, "peak_memory_mb": max(measured["peak_bytes"]) / 2**20,
                         "seconds_per_round": measured["seconds"], "peak_bytes_per_round": measured["peak_bytes"]}
    return summary


def main() -> None:
    args = parse_args()
    device = resolve_device(args.device)
    if device == "cpu":
        torch.set_num_threads(args.threads)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device == "cuda" else (lambda: torch.autocast("cpu", enabled=False))
    results, tokens, model_name = measure(args, device, autocast)
    summary = summarise(results, tokens)
    targets = TARGETS[device]
    speed_ratio = summary["ours"]["tokens_per_s"] / summary["peft"]["tokens_per_s"]
    memory_ratio = summary["ours"]["peak_memory_mb"] / max(summary["peft"]["peak_memory_mb"], 1e-9)
    report = {
        "model": model_name, "device": device, "torch_threads": torch.get_num_threads(),
        "batch": args.batch, "context_tokens": args.context, "utterance_tokens": args.utterance,
        "prompt_length": args.length, "k": args.k, "rounds": args.rounds, "steps_per_round": args.steps,
        "tokens_per_round": tokens, "ours": summary["ours"], "peft": summary["peft"],
        "speed_ratio": speed_ratio, "memory_ratio": memory_ratio,
        "targets": targets,
        "clock": "wall-clock (perf_counter)" if device == "cuda" else "process CPU time (process_time), robust to other "
                 "processes sharing the cores",
        "memory_method": "torch.cuda.max_memory_allocated above the allocated level before the steps" if device == "cuda"
        else "peak resident set size (sampled from /proc/self/statm every ms) above its level before the steps, "
             f"measured after the timing with glibc mallopt(M_MMAP_THRESHOLD={MMAP_THRESHOLD}) so freed tensors "
             "leave the resident set; tracemalloc does not see torch's C++ allocations",
    }
    atomic_write_bytes(args.json, json.dumps(report, indent=2).encode("utf-8"))
    print(f"model {model_name} on {device}, batch {args.batch}, context {args.context} + utterance {args.utterance} "
          f"tokens, prompt L={args.length} (ours K={args.k})")
    for name in ("ours", "peft"):
        print(f"  {name:5s} {summary[name]['tokens_per_s']:9,.0f} tokens/s   peak {summary[name]['peak_memory_mb']:8.1f} MB")
    print(f"  speed ratio ours/peft  {speed_ratio:.2f}x  (target >= {targets['speed_ratio_at_least']})")
    print(f"  memory ratio ours/peft {memory_ratio:.2f}   (target <= {targets['memory_ratio_at_most']})")
    print(f"  -> {args.json}")


if __name__ == "__main__":
    try:
        main()
    except CorpusError as exc:  # a bad --model or --device: one line, as the other bench scripts do
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
