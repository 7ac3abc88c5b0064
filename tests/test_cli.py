"""The command line: one-line errors with exit status 2, and the core commands end to end on tiny models."""

import json

import pytest
from conftest import tiny_causal_lm

from crawd.cli import main


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-llama")
    model, tok = tiny_causal_lm("llama")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "argv_fn, needle",
    [
        (lambda t: ["train", str(t / "missing.yaml")], "not found"),
        (lambda t: ["train", str(_write(t / "bad.yaml", "model: [unclosed\n"))], "invalid YAML"),
        (
            lambda t: ["train", str(_write(t / "k.yaml", "model: x\ndata: {train: a.txt}\nbogus: 1\n"))],
            "unknown key",
        ),
        (lambda t: ["generate", "--model", "embedded:nope", "--prompt", "hi"], "unknown embedded model"),
        (lambda t: ["generate", "--model", str(t / "no-such-dir"), "--prompt", "hi"], "no-such-dir"),
        (lambda t: ["inspect", "--model", "embedded:smollm2", "--top-k", "1.5"], "top_k must be in (0, 1]"),
        (lambda t: ["inspect", "--model", "embedded:smollm2", "--reference", " , "], "reference_words"),
        (lambda t: ["frobnicate"], "No such command"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, argv_fn, needle, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(argv_fn(tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert needle in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("train", "generate", "inspect"):
        assert cmd in out


def test_train_generate_inspect_roundtrip(tmp_path, tiny_model_dir, capsys):
    corpus = _write(
        tmp_path / "c.jsonl",
        "\n".join(
            json.dumps({"text": f"The nurse said {w} was late."}) for w in ["she", "he", "they", "we"] * 4
        ),
    )
    cfg = _write(
        tmp_path / "t.yaml",
        f"""
model: {tiny_model_dir}
method: crawd
data: {{train: {corpus}, max_length: 16}}
crawd: {{reference_words: [gender], lora_r: 4}}
training: {{output_dir: {tmp_path / "run"}, max_steps: 4, per_device_train_batch_size: 4, save_steps: 2,
           learning_rate: 0.001, disable_tqdm: true}}
""",
    )
    assert main(["train", str(cfg)]) == 0
    assert (tmp_path / "run" / "final" / "crawd_model.safetensors").exists()
    assert (tmp_path / "run" / "checkpoint-4" / "crawd_config.json").exists()
    assert main(["train", str(cfg), "--resume", "--max-steps", "6"]) == 0
    capsys.readouterr()
    final = str(tmp_path / "run" / "final")
    assert main(["generate", "--model", final, "--prompt", "The doctor said", "--max-new-tokens", "3"]) == 0
    assert capsys.readouterr().out.startswith("The doctor said")
    png = tmp_path / "heat.png"
    assert main(["inspect", "--model", final, "--prompt", "The doctor said that", "--heatmap", str(png)]) == 0
    out = capsys.readouterr().out
    assert "after decay" in out and "she" in out and png.stat().st_size > 1000
