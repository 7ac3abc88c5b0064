"""Experiment configs: the YAML schema, ``--set`` overrides, and the expansion into runs with stable ids.

A config names one table at one scale::

    name: table2_cpu          # the run directory's default name
    table: 2                  # which of the paper's tables (1-7) it reproduces; 0 = none (the demo)
    scale: cpu                # cpu | paper
    model: embedded:smollm2   # hub id, local path or embedded:NAME
    paper_model: Llama2-7B    # the paper's row the report compares with (optional)
    task: causal-lm           # causal-lm | classification
    dataset: {name: bias_in_bios, source: local, limit: 256, eval_size: 64, split_seed: 0, max_length: 48}
    methods: [vanilla, crawd, dt]
    method_options: {dt: {w_g: 1.0}}
    crawd: {reference_words: [gender], top_k: 0.4, decay: 0.2}   # CrawdConfig fields, shared by all methods
    sweep: {top_k: [0.1, 0.2]}  # optional: one CrawdConfig field varied (Tables 3, 5, 6)
    seeds: [0, 1, 2]
    training: {max_steps: 30, batch_size: 8, lr: 2.0e-4, epochs: 1}
    metrics: [ppl, gas, weat]
    eval: {limit: 64, gas_prompts: 24}
    ttest: {treatment: crawd, controls: [pretrained, vanilla]}   # Table 1
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CrawdDataError, CrawdUsageError

KEYS = {
    "name",
    "table",
    "scale",
    "description",
    "model",
    "paper_model",
    "task",
    "dataset",
    "methods",
    "method_options",
    "crawd",
    "sweep",
    "seeds",
    "training",
    "metrics",
    "eval",
    "ttest",
    "model_kwargs",
}
REQUIRED = ("name", "model", "dataset", "methods", "seeds", "metrics")
TRAINING_KEYS = {
    "max_steps",
    "epochs",
    "batch_size",
    "lr",
    "grad_accum",
    "warmup_steps",
    "weight_decay",
    "bf16",
    "optim",
    "gradient_checkpointing",
    "logging_steps",
}
DATASET_KEYS = {
    "name",
    "source",
    "path",
    "limit",
    "eval_size",
    "split_seed",
    "max_length",
    "hub_id",
    "hub_data_dir",
    "text_field",
}
SPECIAL_METHODS = ("pretrained",)


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict:
    """Read and validate a YAML config; ``overrides`` are ``key.sub=value`` strings (values parsed as YAML)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise CrawdDataError(f"config file not found: {p}")
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CrawdUsageError(f"{p}: invalid YAML{where}") from None
    if not isinstance(cfg, dict):
        raise CrawdUsageError(f"{p}: the config must be a YAML mapping")
    for ov in overrides or []:
        apply_override(cfg, ov)
    return validate(cfg, source=str(p))


def apply_override(cfg: dict, text: str) -> None:
    """Apply one ``a.b.c=value`` override in place.

    >>> c = {"training": {"max_steps": 30}}
    >>> apply_override(c, "training.max_steps=2"); c["training"]["max_steps"]
    2
    >>> apply_override(c, "seeds=[0, 1]"); c["seeds"]
    [0, 1]
    """
    import yaml

    if "=" not in text:
        raise CrawdUsageError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise CrawdUsageError(f"override {text!r}: the value is not valid YAML") from None
    node = cfg
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise CrawdUsageError(f"override {text!r}: {part!r} is not a section")
    node[parts[-1]] = value


def validate(cfg: dict, source: str = "config") -> dict:
    """Check keys and types; fill defaults. Errors are one-line `CrawdUsageError`s."""
    cfg = copy.deepcopy(cfg)
    unknown = sorted(set(cfg) - KEYS)
    if unknown:
        raise CrawdUsageError(f"{source}: unknown key(s) {unknown}; valid: {sorted(KEYS)}")
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise CrawdUsageError(f"{source}: missing key(s) {missing}")
    cfg.setdefault("table", 0)
    cfg.setdefault("scale", "cpu")
    cfg.setdefault("task", "causal-lm")
    for sec in ("crawd", "training", "eval", "method_options", "sweep", "model_kwargs"):
        cfg.setdefault(sec, {})
        if not isinstance(cfg[sec], dict):
            raise CrawdUsageError(f"{source}: '{sec}' must be a mapping")
    if isinstance(cfg["dataset"], str):
        cfg["dataset"] = {"name": cfg["dataset"]}
    if not isinstance(cfg["dataset"], dict) or "name" not in cfg["dataset"]:
        raise CrawdUsageError(f"{source}: 'dataset' needs a name")
    _keys(cfg["dataset"], DATASET_KEYS, f"{source}: dataset")
    _keys(cfg["training"], TRAINING_KEYS, f"{source}: training")
    if cfg["scale"] not in ("cpu", "paper"):
        raise CrawdUsageError(f"{source}: scale must be 'cpu' or 'paper', got {cfg['scale']!r}")
    for k in ("methods", "seeds", "metrics"):
        if not isinstance(cfg[k], list) or not cfg[k]:
            raise CrawdUsageError(f"{source}: '{k}' must be a non-empty list")
    if not all(isinstance(s, int) for s in cfg["seeds"]):
        raise CrawdUsageError(f"{source}: seeds must be integers")
    if len(cfg["sweep"]) > 1:
        raise CrawdUsageError(f"{source}: sweep varies one field, got {sorted(cfg['sweep'])}")
    for k, vals in cfg["sweep"].items():
        if not isinstance(vals, list) or not vals:
            raise CrawdUsageError(f"{source}: sweep.{k} must be a non-empty list")
    _check_methods(cfg, source)
    from .evaluation import check_metrics

    check_metrics(cfg["metrics"], cfg["task"])
    _crawd_config(cfg["crawd"])  # validates the fields early
    return cfg


def _keys(section: dict, valid: set, where: str) -> None:
    bad = sorted(set(section) - valid)
    if bad:
        raise CrawdUsageError(f"{where}: unknown key(s) {bad}; valid: {sorted(valid)}")


def _check_methods(cfg: dict, source: str) -> None:
    from ..baselines import available, get_method

    avail = set(available(cfg["task"]))
    for m in cfg["methods"]:
        if m in SPECIAL_METHODS:
            continue
        get_method(m, **cfg["method_options"].get(m, {}))  # unknown name / option -> CrawdUsageError
        if m not in avail:
            raise CrawdUsageError(
                f"{source}: method {m!r} does not support task {cfg['task']!r}; use {sorted(avail)}"
            )


def _crawd_config(fields: dict):
    from ..config import CrawdConfig

    return CrawdConfig.from_dict(dict(fields))


@dataclass
class RunSpec:
    """One training + evaluation run: a method, an optional sweep value, a seed."""

    method: str
    seed: int
    variant: str | None = None
    crawd: dict = field(default_factory=dict)  # CrawdConfig fields of this run
    run_id: str = ""
    settings: dict = field(default_factory=dict)  # everything that determines the result (hashed into run_id)


def _slug(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = "+".join(map(str, value))
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", str(value)).strip("-")


def variant_label(key: str, value: Any) -> str:
    """``"top_k=0.1"``, ``"reference_words=he,she"``."""
    v = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
    return f"{key}={v}"


def expand_runs(cfg: dict) -> list[RunSpec]:
    """Every (method x sweep value x seed) run of a config, each with a run id encoding its settings.

    The id is ``<method>[_<sweep key>-<value>]_s<seed>_<hash>`` where the hash covers the model, data,
    CrawdConfig fields, training and evaluation settings, so a changed config never reuses old results.
    """
    sweep = list(cfg["sweep"].items())
    values: list[tuple[str | None, dict]] = [(None, {})]
    if sweep:
        key, vals = sweep[0]
        values = [(variant_label(key, v), {key: v}) for v in vals]
    runs = []
    for method in cfg["methods"]:
        for label, extra in values:
            crawd = {**cfg["crawd"], **extra}
            for seed in cfg["seeds"]:
                settings = {
                    "model": cfg["model"],
                    "task": cfg["task"],
                    "dataset": cfg["dataset"],
                    "method": method,
                    "method_options": cfg["method_options"].get(method, {}),
                    "crawd": crawd,
                    "training": cfg["training"],
                    "metrics": cfg["metrics"],
                    "eval": cfg["eval"],
                    "seed": seed,
                    "model_kwargs": cfg["model_kwargs"],
                }
                digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[
                    :8
                ]
                parts = [method] + ([_slug(label.replace("=", "-"))] if label else []) + [f"s{seed}", digest]
                runs.append(
                    RunSpec(
                        method=method,
                        seed=seed,
                        variant=label,
                        crawd=crawd,
                        run_id="_".join(parts),
                        settings=settings,
                    )
                )
    return runs
