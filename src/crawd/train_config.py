"""The YAML file of `crawd train`: model, data, method, CrAWD settings and TrainingArguments."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import CrawdConfig
from .errors import CrawdDataError, CrawdUsageError

_TOP_KEYS = {"model", "task", "method", "data", "crawd", "training", "seed", "num_labels"}
_DATA_KEYS = {"train", "text_field", "label_field", "group_field", "max_length", "limit"}


@dataclass
class TrainSpec:
    """A parsed training YAML (see configs/train_example.yaml)."""

    model: str
    data: dict[str, Any]
    crawd: CrawdConfig
    training: dict[str, Any]
    task: str = "causal-lm"
    method: str = "crawd"
    seed: int = 0
    num_labels: int | None = None
    source: str = field(default="")


def load_train_spec(path: str | os.PathLike) -> TrainSpec:
    """Parse and validate a training YAML; every problem is a one-line `CrawdUsageError`."""
    p = Path(path)
    if not p.exists():
        raise CrawdDataError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CrawdUsageError(f"{p}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise CrawdUsageError(f"{p}: expected a mapping at the top level")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise CrawdUsageError(f"{p}: unknown key(s) {unknown}; valid: {sorted(_TOP_KEYS)}")
    if "model" not in raw:
        raise CrawdUsageError(f"{p}: 'model' is required (e.g. embedded:smollm2)")
    data = raw.get("data") or {}
    if not isinstance(data, dict) or "train" not in data:
        raise CrawdUsageError(f"{p}: 'data.train' (a .txt/.jsonl/.csv file) is required")
    bad = sorted(set(data) - _DATA_KEYS)
    if bad:
        raise CrawdUsageError(f"{p}: unknown data key(s) {bad}; valid: {sorted(_DATA_KEYS)}")
    train_path = Path(data["train"])
    if not train_path.is_absolute():
        train_path = (p.parent / train_path) if (p.parent / train_path).exists() else train_path
    data["train"] = str(train_path)
    crawd_cfg = CrawdConfig.from_dict(dict(raw.get("crawd") or {}))
    training = dict(raw.get("training") or {})
    from transformers import TrainingArguments

    valid = {f.name for f in dataclasses.fields(TrainingArguments)}
    bad = sorted(set(training) - valid)
    if bad:
        raise CrawdUsageError(f"{p}: unknown training key(s) {bad} (TrainingArguments fields)")
    training.setdefault("output_dir", str(Path("runs") / p.stem))
    return TrainSpec(
        model=str(raw["model"]),
        data=data,
        crawd=crawd_cfg,
        training=training,
        task=str(raw.get("task", "causal-lm")),
        method=str(raw.get("method", "crawd")),
        seed=int(raw.get("seed", 0)),
        num_labels=raw.get("num_labels"),
        source=str(p),
    )
