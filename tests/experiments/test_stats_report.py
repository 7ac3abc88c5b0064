"""Statistics, paper numbers and report rendering (from hand-written run JSONs: no training)."""

from __future__ import annotations

import json

import pytest

from crawd.errors import CrawdDataError
from crawd.experiments.paper_numbers import PAPER, paper_value
from crawd.experiments.runner import write_json
from crawd.experiments.stats import mean_std, one_tailed_welch
from crawd.report import build_report


def test_mean_std_and_welch_match_scipy():
    from scipy import stats

    a, b = [0.30, 0.35, 0.33, 0.31, 0.36], [0.50, 0.46, 0.55, 0.52, 0.49]
    r = one_tailed_welch(a, b, better="lower")
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert r["t"] == pytest.approx(ref.statistic) and r["p"] == pytest.approx(ref.pvalue / 2)
    assert one_tailed_welch(a, b, better="higher")["p"] == pytest.approx(1 - ref.pvalue / 2)
    assert mean_std([1, 2, 3, 4])["std"] == pytest.approx(1.2909944)


def test_paper_numbers_cover_every_table():
    assert sorted(PAPER) == [1, 2, 3, 4, 5, 6, 7]
    assert paper_value(2, "vanilla", "gas") == 0.86 and paper_value(2, "crawd", "ppl") == 22.646
    assert paper_value(4, "crawd", "accuracy") == 0.972 and paper_value(4, "crawd", "tpr_gap") == 0.042
    assert paper_value(1, "crawd", "weat", model="GPT2") == 0.374
    assert paper_value(6, "crawd", "gas", variant="decay=0.3") == 0.125
    assert paper_value(7, "ibm", "ppl", model="LLaMA3-8B") == 111.783


def _run(run_dir, method, seed, metrics, variant=None):
    rid = f"{method}_{variant or ''}_s{seed}"
    write_json(
        run_dir / "runs" / f"{rid}.json",
        {
            "run_id": rid,
            "method": method,
            "variant": variant,
            "seed": seed,
            "metrics": metrics,
            "dataset": {"name": "bias_in_bios", "source": "x", "n_train": 8, "n_eval": 4, "split_seed": 0},
            "training": {"train_seconds": 1.0},
            "details": {
                "cross_attention": {
                    "input_tokens": ["The", "doctor"],
                    "reference_tokens": ["he", "she"],
                    "raw": [[0.4, 0.6], [0.3, 0.7]],
                    "decayed": [[0.4, 0.12], [0.3, 0.14]],
                }
            },
        },
    )


def test_report_layout_paper_columns_honesty_and_plots(tmp_path):
    write_json(
        tmp_path / "config.json",
        {
            "name": "t2",
            "table": 2,
            "scale": "cpu",
            "model": "m",
            "paper_model": "Llama2-7B",
            "methods": ["vanilla", "crawd"],
            "ttest": {"treatment": "crawd", "controls": ["vanilla"]},
        },
    )
    for s in (0, 1):
        _run(tmp_path, "vanilla", s, {"gas": 0.5 + s / 100, "ppl": 20.0 + s, "weat": 0.3})
        _run(tmp_path, "crawd", s, {"gas": 0.6 + s / 100, "ppl": 19.0 + s, "weat": 0.3})
    paths = build_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| method | variant | seeds | gas ↓ (ours) | gas (paper)" in md
    assert "0.86" in md and "0.34" in md  # the paper's vanilla / CrAWD GAS beside ours
    assert "CrAWD does NOT beat vanilla on: gas" in md
    assert "CrAWD beats vanilla on: ppl" in md
    assert "One-tailed Welch" in md
    for png in ("fairness_utility.png", "metrics.png", "cross_attention.png"):
        assert (tmp_path / png).stat().st_size > 1000
    html = (tmp_path / "report.html").read_text()
    assert "<table>" in html and "cross_attention.png" in html
    assert json.loads((tmp_path / "summary.json").read_text())["n_runs"] == 4
    assert paths["html"].endswith("report.html")


def test_report_sweep_draws_tradeoff(tmp_path):
    write_json(tmp_path / "config.json", {"name": "t5", "table": 5, "methods": ["crawd"]})
    for k in (0.1, 0.4):
        _run(tmp_path, "crawd", 0, {"gas": k, "weat": 0.2, "ppl": 20 + k}, variant=f"top_k={k}")
    build_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "tradeoff_top_k.png" in md and "0.485" in md  # paper's top-K 10% GAS
    assert (tmp_path / "tradeoff_top_k.png").exists()


def test_report_errors(tmp_path):
    with pytest.raises(CrawdDataError):
        build_report(tmp_path / "nope")
    with pytest.raises(CrawdDataError):
        build_report(tmp_path)
