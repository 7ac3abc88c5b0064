"""The wrappers: exact no-op at initialisation, generation with the cache, save/load, training."""

import copy
import math

import pytest
import torch
from conftest import tiny_bert_classifier, tiny_causal_lm

from crawd import CrawdConfig, CrawdForCausalLM, CrawdForSequenceClassification
from crawd.errors import CrawdUsageError

PROMPTS = ["The doctor said that", "My friend works as a nurse and"]


def _wrap(arch="llama", **cfg):
    base, tok = tiny_causal_lm(arch)
    ref = copy.deepcopy(base)
    cfg.setdefault("reference_words", ["gender"])
    model = CrawdForCausalLM.from_base(base, tok, CrawdConfig(**cfg)).eval()
    return model, ref, tok


def _perturb(model, seed=1, scale=0.5):
    """Give the zero-initialised head and LoRA B matrices random values, so the branch matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * scale / max(1, p.shape[-1]) ** 0.5)
    model.invalidate_reference_cache()


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2"])
@pytest.mark.parametrize("head", ["projected", "concat"])
def test_causal_lm_equals_base_at_init(arch, head):
    model, ref, tok = _wrap(arch, head=head)
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        diff = (model(**batch).logits - ref(**batch).logits).abs().max()
    assert diff <= 1e-5


def test_classifier_equals_base_at_init():
    base, tok = tiny_bert_classifier()
    ref = copy.deepcopy(base)
    model = CrawdForSequenceClassification.from_base(
        base, tok, CrawdConfig(reference_words=["gender"])
    ).eval()
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert (model(**batch).logits - ref(**batch).logits).abs().max() <= 1e-5


def test_branch_changes_logits_once_trained():
    model, ref, tok = _wrap()
    _perturb(model)
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert (model(**batch).logits - ref(**batch).logits).abs().max() > 1e-3
        with model.disable_crawd():
            off = model(**batch).logits
        model_lora_only = (off - ref(**batch).logits).abs().max()
    assert model_lora_only > 0  # LoRA was perturbed too, and disable_crawd keeps it


@pytest.mark.parametrize("scope", ["example", "token"])
@pytest.mark.parametrize("head", ["projected", "concat"])
def test_generate_same_with_and_without_cache_and_batched(scope, head):
    model, _, tok = _wrap(topk_scope=scope, head=head)
    _perturb(model, scale=2.0)
    tok.padding_side = "left"
    singles = []
    for p in PROMPTS:
        enc = tok([p], return_tensors="pt")
        a = model.generate(**enc, max_new_tokens=8, do_sample=False, use_cache=True)
        b = model.generate(**enc, max_new_tokens=8, do_sample=False, use_cache=False)
        assert torch.equal(a, b)
        singles.append(a[0, enc["input_ids"].shape[1] :])
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    batched = model.generate(**enc, max_new_tokens=8, do_sample=False)[:, enc["input_ids"].shape[1] :]
    for i, s in enumerate(singles):
        assert torch.equal(batched[i], s)


def test_beam_search_with_example_scope_is_a_clear_error():
    model, _, tok = _wrap()
    with pytest.raises(CrawdUsageError, match="topk_scope"):
        model.generate(**tok(["Hi"], return_tensors="pt"), max_new_tokens=2, num_beams=2)


def test_cross_attention_weights_shape_and_decay():
    model, _, tok = _wrap(top_k=0.4, decay=0.2)
    batch = tok(["The doctor said that"], return_tensors="pt")
    raw, dec = model.cross_attention_weights(batch["input_ids"], batch["attention_mask"])
    n = batch["input_ids"].shape[1]
    assert raw.shape == dec.shape == (1, 8, n, model.reference.num_word_tokens)
    changed = ~torch.isclose(raw, dec)
    assert int(changed.sum()) == math.ceil(0.4 * raw.numel())
    assert torch.allclose(dec[changed], 0.2 * raw[changed])


def test_save_load_roundtrip_and_changed_base(tmp_path):
    model, _, tok = _wrap()
    _perturb(model)
    model.save_pretrained(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["crawd_config.json", "crawd_model.safetensors"]
    base2, _ = tiny_causal_lm("llama")
    loaded = CrawdForCausalLM.from_pretrained(tmp_path / "m", base_model=base2, tokenizer=tok)
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.allclose(loaded(**batch).logits, model(**batch).logits, atol=1e-6)
    other, _ = tiny_causal_lm("llama", seed=7)
    with pytest.raises(CrawdUsageError, match="base model differs"):
        CrawdForCausalLM.from_pretrained(tmp_path / "m", base_model=other, tokenizer=tok)


def test_unsupported_architecture_is_named():
    from transformers import BertConfig, BertLMHeadModel

    base = BertLMHeadModel(
        BertConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, is_decoder=True
        )
    )
    _, tok = tiny_causal_lm("llama")
    with pytest.raises(CrawdUsageError, match="supported: .*llama"):
        CrawdForCausalLM.from_base(base, tok, CrawdConfig())


def test_only_crawd_and_lora_get_gradients():
    model, _, tok = _wrap()
    model.train()
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    for _ in range(2):  # first step: P = 0 so the block's gradient is zero; take one step first
        out = model(**batch, labels=batch["input_ids"])
        out.loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert "lora_" in n or n.startswith(("block.", "proj.")), n
            assert p.grad is not None and p.grad.abs().sum() > 0, n
        else:
            assert p.grad is None, n


def test_parameter_budget_llama2_7b_on_meta():
    from transformers import AutoModelForCausalLM, LlamaConfig

    cfg = LlamaConfig(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
    )
    with torch.device("meta"):
        base = AutoModelForCausalLM.from_config(cfg)
    _, tok = tiny_causal_lm("llama")
    model = CrawdForCausalLM.from_base(base, tok, CrawdConfig(reference_words="all", lora_r=0))
    report = model.parameter_report()
    assert report["added"] <= 0.01 * report["base"], report


def test_qlora_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present: 4-bit loading is possible here")
    from crawd.models import quantization_config_4bit

    with pytest.raises(CrawdUsageError, match="CUDA"):
        quantization_config_4bit()
