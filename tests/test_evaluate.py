import json

import pytest
import typer
from conftest import needs_bias_data
from typer.testing import CliRunner

from crawd.cli_eval import eval_command, write_json_atomic
from crawd.errors import CrawdUsageError
from crawd.evaluate import BENCHMARKS, evaluate, parse_benchmarks


@pytest.fixture(scope="module")
def tiny():
    from conftest import tiny_causal_lm

    return tiny_causal_lm("llama", seed=1)


def test_unknown_benchmark_lists_valid_names():
    with pytest.raises(CrawdUsageError) as e:
        parse_benchmarks("ppl,bogus")
    assert all(b in str(e.value) for b in BENCHMARKS)
    assert parse_benchmarks("all") == list(BENCHMARKS)


def test_evaluate_small_limits_reproducible_and_json(tiny, tmp_path):
    model, tok = tiny
    names = ["ppl", "crows", "stereoset", "association", "winobias", "counterfactual"]
    a = evaluate(model, tok, names, limit=3, seed=5, batch_size=8, progress=False)
    assert list(a) == names
    for name, r in a.items():
        assert r["value"] is not None and r["n"] > 0, name
        assert r["source"] and r["settings"]["seed"] == 5
    assert a["crows"]["n"] == 3 and a["stereoset"]["n"] == 6
    q = evaluate(model, tok, ["bbq"], limit=1, progress=False)["bbq"]
    assert q["n"] == 7 and q["detail"]["by_category"]
    b = evaluate(model, tok, ["ppl", "crows"], limit=3, seed=5, batch_size=3, progress=False)
    assert b["ppl"]["value"] == pytest.approx(a["ppl"]["value"], rel=1e-5)
    assert b["crows"]["value"] == a["crows"]["value"]
    out = write_json_atomic(a, tmp_path / "sub" / "r.json")
    assert json.loads(out.read_text())["ppl"]["value"] == pytest.approx(a["ppl"]["value"])
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]


def test_gas_and_weat_seeded(tiny):
    from crawd.metrics import generate_for_gas, weat

    model, tok = tiny
    g1 = generate_for_gas(model, tok, limit=3, max_new_tokens=6, seed=1, batch_size=2)
    g2 = generate_for_gas(model, tok, limit=3, max_new_tokens=6, seed=1, batch_size=2)
    assert g1.texts == g2.texts and g1.to_dict() == g2.to_dict()
    assert g1.settings["n_prompts"] == 3 and g1.settings["max_new_tokens"] == 6
    w1 = weat(model, tok, tests=["weat6", "weat10"], n_permutations=200, seed=2)
    w2 = weat(model, tok, tests=["weat6", "weat10"], n_permutations=200, seed=2)
    assert w1.to_dict() == w2.to_dict()
    assert set(w1.by_attribute) == {"gender", "age"}
    assert w1.value == pytest.approx((abs(w1.tests["weat6"]["d"]) + abs(w1.tests["weat10"]["d"])) / 2)


@needs_bias_data
def test_cli_eval_command_on_saved_model_dir(tiny, tmp_path):
    model, tok = tiny
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    app = typer.Typer()
    app.command("eval")(eval_command)
    app.command("noop")(lambda: None)
    out = tmp_path / "res.json"
    res = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            str(tmp_path / "m"),
            "--benchmarks",
            "ppl,crows",
            "--limit",
            "2",
            "--out",
            str(out),
            "--no-progress",
            "--batch-size",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["benchmarks"] == ["ppl", "crows"] and data["results"]["crows"]["n"] == 2
    bad = CliRunner().invoke(app, ["eval", "--model", str(tmp_path / "m"), "--benchmarks", "nope"])
    assert bad.exit_code != 0 and isinstance(bad.exception, CrawdUsageError)
