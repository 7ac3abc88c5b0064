"""`crawd run CONFIG`: train every method x sweep value x seed, evaluate, one JSON per run, then a summary.

Finished runs (their JSON exists) are skipped, so an interrupted run resumes where it stopped. Every JSON is
written atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import CrawdUsageError
from .datasets import FinetuneData, load_finetune_data
from .evaluation import evaluate_run
from .paper_numbers import HIGHER_IS_BETTER
from .spec import RunSpec, expand_runs
from .stats import mean_std, one_tailed_welch

ModelFactory = Callable[[dict], tuple]  # cfg -> (fresh base model, tokenizer)


def write_json(path: str | Path, obj) -> None:
    """Write JSON atomically: a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, default=_jsonable)
        fh.write("\n")
    os.replace(tmp, path)


def _jsonable(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    return str(x)


def load_data(cfg: dict) -> FinetuneData:
    d = dict(cfg["dataset"])
    name = d.pop("name")
    d.pop("max_length", None)
    d["seed"] = d.pop("split_seed", 0)
    return load_finetune_data(name, **d)


def load_base(cfg: dict) -> tuple:
    """(fresh base model, tokenizer) for a run, honouring ``model_kwargs`` (dtype, load_in_4bit)."""
    import torch

    from ..models import load_model

    kw = dict(cfg.get("model_kwargs") or {})
    dtype = kw.pop("dtype", None)
    four_bit = bool(kw.pop("load_in_4bit", False)) or bool(cfg["crawd"].get("load_in_4bit", False))
    torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if not torch.cuda.is_available():
        torch_dtype = None if torch_dtype in (torch.float16, torch.bfloat16) else torch_dtype
        four_bit = False
    task = cfg["task"]
    if four_bit:
        return _load_4bit(cfg["model"], task, torch_dtype or torch.bfloat16)
    model, tok = load_model(
        cfg["model"], task=task, num_labels=2 if task == "classification" else None, dtype=torch_dtype, **kw
    )
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tok


def _load_4bit(name: str, task: str, dtype):
    """QLoRA base (4-bit NF4, needs CUDA and bitsandbytes), as in the paper's A.1."""
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BitsAndBytesConfig,
    )

    q = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_use_double_quant=True,
    )
    cls = AutoModelForCausalLM if task == "causal-lm" else AutoModelForSequenceClassification
    extra = {"num_labels": 2} if task == "classification" else {}
    model = cls.from_pretrained(name, quantization_config=q, device_map={"": 0}, dtype=dtype, **extra)
    tok = AutoTokenizer.from_pretrained(name)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.name_or_path = name
    return model, tok


def training_args(cfg: dict, seed: int, progress: bool) -> dict:
    """`transformers.TrainingArguments` keywords from the config's ``training`` section."""
    import torch

    t = cfg["training"]
    cuda = torch.cuda.is_available()
    out = dict(
        per_device_train_batch_size=int(t.get("batch_size", 8)),
        learning_rate=float(t.get("lr", 2e-4)),
        num_train_epochs=float(t.get("epochs", 1)),
        max_steps=int(t.get("max_steps", -1) or -1),
        gradient_accumulation_steps=int(t.get("grad_accum", 1)),
        weight_decay=float(t.get("weight_decay", 0.0)),
        logging_steps=int(t.get("logging_steps", 10)),
        seed=int(seed),
        data_seed=int(seed),
        disable_tqdm=not progress,
        use_cpu=not cuda,
        dataloader_num_workers=0,
    )
    if t.get("warmup_steps"):
        out["warmup_steps"] = t["warmup_steps"]
    if cuda and t.get("bf16", False):
        out["bf16"] = True
    if t.get("gradient_checkpointing"):
        out["gradient_checkpointing"] = True
    optim = t.get("optim")
    if optim:
        if "bnb" in optim or "8bit" in optim:
            try:
                import bitsandbytes  # noqa: F401
            except ImportError:
                optim = "adamw_torch"
        out["optim"] = optim
    return out


def execute_run(
    cfg: dict,
    spec: RunSpec,
    data: FinetuneData,
    *,
    model_factory: ModelFactory | None = None,
    progress: bool = True,
) -> dict:
    """Train (unless ``pretrained``) and evaluate one run; return its JSON record."""
    from transformers import set_seed

    from ..baselines import get_method, train_method
    from ..config import CrawdConfig

    t0 = time.perf_counter()
    set_seed(spec.seed)
    base, tok = (model_factory or load_base)(cfg)
    ccfg = CrawdConfig.from_dict(dict(spec.crawd))
    task = cfg["task"]
    num_labels = len(data.label_names) if task == "classification" and data.label_names else None
    max_length = int(cfg["dataset"].get("max_length", 64 if task == "causal-lm" else 128))
    if spec.method == "pretrained":
        method = None
        vanilla = get_method("vanilla")
        model = vanilla.build(
            base, tok, dataclasses.replace(ccfg, lora_r=0), task=task, num_labels=num_labels
        )
        model.eval()
        stats = {"method": "pretrained", "steps": 0, "train_seconds": 0.0}
    else:
        method = get_method(spec.method, **cfg["method_options"].get(spec.method, {}))
        labels = data.train_labels if task == "classification" else None
        model, stats = train_method(
            method,
            base,
            tok,
            ccfg,
            list(data.train_texts),
            task=task,
            labels=labels,
            groups=data.train_groups,
            num_labels=num_labels,
            max_length=max_length,
            **training_args(cfg, spec.seed, progress),
        )
        stats.pop("step_seconds", None)
    ev = {"max_length": max_length, **cfg["eval"]}
    metrics, details = evaluate_run(
        model,
        tok,
        cfg["metrics"],
        data,
        ev=ev,
        seed=spec.seed,
        method=method,
        reference_words=ccfg.reference_words,
        progress=progress,
    )
    if (
        getattr(model, "crawd_config", None) is not None
        and model.crawd_config.mode == "paper"
        and task == "causal-lm"
    ):
        from ..inspection import cross_attention_map

        details["cross_attention"] = cross_attention_map(model, tok, "The doctor said that").to_dict()
    return {
        "run_id": spec.run_id,
        "config": cfg["name"],
        "table": cfg["table"],
        "scale": cfg["scale"],
        "method": spec.method,
        "variant": spec.variant,
        "seed": spec.seed,
        "model": cfg["model"],
        "dataset": data.info(),
        "crawd_config": {k: v for k, v in ccfg.to_dict().items() if k != "base_fingerprint"},
        "training": stats,
        "metrics": metrics,
        "details": details,
        "settings": spec.settings,
        "seconds": round(time.perf_counter() - t0, 1),
        "env": _env(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _env() -> dict:
    import torch
    import transformers

    from .. import __version__

    dev = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu x{torch.get_num_threads()} threads"
    )
    return {
        "crawd": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "device": dev,
    }


def run_experiment(
    cfg: dict,
    out_dir: str | Path,
    *,
    progress: bool = True,
    rerun: bool = False,
    model_factory: ModelFactory | None = None,
    methods: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run every not-yet-finished run of ``cfg`` into ``out_dir/runs/``; write and return the summary."""
    out = Path(out_dir)
    runs = expand_runs(cfg)
    if methods:
        bad = sorted(set(methods) - set(cfg["methods"]))
        if bad:
            raise CrawdUsageError(f"--method {bad} not in the config's methods {cfg['methods']}")
        runs = [r for r in runs if r.method in methods]
    write_json(out / "config.json", cfg)
    todo = [r for r in runs if rerun or not (out / "runs" / f"{r.run_id}.json").exists()]
    log(f"{cfg['name']}: {len(runs)} runs, {len(runs) - len(todo)} already done, {len(todo)} to do -> {out}")
    data = load_data(cfg) if todo else None
    if data is not None:
        log(f"data: {data.info()}")
    bar = _bar(todo, progress, desc=cfg["name"])
    for spec in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(spec.run_id)
        rec = execute_run(cfg, spec, data, model_factory=model_factory, progress=progress)
        write_json(out / "runs" / f"{spec.run_id}.json", rec)
        log(
            f"  {spec.run_id}: "
            + ", ".join(f"{k}={v:.4g}" for k, v in rec["metrics"].items() if v is not None)
        )
    summary = summarize(out)
    return summary


def _bar(items, progress: bool, desc: str):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="run")


def load_runs(run_dir: str | Path) -> list[dict]:
    """Every run JSON under ``run_dir/runs`` (sorted by run id)."""
    files = sorted(Path(run_dir, "runs").glob("*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def group_key(rec: dict) -> tuple[str, str | None]:
    return rec["method"], rec.get("variant")


def summarize(run_dir: str | Path, cfg: dict | None = None) -> dict:
    """Mean / std per (method, variant) and metric, the configured t-tests; written to ``summary.json``."""
    run_dir = Path(run_dir)
    if cfg is None:
        p = run_dir / "config.json"
        cfg = json.loads(p.read_text()) if p.exists() else {}
    runs = load_runs(run_dir)
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(group_key(r), []).append(r)
    rows = []
    for (method, variant), recs in groups.items():
        names = sorted({k for r in recs for k in r["metrics"]})
        rows.append(
            {
                "method": method,
                "variant": variant,
                "seeds": sorted(r["seed"] for r in recs),
                "metrics": {m: mean_std([r["metrics"].get(m) for r in recs]) for m in names},
                "values": {
                    m: [r["metrics"].get(m) for r in sorted(recs, key=lambda x: x["seed"])] for m in names
                },
                "train_seconds": mean_std([r.get("training", {}).get("train_seconds") for r in recs]),
            }
        )
    order = {m: i for i, m in enumerate(cfg.get("methods", []))}
    rows.sort(key=lambda r: (order.get(r["method"], 99), str(r["variant"])))
    summary = {
        "config": cfg.get("name"),
        "table": cfg.get("table"),
        "scale": cfg.get("scale"),
        "model": cfg.get("model"),
        "paper_model": cfg.get("paper_model"),
        "dataset": runs[0]["dataset"] if runs else None,
        "n_runs": len(runs),
        "rows": rows,
        "ttests": ttests(rows, cfg.get("ttest")),
    }
    write_json(run_dir / "summary.json", summary)
    return summary


def ttests(rows: list[dict], spec: dict | None) -> list[dict]:
    """One-tailed Welch tests of the treatment against each control, per metric, in the metric's direction."""
    if not spec:
        return []
    by_method = {r["method"]: r for r in rows if r["variant"] is None}
    treat = by_method.get(spec.get("treatment", "crawd"))
    out = []
    if treat is None:
        return out
    for ctrl_name in spec.get("controls", ["vanilla"]):
        ctrl = by_method.get(ctrl_name)
        if ctrl is None:
            continue
        for m, vals in treat["values"].items():
            if m not in HIGHER_IS_BETTER or m not in ctrl["values"]:
                continue
            better = "higher" if HIGHER_IS_BETTER[m] else "lower"
            res = one_tailed_welch(vals, ctrl["values"][m], better=better)
            out.append(
                {"treatment": treat["method"], "control": ctrl_name, "metric": m, "better": better, **res}
            )
    return out
