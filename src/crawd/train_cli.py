"""`crawd train CONFIG.yaml`: build the method's model, prepare the data, train with `CrawdTrainer`."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import CrawdUsageError
from .train_config import load_train_spec


def build_for_method(method_name: str, base, tokenizer, config, *, task: str, num_labels: int | None):
    """(method, model): any name of `crawd.baselines.available()` (crawd, vanilla, dt, ...)."""
    from . import baselines

    method = baselines.get_method(method_name)
    if task not in method.tasks:
        raise CrawdUsageError(
            f"method {method_name!r} does not support task {task!r} (supports {method.tasks})"
        )
    return method, method.build(base, tokenizer, config, task=task, num_labels=num_labels)


def run_training(
    config_path,
    *,
    resume: bool = False,
    output_dir: str | None = None,
    method: str | None = None,
    max_steps: int | None = None,
) -> str:
    """Run one training job from a YAML file; returns the output directory holding the saved adapter."""
    from transformers import DataCollatorWithPadding, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from .models import load_model
    from .training import (
        CrawdTrainer,
        causal_lm_dataset,
        classification_dataset,
        lm_collator,
        read_records,
        texts_from_records,
    )

    spec = load_train_spec(config_path)
    if method:
        spec.method = method
    if output_dir:
        spec.training["output_dir"] = output_dir
    if max_steps is not None:
        spec.training["max_steps"] = max_steps
    set_seed(spec.seed)
    records = read_records(spec.data["train"], text_field=spec.data.get("text_field", "text"))
    if spec.data.get("limit"):
        records = records[: int(spec.data["limit"])]
    texts = texts_from_records(records, spec.data.get("text_field", "text"), spec.data["train"])
    max_len = int(spec.data.get("max_length", 64 if spec.task == "causal-lm" else 128))
    labels = groups = None
    if spec.task == "classification":
        lf = spec.data.get("label_field", "label")
        if lf not in records[0]:
            raise CrawdUsageError(f"{spec.data['train']}: no label field {lf!r}")
        names = sorted({str(r[lf]) for r in records})
        labels = [names.index(str(r[lf])) for r in records if r.get(spec.data.get("text_field", "text"))]
        spec.num_labels = spec.num_labels or len(names)
        if spec.data.get("group_field"):
            gnames = sorted({str(r[spec.data["group_field"]]) for r in records})
            groups = [gnames.index(str(r[spec.data["group_field"]])) for r in records]
    task = "classification" if spec.task == "classification" else "causal-lm"
    base, tok = load_model(
        spec.model, task=task, num_labels=spec.num_labels, load_in_4bit=spec.crawd.load_in_4bit
    )
    m, model = build_for_method(spec.method, base, tok, spec.crawd, task=task, num_labels=spec.num_labels)
    texts, labels, groups = m.transform_train_data(texts, labels, groups)
    m.prepare(model, tok, texts, labels, groups)
    if task == "causal-lm":
        dataset, collator = causal_lm_dataset(texts, tok, max_length=max_len), lm_collator(tok)
    else:
        extra = {"group": groups} if groups is not None else None
        dataset = classification_dataset(texts, labels, tok, max_length=max_len, extra=extra)
        collator = DataCollatorWithPadding(tok)
    targs = dict(spec.training)
    targs.setdefault("report_to", [])
    targs.setdefault("seed", spec.seed)
    targs.setdefault("save_strategy", "steps")
    targs.setdefault("logging_steps", 10)
    if not __import__("torch").cuda.is_available():
        targs.setdefault("use_cpu", True)
    try:
        args = TrainingArguments(**targs)
    except (TypeError, ValueError) as exc:
        raise CrawdUsageError(f"{spec.source}: bad training settings: {str(exc).splitlines()[0]}") from None
    trainer = CrawdTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=tok,
        loss_terms=m.loss_terms(model, tok, spec.crawd),
        forward_kwargs=m.forward_kwargs(),
    )
    model.print_trainable_parameters()
    ckpt = get_last_checkpoint(args.output_dir) if resume and os.path.isdir(args.output_dir) else None
    if resume and ckpt is None:
        print(f"no checkpoint in {args.output_dir}: starting from scratch")
    trainer.train(resume_from_checkpoint=ckpt)
    final = Path(args.output_dir) / "final"
    if trainer.is_world_process_zero():
        model.save_pretrained(final)
    return str(final)
