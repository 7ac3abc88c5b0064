"""Every method trains through `train_method` (tiny models; SmolLM2 / MiniLM when marked embedded)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from crawd import CrawdConfig, CrawdForCausalLM, CrawdForSequenceClassification
from crawd.baselines import available, get_method, load_pretrained, train_method

TEXTS = [
    "He said the nurse was kind to him.",
    "She is an engineer at the plant.",
    "The doctor told his patient to rest.",
    "Mary met John at the bank on Monday.",
]
LABELS = [1, 0, 1, 0]
GROUPS = ["m", "f", "m", "f"]
FAST = {"dsd": {"steps": 3, "batch": 64}, "ip": {"step_max_new_tokens": 4}}
TERMS = {"dt": "dt", "ibm": "ibm", "ear": "ear", "ad": "ad", "cbe": "cbe"}


def _cfg() -> CrawdConfig:
    return CrawdConfig(reference_words=["gender"], lora_r=2, num_heads=2)


def _check(name, stats, model, task):
    assert stats["method"] == name and stats["steps"] == 2
    assert math.isfinite(stats["train_loss"]) and stats["seconds_per_step"] > 0
    if name in TERMS:
        assert math.isfinite(stats["last_loss_parts"][TERMS[name]])
    if name == "cda":
        assert stats["n_train"] > stats["n_train_in"]
    wrapper = CrawdForCausalLM if task == "causal-lm" else CrawdForSequenceClassification
    assert isinstance(model, wrapper)
    assert model.crawd_config.mode == ("paper" if name == "crawd" else "none")


@pytest.mark.parametrize("name", available("causal-lm"))
def test_generation_methods_train_on_a_tiny_model(name):
    from conftest import tiny_causal_lm

    base, tok = tiny_causal_lm("llama")
    model, stats = train_method(
        name, base, tok, _cfg(), TEXTS * 2, method_options=FAST.get(name), max_steps=2,
        per_device_train_batch_size=4, max_length=16,
    )  # fmt: skip
    _check(name, stats, model, "causal-lm")


@pytest.mark.parametrize("name", available("classification"))
def test_classification_methods_train_on_a_tiny_model(name):
    from conftest import tiny_bert_classifier

    base, tok = tiny_bert_classifier()
    model, stats = train_method(
        name, base, tok, _cfg(), TEXTS * 2, task="classification", labels=LABELS * 2, groups=GROUPS * 2,
        max_steps=2, per_device_train_batch_size=4, max_length=16,
    )  # fmt: skip
    _check(name, stats, model, "classification")
    if name in ("ad", "cbe"):
        assert stats["group_mapping"] == {"f": 0, "m": 1}


def test_ad_round_trip(tmp_path):
    from conftest import tiny_bert_classifier

    base, tok = tiny_bert_classifier()
    model, _ = train_method(
        "ad", base, tok, _cfg(), TEXTS, task="classification", labels=LABELS, groups=[1, 0, 1, 0],
        max_steps=1, per_device_train_batch_size=4, learning_rate=1e-2,
    )  # fmt: skip
    model.save_pretrained(tmp_path)
    enc = tok(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        want = model(**enc).logits
    fresh, _ = tiny_bert_classifier()
    loaded = load_pretrained(tmp_path, fresh, tok)
    adv = dict(loaded.named_parameters())["method_extras.adversary.net.0.weight"]
    assert torch.equal(adv, dict(model.named_parameters())["method_extras.adversary.net.0.weight"])
    with torch.no_grad():
        assert torch.allclose(loaded(**enc).logits, want, atol=1e-5)


def test_dsd_round_trip_and_effect(tmp_path):
    from conftest import tiny_causal_lm

    base, tok = tiny_causal_lm("llama")
    method = get_method("dsd", steps=5, batch=64, lr=1e-2)
    model = method.build(base, tok, _cfg())
    f = model.method_extras["dsd"]
    assert not any(p.requires_grad for p in f.parameters())
    enc = tok(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**enc).logits
        model.remove_hooks()
        plain = model(**enc).logits
    assert not torch.allclose(logits, plain)  # the MLP sits in front of the embeddings
    model.save_pretrained(tmp_path)
    fresh, _ = tiny_causal_lm("llama")
    loaded = load_pretrained(tmp_path, fresh, tok)
    with torch.no_grad():
        assert torch.allclose(loaded(**enc).logits, logits, atol=1e-5)


def test_generate_default_and_ip():
    from conftest import tiny_causal_lm

    base, tok = tiny_causal_lm("llama")
    model = get_method("vanilla").build(base, tok, _cfg())
    out = get_method("vanilla").generate(model, tok, ["Hello there", "A"], max_new_tokens=3, do_sample=False)
    assert len(out) == 2 and all(isinstance(t, str) for t in out)
    ip = get_method("ip", step_max_new_tokens=3)
    torch.manual_seed(0)
    res = ip.generate(model, tok, ["Hello there"], max_new_tokens=3, do_sample=False)
    assert len(res) == 1 and len(ip.last_chain) == 1
    assert ip.last_chain[0]["step3_prompt"].endswith("generate an unbiased text.\nHello there")


# --- embedded real models: 2 steps each, time per step against vanilla -------------------------------
_EMBEDDED_TIMES: dict[str, float] = {}


def _timed(name, base, tok, task, **kw):
    method = get_method(name, **FAST.get(name, {}))
    model, stats = train_method(
        method, base, tok, _cfg(), TEXTS[:2], task=task, max_steps=2, per_device_train_batch_size=1,
        max_length=12, **kw,
    )  # fmt: skip
    key = f"{task}:{name}"
    _EMBEDDED_TIMES[key] = stats["step_seconds"][-1]
    van = _EMBEDDED_TIMES.get(f"{task}:vanilla")
    ratio = f" = {_EMBEDDED_TIMES[key] / van:.2f} x vanilla" if van else ""
    print(f"{key}: {_EMBEDDED_TIMES[key]:.3f} s/step{ratio}")
    assert math.isfinite(stats["train_loss"]) and stats["steps"] == 2
    return stats


# crawd, ibm, ear and cda run on MiniLM below; SmolLM2 runs vanilla (the reference) and the
# generation-only methods, to keep the folder fast.
@pytest.mark.embedded
@pytest.mark.parametrize("name", ["vanilla", "dt", "dsd"])
def test_generation_methods_on_smollm2(smollm2, name):
    base0, tok = smollm2
    stats = _timed(name, copy.deepcopy(base0), tok, "causal-lm")
    assert stats["method"] == name


@pytest.mark.embedded
def test_ip_chain_on_smollm2(smollm2):
    """IP trains exactly like vanilla (timed above); here its three-step chain runs on the real model."""
    base0, tok = smollm2
    ip = get_method("ip", step_max_new_tokens=3)
    model = ip.build(copy.deepcopy(base0), tok, _cfg())
    out = ip.generate(model, tok, ["My friend is a nurse."], max_new_tokens=3, do_sample=False)
    chain = ip.last_chain[0]
    assert len(out) == 1 and chain["output"] == out[0]
    assert chain["step2_prompt"].startswith("Here is a text: ")
    assert chain["step3_prompt"].endswith("generate an unbiased text.\nMy friend is a nurse.")


@pytest.mark.embedded
@pytest.mark.parametrize("name", available("classification"))
def test_classification_methods_on_minilm(minilm, name):
    from crawd.modeling import _classifier_from_encoder

    enc0, tok = minilm
    base = _classifier_from_encoder(copy.deepcopy(enc0), 2)
    _timed(name, base, tok, "classification", labels=LABELS[:2], groups=GROUPS[:2])


def test_group_count_inferred_and_cbe_fits_without_prepare():
    from conftest import tiny_bert_classifier

    base, tok = tiny_bert_classifier()
    model, stats = train_method(
        "ad", base, tok, _cfg(), TEXTS, task="classification", labels=LABELS, groups=["a", "b", "c", "a"],
        max_steps=1, per_device_train_batch_size=4,
    )  # fmt: skip
    assert model.method_extras["adversary"].net[-1].out_features == 3
    assert stats["group_mapping"] == {"a": 0, "b": 1, "c": 2}
    # the CLI's order: build, transform, loss_terms (no explicit prepare)
    base, tok = tiny_bert_classifier()
    m = get_method("cbe", aux_epochs=1)
    model = m.build(base, tok, _cfg(), task="classification")
    m.transform_train_data(TEXTS, LABELS, GROUPS)
    (term,) = m.loss_terms(model, tok, model.crawd_config)
    assert m.extractor is not None and term.__name__ == "cbe"


def test_dataset_with_text_column_and_pretokenized_guard():
    from conftest import tiny_bert_classifier
    from datasets import Dataset

    from crawd.errors import CrawdUsageError

    ds = Dataset.from_dict({"text": TEXTS, "label": LABELS, "group": GROUPS})
    base, tok = tiny_bert_classifier()
    _, stats = train_method("cda", base, tok, _cfg(), ds, task="classification", max_steps=1)
    assert stats["n_train"] > stats["n_train_in"] == 4
    tokenized = Dataset.from_dict({"input_ids": [[1, 2]], "attention_mask": [[1, 1]]})
    base, tok = tiny_bert_classifier()
    with pytest.raises(CrawdUsageError, match="raw texts"):
        train_method("cda", base, tok, _cfg(), tokenized, task="classification")
