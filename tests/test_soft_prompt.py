"""The persona soft prompt: basis, mixture, injection through inputs_embeds, masks and positions, frozen base."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from corpus.errors import CorpusError
from training.config import SoftPromptConfig
from training.soft_prompt import PersonaPromptModel, PersonaPrompts, SoftPromptBasis, prompted_hidden_states, word_token_ids


@pytest.fixture()
def model(tiny_model_dir: Path) -> PersonaPromptModel:
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    persona = PersonaPromptModel(base, SoftPromptConfig(k=4, length=3), n_characters=3)
    torch.nn.init.normal_(persona.basis.prompts, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():  # distinct characters, so mixing them up would show
        persona.personas.mixture_logits.copy_(torch.randn(3, 4, generator=torch.Generator().manual_seed(1)))
    return persona


def test_basis_starts_as_embeddings_of_word_tokens(tiny_model_dir: Path) -> None:
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    words = word_token_ids(tokenizer)
    assert words and all(t.startswith("\u0120") and t[1:].isalpha() for t in tokenizer.convert_ids_to_tokens(words))
    basis = SoftPromptBasis(k=5, length=4, dim=32)
    assert basis.prompts.abs().sum() == 0  # a model built to be restored does no work to initialise
    basis.initialise(base.get_input_embeddings(), words, seed=3)
    embeddings = base.get_input_embeddings().weight[words]
    for row in basis.prompts.detach().reshape(-1, 32):
        assert (embeddings - row).abs().sum(dim=1).min() == 0
    again = SoftPromptBasis(k=5, length=4, dim=32)
    again.initialise(base.get_input_embeddings(), words, seed=3)
    assert torch.equal(basis.prompts, again.prompts)


def test_mixture_softmax_with_temperature_and_linear_option() -> None:
    softmax = PersonaPrompts(2, 3, "softmax", temperature=0.5)
    with torch.no_grad():
        softmax.mixture_logits.copy_(torch.tensor([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]))
    weights = softmax(torch.tensor([0, 1]))
    assert torch.allclose(weights.sum(dim=1), torch.ones(2))
    assert torch.allclose(weights[0], torch.softmax(torch.tensor([2.0, 0.0, -2.0]), dim=0))
    linear = PersonaPrompts(2, 3, "linear")
    with torch.no_grad():
        linear.mixture_logits.copy_(torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]]))
    assert torch.equal(linear(torch.tensor([0])), torch.tensor([[2.0, -1.0, 0.5]]))


def test_prompt_is_the_weighted_sum_of_the_basis(model: PersonaPromptModel) -> None:
    one_hot = torch.eye(4)[[2]]
    assert torch.equal(model.prompt_from_weights(one_hot)[0], model.basis.prompts[2])
    index = torch.tensor([1])
    expected = torch.einsum("k,kld->ld", model.mixture_weights(index)[0], model.basis.prompts)
    assert torch.allclose(model.prompt_embeds(index)[0], expected)


def test_only_prompt_parameters_receive_gradients(model: PersonaPromptModel) -> None:
    model.train()
    assert not model.base.training, "the frozen base must stay in eval mode (no dropout)"
    ids = torch.randint(0, 100, (2, 6))
    hidden = model(ids, torch.ones_like(ids), character_idx=torch.tensor([0, 2]))
    hidden.square().mean().backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"basis.prompts", "personas.mixture_logits"}
    assert all(p.grad is None for p in model.base.parameters())
    assert model.basis.prompts.grad.abs().sum() > 0
    grads = model.personas.mixture_logits.grad
    assert grads[1].abs().sum() == 0 and grads[0].abs().sum() > 0  # character 1 is not in the batch


def test_mixed_character_batch_equals_per_character_batches(model: PersonaPromptModel) -> None:
    ids = torch.randint(0, 100, (3, 7))
    mask = torch.ones_like(ids)
    together = model(ids, mask, character_idx=torch.tensor([2, 0, 1]))
    for row, character in enumerate([2, 0, 1]):
        alone = model(ids[row : row + 1], mask[row : row + 1], character_idx=torch.tensor([character]))
        assert torch.allclose(together[row], alone[0], atol=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_does_not_change_real_positions(model: PersonaPromptModel, side: str) -> None:
    ids = torch.randint(1, 100, (1, 5))
    unpadded = model(ids, torch.ones_like(ids), character_idx=torch.tensor([1]))
    pad, ones = torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 5, dtype=torch.long)
    if side == "left":
        padded_ids, mask = torch.cat([pad, ids], 1), torch.cat([pad, ones], 1)
        real = slice(3 + 3, None)  # prompt (3) + padding (3)
    else:
        padded_ids, mask = torch.cat([ids, pad], 1), torch.cat([ones, pad], 1)
        real = slice(3, 3 + 5)
    padded = model(padded_ids, mask, character_idx=torch.tensor([1]))
    assert torch.allclose(padded[:, real], unpadded[:, 3:], atol=1e-5)
    assert padded.isfinite().all()


def test_ragged_prefixes_left_padded_with_a_prefix_mask(model: PersonaPromptModel) -> None:
    ids = torch.randint(1, 100, (1, 4))
    short = torch.randn(1, 2, 32)
    alone = prompted_hidden_states(model.base, ids, torch.ones_like(ids), short)
    padded_prefix = torch.cat([torch.randn(1, 3, 32), short], dim=1)
    prefix_mask = torch.tensor([[0, 0, 0, 1, 1]])
    together = prompted_hidden_states(model.base, ids, torch.ones_like(ids), padded_prefix, prefix_mask)
    assert torch.allclose(together[:, 3:], alone, atol=1e-5)


def test_forward_needs_exactly_one_persona(model: PersonaPromptModel) -> None:
    ids = torch.randint(0, 100, (1, 3))
    with pytest.raises(ValueError):
        model(ids, torch.ones_like(ids))
    blended = model(ids, torch.ones_like(ids), weights=model.mixture_weights(torch.tensor([0])))
    assert torch.allclose(blended, model(ids, torch.ones_like(ids), character_idx=torch.tensor([0])))


@pytest.mark.parametrize("config", [SoftPromptConfig(k=0), SoftPromptConfig(length=0), SoftPromptConfig(k=10**6),
                                    SoftPromptConfig(temperature=0.0), SoftPromptConfig(mixture="cubic")])
def test_out_of_range_settings_are_refused(tiny_model_dir: Path, config: SoftPromptConfig) -> None:
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(CorpusError):
        PersonaPromptModel(base, config, n_characters=1)
