"""The `crawd` command line. Errors in user input print one line and exit with status 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from .errors import CrawdError

app = typer.Typer(
    name="crawd",
    help="Fair fine-tuning of Hugging Face language models with Cross-Attention-based Weight Decay (CrAWD).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _load_any(model: str, *, task: str = "causal-lm"):
    """A saved CrAWD directory, ``embedded:NAME``, a local model directory or a hub id -> (model, tokenizer)."""
    from .config import CONFIG_NAME

    if os.path.isdir(model) and os.path.exists(os.path.join(model, CONFIG_NAME)):
        from .baselines import load_pretrained

        m = load_pretrained(model)  # any method's saved model (DSD and AD carry extra modules)
        return m, m.tokenizer
    from .models import load_model

    return load_model(model, task=task)


@app.command()
def train(
    config: Path = typer.Argument(..., help="Training YAML (see configs/train_example.yaml)."),
    resume: bool = typer.Option(False, "--resume", help="Resume from the last checkpoint in the output dir."),
    output_dir: str | None = typer.Option(None, "--output-dir", help="Override training.output_dir."),
    method: str | None = typer.Option(
        None, "--method", help="Override the config's method (crawd, vanilla, ...)."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Override training.max_steps."),
) -> None:
    """Fine-tune a model with CrAWD (or a baseline) on a text / jsonl / csv file; saves only the adapter."""
    from .train_cli import run_training

    out = run_training(config, resume=resume, output_dir=output_dir, method=method, max_steps=max_steps)
    typer.echo(f"saved to {out}")


@app.command()
def generate(
    model: str = typer.Option(..., "--model", help="Saved CrAWD dir, embedded:smollm2, local dir or hub id."),
    prompt: list[str] = typer.Option(..., "--prompt", help="Prompt text (repeat for a batch)."),
    max_new_tokens: int = typer.Option(40, "--max-new-tokens", min=1),
    sample: bool = typer.Option(False, "--sample/--greedy", help="Sample (temperature 1) instead of greedy."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate text from a prompt, with the CrAWD branch active at every step."""
    import torch

    m, tok = _load_any(model)
    torch.manual_seed(seed)
    tok.padding_side = "left"
    enc = tok(list(prompt), return_tensors="pt", padding=True).to(m.device)
    with torch.no_grad():
        out = m.generate(
            **enc, max_new_tokens=max_new_tokens, do_sample=sample, pad_token_id=tok.pad_token_id
        )
    for p, row in zip(prompt, out, strict=True):
        typer.echo(p + tok.decode(row[enc["input_ids"].shape[1] :], skip_special_tokens=True))


@app.command()
def inspect(
    model: str = typer.Option("embedded:smollm2", "--model", help="Saved CrAWD dir or a base model."),
    prompt: str = typer.Option("The doctor said that", "--prompt"),
    reference: str = typer.Option("he,she", "--reference", help="Reference words / groups for a base model."),
    top_k: float = typer.Option(0.4, "--top-k"),
    decay: float = typer.Option(0.2, "--decay"),
    heatmap: Path | None = typer.Option(None, "--heatmap", help="Save a PNG heatmap (the paper's Figure 4)."),
    seed: int = typer.Option(0, "--seed", help="Seed of a freshly initialised block (base models)."),
) -> None:
    """Print the cross-attention matrix of a prompt against the reference, before and after the decay."""
    import torch

    from .config import CrawdConfig
    from .inspection import cross_attention_map, plot_cross_attention
    from .modeling import CrawdForCausalLM

    cfg = CrawdConfig(
        reference_words=reference.split(","), top_k=top_k, decay=decay, lora_r=0
    )  # validate first
    m, tok = _load_any(model)
    if not hasattr(m, "cross_attention_weights"):
        torch.manual_seed(seed)
        m = CrawdForCausalLM.from_base(m, tok, cfg).eval()
        typer.echo("(base model: the cross-attention block is freshly initialised, not trained)")
    amap = cross_attention_map(m, tok, prompt)
    typer.echo("cross-attention (mean over heads), before decay:\n" + amap.format("raw"))
    typer.echo("\nafter decay:\n" + amap.format("decayed"))
    if heatmap is not None:
        fig = plot_cross_attention(amap, title=f"{prompt!r} vs reference")
        heatmap.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(heatmap, dpi=120)
        typer.echo(f"heatmap saved to {heatmap}")


def _register_commands() -> None:
    """Commands that live in their own modules (evaluation, experiments)."""
    from .cli_eval import eval_command
    from .cli_experiments import demo_command, report_command, run_command

    app.command("eval")(eval_command)
    app.command("run")(run_command)
    app.command("report")(report_command)
    app.command("demo")(demo_command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors with exit status 2 for usage errors, never a traceback."""
    try:  # typer >= 0.20 vendors click; Abort / Exit live in typer.exceptions there
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
        from typer.exceptions import Abort, Exit
    except ImportError:  # pragma: no cover
        from click.exceptions import Abort, Exit, NoArgsIsHelpError, UsageError

    try:
        rv = app(args=argv, standalone_mode=False, prog_name="crawd")
        return rv if isinstance(rv, int) else 0
    except NoArgsIsHelpError:  # the help was printed already
        return 0
    except UsageError as exc:
        typer.echo(f"crawd: error: {exc.format_message()}", err=True)
        return 2
    except Exit as exc:
        return exc.exit_code
    except Abort:
        typer.echo("crawd: aborted", err=True)
        return 130
    except (CrawdError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.echo(f"crawd: error: {msg}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("crawd: interrupted", err=True)
        return 130


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
