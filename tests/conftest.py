"""Shared fixtures: tiny random models built from configs, and the embedded real models loaded once."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# CRAWD_TEST_THREADS=1 is much faster on a busy shared machine; 2 threads on a quiet one.
torch.set_num_threads(int(os.environ.get("CRAWD_TEST_THREADS", max(1, min(2, os.cpu_count() or 1)))))


def _tiny_tokenizer(kind: str):
    """A real tokenizer of the right family, from the embedded models (no hub access)."""
    from crawd.models import load_embedded

    if kind == "bert":
        return load_embedded("minilm", cache=True)[1]
    return load_embedded("smollm2", cache=True)[1]


def tiny_causal_lm(arch: str = "llama", seed: int = 0, vocab_size: int | None = None):
    """(model, tokenizer): a random 2-layer causal LM of the given architecture, vocab of SmolLM2's tokenizer."""
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config

    tok = _tiny_tokenizer("llama")
    v = vocab_size or len(tok)
    common = dict(
        vocab_size=v,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    if arch == "llama":
        cfg = LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            tie_word_embeddings=True,
            **common,
        )
    elif arch == "qwen2":
        cfg = Qwen2Config(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            tie_word_embeddings=False,
            **common,
        )
    elif arch == "gpt2":
        cfg = GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=512, **common)
    else:
        raise ValueError(arch)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg).eval()
    model.config.name_or_path = f"tiny-{arch}"
    return model, tok


def tiny_bert_classifier(num_labels: int = 2, seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    tok = _tiny_tokenizer("bert")
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=512,
        num_labels=num_labels,
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(cfg).eval()
    model.config.name_or_path = "tiny-bert"
    return model, tok


@pytest.fixture(scope="session")
def smollm2():
    """(model, tokenizer) of the embedded SmolLM2-135M, loaded once per session. Do not modify it."""
    from crawd.models import load_embedded

    return load_embedded("smollm2", cache=True)


@pytest.fixture(scope="session")
def minilm():
    """(encoder, tokenizer) of the embedded all-MiniLM-L6-v2, loaded once per session. Do not modify it."""
    from crawd.models import load_embedded

    return load_embedded("minilm", cache=True)


from data_skip import BIAS_DATA, pytest_runtest_call  # noqa: E402,F401  (the hook applies here)

#: For tests that read the bias datasets through another layer (a CLI runner) that swallows the error.
needs_bias_data = pytest.mark.skipif(
    not BIAS_DATA, reason="needs the bias datasets ($CRAWD_DATA_DIR or ../shared/data)"
)
