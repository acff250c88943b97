"""Baselines: hard prompt padding, PEFT prompt tuning and LoRA per character (real PEFT, tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import PromptTuningConfig, TaskType, get_peft_model

from tests.training_fixtures import model_and_tokenizer, persona_shards  # noqa: F401
from training.baselines import BaselineConfig, HardPrompt, LoraAdapters, PromptTuning
from training.config import DataConfig, TrainConfig
from training.data import Example, TokenCache, encode_examples, load_corpus, token_budget
from training.evaluate import EvalConfig, NoPrompt, evaluate_method, heldout_lines, noprompt_scores
from training.modeling import max_positions

EXAMPLES = [Example((5, 6, 7), (8, 9), 0), Example((11,), (12, 13, 14, 15), 0), Example((3, 4, 5, 6), (9,), 0)]
TRAIN = TrainConfig(steps=12, batch_size=4, device="cpu")
DATA = DataConfig(heldout_fraction=0.0, context_tokens=16, utterance_tokens=16)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _corpus_examples(model, tokenizer, shards: Path):
    corpus = load_corpus(shards, DATA)
    budget = token_budget(DATA, BaselineConfig.prompt_length, max_positions(model), True)
    cache = TokenCache(tokenizer)
    train = {c: encode_examples(corpus.split(c, "train"), {c: 0}, cache, budget) for c in corpus.pretrain_ids}
    books = heldout_lines(corpus, corpus.pretrain_ids, cache, budget, EvalConfig(split="validation", max_lines=0))
    return corpus, train, books


def test_hard_prompt_equals_the_sheet_written_before_the_tokens(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    sheets = {"a": [1, 2, 3, 4, 5], "b": [7]}  # different lengths: the short one is left-padded
    scorer = HardPrompt(model, sheets, tokenizer.pad_token_id, batch_size=3)
    glued = [Example(tuple(sheets[p]) + e.prefix_ids, e.target_ids, 0) for e, p in zip(EXAMPLES, "aba")]
    plain = NoPrompt(model, tokenizer.pad_token_id, batch_size=1).line_logprobs(glued, ["", "", ""])
    assert scorer.line_logprobs(EXAMPLES, list("aba")).tolist() == pytest.approx(plain.tolist(), abs=1e-4)


def test_prompt_tuning_trains_only_its_prompt_and_matches_peft(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    before = _state(model)
    config = BaselineConfig(prompt_length=4, prompt_lr=0.05)
    scorer = PromptTuning(model, tokenizer.pad_token_id, config)
    losses = scorer.fit("a", EXAMPLES, TRAIN)
    assert len(losses) == TRAIN.steps and losses[-1] < losses[0]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert scorer.trainable_per_character() == 4 * model.config.n_embd
    # the same prompt loaded into PEFT's own PromptTuning model gives the same log-probabilities
    peft_model = get_peft_model(model, PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=4))
    peft_model.prompt_encoder["default"].load_state_dict(scorer.prompts["a"].state_dict())
    example = EXAMPLES[1]
    ids = torch.tensor([example.prefix_ids + example.target_ids])
    with torch.no_grad():
        logp = torch.log_softmax(peft_model(input_ids=ids).logits[0, 4:], dim=-1)
    start = len(example.prefix_ids)
    expected = sum(float(logp[start + j - 1, t]) for j, t in enumerate(example.target_ids))
    assert float(scorer.line_logprobs([example], ["a"])[0]) == pytest.approx(expected, abs=1e-4)


def test_lora_adapters_are_per_character_and_leave_the_shared_model(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    before = _state(model)
    lora = LoraAdapters(model, tokenizer.pad_token_id, BaselineConfig(lora_rank=2, lora_lr=0.01))
    lora.fit("b:first", EXAMPLES, TrainConfig(steps=0, batch_size=4))  # B = 0: the unchanged model
    plain = NoPrompt(model, tokenizer.pad_token_id).line_logprobs(EXAMPLES, ["", "", ""])
    assert lora.line_logprobs(EXAMPLES, ["b:first"] * 3).tolist() == pytest.approx(plain.tolist(), abs=1e-5)
    losses = lora.fit("b:second", EXAMPLES, TRAIN)
    assert losses[-1] < losses[0]
    both = lora.line_logprobs(EXAMPLES, ["b:first", "b:second", "b:first"])
    assert both[0] == pytest.approx(float(plain[0]), abs=1e-5) and both[1] > plain[1]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    blocks, width = model.config.n_layer, model.config.n_embd
    assert lora.trainable_per_character() == blocks * 2 * (width + 3 * width)  # r (in + out) on each c_attn


def test_trained_baselines_beat_no_prompt_on_held_out_lines(model_and_tokenizer, persona_shards: Path) -> None:
    model, tokenizer = model_and_tokenizer
    corpus, train, books = _corpus_examples(model, tokenizer, persona_shards)
    base = noprompt_scores(model, tokenizer.pad_token_id, books, 8)
    nothing = evaluate_method(NoPrompt(model, tokenizer.pad_token_id), books, base)
    steps = TrainConfig(steps=15, batch_size=8, device="cpu")
    tuned = PromptTuning(model, tokenizer.pad_token_id, BaselineConfig(prompt_length=4, prompt_lr=0.1))
    for cid, examples in train.items():
        tuned.fit(cid, examples, steps)
    report = evaluate_method(tuned, books, base)
    assert report.nll_per_token < nothing.nll_per_token and report.gain_nats_per_token > 0
    assert nothing.speaker_id["accuracy"] == pytest.approx(nothing.speaker_id["chance_accuracy"])
