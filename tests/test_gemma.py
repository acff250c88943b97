"""The persona method on a Gemma 3 architecture (tiny random weights built in code, never the real ones):
embeddings scaled inside the embedding layer, a BOS-led tokenizer, sliding-window attention, PEFT export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.training_fixtures import write_persona_shards
from training import trainer
from training.config import DataConfig, GenerateConfig, SoftPromptConfig, TrainConfig
from training.data import Example, TokenCache, character_sheet, collate, encode_examples, load_corpus, sheet_ids, token_budget
from training.export import export_adapter, persona_model
from training.generate import generate_line
from training.objectives import SheetTeacher, kl_to_teacher, persona_loss, target_logits
from training.soft_prompt import PersonaPromptModel, prompted_hidden_states, word_token_ids


@pytest.fixture(scope="module")
def gemma(tiny_gemma_dir: Path):
    base = AutoModelForCausalLM.from_pretrained(tiny_gemma_dir).eval()
    return base, AutoTokenizer.from_pretrained(tiny_gemma_dir)


@pytest.fixture(scope="module")
def gemma_run(tiny_gemma_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    shards = write_persona_shards(tmp_path_factory.mktemp("gemma-shards"))
    out = tmp_path_factory.mktemp("gemma-run") / "run"
    trainer.pretrain(shards, str(tiny_gemma_dir), out, DataConfig(min_lines=8, heldout_fraction=0.0, context_tokens=24),
                     SoftPromptConfig(k=3, length=4), TrainConfig(steps=2, batch_size=4, device="cpu"))
    return out


def test_basis_starts_at_the_scale_of_the_embedding_layers_output(gemma) -> None:
    base, tokenizer = gemma
    layer = base.get_input_embeddings()
    assert layer.embed_scale == pytest.approx(base.config.hidden_size ** 0.5)  # what makes raw weights too small
    model = PersonaPromptModel(base, SoftPromptConfig(k=4, length=5), n_characters=2)
    model.initialise_basis(tokenizer)
    words = torch.tensor(word_token_ids(tokenizer))
    with torch.no_grad():
        word_embeds = layer(words)
    vectors = model.basis.prompts.detach().reshape(-1, base.config.hidden_size)
    for vector in vectors:  # every virtual token is the layer's output for a word token
        assert (word_embeds - vector).abs().amax(dim=1).min() < 1e-5
    ratio = vectors.norm(dim=1).mean() / word_embeds.norm(dim=1).mean()
    assert 0.7 < ratio < 1.4


def test_word_tokens_are_words_not_control_or_byte_tokens(gemma) -> None:
    _, tokenizer = gemma
    ids = word_token_ids(tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert ids and all(t.startswith("\u2581") and t[1:].isalpha() for t in tokens)
    assert not set(ids) & set(tokenizer.all_special_ids)


def test_examples_and_sheets_start_with_bos_once(gemma, tiny_model_dir: Path, tmp_path: Path) -> None:
    _, tokenizer = gemma
    cache = TokenCache(tokenizer)
    assert cache.lead == (tokenizer.bos_token_id,)
    assert TokenCache(AutoTokenizer.from_pretrained(tiny_model_dir)).lead == ()  # GPT-2 reads no BOS
    shards = write_persona_shards(tmp_path)
    corpus = load_corpus(shards, DataConfig(min_lines=8))
    cid = corpus.pretrain_ids[0]
    budget = token_budget(DataConfig(context_tokens=10), 4, 256, True)
    examples = encode_examples(corpus.split(cid, "train")[:3], {cid: 0}, cache, budget)
    for example in examples:
        assert example.prefix_ids[0] == tokenizer.bos_token_id and tokenizer.bos_token_id not in example.prefix_ids[1:]
        assert len(example.prefix_ids) <= budget.context
    sheet = sheet_ids(cache, [character_sheet(corpus.characters[cid], corpus.split(cid, "train"), 2)], 12)[0]
    assert sheet[0] == tokenizer.bos_token_id and len(sheet) == 12


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_and_positions_with_sliding_window_attention(gemma, side: str) -> None:
    base, _ = gemma
    assert base.config.sliding_window < 12  # the window is shorter than the sequence: it matters
    model = PersonaPromptModel(base, SoftPromptConfig(k=2, length=3), n_characters=1)
    torch.nn.init.normal_(model.basis.prompts, std=8.0)
    ids = torch.randint(50, 500, (1, 9), generator=torch.Generator().manual_seed(0))
    alone = model(ids, torch.ones_like(ids), character_idx=torch.tensor([0]))
    pad, ones = torch.zeros(1, 4, dtype=torch.long), torch.ones_like(ids)
    if side == "left":
        padded = model(torch.cat([pad, ids], 1), torch.cat([pad, ones], 1), character_idx=torch.tensor([0]))
        real = torch.cat([padded[:, :3], padded[:, 3 + 4 :]], 1)  # prompt, then the tokens after the padding
    else:
        padded = model(torch.cat([ids, pad], 1), torch.cat([ones, pad], 1), character_idx=torch.tensor([0]))
        real = padded[:, : 3 + 9]
    assert torch.allclose(real, alone, atol=1e-4)


def test_teacher_reads_the_sheet_then_the_example_without_a_second_bos(gemma) -> None:
    base, tokenizer = gemma
    bos = tokenizer.bos_token_id
    sheets = {0: [bos, 40, 41, 42, 43, 44, 45], 1: [bos, 50, 51]}
    examples = [Example((bos, 60, 61, 62, 63, 64), (70, 71), 0), Example((bos, 80, 81), (90, 91, 92, 93, 94), 1)]
    batch = collate(examples, pad_id=0)
    teacher_logp = SheetTeacher(base, sheets, lead=1).target_log_probs(batch)
    for row, example in enumerate(examples):  # one unpadded pass over [sheet][example without its BOS]
        ids = torch.tensor([sheets[example.character_index] + list(example.prefix_ids[1:] + example.target_ids)])
        with torch.no_grad():
            logp = torch.log_softmax(base(input_ids=ids).logits[0], dim=-1)
        start = len(sheets[example.character_index]) + len(example.prefix_ids) - 1
        expected = logp[start - 1 : start - 1 + len(example.target_ids)]
        got = teacher_logp[(batch.character_idx[batch.target_mask.nonzero()[:, 0]] == example.character_index)]
        assert torch.allclose(got, expected, atol=1e-4)
    hidden = prompted_hidden_states(base, batch.input_ids, batch.attention_mask)
    logits, _, _ = target_logits(base.get_output_embeddings(), hidden, batch)
    assert kl_to_teacher(teacher_logp, logits) > 0


def test_exported_peft_adapter_gives_the_persona_logits_on_gemma(gemma_run: Path, tiny_gemma_dir: Path,
                                                                 tmp_path: Path) -> None:
    ours, tokenizer, run = persona_model(gemma_run)
    prompt_norm = ours.basis.prompts.norm(dim=-1).mean()
    assert prompt_norm > 0.5 * ours.base.get_input_embeddings()(torch.tensor([100])).norm()
    out = export_adapter(gemma_run, run.character_ids[1], tmp_path / "adapter")
    base = AutoModelForCausalLM.from_pretrained(tiny_gemma_dir).eval()
    peft_model = PeftModel.from_pretrained(base, out).eval()
    ids = tokenizer(['"Come in," she said, and the door'], return_tensors="pt")["input_ids"]
    assert ids[0, 0] == tokenizer.bos_token_id
    with torch.no_grad():
        expected = ours.logits(ids, torch.ones_like(ids), character_idx=torch.tensor([1]))
        got = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert torch.allclose(got, expected, atol=1e-4)


def test_fit_several_characters_of_a_book_with_the_speaker_term(gemma_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit"
    result = trainer.fit(gemma_run, out, character=["Alice Smith", "Bob Jones", "carol-king"],
                         train_config=TrainConfig(steps=2, batch_size=3, shots=4, device="cpu", speaker_weight=1.0,
                                                  speaker_rivals=2))
    assert result.character_ids == ["100:alice-smith", "100:bob-jones", "100:carol-king"]
    fitted, _, run = persona_model(out)
    assert run.meta["shots"] == {cid: 4 for cid in result.character_ids}
    weights = fitted.personas.mixture_logits.detach()
    assert not torch.allclose(weights[0], weights[1])  # each character learned its own weights
    basis, _, _ = persona_model(gemma_run)
    assert torch.equal(fitted.basis.prompts, basis.basis.prompts)  # the basis stayed frozen
    metrics = (out / "metrics.jsonl").read_text().splitlines()
    assert all('"speaker"' in line for line in metrics)


def test_generation_reads_bos_then_the_prompt_on_gemma(gemma_run: Path) -> None:
    config = GenerateConfig(max_new_tokens=6, temperature=0.0, device="cpu")
    line = generate_line(gemma_run, "The letter came at noon.", character="Alice Smith", config=config)
    assert isinstance(line, str) and '"' not in line
    assert generate_line(gemma_run, "The letter came at noon.", blend="Alice Smith=1", config=config) == line


def test_bf16_autocast_keeps_the_prompt_in_float32_and_close_to_float32_scores(gemma) -> None:
    base, _ = gemma
    model = PersonaPromptModel(base, SoftPromptConfig(k=2, length=3), n_characters=2)
    torch.nn.init.normal_(model.basis.prompts, std=8.0)
    examples = [Example((2, 60, 61, 62, 63), (70, 71, 72), 0), Example((2, 80, 81), (90, 91), 1)]
    batch = collate(examples, pad_id=0)
    full, _ = persona_loss(model, base.get_output_embeddings(), batch, "nll")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half, _ = persona_loss(model, base.get_output_embeddings(), batch, "nll")
    half.backward()
    assert half.dtype == torch.float32 and abs(half.item() - full.item()) < 0.05 * full.item()
    assert model.basis.prompts.grad.dtype == torch.float32 and model.basis.prompts.grad.abs().sum() > 0
