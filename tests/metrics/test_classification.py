import numpy as np
import pytest

from crawd.metrics import tpr_gap


def test_binary_gap_accuracy_and_fairlearn():
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    p = [1, 1, 1, 0, 0, 1, 0, 0]
    g = ["a", "a", "b", "b", "a", "a", "b", "b"]
    r = tpr_gap(y, p, g)
    # TPR_a = 2/2, TPR_b = 1/2 -> gap 0.5; FPR_a = 1/2, FPR_b = 0
    assert r.value == pytest.approx(0.5)
    assert r.by_class[1] == pytest.approx(0.5) and r.by_class[0] == pytest.approx(0.5)
    assert r.accuracy == pytest.approx(6 / 8)
    assert r.demographic_parity_difference == pytest.approx(3 / 4 - 1 / 4)
    assert r.equalized_odds_difference == pytest.approx(0.5)
    assert r.by_group["a"]["accuracy"] == pytest.approx(0.75)


def test_multiclass_rms_and_max():
    y = ["nurse", "nurse", "surgeon", "surgeon", "dj", "dj"]
    p = ["nurse", "surgeon", "surgeon", "surgeon", "nurse", "dj"]
    g = ["F", "M", "F", "M", "F", "M"]
    r = tpr_gap(y, p, g)
    gaps = {"nurse": 1.0, "surgeon": 0.0, "dj": 1.0}
    assert r.by_class == gaps
    assert r.rms == pytest.approx(np.sqrt(2 / 3)) and r.value == r.rms
    assert r.max == 1.0
    assert r.demographic_parity_difference is None


def test_class_missing_in_one_group_is_skipped_and_errors():
    r = tpr_gap([1, 1, 2], [1, 0, 2], ["a", "b", "a"], positive_label=99)
    assert set(r.by_class) == {1}
    with pytest.raises(ValueError):
        tpr_gap([1], [1, 0], ["a"])
