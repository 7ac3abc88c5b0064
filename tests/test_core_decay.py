"""The decay of Eq. 2: exactly the top-K% valid entries are multiplied by lambda, nothing else changes."""

import math

import pytest
import torch

from crawd.layers import CrossAttentionBlock, topk_decay_mask


def _block(**kw):
    torch.manual_seed(0)
    return CrossAttentionBlock(32, num_heads=4, attn_dim=32, ffn_dim=16, dropout=0.0, **kw).eval()


@pytest.mark.parametrize("top_k", [0.1, 0.4, 0.5, 1.0])
@pytest.mark.parametrize("scope", ["example", "token"])
def test_exactly_top_k_valid_entries_are_decayed(top_k, scope):
    block = _block(top_k=top_k, decay=0.2, scope=scope)
    block.record = True
    h_x, h_b = torch.randn(3, 7, 32), torch.randn(1, 5, 32)
    slots = torch.tensor([False, True, True, True, False])  # first and last slot: special / padding
    rows = torch.ones(3, 7, dtype=torch.bool)
    rows[1, :2] = False  # left padding of example 1
    rows[2, 5:] = False  # right padding of example 2
    block(h_x, h_b, slot_mask=slots, row_mask=rows)
    raw, dec = block.last_weights  # (B, h, n, m)
    assert torch.all(raw[..., ~slots] == 0), "padding slots of the reference must not be attended"
    changed = ~torch.isclose(dec, raw)
    assert torch.allclose(dec[changed], raw[changed] * 0.2)
    assert not changed[..., ~slots].any()
    assert not changed.permute(0, 2, 1, 3)[~rows].any(), "padding rows must never be decayed"
    for b in range(3):
        if scope == "example":
            n_valid = int(rows[b].sum()) * 4 * int(slots.sum())
            assert int(changed[b].sum()) == math.ceil(top_k * n_valid)
            # the decayed entries are the largest ones
            vals = raw[b][:, rows[b]][..., slots].flatten()
            thr = vals.sort(descending=True).values[math.ceil(top_k * n_valid) - 1]
            assert torch.all(raw[b][changed[b]] >= thr)
        else:
            for i in range(7):
                k = math.ceil(top_k * 4 * int(slots.sum())) if rows[b, i] else 0
                assert int(changed[b, :, i].sum()) == k


def test_decay_one_changes_nothing():
    block = _block(top_k=0.4, decay=1.0)
    block.record = True
    h_x, h_b = torch.randn(2, 6, 32), torch.randn(1, 4, 32)
    block(h_x, h_b, slot_mask=torch.ones(4, dtype=torch.bool))
    raw, dec = block.last_weights
    assert torch.equal(raw, dec)


def test_renormalize_rows_sum_to_one():
    block = _block(top_k=0.4, decay=0.2, renormalize=True)
    block.record = True
    block(torch.randn(2, 6, 32), torch.randn(1, 4, 32), slot_mask=torch.ones(4, dtype=torch.bool))
    _, dec = block.last_weights
    assert torch.allclose(dec.sum(-1), torch.ones(2, 4, 6), atol=1e-6)


def test_no_gradient_through_selection_but_through_weights():
    block = _block(top_k=0.5, decay=0.2)
    h_x = torch.randn(1, 4, 32, requires_grad=True)
    out, _ = block(h_x, torch.randn(1, 3, 32), slot_mask=torch.ones(3, dtype=torch.bool))
    out.sum().backward()
    assert h_x.grad is not None and torch.isfinite(h_x.grad).all()


def test_mask_groups_with_nothing_valid_select_nothing():
    beta = torch.rand(2, 2, 3, 4)
    valid = torch.zeros(2, 1, 3, 4, dtype=torch.bool)
    valid[0] = True
    sel = topk_decay_mask(beta, valid, 0.4)
    assert int(sel[1].sum()) == 0 and int(sel[0].sum()) == math.ceil(0.4 * 24)
