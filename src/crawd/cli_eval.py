"""``crawd eval``: run bias / utility benchmarks on a model and write JSON (registered by ``crawd.cli``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import typer

from .errors import CrawdUsageError


def load_for_eval(model: str):
    """(model, tokenizer) for ``embedded:NAME``, a hub id, a plain HF directory or a saved CrAWD model
    (a directory with ``crawd_config.json``, loaded by ``crawd.CrawdForCausalLM.from_pretrained``)."""
    p = Path(model)
    if p.is_dir() and (p / "crawd_config.json").exists():
        import crawd

        wrapped = crawd.CrawdForCausalLM.from_pretrained(str(p))
        return wrapped, wrapped.tokenizer
    from .models import load_model

    return load_model(model, task="causal-lm")


def write_json_atomic(obj, out: str | os.PathLike) -> Path:
    """Write ``obj`` as JSON to ``out`` via a temporary file in the same folder and ``os.replace``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


def eval_command(
    model: str = typer.Option(
        "embedded:smollm2",
        "--model",
        "-m",
        help="embedded:smollm2, a model directory (plain HF or saved CrAWD) or a hub id",
    ),
    benchmarks: str = typer.Option(
        "ppl,crows,stereoset",
        "--benchmarks",
        "-b",
        help="comma-separated: ppl,gas,weat,stereoset,crows,bbq,winobias,counterfactual,association (or all)",
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="items per benchmark (default: all)"),
    seed: int = typer.Option(0, "--seed", help="seed for generation, permutations and bootstraps"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the results JSON here (atomically)"),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="sequences per forward pass"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="tqdm progress bars"),
) -> dict:
    """Evaluate a model on bias and utility benchmarks; print a summary and optionally write JSON."""
    from .evaluate import evaluate, parse_benchmarks

    names = parse_benchmarks(benchmarks)  # fail fast, before loading the model
    if limit is not None and limit < 1:
        raise CrawdUsageError("--limit must be >= 1")
    mdl, tok = load_for_eval(model)
    results = evaluate(mdl, tok, names, limit=limit, seed=seed, batch_size=batch_size, progress=progress)
    payload = {"model": model, "benchmarks": names, "limit": limit, "seed": seed, "results": results}
    for name, r in results.items():
        ci = r.get("ci95")
        ci_s = f"  [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else ""
        val = r["value"]
        typer.echo(
            f"{name:15s} {val if val is None else format(val, '.4g'):>10}{ci_s}  (n={r['n']}, {r['seconds']}s)"
        )
    if out is not None:
        write_json_atomic(payload, out)
        typer.echo(f"wrote {out}")
    return payload
