"""The notebooks run top to bottom (nbclient, the venv's own ipykernel) on the embedded sample, in tmp folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_corpus_tour", "02_persona_space", "03_training_curves")
SAMPLE_BOOKS = "43,46"  # two books keep the run short and still give the persona plot two colours
CELL_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of the kernel: this interpreter as kernel "python3", work and report paths in tmp folders."""
    sample = ROOT / "data" / "gutenberg"
    if not sample.is_dir():
        pytest.fail("the embedded sample data/gutenberg is missing")
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / "python3"
    kernels.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "novel-personas venv", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    return {
        "JUPYTER_PATH": str(kernels.parents[1]),  # searched before every other kernel folder
        "PERSONAS_REPO": str(ROOT),
        "PERSONAS_SAMPLE": str(sample),
        "PERSONAS_WORK": str(tmp_path_factory.mktemp("notebook-work")),
        "PERSONAS_BOOKS": SAMPLE_BOOKS,
        "PERSONAS_STEPS": "12",
        "PERSONAS_BENCH_RESULTS": str(tmp_path_factory.mktemp("no-bench") / "results.json"),
    }


def test_notebooks_are_committed_without_outputs() -> None:
    for name in NOTEBOOKS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), name


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)  # in order: 02 and 03 reuse the shards 01 writes
def test_notebook_runs_top_to_bottom(name: str, notebook_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == sys.executable  # the venv's ipykernel runs it
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} drew no figure"
