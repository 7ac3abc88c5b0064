"""Training with the transformers `Trainer`: a thin subclass that saves only the CrAWD weights, resumes
from them, and adds optional loss terms (the baselines use these); plus text-dataset preparation."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from .config import CONFIG_NAME
from .errors import CrawdDataError, CrawdUsageError

#: A loss term: called with the model, the batch and the model's outputs; returns a scalar tensor.
LossTerm = Callable[..., torch.Tensor]


class CrawdTrainer(Trainer):
    """`transformers.Trainer` for CrAWD models (and plain models): everything else is unchanged.

    * ``loss_terms``: extra differentiable terms added to the model's loss (fairness regularisers).
    * ``forward_kwargs``: extra keyword arguments for the forward pass (e.g. ``output_attentions``).
    * Checkpoints hold only the trainable weights (written atomically) and ``--resume`` restores them.
    * ``side_columns``: batch columns (e.g. the protected attribute ``group``) kept through Trainer's
      column removal, given to the loss terms in ``inputs`` but never passed to the model's forward.
    """

    def __init__(
        self,
        *args,
        loss_terms: Sequence[LossTerm] = (),
        forward_kwargs: dict | None = None,
        side_columns: Sequence[str] = ("group",),
        **kwargs,
    ):
        self.side_columns = tuple(side_columns)
        super().__init__(*args, **kwargs)
        self.loss_terms = list(loss_terms)
        self.forward_kwargs = dict(forward_kwargs or {})
        self.last_loss_parts: dict[str, float] = {}

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns += [c for c in self.side_columns if c not in self._signature_columns]

    def prediction_step(self, model, inputs, *args, **kwargs):
        inputs = {k: v for k, v in inputs.items() if k not in self.side_columns}
        return super().prediction_step(model, inputs, *args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        forward_inputs = {k: v for k, v in inputs.items() if k not in self.side_columns}
        if not self.loss_terms and not self.forward_kwargs:
            return super().compute_loss(
                model, forward_inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        extra = dict(self.forward_kwargs)
        if self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            extra["num_items_in_batch"] = num_items_in_batch
        outputs = model(**forward_inputs, **extra)
        loss = outputs.loss
        parts = {"task": float(loss.detach())}
        for term in self.loss_terms:
            value = term(model=model, inputs=inputs, outputs=outputs)
            parts[getattr(term, "__name__", type(term).__name__)] = float(value.detach())
            loss = loss + value
        self.last_loss_parts = parts
        return (loss, outputs) if return_outputs else loss

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        model = self.accelerator.unwrap_model(self.model)
        if not hasattr(model, "crawd_config"):
            return super()._save(output_dir, state_dict)
        output_dir = output_dir or self.args.output_dir
        if self.args.should_save:
            model.save_pretrained(output_dir, state_dict=state_dict)
            if self.processing_class is not None:
                self.processing_class.save_pretrained(output_dir)
            torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        target = self.accelerator.unwrap_model(model or self.model)
        if hasattr(target, "crawd_config") and os.path.exists(
            os.path.join(resume_from_checkpoint, CONFIG_NAME)
        ):
            target.load_adapter_weights(resume_from_checkpoint)
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)

    def _load_best_model(self) -> None:
        target = self.accelerator.unwrap_model(self.model)
        best = self.state.best_model_checkpoint
        if hasattr(target, "crawd_config") and best and os.path.exists(os.path.join(best, CONFIG_NAME)):
            target.load_adapter_weights(best)
            return
        super()._load_best_model()


# --- data ---------------------------------------------------------------------------------------------
def read_records(path: str | os.PathLike, *, text_field: str = "text") -> list[dict[str, Any]]:
    """Records from a .txt (one text per non-empty line), .jsonl / .json, or .csv / .tsv file."""
    p = Path(path)
    if not p.exists():
        raise CrawdDataError(f"data file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".txt":
        return [
            {text_field: line.strip()} for line in p.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    if suffix in (".jsonl", ".json"):
        text = p.read_text(encoding="utf-8")
        try:
            if suffix == ".json":
                data = json.loads(text)
                return data if isinstance(data, list) else data.get("data", [])
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise CrawdUsageError(f"{p}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if suffix in (".csv", ".tsv"):
        with p.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
    raise CrawdUsageError(f"{p}: unsupported data format {suffix!r} (use .txt, .jsonl, .json, .csv or .tsv)")


def texts_from_records(records: list[dict[str, Any]], text_field: str, source: str = "data") -> list[str]:
    if records and text_field not in records[0]:
        raise CrawdUsageError(f"{source}: no field {text_field!r}; fields are {sorted(records[0])}")
    texts = [str(r[text_field]) for r in records if r.get(text_field)]
    if not texts:
        raise CrawdUsageError(f"{source}: no texts found in field {text_field!r}")
    return texts


def causal_lm_dataset(texts: Sequence[str], tokenizer, *, max_length: int = 64):
    """A `datasets.Dataset` of tokenized texts for next-token training (labels = inputs, padding ignored)."""
    from datasets import Dataset

    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    return Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})


def classification_dataset(
    texts: Sequence[str],
    labels: Sequence[int],
    tokenizer,
    *,
    max_length: int = 128,
    extra: dict[str, Sequence] | None = None,
):
    """A `datasets.Dataset` for sequence classification (``extra`` columns, e.g. a group, are kept)."""
    from datasets import Dataset

    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    cols = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": list(labels)}
    if "token_type_ids" in enc:
        cols["token_type_ids"] = enc["token_type_ids"]
    cols.update({k: list(v) for k, v in (extra or {}).items()})
    return Dataset.from_dict(cols)


def lm_collator(tokenizer):
    """Pads a batch; labels are the inputs with padding set to -100."""
    from transformers import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(tokenizer, mlm=False)
