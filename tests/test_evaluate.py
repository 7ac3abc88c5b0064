import json

import pytest
import typer
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
    names = ["ppl", "crows", "stereoset", "association", "winobias", "bbq", "counterfactual"]
    a = evaluate(model, tok, names, limit=3, seed=5, batch_size=8, progress=False)
    assert list(a) == names
    for name, r in a.items():
        assert r["value"] is not None and r["n"] > 0, name
        assert r["source"] and r["settings"]["seed"] == 5
    assert a["crows"]["n"] == 3 and a["stereoset"]["n"] == 6
    b = evaluate(model, tok, ["ppl", "crows"], limit=3, seed=5, batch_size=3, progress=False)
    assert b["ppl"]["value"] == pytest.approx(a["ppl"]["value"], rel=1e-5)
    assert b["crows"]["value"] == a["crows"]["value"]
    out = write_json_atomic(a, tmp_path / "sub" / "r.json")
    assert json.loads(out.read_text())["ppl"]["value"] == pytest.approx(a["ppl"]["value"])
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]


def test_gas_and_weat_seeded(tiny):
    model, tok = tiny
    r1 = evaluate(model, tok, ["gas", "weat"], limit=4, seed=1, progress=False)
    r2 = evaluate(model, tok, ["gas", "weat"], limit=4, seed=1, progress=False)
    assert r1["gas"]["detail"] == r2["gas"]["detail"]
    assert r1["weat"]["value"] == pytest.approx(r2["weat"]["value"])
    assert set(r1["weat"]["detail"]["by_attribute"]) == {"gender", "race", "age"}
    assert r1["gas"]["settings"]["n_prompts"] == 4 and r1["gas"]["settings"]["max_new_tokens"] == 40


def test_cli_eval_command_on_saved_model_dir(tiny, tmp_path):
    model, tok = tiny
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    app = typer.Typer()
    app.command("eval")(eval_command)
    app.command("noop")(lambda: None)
    out = tmp_path / "res.json"
    res = CliRunner().invoke(app, ["eval", "--model", str(tmp_path / "m"), "--benchmarks", "ppl,crows",
                                   "--limit", "2", "--out", str(out), "--no-progress", "--batch-size", "2"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["benchmarks"] == ["ppl", "crows"] and data["results"]["crows"]["n"] == 2
    bad = CliRunner().invoke(app, ["eval", "--model", str(tmp_path / "m"), "--benchmarks", "nope"])
    assert bad.exit_code != 0 and isinstance(bad.exception, CrawdUsageError)
