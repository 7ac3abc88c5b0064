"""Multi-seed statistics: mean, standard deviation and the paper's one-tailed Welch t-test (Table 1)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def mean_std(values: Sequence[float | None]) -> dict:
    """``{"mean", "std", "n"}`` over the non-missing values (sample std, ddof=1; 0.0 for one value).

    >>> mean_std([1.0, 2.0, 3.0])
    {'mean': 2.0, 'std': 1.0, 'n': 3}
    >>> mean_std([None, 4.0])
    {'mean': 4.0, 'std': 0.0, 'n': 1}
    """
    v = [float(x) for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return {"mean": float(np.mean(v)), "std": std, "n": len(v)}


def one_tailed_welch(a: Sequence[float], b: Sequence[float], *, better: str = "lower") -> dict:
    """One-tailed Welch t-test that ``a`` is better than ``b``.

    ``better="lower"``: H1 mean(a) < mean(b); ``"higher"``: H1 mean(a) > mean(b). Returns ``{"t", "p", "df",
    "n_a", "n_b"}``; ``p`` is None when either side has fewer than two values or both have zero variance.

    >>> r = one_tailed_welch([0.1, 0.2, 0.15], [0.5, 0.6, 0.55], better="lower")
    >>> r["p"] < 0.01, r["t"] < 0
    (True, True)
    >>> one_tailed_welch([1.0], [2.0, 3.0])["p"] is None
    True
    """
    from scipy import stats

    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    a = [float(x) for x in a if x is not None]
    b = [float(x) for x in b if x is not None]
    out = {"t": None, "p": None, "df": None, "n_a": len(a), "n_b": len(b)}
    if len(a) < 2 or len(b) < 2 or (np.var(a) == 0 and np.var(b) == 0):
        return out
    alt = "less" if better == "lower" else "greater"
    res = stats.ttest_ind(a, b, equal_var=False, alternative=alt)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / ((va**2) / (len(a) - 1) + (vb**2) / (len(b) - 1)) if va + vb > 0 else None
    out.update(t=float(res.statistic), p=float(res.pvalue), df=None if df is None else float(df))
    return out


def format_mean_std(stat: dict, digits: int = 3) -> str:
    """``"0.123 ± 0.010"`` (or ``"0.123"`` for one seed, ``"–"`` when missing).

    >>> format_mean_std({"mean": 0.5, "std": 0.1, "n": 3})
    '0.500 ± 0.100'
    """
    if not stat or stat.get("mean") is None:
        return "–"
    if stat.get("n", 1) > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"
