"""Real-model checks on the embedded SmolLM2-135M with small limits (kept short: the CI runs them too)."""

import numpy as np
import pytest

from crawd import metrics as M

pytestmark = pytest.mark.embedded


def test_crows_and_stereoset_small(smollm2):
    model, tok = smollm2
    c = M.crows_pairs(model, tok, limit=8, batch_size=16)
    assert c.n == 8 and 0.0 <= c.value <= 100.0 and c.likelihood_diff > 0
    assert c.to_dict()["by_bias_type"]
    s = M.stereoset(model, tok, limit=2, batch_size=12)
    assert s.n == 4 and s.lms > 0
    # a real LM prefers meaningful options to unrelated ones more often than not, even on few items
    assert 0.0 <= s.value <= 100.0


def test_association_follows_stereotypes_and_is_deterministic(smollm2):
    model, tok = smollm2
    occ = [("mechanic", "male"), ("carpenter", "male"), ("nurse", "female"), ("receptionist", "female")]
    r = M.occupation_gender_association(model, tok, occupations=occ, templates=("The {o} said that",))
    r2 = M.occupation_gender_association(model, tok, occupations=occ, templates=("The {o} said that",))
    assert r.by_occupation == pytest.approx(r2.by_occupation, abs=1e-5)
    assert r.value > 0  # SmolLM2 associates mechanics/carpenters with "he" more than nurses/receptionists


def test_weat_gender_runs_on_real_model(smollm2):
    model, tok = smollm2
    r = M.weat(model, tok, tests=["weat6"], n_permutations=200)
    d = r.tests["weat6"]["d"]
    assert np.isfinite(d) and -2.0 <= d <= 2.0
    assert r.by_attribute == {"gender": pytest.approx(abs(d))}
    assert 0.0 < r.tests["weat6"]["p"] <= 1.0


def test_gas_generation_on_real_model(smollm2):
    model, tok = smollm2
    a = M.generate_for_gas(model, tok, limit=2, max_new_tokens=6, seed=7)
    assert a.n == 2 and all(t.strip() for t in a.texts) and a.settings["seed"] == 7
    assert a.value == M.gender_attribute_score(a.texts).value  # reproducibility is tested on the tiny model
