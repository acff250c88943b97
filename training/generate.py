"""Generate a character's next line after a piece of narrative, with its persona prompt or a blend of several."""

from __future__ import annotations

from pathlib import Path

import torch

from corpus.errors import CorpusError
from training.arguments import parse_blend, require_one_persona
from training.config import DataConfig, GenerateConfig, config_from_dict
from training.data import CLOSE_QUOTE, PARAGRAPH_BREAK, document_lead, example_prefix, resolve_character, token_budget
from training.export import persona_model
from training.modeling import max_positions, resolve_device
from training.soft_prompt import PersonaPromptModel


def blend_weights(
    model: PersonaPromptModel, names: dict[str, str], character_ids: list[str], shares: list[tuple[str, float]]
) -> torch.Tensor:
    """Mixture weights [1, K] interpolating the named characters' weights by their shares (normalised to 1)."""
    device = model.basis.prompts.device
    indices = torch.tensor([character_ids.index(resolve_character(n, names)) for n, _ in shares], device=device)
    total = sum(share for _, share in shares)
    mix = torch.tensor([share / total for _, share in shares], device=device)
    return (mix[:, None] * model.mixture_weights(indices)).sum(dim=0, keepdim=True)


def generate_line(
    run_dir: Path,
    prompt: str,
    character: str | None = None,
    blend: str | None = None,
    config: GenerateConfig = GenerateConfig(),
    model_ref: str | None = None,
) -> str:
    """The line the persona (a character, or a blend of characters' mixture weights) says after `prompt`."""
    require_one_persona(character, blend)
    device = resolve_device(config.device)
    model, tokenizer, run = persona_model(run_dir, model_ref)
    model.to(device)
    shares = [(character, 1.0)] if character is not None else parse_blend(blend)
    data_config = config_from_dict(DataConfig, run.meta.get("data", {}))
    budget = token_budget(data_config, run.prompt_config.length, max_positions(model.base), with_sheet=False)
    context_room = budget.context + budget.utterance - config.max_new_tokens
    if context_room < 1:
        raise CorpusError(f"--max-new-tokens {config.max_new_tokens} leaves no room for the prompt")
    lead = document_lead(tokenizer)
    ids = [*lead, *tokenizer(example_prefix(prompt), add_special_tokens=False)["input_ids"][-context_room:]]
    input_ids = torch.tensor([ids], device=device)
    torch.manual_seed(config.seed)
    with torch.no_grad():
        persona = model.prompt_from_weights(blend_weights(model, run.names(), run.character_ids, shares))
        embeds = torch.cat([persona, model.base.get_input_embeddings()(input_ids)], dim=1)
        sampling = {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p} if config.temperature > 0 else {"do_sample": False}
        generated = model.base.generate(
            inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=device),
            max_new_tokens=config.max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling,
        )
    text = tokenizer.decode(generated[0], skip_special_tokens=True)
    return text.split(CLOSE_QUOTE, 1)[0].split(PARAGRAPH_BREAK, 1)[0].strip()  # the utterance ends there
