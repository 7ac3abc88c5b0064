"""Plots of experiment results. Every function returns a matplotlib ``Figure`` and never saves or shows it
(the CLI and the demo save them). The Agg backend is used, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

COLORS = {"crawd": "#d62728", "vanilla": "#1f77b4", "pretrained": "#7f7f7f"}
_OTHERS = ("#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


def color_of(method: str) -> str:
    """A fixed colour per method (CrAWD red, vanilla blue, the rest from a stable palette)."""
    if method in COLORS:
        return COLORS[method]
    return _OTHERS[sum(map(ord, method)) % len(_OTHERS)]


def cross_attention_heatmap(amap, *, title: str | None = None) -> Figure:
    """The paper's Figure 4: cross-attention of a prompt against the reference words (before / after decay).

    ``amap`` is a `crawd.inspection.CrossAttentionMap`.
    """
    from .inspection import plot_cross_attention

    return plot_cross_attention(amap, title=title)


def tradeoff_curve(
    points: Sequence[dict],
    *,
    x_label: str,
    metrics: Sequence[str] = ("gas", "weat", "ppl"),
    paper: Sequence[dict] | None = None,
    title: str | None = None,
) -> Figure:
    """Tables 5-6: each metric against the swept value (ours: mean ± std over seeds; paper: dashed).

    ``points``: ``[{"x": 0.1, "metrics": {"gas": {"mean", "std"}, ...}}, ...]``;
    ``paper``: ``[{"x": 0.1, "metrics": {"gas": 0.485, ...}}, ...]``.
    """
    metrics = [
        m
        for m in metrics
        if any(m in p["metrics"] for p in points) or any(m in q["metrics"] for q in paper or [])
    ]
    fig, axes = plt.subplots(
        1,
        max(1, len(metrics)),
        figsize=(3.6 * max(1, len(metrics)), 3.2),
        constrained_layout=True,
        squeeze=False,
    )
    for ax, m in zip(axes[0], metrics, strict=False):
        pts = sorted(
            (p for p in points if (p["metrics"].get(m) or {}).get("mean") is not None), key=lambda p: p["x"]
        )
        if pts:
            ax.errorbar(
                [p["x"] for p in pts],
                [p["metrics"][m]["mean"] for p in pts],
                yerr=[p["metrics"][m].get("std") or 0.0 for p in pts],
                marker="o",
                capsize=3,
                color=COLORS["crawd"],
                label="ours",
            )
        if paper:
            pp = sorted((q for q in paper if q["metrics"].get(m) is not None), key=lambda q: q["x"])
            if pp:
                ax2 = ax.twinx() if m == "ppl" and pts else ax
                ax2.plot(
                    [q["x"] for q in pp],
                    [q["metrics"][m] for q in pp],
                    "s--",
                    color="#555555",
                    alpha=0.7,
                    label="paper",
                )
                if ax2 is not ax:
                    ax2.set_ylabel("paper PPL", color="#555555")
        ax.set_xlabel(x_label)
        ax.set_ylabel(m.upper() + (" ↓" if m in ("gas", "weat", "ppl") else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    return fig


def fairness_utility_scatter(
    points: Sequence[dict], *, fairness: str = "gas", utility: str = "ppl", title: str | None = None
) -> Figure:
    """One point per method (and variant): a bias metric against a utility metric, with ± std error bars.

    ``points``: ``[{"label": "crawd", "method": "crawd", "x": {"mean", "std"}, "y": {"mean", "std"}}, ...]``
    where x = utility and y = fairness. Lower-left is better for PPL vs GAS/WEAT.
    """
    fig, ax = plt.subplots(figsize=(5.2, 4.0), constrained_layout=True)
    for p in points:
        x, y = p.get("x") or {}, p.get("y") or {}
        if x.get("mean") is None or y.get("mean") is None:
            continue
        c = color_of(p.get("method", ""))
        ax.errorbar(
            x["mean"],
            y["mean"],
            xerr=x.get("std") or 0.0,
            yerr=y.get("std") or 0.0,
            fmt="o",
            color=c,
            capsize=3,
            ms=7,
        )
        ax.annotate(p["label"], (x["mean"], y["mean"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel(utility.upper())
    ax.set_ylabel(fairness.upper())
    ax.grid(alpha=0.3)
    ax.set_title(title or f"{fairness.upper()} vs {utility.upper()} (mean ± std over seeds)", fontsize=10)
    return fig


def metric_bars(rows: Sequence[dict], metrics: Sequence[str], *, title: str | None = None) -> Figure:
    """Grouped bars: one panel per metric, one bar per method (mean ± std).

    ``rows``: ``[{"label": "crawd", "method": "crawd", "metrics": {"gas": {"mean", "std"}}}, ...]``.
    """
    metrics = list(metrics)
    fig, axes = plt.subplots(
        1,
        max(1, len(metrics)),
        figsize=(2.8 * max(1, len(metrics)), 3.0),
        constrained_layout=True,
        squeeze=False,
    )
    for ax, m in zip(axes[0], metrics, strict=False):
        labels, means, stds, colors = [], [], [], []
        for r in rows:
            s = r["metrics"].get(m) or {}
            if s.get("mean") is None:
                continue
            labels.append(r["label"])
            means.append(s["mean"])
            stds.append(s.get("std") or 0.0)
            colors.append(color_of(r.get("method", "")))
        ax.bar(range(len(means)), means, yerr=stds, color=colors, capsize=3)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(m, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig
