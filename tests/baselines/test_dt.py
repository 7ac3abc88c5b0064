"""DT: the mention and gap terms, and the attribute sets from reference_words."""

from __future__ import annotations

import math

import pytest
import torch

from crawd.baselines.dt import dt_terms, word_token_ids
from crawd.baselines.lexicon import attribute_sets

V = 10
SIDES = [[[1], [2]]]  # one attribute: female token 1, male token 2


@pytest.fixture(scope="module")
def tiny_tok():
    from conftest import tiny_causal_lm

    return tiny_causal_lm("llama")[1]


def _logits(p1: float, p2: float) -> torch.Tensor:
    p = torch.full((V,), (1 - p1 - p2) / (V - 2))
    p[1], p[2] = p1, p2
    return p.log().view(1, 1, V).expand(2, 3, V).clone()


def test_mention_term_grows_with_mass_on_gendered_words():
    l_low, _ = dt_terms(_logits(0.01, 0.01), None, SIDES)
    l_high, _ = dt_terms(_logits(0.2, 0.2), None, SIDES)
    assert math.isclose(float(l_low), 0.02, rel_tol=1e-4)
    assert math.isclose(float(l_high), 0.4, rel_tol=1e-4)


def test_gap_term_zero_when_balanced_and_grows_with_imbalance():
    _, gap0 = dt_terms(_logits(0.1, 0.1), None, SIDES)
    _, gap1 = dt_terms(_logits(0.2, 0.02), None, SIDES)
    _, gap2 = dt_terms(_logits(0.3, 0.003), None, SIDES)
    assert float(gap0) < 1e-5
    assert math.isclose(float(gap1), math.log(10), rel_tol=1e-4)
    assert float(gap2) > float(gap1)


def test_padding_positions_ignored_and_gradients_flow():
    logits = _logits(0.1, 0.1)
    logits[:, 2] = _logits(0.4, 0.001)[:, 0]  # a biased padding position
    logits.requires_grad_(True)
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    l_g, l_l = dt_terms(logits, mask, SIDES)
    assert math.isclose(l_g.item(), 0.2, rel_tol=1e-4) and l_l.item() < 1e-5
    (l_g + l_l).backward()
    assert logits.grad[:, :2].abs().sum() > 0 and logits.grad[:, 2].abs().sum() == 0


def test_attribute_sets_and_table3_word_growth(tiny_tok):
    small = attribute_sets(["he", "she"])
    big = attribute_sets(["he", "she", "man", "woman", "male", "female"])
    assert small == {"gender": [["she"], ["he"]]}
    assert big["gender"] == [["she", "woman", "female"], ["he", "man", "male"]]
    ids_small = word_token_ids(tiny_tok, ["she"])
    ids_big = word_token_ids(tiny_tok, ["she", "woman", "female"])
    assert set(ids_small) < set(ids_big)
    assert tiny_tok.decode(ids_small[:1]).strip() == "she"
