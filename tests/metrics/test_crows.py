import numpy as np
import pytest
import torch

from crawd.metrics import crows_pairs
from crawd.metrics.crows import _shared_positions, crows_from_scores


def test_counting_ties_and_groups():
    rows = [
        {"bias_type": "gender", "stereo_antistereo": "stereo"},
        {"bias_type": "gender", "stereo_antistereo": "antistereo"},
        {"bias_type": "race-color", "stereo_antistereo": "stereo"},
        {"bias_type": "race-color", "stereo_antistereo": "stereo"},
    ]
    r = crows_from_scores(rows, more=[-1, -3, -2, -5], less=[-2, -2, -2, -4], ci=False)
    # wins: yes, no, tie(no), no
    assert r.value == 25.0
    assert r.by_bias_type == {"gender": {"score": 50.0, "n": 2}, "race-color": {"score": 0.0, "n": 2}}
    assert r.by_direction["antistereo"] == {"score": 0.0, "n": 1}
    assert r.likelihood_diff == pytest.approx((1 + 1 + 0 + 1) / 4)


def test_runner_with_fake_scorer_uses_real_data():
    def shorter_is_better(sents):
        return [-len(s) for s in sents]

    r = crows_pairs(None, None, limit=50, score_fn=shorter_is_better)
    from crawd.data import load_crows_pairs

    rows = load_crows_pairs(limit=50).rows
    expected = 100 * np.mean([len(x["sent_more"]) < len(x["sent_less"]) for x in rows])
    assert r.n == 50 and r.value == pytest.approx(expected)
    assert sum(v["n"] for v in r.by_bias_type.values()) == 50


def test_shared_positions():
    pa, pb = _shared_positions([1, 2, 3, 4, 5], [1, 2, 9, 9, 4, 5])
    assert pa == [0, 1, 3, 4] and pb == [0, 1, 4, 5]


def test_masked_lm_pseudo_log_likelihood_runs_on_tiny_bert(minilm):
    from transformers import BertConfig, BertForMaskedLM

    tok = minilm[1]
    torch.manual_seed(0)
    mlm = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    ).eval()
    r = crows_pairs(mlm, tok, limit=4, batch_size=64)
    assert r.n == 4 and "pseudo" in r.settings["score"]
    r2 = crows_pairs(mlm, tok, limit=4, batch_size=7)
    assert r2.value == r.value


def test_pseudo_log_likelihood_matches_manual_masking(minilm):
    from transformers import BertConfig, BertForMaskedLM

    from crawd.metrics.crows import pseudo_log_likelihoods

    tok = minilm[1]
    torch.manual_seed(1)
    mlm = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    ).eval()
    seq = tok("the nurse was kind").input_ids
    positions = [1, 3]
    manual = 0.0
    with torch.no_grad():
        for p in positions:
            ids = torch.tensor([seq])
            ids[0, p] = tok.mask_token_id
            manual += float(torch.log_softmax(mlm(input_ids=ids).logits[0, p], -1)[seq[p]])
    got = pseudo_log_likelihoods(mlm, tok, [seq, seq], [positions, []], batch_size=1)
    assert got[0] == pytest.approx(manual, abs=1e-4) and got[1] == 0.0
