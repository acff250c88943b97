"""Objectives: target-only logits, NLL against HF's own loss, KL to a sheet teacher with a reused KV cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from training.config import SoftPromptConfig
from training.data import Example, collate
from training.objectives import (
    SheetTeacher, kl_to_teacher, persona_loss, sample_rivals, target_logits, target_logprobs,
)
from training.soft_prompt import PersonaPromptModel, prompted_hidden_states

EXAMPLES = [Example((11, 12, 13), (14, 15), 0), Example((21,), (22, 23, 24, 25), 1), Example((31, 32), (33,), 0)]


@pytest.fixture()
def base(tiny_model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


@pytest.mark.parametrize("side", ["left", "right"])
def test_target_logprobs_match_full_logits(base, side: str) -> None:
    batch = collate(EXAMPLES, pad_id=0, padding_side=side)
    prefix = torch.randn(3, 2, 32)
    scores = target_logprobs(base, batch.input_ids, batch.attention_mask, batch.target_mask, prefix)
    for row, example in enumerate(EXAMPLES):
        ids = torch.tensor([example.prefix_ids + example.target_ids])
        embeds = torch.cat([prefix[row : row + 1], base.get_input_embeddings()(ids)], dim=1)
        logp = F.log_softmax(base(inputs_embeds=embeds).logits[0], dim=-1)
        start = 2 + len(example.prefix_ids)
        expected = sum(logp[start + j - 1, t] for j, t in enumerate(example.target_ids))
        assert scores[row].item() == pytest.approx(expected.item(), abs=1e-4)


def test_nll_equals_hf_loss_with_context_labels_masked(base) -> None:
    persona = PersonaPromptModel(base, SoftPromptConfig(k=2, length=3), n_characters=2)
    batch = collate(EXAMPLES, pad_id=0)
    loss, parts = persona_loss(persona, base.get_output_embeddings(), batch, "nll")
    prompt = persona.prompt_embeds(batch.character_idx)
    embeds = torch.cat([prompt, base.get_input_embeddings()(batch.input_ids)], dim=1)
    labels = torch.where(batch.target_mask, batch.input_ids, torch.full_like(batch.input_ids, -100))
    labels = torch.cat([torch.full((3, 3), -100), labels], dim=1)
    mask = torch.cat([torch.ones(3, 3, dtype=torch.long), batch.attention_mask], dim=1)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    expected = base(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids, labels=labels).loss
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5) and parts["nll"] == pytest.approx(loss.item())


def test_lm_head_sees_only_target_positions(base) -> None:
    persona = PersonaPromptModel(base, SoftPromptConfig(k=2, length=3), n_characters=2)
    batch = collate(EXAMPLES, pad_id=0)
    shapes = []
    handle = base.get_output_embeddings().register_forward_hook(lambda m, args, out: shapes.append(tuple(out.shape)))
    persona_loss(persona, base.get_output_embeddings(), batch, "nll")
    handle.remove()
    assert shapes == [(int(batch.target_mask.sum()), base.config.vocab_size)]


def test_kl_is_zero_when_the_student_reads_the_teachers_sheet(base) -> None:
    sheets = {0: [40, 41, 42, 43, 44], 1: [50, 51]}
    teacher = SheetTeacher(base, sheets)
    batch = collate(EXAMPLES, pad_id=0)
    teacher_logp = teacher.target_log_probs(batch)
    width = max(len(s) for s in sheets.values())
    prefix, prefix_mask = torch.zeros(3, width, 32), torch.zeros(3, width, dtype=torch.long)
    for row, character in enumerate(batch.character_idx.tolist()):
        ids = sheets[character]
        prefix[row, width - len(ids) :] = base.get_input_embeddings()(torch.tensor(ids))
        prefix_mask[row, width - len(ids) :] = 1
    hidden = prompted_hidden_states(base, batch.input_ids, batch.attention_mask, prefix, prefix_mask)
    student_logits, _, _ = target_logits(base.get_output_embeddings(), hidden, batch)
    assert kl_to_teacher(teacher_logp, student_logits).item() == pytest.approx(0.0, abs=1e-6)
    assert set(teacher._cache) == {0, 1}
    cached = teacher._cache[0][0][0]
    teacher.target_log_probs(batch)
    assert teacher._cache[0][0][0] is cached, "the sheet's KV cache is computed once per character"


def test_kl_is_positive_without_the_sheet_and_mix_is_the_weighted_sum(base) -> None:
    persona = PersonaPromptModel(base, SoftPromptConfig(k=2, length=3), n_characters=2)
    teacher = SheetTeacher(base, {0: [40, 41, 42], 1: [50, 51]})
    batch = collate(EXAMPLES, pad_id=0)
    head = base.get_output_embeddings()
    nll, _ = persona_loss(persona, head, batch, "nll")
    kl, _ = persona_loss(persona, head, batch, "kl", teacher=teacher)
    mix, parts = persona_loss(persona, head, batch, "mix", kl_weight=0.25, teacher=teacher)
    assert kl.item() > 0
    assert mix.item() == pytest.approx(0.75 * nll.item() + 0.25 * kl.item(), rel=1e-5)
    assert set(parts) == {"nll", "kl"}
    mix.backward()
    assert persona.basis.prompts.grad is not None and all(p.grad is None for p in base.parameters())


def test_speaker_term_is_the_cross_entropy_over_own_and_rival_personas(base) -> None:
    persona = PersonaPromptModel(base, SoftPromptConfig(k=2, length=3), n_characters=3)
    torch.nn.init.normal_(persona.basis.prompts, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        persona.personas.mixture_logits.copy_(torch.tensor([[2.0, -2.0], [-2.0, 2.0], [0.0, 0.0]]))
    batch = collate(EXAMPLES, pad_id=0)  # rows spoken by characters 0, 1, 0
    rivals = torch.tensor([[1, 2], [0, -1], [-1, -1]])  # the last row has no rival: it adds nothing
    head = base.get_output_embeddings()
    loss, parts = persona_loss(persona, head, batch, "nll", rivals=rivals, speaker_weight=0.5)
    nll, _ = persona_loss(persona, head, batch, "nll")

    def logp(characters: list[int]) -> torch.Tensor:
        prompt = persona.prompt_embeds(torch.tensor(characters))
        return target_logprobs(base, batch.input_ids, batch.attention_mask, batch.target_mask, prompt)

    own, first, second = logp([0, 1, 0]), logp([1, 0, 0]), logp([2, 0, 0])
    expected = (-torch.log_softmax(torch.stack([own[0], first[0], second[0]]), 0)[0]
                - torch.log_softmax(torch.stack([own[1], first[1]]), 0)[0]) / 2
    assert parts["speaker"] == pytest.approx(expected.item(), rel=1e-4)
    assert loss.item() == pytest.approx(nll.item() + 0.5 * expected.item(), rel=1e-4)
    loss.backward()
    assert persona.personas.mixture_logits.grad[2].abs().sum() > 0, "a rival's weights get gradients too"


def test_rivals_come_from_the_speakers_own_book() -> None:
    groups = torch.tensor([0, 0, 0, 1, 1, 2])
    torch.manual_seed(0)
    rivals = sample_rivals(torch.tensor([0, 3, 5, 1]), groups, n_rivals=3)
    assert sorted(rivals[0].tolist()) == [-1, 1, 2] and rivals[1].tolist() == [4, -1, -1]
    assert rivals[2].tolist() == [-1, -1, -1] and 1 not in rivals[3].tolist()
    assert set(rivals[3].tolist()) == {0, 2, -1}
