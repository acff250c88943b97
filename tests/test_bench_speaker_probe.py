"""bench/speaker_probe.py: pooled features that ignore padding, and probes that find a signal where there is one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.training_fixtures import model_and_tokenizer  # noqa: F401
from training.data import Example


@pytest.fixture
def speaker_probe(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import speaker_probe

    return speaker_probe


def test_pooled_states_of_a_line_do_not_depend_on_its_batch(speaker_probe, model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    examples = [Example((5, 6, 7, 3, 4), (8, 9), 0), Example((11,), (12, 13, 14, 15, 16), 1)]
    together = speaker_probe.pooled_states(model, examples, tokenizer.pad_token_id, [1, 2])
    for row, example in enumerate(examples):
        alone = speaker_probe.pooled_states(model, [example], tokenizer.pad_token_id, [1, 2])
        for layer in (1, 2):
            np.testing.assert_allclose(together[layer][row], alone[layer][0], atol=1e-5)
    assert not np.allclose(together[1], together[2])


def test_a_probe_separates_speakers_by_their_features_and_not_by_chance(speaker_probe) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20)) * 3
    y = np.repeat(np.arange(3), 30)
    x = centres[y] + rng.normal(size=(90, 20))
    result = speaker_probe.probe(x[::2], y[::2], x[1::2], y[1::2], 3)
    assert result["accuracy"] > 0.9 and result["test_lines"] == 45 and result["l2"] in speaker_probe.L2_GRID
    noise = speaker_probe.probe(x[::2], rng.permutation(y[::2]), x[1::2], y[1::2], 3)
    assert noise["accuracy"] < 0.6


def test_token_counts_use_the_training_vocabulary_of_the_utterances(speaker_probe) -> None:
    train = [Example((1, 2), (7, 7, 3), 0), Example((1, 2), (9, 3), 1)]
    test = [Example((7,), (9, 5), 1)]
    train_x, test_x = speaker_probe.token_counts(train, test)
    assert train_x.shape == (2, 3) and test_x.shape == (1, 3)  # tokens 3, 7, 9: not the context, not unseen 5
    np.testing.assert_allclose(train_x[0], np.log1p([1, 2, 0]))
    np.testing.assert_allclose(test_x[0], np.log1p([0, 0, 1]))
    y = np.array([0, 1] * 10)
    words = speaker_probe.probe(np.tile(train_x, (10, 1)), y, test_x, np.array([1]), 2)
    assert words["accuracy"] == 1.0


@pytest.mark.parametrize(("arguments", "expected"), [(["--shots", "0"], "--shots"), (["--shots", "8,none"], "few-shot level"),
                                                     (["--context-tokens", "-1"], "--context-tokens"),
                                                     ([], "PDNC directory /nonexistent does not exist")])
def test_bad_options_are_one_error_line(speaker_probe, arguments: list[str], expected: str, tmp_path, capsys) -> None:
    """Bad shots or context, or a missing PDNC folder (before any model loads), give one error line."""
    assert speaker_probe.main([*arguments, "--pdnc", "/nonexistent", "--model", str(tmp_path / "no-model"),
                               "--json", str(tmp_path / "probe.json")]) == 1
    assert not (tmp_path / "probe.json").exists()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1
