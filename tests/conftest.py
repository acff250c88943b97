"""Shared fixtures: paths to ../shared (skipped when absent) and a tiny random causal LM."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = Path(__file__).resolve().parents[1] / "data"


def _shared_subdir(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"../shared/{name} is not present")
    return path


@pytest.fixture(scope="session")
def pdnc_dir() -> Path:
    """The PDNC novels in ../shared/pdnc (test skipped when absent)."""
    return _shared_subdir("pdnc")


@pytest.fixture(scope="session")
def gutenberg_dir() -> Path:
    """The raw Gutenberg mirror in ../shared/gutenberg (test skipped when absent)."""
    return _shared_subdir("gutenberg")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GPT-2 and a byte-level BPE tokenizer trained in code, saved in HF format."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    import torch

    corpus = (DATA / "tokenizer_text.txt").read_text(encoding="utf-8").splitlines()
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    out = tmp_path_factory.mktemp("tiny-gpt2")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_gemma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Gemma 3 (embeddings scaled by sqrt(d), a 4-token sliding window on its first layer) and a
    SentencePiece-style BPE tokenizer that starts every text with <bos>, as Gemma's does, saved in HF format."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast
    import torch

    corpus = (DATA / "tokenizer_text.txt").read_text(encoding="utf-8").splitlines()
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    special = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"] + [f"<unused{i}>" for i in range(40)]
    tok.train_from_iterator(corpus, trainer=trainers.BpeTrainer(vocab_size=600, special_tokens=special))
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                        pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=32, max_position_embeddings=256, sliding_window=4,
        layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=32,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    model = Gemma3ForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-gemma3")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
