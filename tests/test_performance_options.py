"""The cheaper ways to obtain H_b in training (reference_grad, reference_refresh_steps) and gradient
checkpointing with the CrAWD block. No timing here: speed is measured by bench/, never by tests."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import tiny_causal_lm

from crawd.config import CrawdConfig
from crawd.errors import CrawdUsageError
from crawd.modeling import CrawdForCausalLM


def _model(**kw) -> CrawdForCausalLM:
    base, tok = tiny_causal_lm("llama")
    cfg = CrawdConfig(reference_words=["gender", "race"], dropout=0.0, lora_dropout=0.0, **kw)
    model = CrawdForCausalLM.from_base(base, tok, cfg)
    torch.manual_seed(1)
    with torch.no_grad():  # a non-zero head, so that H_cross (and H_b) reach the loss
        model.proj.weight.normal_(0, 0.05)
    return model.train()


def _batch(seed: int = 0, B: int = 2, n: int = 12) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 1000, (B, n), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # some padding
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def _count_reference_passes(model: CrawdForCausalLM) -> list[int]:
    calls = [0]
    inner = model._run_reference_pass

    def counting():
        calls[0] += 1
        return inner()

    model._run_reference_pass = counting
    return calls


def _train(model, steps: int, accum: int = 1, lr: float = 1e-2) -> list[float]:
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for s in range(steps):
        for a in range(accum):
            loss = model(**_batch(seed=s * accum + a)).loss
            loss.backward()
            losses.append(float(loss.detach()))
        opt.step()
        opt.zero_grad()
    return losses


@pytest.mark.parametrize(
    "field,value",
    [("reference_grad", "yes"), ("reference_refresh_steps", 0), ("reference_refresh_steps", 1.5)],
)
def test_bad_values_are_named(field, value):
    with pytest.raises(CrawdUsageError, match=field):
        CrawdConfig(**{field: value})


def test_defaults_are_exact_and_round_trip():
    cfg = CrawdConfig(reference_grad=False, reference_refresh_steps=4)
    assert CrawdConfig.from_json(cfg.to_json()) == cfg
    assert CrawdConfig().reference_grad is True and CrawdConfig().reference_refresh_steps == 1


def test_exact_default_backpropagates_through_the_reference():
    exact = _model()
    assert exact.encode_reference().requires_grad
    calls = _count_reference_passes(exact)
    _train(exact, steps=3)
    assert calls[0] == 3


def test_no_grad_reference_same_loss_different_gradient():
    exact = _model()
    cheap = copy.deepcopy(exact)
    cheap.crawd_config.reference_grad = False
    assert not cheap.encode_reference().requires_grad
    b = _batch()
    grads = []
    for m in (exact, cheap):
        loss = m(**b).loss
        loss.backward()
        grads.append(
            (float(loss), {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
        )
    (l1, g1), (l2, g2) = grads
    assert l1 == pytest.approx(l2, rel=1e-6)  # same H_b value, so the same forward
    # the block's own weights see the same gradient; LoRA weights lose the part through H_b
    assert torch.allclose(g1["block.q_proj.weight"], g2["block.q_proj.weight"], atol=1e-6)
    lora = [n for n in g1 if "lora_B" in n]
    assert lora and any(not torch.allclose(g1[n], g2[n]) for n in lora)


@pytest.mark.parametrize("grad", [True, False])
def test_refresh_every_k_optimizer_steps(grad):
    model = _model(reference_grad=grad, reference_refresh_steps=3)
    calls = _count_reference_passes(model)
    _train(model, steps=7, accum=2)  # micro-batches of one step share one weight version
    assert calls[0] == 3  # steps 0, 3 and 6


def test_no_grad_reference_is_reused_within_an_accumulation_step():
    model = _model(reference_grad=False)
    calls = _count_reference_passes(model)
    _train(model, steps=3, accum=3)
    assert calls[0] == 3


def test_evaluation_sees_current_weights_after_cached_training():
    model = _model(reference_refresh_steps=100)
    _train(model, steps=3)
    stale = model._ref_train[0]
    model.eval()
    with torch.no_grad():
        h_eval = model.encode_reference()
        model.invalidate_reference_cache()
        fresh = model._run_reference_pass()
    assert torch.allclose(h_eval, fresh)
    assert not torch.allclose(stale, fresh)  # the training copy is stale by design


def test_invalidate_clears_the_training_cache():
    model = _model(reference_refresh_steps=5)
    calls = _count_reference_passes(model)
    _train(model, steps=2)
    model.invalidate_reference_cache()
    _train(model, steps=1)
    assert calls[0] == 2


@pytest.mark.parametrize("reentrant", [False, True])
def test_gradient_checkpointing_matches(reentrant):
    plain = _model()
    ckpt = copy.deepcopy(plain)
    ckpt.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": reentrant})
    assert ckpt.base.is_gradient_checkpointing
    b = _batch()
    out = []
    for m in (plain, ckpt):
        loss = m(**b).loss
        loss.backward()
        out.append((float(loss), {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}))
    (l1, g1), (l2, g2) = out
    assert l1 == pytest.approx(l2, rel=1e-5)
    assert set(g1) == set(g2)
    for n in g1:
        assert torch.allclose(g1[n], g2[n], atol=1e-5, rtol=1e-4), n
    # and a few optimizer steps train without error, the loss going down on a repeated batch
    opt = torch.optim.AdamW([p for p in ckpt.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(4):
        loss = ckpt(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
