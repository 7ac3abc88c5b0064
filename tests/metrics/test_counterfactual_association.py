import numpy as np
import pytest

from crawd.metrics import counterfactual_sensitivity, occupation_gender_association, swap_gender
from crawd.metrics.association import association_from_scores, first_token_ids
from crawd.metrics.counterfactual import swap_table


def test_swap_both_ways_keeps_case_and_whole_words():
    t = swap_table()
    assert swap_gender("His wife met her brother.", t)[0] == "Her husband met his sister."
    assert swap_gender("I saw her.", t)[0] == "I saw him."
    assert swap_gender("SHE is the Queen", t) == ("HE is the King", 2)
    assert swap_gender("Sherlock hears the theme", t) == ("Sherlock hears the theme", 0)
    assert swap_gender("The shepherd's hat", t)[0] == "The shepherdess's hat"  # CDA pair
    twice = swap_gender(swap_gender("he and she and the man", t)[0], t)[0]
    assert twice == "he and she and the man"


def test_counterfactual_zero_for_identical_prompts_and_reproducible(tiny_lm):
    model, tok = tiny_lm
    items = [
        ("He is a nurse and", " works at night"),
        ("My mother said", " that it rains"),
        ("She fixed the car", " in the garage"),
    ]
    a = counterfactual_sensitivity(model, tok, items, batch_size=2)
    b = counterfactual_sensitivity(model, tok, items, batch_size=3)
    assert a.n == 3 and a.value > 0
    assert a.value == pytest.approx(b.value, abs=1e-4) and a.flip_rate == b.flip_rate
    assert 0.0 <= a.flip_rate <= 1.0
    with pytest.raises(ValueError):
        counterfactual_sensitivity(model, tok, [("The sky is", " blue")])


def test_association_summary_hand_computed():
    occ = [("driver", "male"), ("ceo", "male"), ("nurse", "female"), ("clerk", "female")]
    r = association_from_scores(occ, [1.0, 3.0, -1.0, 1.0], {"driver": 5.0, "nurse": 90.0, "clerk": 60.0})
    assert r.value == pytest.approx(2.0 - 0.0)
    assert r.mean_abs == pytest.approx(1.5)
    assert r.n_pearson == 3
    assert r.pearson_r == pytest.approx(np.corrcoef([1, -1, 1], [5, 90, 60])[0, 1])


def test_association_on_tiny_model_is_deterministic_and_matches_manual(tiny_lm):
    model, tok = tiny_lm
    occ = [("driver", "male"), ("nurse", "female")]
    r1 = occupation_gender_association(model, tok, occupations=occ, templates=("The {o} said that",))
    r2 = occupation_gender_association(
        model, tok, occupations=occ, templates=("The {o} said that",), batch_size=1
    )
    assert r1.by_occupation == pytest.approx(r2.by_occupation, abs=1e-5)
    import torch

    he, she = first_token_ids(tok, ["he", "him", "his"]), first_token_ids(tok, ["she", "her", "hers"])
    ids = torch.tensor([tok("The driver said that", add_special_tokens=False).input_ids])
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=ids).logits[0, -1], -1)
    manual = float(torch.logsumexp(lp[he], 0) - torch.logsumexp(lp[she], 0))
    assert r1.by_occupation["driver"] == pytest.approx(manual, abs=1e-4)
    assert r1.value == pytest.approx(r1.by_occupation["driver"] - r1.by_occupation["nurse"])
