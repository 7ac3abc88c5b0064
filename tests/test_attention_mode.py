"""mode="attention": in-layer decay of self-attention toward sensitive-associated tokens."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from conftest import tiny_causal_lm

from crawd import CrawdConfig, CrawdForCausalLM, CrawdTrainer, CrawdUsageError
from crawd.attention_mode import ATTN_KEY, crawd_sdpa_attention, online_topk

TEXTS = ["The nurse said that she would call him later", "My brother is a doctor", "He met her"]


def _wrap(arch="llama", association="direction", seed=0, **kw):
    base, tok = tiny_causal_lm(arch, seed=seed)
    ref = copy.deepcopy(base)
    cfg = CrawdConfig(mode="attention", reference_words=["gender"], association=association, lora_r=4, **kw)
    return CrawdForCausalLM.from_base(base, tok, cfg).eval(), ref, tok


def _enc(tok, texts=TEXTS, side="left"):
    tok.padding_side = side
    return tok(texts, return_tensors="pt", padding=True)


@pytest.mark.parametrize("association", ["direction", "cross_attention"])
def test_decay_one_equals_base(association):
    model, ref, tok = _wrap(association=association, decay=1.0)
    enc = _enc(tok)
    with torch.no_grad():
        torch.testing.assert_close(model(**enc).logits, ref(**enc).logits, atol=1e-5, rtol=0)


def test_decay_changes_logits_and_disable_restores_base():
    model, ref, tok = _wrap(decay=0.2)
    enc = _enc(tok)
    with torch.no_grad():
        out, base = model(**enc).logits, ref(**enc).logits
        with model.disable_crawd():
            torch.testing.assert_close(model(**enc).logits, base, atol=1e-5, rtol=0)
    assert (out - base).abs().max() > 1e-3


@pytest.mark.parametrize(
    "arch, association", [("llama", "direction"), ("llama", "cross_attention"), ("gpt2", "direction")]
)
def test_cached_generation_equals_uncached(arch, association):
    model, _, tok = _wrap(arch, association)
    enc = _enc(tok)
    kw = dict(max_new_tokens=6, do_sample=False)
    cached = model.generate(**enc, **kw)
    uncached = model.generate(**enc, use_cache=False, **kw)
    assert torch.equal(cached, uncached)


def test_left_padded_batch_equals_one_at_a_time():
    model, _, tok = _wrap(decay=0.1)
    enc = _enc(tok)
    with torch.no_grad():
        batched = model(**enc).logits  # (B, n, V)
        sel_b, _ = model.attn_decay.decayed_tokens(enc.input_ids, enc.attention_mask)
        for i, text in enumerate(TEXTS):
            one = tok([text], return_tensors="pt")
            n = one.input_ids.shape[1]
            torch.testing.assert_close(batched[i, -n:], model(**one).logits[0], atol=1e-4, rtol=1e-4)
            sel_1, _ = model.attn_decay.decayed_tokens(one.input_ids, one.attention_mask)
            for layer, s in sel_1.items():
                assert torch.equal(sel_b[layer][i, -n:], s[0])
                assert not sel_b[layer][i, :-n].any()  # padding is never decayed


def test_online_topk_is_causal_and_skips_ineligible():
    torch.manual_seed(0)
    s = torch.rand(2, 40)  # (B, T)
    e = torch.ones(2, 40, dtype=torch.bool)
    e[:, 0] = False
    full = online_topk(s, e, 40, 0.4)  # (B, T)
    for t in range(1, 40):  # a prefix makes the same decisions: later tokens never change earlier ones
        assert torch.equal(online_topk(s[:, :t], e[:, :t], t, 0.4), full[:, :t])
    assert not full[:, 0].any()
    assert 0.3 < full[:, 1:].float().mean() < 0.5


def test_selected_keys_get_exactly_log_lambda(monkeypatch):
    """Compare each decayed layer with an eager reference: weights toward selected keys times lambda, renormalised."""
    from transformers import AttentionInterface

    lam = 0.3
    model, _, tok = _wrap(decay=lam)
    seen = []

    def spy(module, query, key, value, attention_mask, **kwargs):
        out, _ = crawd_sdpa_attention(module, query, key, value, attention_mask, **kwargs)
        seen.append((module, query, key, value, attention_mask, getattr(module, "_crawd_bias", None), out))
        return out, None

    AttentionInterface.register(ATTN_KEY, spy)
    try:
        enc = _enc(tok)
        with torch.no_grad():
            sel, _ = model.attn_decay.decayed_tokens(enc.input_ids, enc.attention_mask)
    finally:
        AttentionInterface.register(ATTN_KEY, crawd_sdpa_attention)
    decayed = [x for x in seen if x[5] is not None]
    assert len(decayed) == len(model.attn_decay.layer_ids) == len(sel)
    valid = enc.attention_mask.bool()  # (B, n)
    for module, q, k, v, _mask, bias, out in decayed:
        s = sel[module.layer_idx]  # (B, n)
        assert s.any()
        assert torch.equal(bias[s], torch.full_like(bias[s], math.log(lam)))
        assert torch.equal(bias[~s], torch.zeros_like(bias[~s]))
        rep = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)  # (B, H, n, dh)
        n = q.shape[2]
        allowed = torch.ones(n, n, dtype=torch.bool).tril()[None, None] & valid[:, None, None, :]  # (B,1,n,n)
        logits = (q @ k.transpose(-1, -2)) * module.scaling  # (B, H, n, n)
        p = torch.softmax(logits.masked_fill(~allowed, float("-inf")), -1)  # (B, H, n, n)
        p = torch.where(s[:, None, None, :], p * lam, p)
        p = p / p.sum(-1, keepdim=True)  # renormalise
        ref = (p @ v).transpose(1, 2)  # (B, n, H, dh)
        rows = valid[:, :, None, None].expand_as(ref)  # left padding rows are garbage in both
        torch.testing.assert_close(out[rows], ref[rows], atol=1e-5, rtol=1e-4)


def test_sdpa_path_stays_in_use(monkeypatch):
    import transformers.integrations.sdpa_attention as sdpa_mod

    model, _, tok = _wrap()
    assert model.base.config._attn_implementation == ATTN_KEY
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def counting(*a, **k):
        calls.append(k.get("attn_mask") is not None)
        return real(*a, **k)

    monkeypatch.setattr(sdpa_mod.torch.nn.functional, "scaled_dot_product_attention", counting)
    with torch.no_grad():
        model(**_enc(tok, TEXTS[:1]))
    n_layers = model.base.config.num_hidden_layers
    assert len(calls) >= n_layers  # every layer of the forward (and of the reference encoding) ran SDPA
    assert any(calls)  # the decayed layers pass the bias as an additive mask


def test_save_load_round_trip(tmp_path):
    model, _, tok = _wrap(association="cross_attention")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any(n.startswith("attn_decay.scorers.") for n in names)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    enc = _enc(tok)
    with torch.no_grad():
        want = model(**enc).logits
    model.save_pretrained(tmp_path)
    fresh, _ = tiny_causal_lm("llama")
    loaded = CrawdForCausalLM.from_pretrained(tmp_path, base_model=fresh, tokenizer=tok)
    assert loaded.crawd_config.association == "cross_attention"
    with torch.no_grad():
        torch.testing.assert_close(loaded(**enc).logits, want, atol=1e-5, rtol=0)


def test_training_lowers_loss_and_reaches_the_scorer(tmp_path):
    from datasets import Dataset
    from transformers import TrainingArguments

    from crawd.training import lm_collator

    model, _, tok = _wrap(association="cross_attention", seed=1)
    model.train()
    w0 = model.attn_decay.scorers[str(model.attn_decay.layer_ids[-1])].q_proj.weight.detach().clone()
    tok.padding_side = "right"
    enc = tok(TEXTS * 4, truncation=True, max_length=16)
    ds = Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=12, per_device_train_batch_size=4, learning_rate=5e-3,
        logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    batch = lm_collator(tok)([ds[i] for i in range(3)])

    def fixed_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(model(**batch).loss)

    before = fixed_loss()
    trainer = CrawdTrainer(model=model, args=args, train_dataset=ds, data_collator=lm_collator(tok))
    trainer.train()
    assert fixed_loss() < before - 0.1
    w1 = model.attn_decay.scorers[str(model.attn_decay.layer_ids[-1])].q_proj.weight
    assert not torch.equal(w0, w1)  # the straight-through estimator gives the scorer a gradient


def test_config_validation_names_the_bad_value():
    with pytest.raises(CrawdUsageError, match="association.*'cosine'"):
        CrawdConfig(mode="attention", association="cosine")
    with pytest.raises(CrawdUsageError, match="attention_layers.*'top'"):
        CrawdConfig(mode="attention", attention_layers="top")
    base, tok = tiny_causal_lm("llama")
    with pytest.raises(CrawdUsageError, match=r"attention_layers \[5\]"):
        CrawdForCausalLM.from_base(base, tok, CrawdConfig(mode="attention", attention_layers=[1, 5]))
    from conftest import tiny_bert_classifier

    from crawd import CrawdForSequenceClassification

    bert, btok = tiny_bert_classifier()
    with pytest.raises(CrawdUsageError, match="causal LMs only"):
        CrawdForSequenceClassification.from_base(bert, btok, CrawdConfig(mode="attention"))
    with pytest.raises(CrawdUsageError, match="beam"):
        _wrap()[0].generate(**_enc(_wrap()[2], TEXTS[:1]), max_new_tokens=2, num_beams=2)


def _fresh_smollm2(smollm2):
    model, tok = smollm2
    return copy.deepcopy(model), tok


@pytest.mark.embedded
def test_smollm2_direction_decays_gendered_tokens_and_caches(smollm2):
    base, tok = _fresh_smollm2(smollm2)
    cfg = CrawdConfig(mode="attention", reference_words=["gender"], association="direction", lora_r=0)
    model = CrawdForCausalLM.from_base(base, tok, cfg).eval()
    text = "Yesterday the tall nurse told her brother that he should visit the old library soon"
    enc = tok([text], return_tensors="pt")
    sel, _ = model.attn_decay.decayed_tokens(enc.input_ids, enc.attention_mask)
    toks = [t.lstrip("Ġ").lower() for t in tok.convert_ids_to_tokens(enc.input_ids[0])]
    gendered = torch.tensor([t in {"her", "brother", "he"} for t in toks])
    rate = torch.stack([s[0] for s in sel.values()]).float()  # (layers, n)
    assert rate[:, gendered].mean() > rate[:, 1:].mean() + 0.15  # above the overall selection rate
    out = model.generate(**enc, max_new_tokens=3, do_sample=False)
    assert torch.equal(out, model.generate(**enc, max_new_tokens=3, do_sample=False, use_cache=False))
