"""Persona soft prompts: a shared basis of K soft prompts, mixed per character, prepended to a frozen causal LM.

A character's prompt is `sum_k w[c, k] * basis[k]`, an [L, d] block of virtual-token embeddings placed before
the token embeddings through `inputs_embeds`. Only the basis and the mixture weights are trainable.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from corpus.errors import CorpusError
from training.config import SoftPromptConfig

# The basis starts from embeddings of common whole words. Vocabularies list control, byte and markup tokens
# first and are not always ordered by frequency (Gemma's), so word tokens are picked by their text: the
# first SAMPLED_VOCABULARY tokens (in id order) that are a word-start marker and letters only.
SAMPLED_VOCABULARY = 5000
_WORD_TOKEN = re.compile(r"^(\u2581|\u0120)[A-Za-z]{2,}$")  # SentencePiece "▁word", byte-level BPE "Ġword"


def word_token_ids(tokenizer, limit: int = SAMPLED_VOCABULARY) -> list[int]:
    """Ids of up to `limit` whole-word tokens of the tokenizer, lowest ids first (all ids if none look like words)."""
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    special = set(tokenizer.all_special_ids)
    words = [i for token, i in vocabulary if _WORD_TOKEN.match(token) and i not in special]
    return words[:limit] or [i for _, i in vocabulary[:limit]]


class SoftPromptBasis(nn.Module):
    """K soft prompts of L virtual tokens each, [K, L, d], in the space of the embedding layer's output."""

    def __init__(self, k: int, length: int, dim: int) -> None:
        super().__init__()
        self.prompts = nn.Parameter(torch.zeros(k, length, dim))

    @torch.no_grad()
    def initialise(self, embedding_layer: nn.Module, token_ids: list[int], seed: int = 0) -> None:
        """Set every virtual token to the embedding of a token drawn from `token_ids`.

        The embedding layer is called, not its weight read: models that scale embeddings inside the layer
        (Gemma multiplies by sqrt(d)) then get prompts of the size their token embeddings have.
        """
        generator = torch.Generator().manual_seed(seed)
        k, length, _ = self.prompts.shape
        choice = torch.randint(len(token_ids), (k, length), generator=generator)
        ids = torch.tensor(token_ids)[choice].to(embedding_layer.weight.device)
        self.prompts.copy_(embedding_layer(ids).float())

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        """Mix the basis: weights [B, K] -> prompts [B, L, d]."""
        return torch.einsum("bk,kld->bld", weights.to(self.prompts.dtype), self.prompts)


class PersonaPrompts(nn.Module):
    """One row of K mixture weights per character (softmax over K with a temperature, or unconstrained)."""

    def __init__(self, n_characters: int, k: int, mixture: str = "softmax", temperature: float = 1.0) -> None:
        super().__init__()
        self.mixture, self.temperature = mixture, temperature
        # softmax: zero logits are the uniform mixture; linear: the weights themselves, uniform too
        init = torch.zeros(n_characters, k) if mixture == "softmax" else torch.full((n_characters, k), 1.0 / k)
        self.mixture_logits = nn.Parameter(init)

    def forward(self, character_idx: torch.Tensor) -> torch.Tensor:
        """Mixture weights [B, K] of the characters `character_idx` [B]."""
        raw = self.mixture_logits[character_idx]
        return F.softmax(raw / self.temperature, dim=-1) if self.mixture == "softmax" else raw


def prompted_hidden_states(
    base_model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prefix_embeds: torch.Tensor | None = None,
    prefix_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Final hidden states [B, P + T, d] of a causal LM body reading `prefix_embeds` [B, P, d] then `input_ids`.

    Left or right padding of the tokens (and left padding of the prefix through `prefix_mask`) is handled:
    position ids count only attended positions, so every real token gets the position it has unpadded.
    Padding between the prefix and left-padded tokens is moved in front of the prefix for the pass: a
    sliding attention window (Gemma's) counts sequence slots, so a gap would push the prompt out of it.
    """
    embeds = base_model.get_input_embeddings()(input_ids)
    mask = attention_mask.to(torch.long)
    if prefix_embeds is not None:
        if prefix_mask is None:
            prefix_mask = torch.ones(prefix_embeds.shape[:2], dtype=torch.long, device=embeds.device)
        embeds = torch.cat([prefix_embeds.to(embeds.dtype), embeds], dim=1)
        mask = torch.cat([prefix_mask.to(torch.long), mask], dim=1)
    order = _padding_first(mask)
    if order is not None:
        embeds, mask = embeds.gather(1, order[..., None].expand_as(embeds)), mask.gather(1, order)
    position_ids = (mask.cumsum(dim=-1) - 1).clamp(min=0)
    body = base_model.base_model  # the transformer without its LM head
    hidden = body(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids, use_cache=False).last_hidden_state
    if order is not None:
        hidden = hidden.gather(1, torch.argsort(order, dim=1)[..., None].expand_as(hidden))
    return hidden


def _padding_first(mask: torch.Tensor) -> torch.Tensor | None:
    """A per-row order [B, S] putting padding before the real positions (kept in order), or None when no row
    has padding between real positions."""
    width = mask.shape[1]
    first = mask.argmax(dim=1)
    last = width - 1 - mask.flip(dims=[1]).argmax(dim=1)
    if not bool((mask.sum(dim=1) < last - first + 1).any()):
        return None
    return torch.argsort(mask, dim=1, stable=True)


class PersonaPromptModel(nn.Module):
    """A frozen HF causal LM with a persona soft prompt per row of the batch."""

    def __init__(self, base_model: nn.Module, config: SoftPromptConfig, n_characters: int) -> None:
        """An all-zero basis: `initialise_basis` for a new run, or copy a trained one in."""
        super().__init__()
        config.validate()
        base_model.requires_grad_(False)
        base_model.eval()  # frozen: no dropout, so training is deterministic and matches inference
        self.base, self.config = base_model, config
        embeddings = base_model.get_input_embeddings().weight
        self.basis = SoftPromptBasis(config.k, config.length, embeddings.shape[1]).to(embeddings.device)
        self.personas = PersonaPrompts(n_characters, config.k, config.mixture, config.temperature).to(embeddings.device)

    @classmethod
    def from_weights(cls, base_model: nn.Module, config: SoftPromptConfig, basis: torch.Tensor,
                     mixture_logits: torch.Tensor, source: str) -> "PersonaPromptModel":
        """A persona model on `base_model` holding a saved basis and mixture logits (a row per character)."""
        model = cls(base_model, config, mixture_logits.shape[0])
        model.load_weights(basis, mixture_logits, source)
        return model

    def load_weights(self, basis: torch.Tensor, mixture_logits: torch.Tensor, source: str) -> None:
        """Copy a saved basis and mixture logits in; CorpusError naming `source` when the basis does not fit."""
        if tuple(self.basis.prompts.shape) != tuple(basis.shape):
            raise CorpusError(f"the basis of {source} has shape {tuple(basis.shape)}, which does not fit this model")
        with torch.no_grad():
            self.basis.prompts.copy_(basis)
            self.personas.mixture_logits.copy_(mixture_logits)

    def train(self, mode: bool = True) -> "PersonaPromptModel":
        """Switch the prompt modules' mode; the frozen base model always stays in eval mode."""
        super().train(mode)
        self.base.eval()
        return self

    def initialise_basis(self, tokenizer) -> None:
        """Start the basis from embeddings of the tokenizer's common word tokens (seed: `config.init_seed`)."""
        self.basis.initialise(self.base.get_input_embeddings(), word_token_ids(tokenizer), self.config.init_seed)

    @property
    def n_characters(self) -> int:
        return self.personas.mixture_logits.shape[0]

    def mixture_weights(self, character_idx: torch.Tensor) -> torch.Tensor:
        """Mixture weights [B, K] of characters `character_idx` [B]."""
        return self.personas(character_idx)

    def prompt_from_weights(self, weights: torch.Tensor) -> torch.Tensor:
        """Prompt embeddings [B, L, d] for arbitrary mixture weights [B, K] (e.g. a blend of characters)."""
        return self.basis(weights)

    def prompt_embeds(self, character_idx: torch.Tensor) -> torch.Tensor:
        """Prompt embeddings [B, L, d] of characters `character_idx` [B]; rows may differ."""
        return self.basis(self.personas(character_idx))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        character_idx: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states [B, L + T, d] of the base model reading each row's persona prompt, then its tokens.

        Give `character_idx` [B] for trained characters or `weights` [B, K] for a blend.
        """
        if (character_idx is None) == (weights is None):
            raise ValueError("give exactly one of character_idx or weights")
        prompt = self.prompt_embeds(character_idx) if weights is None else self.prompt_from_weights(weights)
        return prompted_hidden_states(self.base, input_ids, attention_mask, prompt)

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **persona: torch.Tensor) -> torch.Tensor:
        """Full next-token logits [B, L + T, V]; for inspection and generation, not for training."""
        return self.base.get_output_embeddings()(self(input_ids, attention_mask, **persona))
