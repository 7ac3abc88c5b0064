"""EAR's entropy, IBM's importance and similarity, CBE's penalty, on hand-made tensors and tiny models."""

from __future__ import annotations

import math

import torch

from crawd import CrawdConfig
from crawd.baselines import get_method
from crawd.baselines.cbe import cbe_penalty
from crawd.baselines.ear import attention_entropy
from crawd.baselines.ibm import attention_importance, sensitive_similarity


def test_entropy_on_probabilities_without_second_softmax():
    p = torch.tensor([0.7, 0.2, 0.1, 0.0])
    att = p.view(1, 1, 1, 4).expand(1, 2, 4, 4).clone()  # 2 heads, 4 rows
    want = -sum(x * math.log(x) for x in (0.7, 0.2, 0.1))
    got = float(attention_entropy([att]))
    assert math.isclose(got, want, rel_tol=1e-5)
    q = torch.softmax(p, -1)  # what a second softmax would give: a different, flatter distribution
    assert not math.isclose(got, float(-(q * q.log()).sum()), rel_tol=1e-2)


def test_entropy_uniform_one_hot_heads_and_mask():
    n = 4
    uniform = torch.full((1, 1, n, n), 1 / n)
    one_hot = torch.zeros(1, 1, n, n)
    one_hot[..., 0] = 1
    assert math.isclose(float(attention_entropy([uniform])), math.log(n), rel_tol=1e-5)
    assert float(attention_entropy([one_hot])) < 1e-6
    assert math.isclose(float(attention_entropy([uniform, one_hot])), math.log(n) / 2, rel_tol=1e-5)
    # heads are averaged before the entropy: two one-hot heads on different keys -> log 2
    two = torch.zeros(1, 2, n, n)
    two[:, 0, :, 0], two[:, 1, :, 1] = 1, 1
    assert math.isclose(float(attention_entropy([two])), math.log(2), rel_tol=1e-5)
    mixed = torch.cat([uniform, one_hot], dim=2)[:, :, :n]  # rows 0-3 uniform
    mixed[:, :, 2:] = one_hot[:, :, 2:]
    mask = torch.tensor([[1, 1, 0, 0]])
    assert math.isclose(float(attention_entropy([mixed], mask)), math.log(n), rel_tol=1e-5)


def test_ear_term_sign_on_a_tiny_model():
    from conftest import tiny_causal_lm

    base, tok = tiny_causal_lm("llama")
    m = get_method("ear", alpha=0.5)
    model = m.build(base, tok, CrawdConfig(lora_r=2))
    enc = tok(["the cat sat on the mat", "hi"], return_tensors="pt", padding=True)
    out = model(**enc, **m.forward_kwargs())
    rows = out.attentions[-1].sum(-1)  # probabilities: every row sums to 1
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-4)
    (term,) = m.loss_terms(model, tok, model.crawd_config)
    value = term(model=model, inputs=dict(enc), outputs=out)
    assert term.__name__ == "ear" and value.item() < 0


def test_importance_reads_the_prediction_row():
    att = torch.zeros(2, 1, 3, 3)
    att[0, 0, 2] = torch.tensor([0.5, 0.3, 0.2])  # last real token of example 0 = position 2
    att[1, 0, 1] = torch.tensor([0.9, 0.1, 0.0])  # example 1 is padded after position 1
    att[:, 0, 0] = torch.tensor([0.6, 0.4, 0.0])  # [CLS] row
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    a = attention_importance(att, mask, causal=True)
    assert torch.allclose(a, torch.tensor([[0.5, 0.3, 0.2], [0.9, 0.1, 0.0]]))
    a = attention_importance(att, mask, causal=False)
    assert torch.allclose(a, torch.tensor([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]]))


def test_similarity_is_max_cosine():
    hidden = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])
    ref = torch.tensor([[3.0, 0.0], [0.0, -1.0]])
    s = sensitive_similarity(hidden, ref)
    assert torch.allclose(s, torch.tensor([[1.0, 0.0, math.sqrt(0.5)]]), atol=1e-6)


def test_cbe_penalty_zero_without_selected_tokens_and_grows_with_attention():
    p_o = torch.tensor([[0.5, 0.3, 0.2]], requires_grad=True)
    assert cbe_penalty(torch.tensor([[0.1, 0.4, 0.49]]), p_o).item() == 0.0
    sel = torch.tensor([[0.9, 0.1, 0.1]])
    e1 = cbe_penalty(sel, p_o)
    assert math.isclose(float(e1), -math.log(0.5 + 1e-6) / 3, rel_tol=1e-5)
    e2 = cbe_penalty(sel, torch.tensor([[0.8, 0.1, 0.1]]))
    assert float(e2) > float(e1)
    e1.backward()
    assert p_o.grad[0, 0] > 0 and p_o.grad[0, 1] == 0
    masked = cbe_penalty(sel, p_o.detach(), torch.tensor([[0, 1, 1]]))
    assert float(masked) == 0.0
