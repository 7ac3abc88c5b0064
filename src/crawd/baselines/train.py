"""`train_method`: train any method by name with `CrawdTrainer`, and `load_pretrained` to restore it."""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

import torch
from transformers import TrainerCallback, TrainingArguments

from ..config import CrawdConfig
from ..errors import CrawdUsageError
from ..training import CrawdTrainer, causal_lm_dataset, classification_dataset, lm_collator
from .base import METHOD_FILE, Method


class StepTimer(TrainerCallback):
    """Wall-clock seconds of every optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t0 = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._t0)


def _columns(data) -> list[str] | None:
    return list(data.column_names) if hasattr(data, "column_names") else None


def _group_ids(groups: list | None) -> tuple[list[int] | None, dict | None]:
    """Map group values to ints (ints are kept; other values by sorted order; None -> -1)."""
    if groups is None:
        return None, None
    if all(isinstance(g, int) for g in groups):
        return list(groups), None
    values = sorted({str(g) for g in groups if g is not None})
    mapping = {v: i for i, v in enumerate(values)}
    return [(-1 if g is None else mapping[str(g)]) for g in groups], mapping


def train_method(
    name: str | Method,
    base_model,
    tokenizer,
    config: CrawdConfig,
    train_data,
    *,
    task: str = "causal-lm",
    labels=None,
    groups=None,
    num_labels: int | None = None,
    method_options: dict[str, Any] | None = None,
    max_length: int | None = None,
    output_dir: str | None = None,
    **training_args: Any,
):
    """Build, prepare and train method ``name`` on ``train_data``; return (model, stats).

    ``train_data``: a list of texts, or a `datasets.Dataset` with a ``text`` column (and ``labels`` /
    ``label``, ``group``), or an already tokenized dataset (only for methods that leave the data as
    is). ``training_args`` override `transformers.TrainingArguments` (defaults: batch 8, 1 epoch,
    lr 2e-4, no saving, no reporting). ``base_model`` is wrapped in place: load a fresh one per run.
    ``stats`` holds the method, seconds per step (mean over steps after the first) and the loss parts.
    """
    from . import get_method

    method = get_method(name, **(method_options or {})) if isinstance(name, str) else name
    method.check_task(task)
    method.configure(config)
    cols = _columns(train_data)
    texts = None
    if cols is None:
        texts = [str(t) for t in train_data]
    elif "text" in cols:
        texts = list(train_data["text"])
        if labels is None:
            key = "labels" if "labels" in cols else "label" if "label" in cols else None
            labels = list(train_data[key]) if key else None
        if groups is None and "group" in cols:
            groups = list(train_data["group"])
    elif (
        type(method).transform_train_data is not Method.transform_train_data
        or type(method).prepare is not Method.prepare
    ):
        raise CrawdUsageError(
            f"method {method.name!r} needs raw texts: give a list or a dataset with a 'text' column"
        )
    n_in = len(texts) if texts is not None else len(train_data)
    if texts is not None:
        texts, labels, groups = method.transform_train_data(texts, labels, groups)
    group_ids, group_map = _group_ids(groups)
    if group_ids is not None and method.options.get("num_groups", 0) is None:
        method.options["num_groups"] = max(2, max(group_ids) + 1)
    if task == "classification" and texts is not None and labels is None:
        raise CrawdUsageError("classification needs labels (labels= or a 'labels' column)")
    model = method.build(base_model, tokenizer, config, task=task, num_labels=num_labels)
    method.prepare(model, tokenizer, texts, labels, group_ids)
    if texts is None:
        dataset = train_data
    elif task == "causal-lm":
        dataset = causal_lm_dataset(texts, tokenizer, max_length=max_length or 64)
    else:
        extra = {"group": group_ids} if group_ids is not None else None
        dataset = classification_dataset(texts, labels, tokenizer, max_length=max_length or 128, extra=extra)
    if task == "causal-lm":
        collator = lm_collator(tokenizer)
    else:
        from transformers import DataCollatorWithPadding

        collator = DataCollatorWithPadding(tokenizer)
    tmp = None
    if output_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="crawd-method-")
        output_dir = tmp.name
    kwargs: dict[str, Any] = dict(
        output_dir=output_dir,
        per_device_train_batch_size=8,
        num_train_epochs=1,
        learning_rate=2e-4,
        report_to="none",
        save_strategy="no",
        logging_steps=10,
        disable_tqdm=True,
        seed=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    kwargs.update(training_args)
    timer = StepTimer()
    trainer = CrawdTrainer(
        model=model,
        args=TrainingArguments(**kwargs),
        train_dataset=dataset,
        data_collator=collator,
        processing_class=tokenizer,
        loss_terms=method.loss_terms(model, tokenizer, config),
        forward_kwargs=method.forward_kwargs(),
        callbacks=[timer],
    )
    t0 = time.perf_counter()
    result = trainer.train()
    wall = time.perf_counter() - t0
    steady = timer.times[1:] or timer.times
    stats = {
        "method": method.name,
        "options": dict(method.options),
        "reconstruction": method.reconstruction,
        "task": task,
        "n_train_in": n_in,
        "n_train": len(dataset),
        "steps": len(timer.times),
        "train_seconds": round(wall, 4),
        "seconds_per_step": round(sum(steady) / max(len(steady), 1), 5),
        "step_seconds": [round(t, 5) for t in timer.times],
        "train_loss": float(result.training_loss),
        "last_loss_parts": dict(trainer.last_loss_parts),
        "group_mapping": group_map,
    }
    if tmp is not None:
        tmp.cleanup()
    model.eval()
    return model, stats


def load_pretrained(directory: str | os.PathLike, base_model=None, tokenizer=None, **load_kwargs):
    """Restore a model saved by any method (``crawd_method.json`` says which extras to rebuild)."""
    from ..modeling import CrawdForCausalLM, CrawdForSequenceClassification
    from ..models import load_model
    from ..wrapper import base_fingerprint
    from . import get_method

    cfg = CrawdConfig.load(directory)
    path = os.path.join(directory, METHOD_FILE)
    if not os.path.exists(path):
        cls = CrawdForCausalLM if cfg.task == "causal-lm" else CrawdForSequenceClassification
        return cls.from_pretrained(directory, base_model=base_model, tokenizer=tokenizer, **load_kwargs)
    with open(path) as fh:
        info = json.load(fh)
    method = get_method(info["method"], **info.get("options", {}))
    if base_model is None:
        if not cfg.base_model_name_or_path:
            raise CrawdUsageError(f"{directory}: the config names no base model; pass base_model=")
        base_model, tok = load_model(
            cfg.base_model_name_or_path, task=cfg.task, num_labels=cfg.num_labels, **load_kwargs
        )
        tokenizer = tokenizer or tok
    if tokenizer is None:
        raise CrawdUsageError("pass tokenizer= together with base_model=")
    fp = base_fingerprint(base_model)
    if cfg.base_fingerprint and fp and fp != cfg.base_fingerprint:
        raise CrawdUsageError(f"the base model differs from the one {directory} was trained on")
    method.configure(cfg)
    cls = method.wrapper_class(cfg.task)
    if cfg.task == "causal-lm":
        model = cls.from_base(base_model, tokenizer, cfg)
    else:
        model = cls.from_base(base_model, tokenizer, cfg, num_labels=cfg.num_labels)
    model.method_name, model.method_options = method.name, dict(method.options)
    method.attach(model, tokenizer, fit=False)
    model.load_adapter_weights(directory)
    return model.eval()
