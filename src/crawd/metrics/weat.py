"""WEAT (Caliskan et al. 2017): effect size, permutation p-value, and a runner over a model's representations."""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations

import numpy as np

from ._common import MetricResult


def _unit(m) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return m / np.clip(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12, None)


def _assoc(W, A, B) -> np.ndarray:
    """s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b) for each row w of W."""
    w, a, b = _unit(W), _unit(A), _unit(B)
    return (w @ a.T).mean(1) - (w @ b.T).mean(1)  # (n_w,)


def weat_effect_size(X, Y, A, B) -> float:
    """Effect size d = (mean_x s(x) - mean_y s(y)) / std_{w in X u Y} s(w) (sample std, ddof=1, as SEAT / bias-bench).

    >>> X = [[1.0, 0.0], [0.9, 0.1]]; Y = [[0.0, 1.0], [0.1, 0.9]]
    >>> A = [[1.0, 0.0]]; B = [[0.0, 1.0]]
    >>> round(weat_effect_size(X, Y, A, B), 4)
    1.7287
    >>> round(weat_effect_size(Y, X, A, B), 4)
    -1.7287
    """
    sx, sy = _assoc(X, A, B), _assoc(Y, A, B)
    sd = np.concatenate([sx, sy]).std(ddof=1)
    if sd == 0:
        return 0.0
    return float((sx.mean() - sy.mean()) / sd)


def weat_p_value(X, Y, A, B, *, n_permutations: int = 10000, seed: int = 0) -> float:
    """One-sided permutation p-value P(test statistic of a random equal-size split >= observed).

    Test statistic: sum_x s(x) - sum_y s(y). Exact over all splits when there are at most ``n_permutations``
    of them, else ``n_permutations`` seeded random splits (the observed split included, so p > 0).

    >>> X = [[1.0, 0.0], [0.9, 0.1]]; Y = [[0.0, 1.0], [0.1, 0.9]]
    >>> weat_p_value(X, Y, [[1.0, 0.0]], [[0.0, 1.0]])  # 1 of the 6 splits is as extreme
    0.16666666666666666
    """
    s = np.concatenate([_assoc(X, A, B), _assoc(Y, A, B)])
    nx, n = len(X), len(X) + len(Y)
    observed = s[:nx].sum() - s[nx:].sum()
    total = s.sum()
    if math.comb(n, nx) <= n_permutations:
        stats = np.array([2 * s[list(c)].sum() - total for c in combinations(range(n), nx)])
        return float(np.mean(stats >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    hits = 1
    for _ in range(n_permutations - 1):
        idx = rng.permutation(n)[:nx]
        hits += (2 * s[idx].sum() - total) >= observed - 1e-12
    return float(hits / n_permutations)


@dataclasses.dataclass
class WEATResult(MetricResult):
    """``value`` = mean over attributes of mean |d| of their tests; ``by_attribute`` |d|; ``tests`` signed d, p."""

    value: float
    n: int
    by_attribute: dict
    tests: dict
    settings: dict
    source: str = ""


def weat(
    model,
    tokenizer,
    *,
    tests: list[str] | None = None,
    path=None,
    p_value: bool = True,
    n_permutations: int = 10000,
    seed: int = 0,
    batch_size: int = 32,
) -> WEATResult:
    """Run the published WEAT tests (3-5 race, 6-8 gender, 10 age) on ``model``'s word representations.

    Each word's vector is the mean over its tokens of the model's final representation (see
    :func:`crawd.metrics.scoring.word_representations`). Reports signed d and p per test, |d| per attribute
    (mean over the attribute's tests) and their mean as ``value`` (lower = less bias).
    """
    from ..data import load_weat_tests
    from .scoring import word_representations

    loaded = load_weat_tests(path, tests=tests)
    vocab = sorted({w for t in loaded.rows for k in "XYAB" for w in t[k]})
    vecs = word_representations(model, tokenizer, vocab, batch_size=batch_size)
    index = {w: i for i, w in enumerate(vocab)}
    out, per_attr = {}, {}
    for t in loaded.rows:
        m = {k: vecs[[index[w] for w in t[k]]] for k in "XYAB"}
        d = weat_effect_size(m["X"], m["Y"], m["A"], m["B"])
        p = (
            weat_p_value(m["X"], m["Y"], m["A"], m["B"], n_permutations=n_permutations, seed=seed)
            if p_value
            else None
        )
        out[t["name"]] = {
            "attribute": t["attribute"],
            "d": d,
            "abs_d": abs(d),
            "p": p,
            "sets": t["sets"],
            "n_words": {k: len(t[k]) for k in "XYAB"},
        }
        per_attr.setdefault(t["attribute"], []).append(abs(d))
    by_attr = {a: float(np.mean(v)) for a, v in per_attr.items()}
    return WEATResult(
        value=float(np.mean(list(by_attr.values()))),
        n=len(out),
        by_attribute=by_attr,
        tests=out,
        settings={
            "representation": "final_representation"
            if hasattr(model, "final_representation")
            else "last_hidden_state",
            "pooling": "mean over word tokens, BOS + ' word'",
            "n_permutations": n_permutations,
            "seed": seed,
        },
        source=loaded.source,
    )
