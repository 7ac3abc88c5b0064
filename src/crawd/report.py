"""`crawd report RUN_DIR`: Markdown and HTML reports of a `crawd run` (or `crawd demo`) directory.

Tables follow the paper's layout with the paper's numbers beside ours where they exist; plots: the
fairness-utility scatter of all methods, metric bars, top-K / lambda trade-off curves (Tables 5-6) and the
cross-attention heatmap of "The doctor said that" against {he, she} (Figure 4). Where CrAWD does not beat
vanilla or a baseline, the report says so.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .errors import CrawdDataError
from .experiments.paper_numbers import HIGHER_IS_BETTER, TITLES, paper_rows
from .experiments.stats import format_mean_std

Block = tuple  # ("h1"|"h2"|"p"|"table"|"img", ...)


def save_figure(fig, path, dpi: int = 120) -> str:
    """Save a Figure as PNG and close it; return the path (the only place figures are written)."""
    import matplotlib.pyplot as plt

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return str(p)


def _paper_lookup(table: int, paper_model: str | None) -> dict:
    rows = paper_rows(table, model=paper_model or "first")
    return {(r["method"], r["variant"]): r["metrics"] for r in rows}


def _variant_key(table: int, variant: str | None) -> str | None:
    """Our variant label -> the paper's (``reference_words=he,she`` -> ``he,she``; sweeps keep ``top_k=0.1``)."""
    if variant and table == 3 and variant.startswith("reference_words="):
        return variant.split("=", 1)[1]
    if variant and "=" in variant:
        k, v = variant.split("=", 1)
        try:
            return f"{k}={float(v)}"
        except ValueError:
            return variant
    return variant


def metric_columns(summary: dict) -> list[str]:
    names: list[str] = []
    for r in summary["rows"]:
        for m in r["metrics"]:
            if m not in names:
                names.append(m)
    pref = [
        "icat",
        "ss",
        "lms",
        "gas",
        "weat",
        "weat_gender",
        "weat_race",
        "weat_age",
        "ppl",
        "accuracy",
        "tpr_gap",
        "ausc",
        "crows",
        "association",
    ]
    return sorted(names, key=lambda m: pref.index(m) if m in pref else 99)


def results_blocks(summary: dict) -> list[Block]:
    """The main table: one row per method / variant, ours (mean ± std) and the paper's value per metric."""
    table = int(summary.get("table") or 0)
    paper = _paper_lookup(table, summary.get("paper_model")) if table else {}
    cols = metric_columns(summary)
    head = ["method", "variant", "seeds"]
    for m in cols:
        arrow = "↑" if HIGHER_IS_BETTER.get(m) else "↓" if m in HIGHER_IS_BETTER else ""
        head += [f"{m} {arrow} (ours)"] + ([f"{m} (paper)"] if any(m in v for v in paper.values()) else [])
    rows = []
    for r in summary["rows"]:
        pv = paper.get((r["method"], _variant_key(table, r["variant"])), {})
        row = [r["method"], r["variant"] or "", str(len(r["seeds"]))]
        for m in cols:
            row.append(format_mean_std(r["metrics"].get(m), digits=4 if m != "ppl" else 2))
            if any(m in v for v in paper.values()):
                row.append("–" if pv.get(m) is None else f"{pv[m]:g}")
        rows.append(row)
    return [("table", head, rows)]


def honesty_lines(summary: dict) -> list[str]:
    """Plain statements of where CrAWD beats, and does not beat, each other method (means over seeds)."""
    by = {(r["method"], r["variant"]): r for r in summary["rows"]}
    crawd = [r for (m, _), r in by.items() if m == "crawd"]
    if len(crawd) != 1:
        return (
            ["Sweep or no CrAWD row: see the table and plots; no method comparison is drawn."]
            if crawd
            else []
        )
    c = crawd[0]
    out = []
    for (m, v), r in by.items():
        if m == "crawd":
            continue
        wins, ties, losses = [], [], []
        for metric, st in c["metrics"].items():
            other = (r["metrics"].get(metric) or {}).get("mean")
            if metric not in HIGHER_IS_BETTER or st.get("mean") is None or other is None:
                continue
            a, b = st["mean"], other
            text = f"{metric} {a:.4g} vs {b:.4g}"
            if abs(a - b) <= 1e-12:
                ties.append(text)
            elif (a > b) == HIGHER_IS_BETTER[metric]:
                wins.append(text)
            else:
                losses.append(text)
        label = m + (f" ({v})" if v else "")
        if wins:
            out.append(f"CrAWD beats {label} on: {'; '.join(wins)}.")
        if ties:
            out.append(f"CrAWD ties with {label} (does not beat it) on: {'; '.join(ties)}.")
        if losses:
            out.append(f"CrAWD does NOT beat {label} on: {'; '.join(losses)}.")
    n = len(c["seeds"])
    if n < 2:
        tail = "; one seed cannot show significance."
    else:
        tail = "; see the t-tests." if summary.get("ttests") else "; no significance test was configured."
    out.append(f"Means over {n} seed(s){tail}")
    return out


RECONSTRUCTED = ("dt", "ibm", "dsd", "ad", "cbe")


def coverage_lines(summary: dict) -> list[str]:
    """Which of the paper's methods have no run here, and which of ours are reconstructions."""
    table = int(summary.get("table") or 0)
    ours = {r["method"] for r in summary["rows"]}
    paper = dict.fromkeys(r["method"] for r in paper_rows(table, model="first")) if table else {}
    out = []
    missing = [m for m in paper if m not in ours]
    if missing:
        why = {"kgdebias": "not reproduced: needs a knowledge-graph pre-training corpus"}
        out.append(
            "Paper methods without a run here: "
            + "; ".join(f"{m} ({why.get(m, 'not run yet')})" for m in missing)
            + "."
        )
    recon = [m for m in ours if m in RECONSTRUCTED] + (
        ["ausc (metric)"] if any("ausc" in r["metrics"] for r in summary["rows"]) else []
    )
    if recon:
        out.append(
            "Reconstructions (the paper gives no complete definition; see docs/BASELINES.md): "
            + ", ".join(recon)
            + "."
        )
    return out


def ttest_blocks(summary: dict) -> list[Block]:
    tests = summary.get("ttests") or []
    if not tests:
        return []
    rows = [
        [
            t["treatment"],
            t["control"],
            t["metric"],
            t["better"],
            "–" if t["t"] is None else f"{t['t']:.3f}",
            "–" if t["p"] is None else f"{t['p']:.4f}",
            "yes" if t["p"] is not None and t["p"] < 0.05 else "no",
        ]
        for t in tests
    ]
    return [
        ("h2", "One-tailed Welch t-tests (the paper's Table 1 test)"),
        ("table", ["treatment", "control", "metric", "H1: treatment", "t", "p", "p < 0.05"], rows),
    ]


def plot_blocks(summary: dict, runs: list[dict], out_dir: Path) -> list[Block]:
    """Make and save the plots of a run directory; return image blocks."""
    from . import plots
    from .inspection import CrossAttentionMap

    blocks: list[Block] = []
    rows = summary["rows"]
    cols = metric_columns(summary)
    fair = next((m for m in ("gas", "weat", "tpr_gap", "weat_gender") if m in cols), None)
    util = next((m for m in ("ppl", "accuracy", "icat") if m in cols), None)
    label = lambda r: r["method"] + (f" {r['variant']}" if r["variant"] else "")  # noqa: E731
    if fair and util:
        pts = [
            {
                "label": label(r),
                "method": r["method"],
                "x": r["metrics"].get(util),
                "y": r["metrics"].get(fair),
            }
            for r in rows
        ]
        f = save_figure(
            plots.fairness_utility_scatter(pts, fairness=fair, utility=util), out_dir / "fairness_utility.png"
        )
        blocks.append(("img", f, f"{fair} vs {util}, all methods"))
    bars = [{"label": label(r), "method": r["method"], "metrics": r["metrics"]} for r in rows]
    f = save_figure(plots.metric_bars(bars, cols[:6]), out_dir / "metrics.png")
    blocks.append(("img", f, "metrics per method (mean ± std)"))
    variants = [r for r in rows if r["variant"] and "=" in r["variant"]]
    key = variants[0]["variant"].split("=")[0] if variants else None
    if key in ("top_k", "decay"):
        pts = [{"x": float(r["variant"].split("=")[1]), "metrics": r["metrics"]} for r in variants]
        table = int(summary.get("table") or 0)
        paper = [
            {"x": float(p["variant"].split("=")[1]), "metrics": p["metrics"]}
            for p in paper_rows(table, model="first")
            if p["variant"] and p["variant"].startswith(key)
        ]
        f = save_figure(
            plots.tradeoff_curve(pts, x_label="top-K" if key == "top_k" else "lambda", paper=paper),
            out_dir / f"tradeoff_{key}.png",
        )
        blocks.append(("img", f, f"trade-off over {key} (ours vs paper)"))
    ca = next(
        (r["details"]["cross_attention"] for r in runs if r.get("details", {}).get("cross_attention")), None
    )
    if ca:
        import torch

        amap = CrossAttentionMap(
            ca["input_tokens"], ca["reference_tokens"], torch.tensor(ca["raw"]), torch.tensor(ca["decayed"])
        )
        f = save_figure(
            plots.cross_attention_heatmap(amap, title="'The doctor said that' vs reference (CrAWD)"),
            out_dir / "cross_attention.png",
        )
        blocks.append(("img", f, "cross-attention heatmap (paper Figure 4)"))
    return blocks


def render_markdown(blocks: list[Block], base: Path) -> str:
    out = []
    for b in blocks:
        if b[0] in ("h1", "h2"):
            out.append(("# " if b[0] == "h1" else "## ") + b[1])
        elif b[0] == "p":
            out.append(b[1])
        elif b[0] == "table":
            out.append("| " + " | ".join(b[1]) + " |\n|" + "---|" * len(b[1]))
            out[-1] += "".join("\n| " + " | ".join(r) + " |" for r in b[2])
        elif b[0] == "img":
            out.append(
                f"![{b[2]}]({Path(b[1]).relative_to(base) if Path(b[1]).is_relative_to(base) else b[1]})"
            )
    return "\n\n".join(out) + "\n"


def render_html(blocks: list[Block], base: Path, title: str) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#f3f3f3}</style></head><body>"
    ]
    for b in blocks:
        if b[0] in ("h1", "h2"):
            parts.append(f"<{b[0]}>{e(b[1])}</{b[0]}>")
        elif b[0] == "p":
            parts.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "table":
            parts.append(
                "<table><tr>"
                + "".join(f"<th>{e(h)}</th>" for h in b[1])
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in b[2])
                + "</table>"
            )
        elif b[0] == "img":
            src = Path(b[1]).relative_to(base) if Path(b[1]).is_relative_to(base) else b[1]
            parts.append(
                f"<figure><img src='{e(str(src))}' style='max-width:100%'><figcaption>{e(b[2])}</figcaption></figure>"
            )
    return "\n".join(parts) + "</body></html>\n"


def build_report(run_dir: str | Path, out_dir: str | Path | None = None, *, plots: bool = True) -> dict:
    """Write ``report.md``, ``report.html`` and the PNGs for a run directory (or a demo directory)."""
    from .experiments.runner import load_runs, summarize

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CrawdDataError(f"run directory not found: {run_dir}")
    out = Path(out_dir) if out_dir else run_dir
    out.mkdir(parents=True, exist_ok=True)
    if (run_dir / "results.json").exists() and not (run_dir / "runs").is_dir():
        summary, runs = _demo_summary(run_dir)
    else:
        if not (run_dir / "runs").is_dir():
            raise CrawdDataError(
                f"{run_dir} has no runs/ folder and no results.json: not a crawd run directory"
            )
        summary, runs = summarize(run_dir), load_runs(run_dir)
    table = int(summary.get("table") or 0)
    title = summary.get("title") or TITLES.get(
        table, f"crawd results: {summary.get('config') or run_dir.name}"
    )
    ds = summary.get("dataset") or {}
    blocks: list[Block] = [
        ("h1", title),
        (
            "p",
            f"Config {summary.get('config')} (scale {summary.get('scale')}), model {summary.get('model')}"
            + (
                f", compared with the paper's {summary.get('paper_model')}"
                if summary.get("paper_model")
                else ""
            )
            + f". Data: {ds.get('name')} from {ds.get('source')} ({ds.get('n_train')} train / {ds.get('n_eval')} eval,"
            f" split seed {ds.get('split_seed')}). {summary.get('n_runs')} runs.",
        ),
        (
            "p",
            "Paper numbers come from a different model, data size and training budget: compare directions and "
            "orderings, not absolute values.",
        ),
    ]
    blocks += [("h2", "Results")] + results_blocks(summary) + [("p", s) for s in coverage_lines(summary)]
    blocks += [("h2", "Where CrAWD wins and where it does not")] + [("p", s) for s in honesty_lines(summary)]
    blocks += ttest_blocks(summary)
    if plots and summary["rows"]:
        blocks += [("h2", "Plots")] + plot_blocks(summary, runs, out)
    md, page = render_markdown(blocks, out), render_html(blocks, out, title)
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(page, encoding="utf-8")
    return {"markdown": str(out / "report.md"), "html": str(out / "report.html"), "summary": summary}


def _demo_summary(run_dir: Path) -> tuple[dict, list[dict]]:
    """A summary of a demo directory (one seed per method) in the runner's format."""
    res = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    rows = [
        {
            "method": r["method"],
            "variant": None,
            "seeds": [r["seed"]],
            "metrics": {k: {"mean": v, "std": 0.0, "n": 1} for k, v in r["metrics"].items()},
        }
        for r in res["runs"]
    ]
    bios = res.get("dataset") == "bias_in_bios"  # the paper's Table 2 setting: show its numbers beside ours
    summary = {
        "config": "demo",
        "table": 2 if bios else 0,
        "paper_model": "Llama2-7B" if bios else None,
        "title": "crawd demo: vanilla vs CrAWD" + (" (paper: Table 2)" if bios else ""),
        "scale": res.get("profile"),
        "model": res["model"],
        "dataset": res.get("data"),
        "n_runs": len(rows),
        "rows": rows,
        "ttests": [],
    }
    ca = res.get("cross_attention", {}).get("after_training")
    runs = [{"details": {"cross_attention": ca}}] if ca else []
    return summary, runs
