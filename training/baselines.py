"""Baseline persona methods on the same data, step budget and frozen model as ours.

- no prompt: the frozen model alone (`training.evaluate.NoPrompt`);
- hard prompt: the written character sheet as text before the context (`training.data.character_sheet`);
- prompt tuning: one PEFT PromptTuning prompt of L virtual tokens per character, trained on its lines;
- LoRA: one PEFT LoRA adapter per character, trained on its lines.

Each trainable baseline runs the same number of steps with the same batch size and the same NLL on utterance
tokens as `training fit`, so only the method differs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch
from peft import LoraConfig, PeftModel, PromptTuningConfig, TaskType, get_peft_model
from peft.tuners.prompt_tuning import PromptEmbedding, PromptTuningInit
from transformers.pytorch_utils import Conv1D

from training.config import TrainConfig, help_field
from training.data import BucketBatchSampler, Example, collate
from training.evaluate import PrefixScorer
from training.objectives import target_logprobs


@dataclass
class BaselineConfig:
    """Settings of the trainable baselines (the step budget and batch size come from TrainConfig)."""

    prompt_length: int = help_field(20, "virtual tokens of the per-character PEFT PromptTuning prompt")
    prompt_lr: float = help_field(0.01, "AdamW learning rate of the prompt-tuning embeddings")
    lora_rank: int = help_field(4, "rank r of the per-character LoRA adapter")
    lora_alpha: int = help_field(8, "LoRA scaling numerator alpha")
    lora_lr: float = help_field(0.003, "AdamW learning rate of the LoRA matrices")


def target_nll(model: torch.nn.Module, batch, prefix_embeds: torch.Tensor | None = None,
               prefix_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean NLL per utterance token of a batch (the loss `training fit` minimises under --objective nll)."""
    logp = target_logprobs(model, batch.input_ids, batch.attention_mask, batch.target_mask, prefix_embeds, prefix_mask)
    return -logp.sum() / batch.target_mask.sum()


def train_loop(params: list[torch.nn.Parameter], loss_of, examples: Sequence[Example], config: TrainConfig,
               lr: float, pad_id: int, device: torch.device) -> list[float]:
    """`config.steps` AdamW steps on length-bucketed batches of `examples` (no step when there are none)."""
    if not examples:
        return []
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)
    sampler = BucketBatchSampler([len(e) for e in examples], config.batch_size, config.seed, config.steps)
    losses = []
    for rows in sampler:
        loss = loss_of(collate([examples[i] for i in rows], pad_id).to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return losses


class HardPrompt(PrefixScorer):
    """The character sheet (a description and some of the character's lines) as text before the context."""

    def __init__(self, model: torch.nn.Module, sheet_ids: dict[str, list[int]], pad_id: int, batch_size: int = 16,
                 lead: int = 0) -> None:
        """`sheet_ids` start with the document lead (`training.data.sheet_ids`); `lead` is its length."""
        super().__init__("hard prompt (sheet)", model, pad_id, batch_size)
        self.sheet_ids, self.lead = sheet_ids, lead

    def prefix(self, personas: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        sheets = [self.sheet_ids[p] for p in personas]
        width = max(len(s) for s in sheets)
        ids = torch.full((len(sheets), width), self.pad_id, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(ids)
        for row, sheet in enumerate(sheets):  # left padding keeps every sheet right before its context
            ids[row, width - len(sheet) :] = torch.tensor(sheet, dtype=torch.long)
            mask[row, width - len(sheet) :] = 1
        return self.model.get_input_embeddings()(ids), mask


class PromptTuning(PrefixScorer):
    """Per-character full prompt tuning: a PEFT PromptTuning embedding of L virtual tokens for each character."""

    def __init__(self, model: torch.nn.Module, pad_id: int, config: BaselineConfig = BaselineConfig(),
                 batch_size: int = 16) -> None:
        super().__init__(f"prompt tuning (L={config.prompt_length})", model, pad_id, batch_size)
        self.config = config
        self.prompts: dict[str, PromptEmbedding] = {}

    def _new_prompt(self, seed: int) -> PromptEmbedding:
        embeddings = self.model.get_input_embeddings()
        peft_config = PromptTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=self.config.prompt_length,
            token_dim=embeddings.weight.shape[1], num_transformer_submodules=1,
            prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,  # like our basis: embeddings of sampled tokens
        )
        torch.manual_seed(seed)
        return PromptEmbedding(peft_config, embeddings).to(self.device)

    def _embeds(self, prompt: PromptEmbedding, rows: int) -> torch.Tensor:
        indices = torch.arange(self.config.prompt_length, device=self.device)
        return prompt(indices)[None].expand(rows, -1, -1)

    def fit(self, character_id: str, examples: Sequence[Example], train: TrainConfig) -> list[float]:
        """Train a fresh prompt for the character on its examples; returns the losses."""
        prompt = self._new_prompt(train.seed)
        self.prompts[character_id] = prompt
        return train_loop(list(prompt.parameters()),
                          lambda batch: target_nll(self.model, batch, self._embeds(prompt, len(batch.input_ids))),
                          examples, train, self.config.prompt_lr, self.pad_id, self.device)

    def prefix(self, personas: Sequence[str]) -> tuple[torch.Tensor, None]:
        return torch.cat([self._embeds(self.prompts[p], 1) for p in personas]), None

    def trainable_per_character(self) -> int:
        return self.config.prompt_length * self.model.get_input_embeddings().weight.shape[1]


class LoraAdapters:
    """Per-character LoRA: one PEFT adapter per character on a private copy of the frozen model."""

    def __init__(self, model: torch.nn.Module, pad_id: int, config: BaselineConfig = BaselineConfig(),
                 batch_size: int = 16) -> None:
        self.name = f"LoRA (r={config.lora_rank})"
        self.config, self.pad_id, self.batch_size = config, pad_id, batch_size
        self._base = copy.deepcopy(model)  # LoRA layers are injected in place: keep the shared model clean
        self.peft: PeftModel | None = None

    def _lora_config(self) -> LoraConfig:
        conv1d = any(isinstance(m, Conv1D) for m in self._base.modules())  # GPT-2 stores weights transposed
        # target_modules unset: PEFT's own default for the architecture (c_attn for GPT-2)
        return LoraConfig(task_type=TaskType.CAUSAL_LM, r=self.config.lora_rank, lora_alpha=self.config.lora_alpha,
                          lora_dropout=0.0, fan_in_fan_out=conv1d)

    @property
    def device(self) -> torch.device:
        return self._base.get_input_embeddings().weight.device

    def _adapter_name(self, character_id: str) -> str:
        return character_id.replace(":", "__").replace(".", "_")

    def fit(self, character_id: str, examples: Sequence[Example], train: TrainConfig) -> list[float]:
        """Add and train a fresh adapter for the character on its examples; returns the losses."""
        name = self._adapter_name(character_id)
        torch.manual_seed(train.seed)
        if self.peft is None:
            self.peft = get_peft_model(self._base, self._lora_config(), adapter_name=name)
        else:
            self.peft.add_adapter(name, self._lora_config())
        self.peft.set_adapter(name)
        lm = self.peft.base_model.model
        params = [p for n, p in lm.named_parameters() if f".{name}." in n and p.requires_grad]
        return train_loop(params, lambda batch: target_nll(lm, batch), examples, train, self.config.lora_lr,
                          self.pad_id, self.device)

    @torch.no_grad()
    def line_logprobs(self, examples: Sequence[Example], personas: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(examples))
        for persona in sorted(set(personas)):
            self.peft.set_adapter(self._adapter_name(persona))
            rows = [i for i, p in enumerate(personas) if p == persona]
            scorer = PrefixScorer(self.name, self.peft.base_model.model, self.pad_id, self.batch_size)
            out[rows] = scorer.line_logprobs([examples[i] for i in rows], [persona] * len(rows))
        return out

    def trainable_per_character(self) -> int:
        lm = self._base
        name = next(iter(self.peft.peft_config)) if self.peft else None
        return sum(p.numel() for n, p in lm.named_parameters() if name and f".{name}." in n and "lora_" in n)
