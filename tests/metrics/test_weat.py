import numpy as np
import pytest

from crawd.metrics import weat_effect_size, weat_p_value


def toy():
    # targets X along e1, Y along e2; attributes A = e1, B = e2 (hand-computed below)
    X = np.array([[1.0, 0.0], [0.9, 0.1]])
    Y = np.array([[0.0, 1.0], [0.1, 0.9]])
    A = np.array([[1.0, 0.0]])
    B = np.array([[0.0, 1.0]])
    return X, Y, A, B


def test_effect_size_hand_computed():
    X, Y, A, B = toy()
    c = 0.9 / np.hypot(0.9, 0.1) - 0.1 / np.hypot(0.9, 0.1)  # s(x2) = cos(x2, A) - cos(x2, B)
    s = np.array([1.0, c, -1.0, -c])
    expected = (s[:2].mean() - s[2:].mean()) / s.std(ddof=1)
    assert weat_effect_size(X, Y, A, B) == pytest.approx(expected)
    assert weat_effect_size(X, Y, A, B) == pytest.approx(1.72869, abs=1e-4)


def test_effect_size_antisymmetry_scale_invariance_and_zero():
    X, Y, A, B = toy()
    d = weat_effect_size(X, Y, A, B)
    assert weat_effect_size(Y, X, A, B) == pytest.approx(-d)
    assert weat_effect_size(X, Y, B, A) == pytest.approx(-d)
    assert weat_effect_size(3 * X, Y, 0.5 * A, B) == pytest.approx(d)  # cosine only
    assert weat_effect_size(X, X, A, B) == 0.0


def test_p_value_exact_and_sampled():
    X, Y, A, B = toy()
    assert weat_p_value(X, Y, A, B) == pytest.approx(
        1 / 6
    )  # only the observed split of C(4,2)=6 is as extreme
    assert weat_p_value(Y, X, A, B) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    Xb, Yb = rng.normal(size=(12, 5)) + [2, 0, 0, 0, 0], rng.normal(size=(12, 5))
    Ab, Bb = rng.normal(size=(6, 5)) + [2, 0, 0, 0, 0], rng.normal(size=(6, 5))
    p1 = weat_p_value(Xb, Yb, Ab, Bb, n_permutations=500, seed=1)
    assert p1 == weat_p_value(Xb, Yb, Ab, Bb, n_permutations=500, seed=1)
    assert p1 < 0.05
    pn = weat_p_value(Yb[:6], Yb[6:], Ab, Bb, n_permutations=500, seed=1)  # no real difference
    assert pn > 0.05
