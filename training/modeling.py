"""The frozen base model: loading a HF causal LM and its tokenizer, picking the device, its context length."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from corpus.errors import CorpusError
from training.model_source import PACKAGED_MODELS, resolve_model

_LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, ImportError, SafetensorError)


def resolve_device(spec: str) -> str:
    """"cuda" or "cpu" for --device auto|cuda|cpu; CorpusError when CUDA is asked for but absent."""
    if spec not in ("auto", "cuda", "cpu"):
        raise CorpusError(f"--device must be auto, cuda or cpu, got {spec!r}")
    if spec == "cuda" and not torch.cuda.is_available():
        raise CorpusError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu or auto")
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return spec


def model_reference(model_ref: str) -> str:
    """The reference a run records: a packaged model's short name or a Hub id unchanged, else an absolute path."""
    if model_ref in PACKAGED_MODELS:
        return model_ref
    path = Path(model_ref).expanduser()
    return str(path.resolve()) if path.exists() else model_ref


def load_base_model(model_ref: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """A frozen causal LM in eval mode, its tokenizer (pad token set) and the model reference to record.

    The last model loaded is kept: fitting many characters, or every level of a few-shot curve, in one
    process reads the weights once. Callers share it, so they must not change its weights.
    """
    folder = resolve_model(model_ref)
    if _loaded.get("folder") != folder:
        _loaded.clear()
        _loaded.update(folder=folder, pair=_load(folder, model_ref))
    model, tokenizer = _loaded["pair"]
    return model, tokenizer, model_reference(model_ref)


_loaded: dict = {}  # the last loaded model: {"folder": ..., "pair": (model, tokenizer)}


def _load(folder: str, model_ref: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    hf_logging.disable_progress_bar()  # our own progress bar is the one the user watches
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
    except _LOAD_ERRORS as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CorpusError(f"cannot load model {model_ref!r} as a causal LM: {reason}") from exc
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise CorpusError(f"the tokenizer of {model_ref!r} has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    model.requires_grad_(False)
    model.eval()
    return model, tokenizer


def max_positions(model: PreTrainedModel) -> int:
    """The longest sequence (prompt + context + utterance) the model accepts."""
    config = model.config
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise CorpusError(f"cannot tell the context length of {config.model_type} models (no n_positions in its config)")
