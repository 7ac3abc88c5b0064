"""Group-fairness metrics of a classifier's predictions: TPR gaps (Bias in Bios convention) and fairlearn gaps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ._common import MetricResult


@dataclasses.dataclass
class TPRGapResult(MetricResult):
    """``value`` = headline TPR gap: binary -> gap on the positive class; multi-class -> RMS over classes.

    ``by_class`` {label: gap}; ``tpr`` {label: {group: TPR}}; ``by_group`` accuracy per group; demographic parity
    and equalized-odds differences (fairlearn) for binary labels, else None.
    """

    value: float
    rms: float
    max: float
    n: int
    accuracy: float
    by_class: dict
    tpr: dict
    by_group: dict
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None


def tpr_gap(y_true: Sequence, y_pred: Sequence, groups: Sequence, *, positive_label=1) -> TPRGapResult:
    """True-positive-rate gaps between groups.

    Per class y: gap_y = max_g TPR_{y,g} - min_g TPR_{y,g} (= |TPR_a - TPR_b| for two groups); classes absent from
    a group are skipped. RMS = sqrt(mean_y gap_y^2) (De-Arteaga et al. 2019). Binary labels (two values including
    ``positive_label``): the headline value is the positive-class gap; otherwise the RMS.

    >>> r = tpr_gap([1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 1], ["a", "a", "b", "b", "a", "b"])
    >>> r.value, r.by_class[1], r.accuracy
    (1.0, 1.0, 0.5)
    >>> r = tpr_gap(["x", "x", "y", "y"], ["x", "y", "y", "y"], ["f", "m", "f", "m"])
    >>> r.by_class, round(r.rms, 4), r.max
    ({'x': 1.0, 'y': 0.0}, 0.7071, 1.0)
    """
    yt, yp, g = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups)
    if not (len(yt) == len(yp) == len(g)) or len(yt) == 0:
        raise ValueError("y_true, y_pred and groups must be non-empty and of equal length")
    group_vals = sorted(set(g.tolist()), key=str)
    labels = sorted(set(yt.tolist()), key=str)
    tpr, gaps = {}, {}
    for y in labels:
        rates = {}
        for gv in group_vals:
            sel = (yt == y) & (g == gv)
            if sel.any():
                rates[str(gv)] = float((yp[sel] == y).mean())
        tpr[_key(y)] = rates
        if len(rates) >= 2:
            gaps[_key(y)] = max(rates.values()) - min(rates.values())
    gvals = np.array(list(gaps.values())) if gaps else np.array([0.0])
    rms = float(np.sqrt(np.mean(gvals**2)))
    binary = len(labels) == 2 and positive_label in labels
    headline = gaps.get(_key(positive_label), float("nan")) if binary else rms
    dp = eo = None
    if binary:
        from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

        bt, bp = (yt == positive_label).astype(int), (yp == positive_label).astype(int)
        dp = float(demographic_parity_difference(bt, bp, sensitive_features=g))
        eo = float(equalized_odds_difference(bt, bp, sensitive_features=g))
    by_group = {
        str(gv): {"accuracy": float((yt[g == gv] == yp[g == gv]).mean()), "n": int((g == gv).sum())}
        for gv in group_vals
    }
    return TPRGapResult(
        value=float(headline),
        rms=rms,
        max=float(gvals.max()),
        n=len(yt),
        accuracy=float((yt == yp).mean()),
        by_class=gaps,
        tpr=tpr,
        by_group=by_group,
        demographic_parity_difference=dp,
        equalized_odds_difference=eo,
    )


def _key(y):
    return y.item() if isinstance(y, np.generic) else y
