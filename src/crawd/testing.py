"""Tiny random models built from configs, with the real tokenizers of the embedded models.

For tests, benchmarks and the distributed check: fast, deterministic for a seed, no hub access.
"""

from __future__ import annotations

import torch

EMBEDDED_FOR = {"llama": "embedded:smollm2", "bert": "embedded:minilm"}


_TOKENIZERS: dict = {}


def tiny_tokenizer(kind: str = "llama"):
    """A real tokenizer of the right family from the embedded models (SmolLM2's BPE or MiniLM's WordPiece),
    loaded once per process without loading the model weights; no hub access."""
    if kind not in _TOKENIZERS:
        from transformers import AutoTokenizer

        from .models import resolve_model_path

        tok = AutoTokenizer.from_pretrained(resolve_model_path(EMBEDDED_FOR[kind])[0])
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        _TOKENIZERS[kind] = tok
    return _TOKENIZERS[kind]


def tiny_causal_lm(arch: str = "llama", seed: int = 0, vocab_size: int | None = None):
    """(model, tokenizer): a random 2-layer causal LM of the given architecture, vocab of SmolLM2's tokenizer."""
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config

    tok = tiny_tokenizer("llama")
    v = vocab_size or len(tok)
    common = dict(
        vocab_size=v,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    decoder = dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        **common,
    )
    if arch == "llama":
        cfg = LlamaConfig(tie_word_embeddings=True, **decoder)
    elif arch == "qwen2":
        cfg = Qwen2Config(tie_word_embeddings=False, **decoder)
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

    tok = tiny_tokenizer("bert")
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
