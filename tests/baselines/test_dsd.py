"""DSD: identity at start; the fitted map removes the bias direction and keeps inner products."""

from __future__ import annotations

import pytest
import torch

from crawd.baselines.dsd import ResidualMLP, bias_subspace, fit_soft_debias, neutral_token_ids


@pytest.fixture(scope="module")
def emb_tok():
    from conftest import tiny_causal_lm

    base, tok = tiny_causal_lm("llama", seed=1)
    return base.get_input_embeddings().weight.detach().clone(), tok


def test_identity_at_start():
    f = ResidualMLP(8, 16)
    e = torch.randn(5, 8)
    assert torch.equal(f(e), e)


def test_bias_subspace_and_neutral_words(emb_tok):
    W, tok = emb_tok
    B = bias_subspace(W, tok)
    assert B.shape == (1, W.shape[1]) and torch.isclose(B.norm(), torch.tensor(1.0))
    neutral = set(neutral_token_ids(tok, W.shape[0]).tolist())
    she = tok(" she", add_special_tokens=False)["input_ids"][0]
    table = tok(" table", add_special_tokens=False)["input_ids"][0]
    assert she not in neutral and table in neutral


def test_fit_removes_bias_direction_and_keeps_inner_products(emb_tok):
    W, tok = emb_tok
    B = bias_subspace(W, tok)
    neutral = neutral_token_ids(tok, W.shape[0])
    torch.manual_seed(0)
    f = ResidualMLP(W.shape[1], W.shape[1])
    losses = fit_soft_debias(f, W, neutral, B, steps=40, batch=256, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        N = W[neutral[torch.randperm(len(neutral), generator=torch.Generator().manual_seed(0))[:1000]]]
        fN = f(N)
        before, after = (N @ B.T).pow(2).mean(), (fN @ B.T).pow(2).mean()
        gram = N @ N.T
        rel = (fN @ fN.T - gram).norm() / gram.norm()
    assert after < 0.2 * before
    assert rel < 0.3
