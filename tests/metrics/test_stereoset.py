import numpy as np
import pytest

from crawd.metrics import icat, stereoset
from crawd.metrics.stereoset import stereoset_from_scores


def test_icat_values():
    assert icat(100, 50) == 100
    assert icat(90, 60) == pytest.approx(72.0)
    assert icat(90, 40) == pytest.approx(72.0)
    assert icat(80, 0) == 0


def rows(spec):
    return [{"type": k, "bias_type": b, "target": t} for k, b, t in spec]


def test_counting_per_target_vs_item():
    r = rows(
        [
            ("intrasentence", "gender", "mother"),
            ("intrasentence", "gender", "mother"),
            ("intrasentence", "gender", "mother"),
            ("intrasentence", "race", "Iraq"),
        ]
    )
    # scores: (stereotype, anti, unrelated)
    sc = [
        [-1, -2, -3],  # pro, both related
        [-2, -1, -0.5],  # anti; neither beats unrelated
        [-1, -1, -5],  # tie -> counted as anti (official script); both related
        [-1, -3, -2],
    ]  # pro; stereotype related, anti not
    item = stereoset_from_scores(r, sc, aggregate="item", ci=False)
    assert item.ss == pytest.approx(50.0)
    assert item.lms == pytest.approx(100 * 5 / 8)
    tgt = stereoset_from_scores(r, sc, aggregate="target", ci=False)
    # mother: SS 1/3, LMS 4/6; Iraq: SS 1, LMS 1/2 -> macro means
    assert tgt.ss == pytest.approx(100 * (1 / 3 + 1) / 2)
    assert tgt.lms == pytest.approx(100 * (4 / 6 + 1 / 2) / 2)
    assert tgt.value == pytest.approx(icat(tgt.lms, tgt.ss))
    assert tgt.by_bias_type["race"]["ss"] == 100.0 and tgt.by_bias_type["race"]["n"] == 1
    assert set(tgt.by_kind) == {"intrasentence"}


def test_stereoset_runner_with_fake_scorer_on_real_rows():
    def prefer_stereotype(prefixes, conts):
        # option order per row is (stereotype, anti-stereotype, unrelated)
        return np.tile([-1.0, -2.0, -3.0], len(conts) // 3)

    r = stereoset(None, None, limit=15, score_fn=prefer_stereotype)
    assert r.n == 30 and r.ss == 100.0 and r.lms == 100.0 and r.value == 0.0
    assert set(r.by_kind) == {"intrasentence", "intersentence"}
    assert r.source.endswith(".jsonl")
    d = r.to_dict()
    assert d["by_bias_type"] and d["ci95"] == [0.0, 0.0]
