"""Training objectives on utterance tokens only: next-token NLL and KL to a teacher reading a character sheet.

Logits are computed only at the positions that predict target tokens: the LM head is applied to gathered
final hidden states, never to a [batch, sequence, vocabulary] tensor covering the context.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import DynamicCache

from training.data import Batch
from training.soft_prompt import prompted_hidden_states


def target_states(hidden: torch.Tensor, target_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hidden states [N, d] that predict the target tokens, with their row and token column indices [N].

    `hidden` is [B, P + T, d] (a prefix of P positions before T tokens); the state predicting token j sits
    at P + j - 1.
    """
    prefix = hidden.shape[1] - target_mask.shape[1]
    rows, cols = target_mask.nonzero(as_tuple=True)
    positions = cols + prefix - 1
    if positions.numel() and int(positions.min()) < 0:
        raise ValueError("a target token at position 0 with no prefix has no state to predict it")
    return hidden[rows, positions], rows, cols


def target_logits(lm_head: nn.Module, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float32 logits [N, V] at target positions, the target token ids [N] and their rows [N]."""
    states, rows, cols = target_states(hidden, batch.target_mask)
    return lm_head(states).float(), batch.input_ids[rows, cols], rows


def target_logprobs(
    base_model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    target_mask: torch.Tensor,
    prefix_embeds: torch.Tensor | None = None,
    prefix_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-example summed log-probabilities [B] of the target tokens, given optional prefix embeddings.

    The frozen `base_model` (HF causal LM) reads `prefix_embeds` [B, P, d] (a persona prompt from
    `PersonaPromptModel.prompt_embeds`, the embedded tokens of a hard prompt, or None for no prompt; left-pad
    ragged prefixes with `prefix_mask` [B, P]), then `input_ids` [B, T] (left or right padded,
    `attention_mask` [B, T]). Returns sum over the positions where `target_mask` [B, T] is True of
    log p(token | everything before it). Use under torch.no_grad() for scoring (speaker identification, NLL).
    """
    hidden = prompted_hidden_states(base_model, input_ids, attention_mask, prefix_embeds, prefix_mask)
    batch = Batch(input_ids, attention_mask, target_mask, torch.zeros(len(input_ids), dtype=torch.long))
    logits, targets, rows = target_logits(base_model.get_output_embeddings(), hidden, batch)
    return summed_logprobs(logits, targets, rows, len(input_ids))


class SheetTeacher:
    """The frozen base model reading a character's written sheet before the example (context distillation).

    Each character's sheet is run through the model once; its key/value cache is stored and, per batch,
    left-padded to a common length and reused, so the sheet is never re-encoded. Sheets start with the
    document lead (BOS); the batch's own `lead` columns are then dropped, so the teacher reads one document.
    """

    def __init__(self, base_model: nn.Module, sheet_ids: dict[int, list[int]], lead: int = 0) -> None:
        self.base, self.sheet_ids, self.lead = base_model, sheet_ids, lead
        self._cache: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def _sheet_cache(self, character: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if character not in self._cache:
            ids = torch.tensor([self.sheet_ids[character]], dtype=torch.long, device=device)
            with torch.no_grad():
                cache = self.base(input_ids=ids, use_cache=True).past_key_values
            self._cache[character] = [(layer[0], layer[1]) for layer in cache]
        return self._cache[character]

    def _batch_cache(self, characters: list[int], device: torch.device) -> tuple[DynamicCache, torch.Tensor]:
        caches = [self._sheet_cache(c, device) for c in characters]
        width = max(len(self.sheet_ids[c]) for c in characters)
        mask = torch.zeros(len(characters), width, dtype=torch.long, device=device)
        layers = []
        for layer in range(len(caches[0])):
            keys, values = caches[0][layer]
            k_all = keys.new_zeros((len(characters), keys.shape[1], width, keys.shape[3]))
            v_all = values.new_zeros((len(characters), values.shape[1], width, values.shape[3]))
            for row, cache in enumerate(caches):
                length = cache[layer][0].shape[2]
                k_all[row, :, width - length :] = cache[layer][0][0]
                v_all[row, :, width - length :] = cache[layer][1][0]
                mask[row, width - length :] = 1
            layers.append((k_all, v_all))
        return DynamicCache(ddp_cache_data=layers), mask

    @torch.no_grad()
    def target_log_probs(self, batch: Batch) -> torch.Tensor:
        """Teacher log-probabilities [N, V] at the batch's target positions (order of `target_mask.nonzero()`)."""
        device = batch.input_ids.device
        batch = batch.without_lead(self.lead)
        cache, sheet_mask = self._batch_cache(batch.character_idx.tolist(), device)
        mask = torch.cat([sheet_mask, batch.attention_mask.to(torch.long)], dim=1)
        position_ids = (mask.cumsum(dim=-1) - 1).clamp(min=0)[:, sheet_mask.shape[1] :]
        hidden = self.base.base_model(
            input_ids=batch.input_ids, attention_mask=mask, position_ids=position_ids,
            past_key_values=cache, use_cache=True,
        ).last_hidden_state
        logits, _, _ = target_logits(self.base.get_output_embeddings(), hidden, batch)
        return F.log_softmax(logits, dim=-1)


def kl_to_teacher(teacher_logp: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """Mean over target tokens of KL(teacher || student), from teacher log-probs and student logits [N, V]."""
    student_logp = F.log_softmax(student_logits, dim=-1)
    return F.kl_div(student_logp, teacher_logp, log_target=True, reduction="batchmean")


def summed_logprobs(logits: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Per-row sums [n_rows] of the target tokens' log-probabilities, from target logits [N, V]."""
    token_logp = logits.gather(-1, targets[:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return token_logp.new_zeros(n_rows).index_add(0, rows, token_logp)


def sample_rivals(character_idx: torch.Tensor, groups: torch.Tensor, n_rivals: int) -> torch.Tensor:
    """For each row, up to `n_rivals` other characters of its group (its book), drawn at random; -1 pads [B, R].

    `groups` [n_characters] is each character's group id. Draws use torch's global RNG (checkpointed).
    """
    rivals = torch.full((len(character_idx), n_rivals), -1, dtype=torch.long)
    for row, own in enumerate(character_idx.tolist()):
        others = (groups == groups[own]).nonzero().flatten()
        others = others[others != own]
        chosen = others[torch.randperm(len(others))[:n_rivals]]
        rivals[row, : len(chosen)] = chosen
    return rivals.to(character_idx.device)


def speaker_cross_entropy(model: nn.Module, lm_head: nn.Module, batch: Batch, own_logp: torch.Tensor,
                          rivals: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -log softmax over (own, rivals) of log p(line | persona): which persona said it.

    `own_logp` [B] is each line's summed log-probability under its own persona; `rivals` [B, R] other
    characters (-1: none). Rows without any rival add nothing.
    """
    scores = [own_logp]
    for column in rivals.T:
        if not bool((column >= 0).any()):
            continue  # no row has this many rivals: no pass
        hidden = model(batch.input_ids, batch.attention_mask, character_idx=column.clamp(min=0))
        logits, targets, rows = target_logits(lm_head, hidden, batch)
        rival_logp = summed_logprobs(logits, targets, rows, len(column))
        scores.append(rival_logp.masked_fill(column < 0, float("-inf")))
    scores = torch.stack(scores, dim=1)
    contested = (rivals >= 0).any(dim=1)
    if not bool(contested.any()):
        return own_logp.new_zeros(())
    return -F.log_softmax(scores[contested], dim=1)[:, 0].mean()


def persona_loss(
    model: nn.Module,
    lm_head: nn.Module,
    batch: Batch,
    objective: str,
    kl_weight: float = 0.5,
    teacher: SheetTeacher | None = None,
    rivals: torch.Tensor | None = None,
    speaker_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of a batch under `objective` (nll, kl or mix) and its parts for logging.

    `model` maps (input_ids, attention_mask, character_idx=...) to hidden states (a `PersonaPromptModel`,
    possibly wrapped by accelerate); `lm_head` is the frozen base model's output layer. With `rivals`
    [B, R] and `speaker_weight` > 0, `speaker_weight` times the speaker cross-entropy is added.
    """
    hidden = model(batch.input_ids, batch.attention_mask, character_idx=batch.character_idx)
    logits, targets, rows = target_logits(lm_head, hidden, batch)
    parts: dict[str, torch.Tensor] = {}
    if objective in ("nll", "mix"):
        parts["nll"] = F.cross_entropy(logits, targets)
    if objective in ("kl", "mix"):
        if teacher is None:
            raise ValueError(f"objective {objective!r} needs a SheetTeacher")
        parts["kl"] = kl_to_teacher(teacher.target_log_probs(batch), logits)
    if objective == "mix":
        loss = (1.0 - kl_weight) * parts["nll"] + kl_weight * parts["kl"]
    else:
        loss = parts[objective]
    if rivals is not None and speaker_weight > 0:
        own_logp = summed_logprobs(logits, targets, rows, len(batch.input_ids))
        parts["speaker"] = speaker_cross_entropy(model, lm_head, batch, own_logp, rivals)
        loss = loss + speaker_weight * parts["speaker"]
    return loss, {name: float(value.detach()) for name, value in parts.items()}
