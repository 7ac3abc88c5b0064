"""The `Method` interface shared by CrAWD and every comparison method, and the helpers they share.

A method turns (base model, tokenizer, `CrawdConfig`) into a trainable model (`build`), may rewrite
the training data (`transform_train_data`), adds loss terms that `crawd.training.CrawdTrainer`
calls as ``term(model=..., inputs=..., outputs=...)`` (`loss_terms`), asks for extra forward
outputs (`forward_kwargs`) and generates text (`generate`). Everything is chosen by one name.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import CrawdConfig
from ..errors import CrawdUsageError
from ..modeling import CrawdForCausalLM, CrawdForSequenceClassification

METHOD_FILE = "crawd_method.json"
TASK_NAMES = ("causal-lm", "classification")


class Method:
    """Base class: a vanilla LoRA fine-tune (mode ``"none"``) with no extra term.

    Subclasses set ``name``, ``tasks``, ``reconstruction``, ``description`` and ``defaults`` (the
    options a user may pass to `crawd.baselines.get_method`, with their default values).
    """

    name: ClassVar[str] = "vanilla"
    tasks: ClassVar[frozenset[str]] = frozenset(TASK_NAMES)
    reconstruction: ClassVar[bool] = False
    description: ClassVar[str] = "LoRA fine-tuning with the task loss only."
    defaults: ClassVar[dict[str, Any]] = {}
    #: True when the method reads attention probabilities (forces eager attention, no attention dropout).
    needs_attentions: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            valid = sorted(self.defaults) or "none"
            raise CrawdUsageError(f"method {self.name!r}: unknown option(s) {unknown}; valid: {valid}")
        self.options: dict[str, Any] = {**self.defaults, **options}
        #: The attribute / reference words (``CrawdConfig.reference_words``), set by `configure`.
        self.reference_words: list[str] = []
        #: The task of the last `check_task` / `build` (decides the forward outputs asked for).
        self.task: str = "causal-lm"

    def configure(self, config: CrawdConfig) -> None:
        """Take the shared settings (the reference words: the paper's Table-3 knob) from the config."""
        self.reference_words = list(config.reference_words)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    # --- model ------------------------------------------------------------------------------------
    def model_config(self, config: CrawdConfig) -> CrawdConfig:
        """The wrapper config this method trains with: a copy of ``config`` in mode ``"none"``."""
        return dataclasses.replace(config, mode="none", base_fingerprint=None)

    def check_task(self, task: str) -> None:
        if task not in TASK_NAMES:
            raise CrawdUsageError(f"task must be one of {TASK_NAMES}, got {task!r}")
        if task not in self.tasks:
            raise CrawdUsageError(
                f"method {self.name!r} supports {sorted(self.tasks)}, not {task!r}; "
                f"methods for {task}: {_available(task)}"
            )
        self.task = task

    def build(
        self,
        base_model: nn.Module,
        tokenizer,
        config: CrawdConfig,
        *,
        task: str = "causal-lm",
        num_labels: int | None = None,
    ) -> nn.Module:
        """The trainable model (wraps ``base_model`` in place: pass a freshly loaded base per method)."""
        self.check_task(task)
        self.configure(config)
        cfg = self.model_config(config)
        if self.needs_attentions:
            use_eager_attention(base_model)
        cls = self.wrapper_class(task)
        if task == "causal-lm":
            model = cls.from_base(base_model, tokenizer, cfg)
        else:
            model = cls.from_base(base_model, tokenizer, cfg, num_labels=num_labels)
        if isinstance(model, MethodModelMixin):
            model.method_name, model.method_options = self.name, dict(self.options)
        self.attach(model, tokenizer, fit=True)
        return model

    def wrapper_class(self, task: str) -> type:
        """The wrapper class; methods with extra saved modules return a `MethodModelMixin` subclass."""
        return CrawdForCausalLM if task == "causal-lm" else CrawdForSequenceClassification

    def attach(self, model: nn.Module, tokenizer, *, fit: bool) -> None:
        """Add the method's modules to a freshly wrapped model (``fit=False`` when loading a checkpoint)."""

    def prepare(self, model: nn.Module, tokenizer, texts, labels=None, groups=None) -> None:
        """Fit anything that needs the training data before training (default: nothing)."""

    # --- data and training ------------------------------------------------------------------------
    def transform_train_data(
        self, texts: Sequence[str], labels: Sequence | None = None, groups: Sequence | None = None
    ) -> tuple[list[str], list | None, list | None]:
        """Rewrite the training set (default: unchanged)."""
        return list(texts), _opt_list(labels), _opt_list(groups)

    def loss_terms(
        self, model: nn.Module, tokenizer, config: CrawdConfig
    ) -> list[Callable[..., torch.Tensor]]:
        """Extra loss terms (default: none)."""
        return []

    def forward_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of the training forward pass."""
        if not self.needs_attentions:
            return {}
        if self.task == "classification":  # the classification wrapper always returns hidden states
            return {"output_attentions": True}
        return {"output_attentions": True, "output_hidden_states": True}

    # --- inference --------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, model: nn.Module, tokenizer, prompts: Sequence[str], **gen_kwargs: Any) -> list[str]:
        """Batched generation; returns the continuations only (prompt removed)."""
        return generate_continuations(model, tokenizer, prompts, **gen_kwargs)


# --- shared helpers ----------------------------------------------------------------------------------
def _opt_list(x: Sequence | None) -> list | None:
    return None if x is None else list(x)


def _available(task: str) -> list[str]:
    from . import available

    return available(task)


def named_term(fn: Callable[..., torch.Tensor], name: str) -> Callable[..., torch.Tensor]:
    """Give a loss term a ``__name__`` for CrawdTrainer's logging."""
    fn.__name__ = name
    return fn


def use_eager_attention(model: nn.Module) -> None:
    """Make the model return attention probabilities: eager attention, attention dropout off.

    transformers 5 defaults to SDPA, which returns no attention weights (it only warns when
    ``output_attentions=True``); eager attention returns the weights *after* dropout, so attention
    dropout is set to zero for the methods that read them (EAR, IBM, CBE).
    """
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:  # pragma: no cover - very old models
        model.config._attn_implementation = "eager"
    for m in model.modules():
        if "Attention" not in type(m).__name__:
            continue
        for attr in ("dropout", "attn_dropout", "attention_dropout"):
            v = getattr(m, attr, None)
            if isinstance(v, nn.Dropout):
                v.p = 0.0
            elif isinstance(v, float):
                setattr(m, attr, 0.0)


def attentions_of(outputs, method: str) -> tuple[torch.Tensor, ...]:
    att = getattr(outputs, "attentions", None)
    if not att or any(a is None for a in att):
        raise CrawdUsageError(
            f"{method} needs attention probabilities: build the model with the method (eager attention) "
            "and pass the method's forward_kwargs() to the trainer"
        )
    return att


def prediction_index(
    attention_mask: torch.Tensor | None, batch: int, length: int, causal: bool
) -> torch.Tensor:
    """(B,) position of the prediction token: [CLS] (0) for encoders, the last real token for decoders."""
    if not causal:
        return torch.zeros(batch, dtype=torch.long)
    if attention_mask is None:
        return torch.full((batch,), length - 1, dtype=torch.long)
    pos = torch.arange(length, device=attention_mask.device).expand(batch, length)
    return pos.masked_fill(attention_mask == 0, -1).max(dim=1).values.clamp(min=0).cpu()


@torch.no_grad()
def generate_continuations(model, tokenizer, prompts: Sequence[str], **gen_kwargs: Any) -> list[str]:
    """Left-padded batched ``model.generate``; the decoded new tokens of each prompt."""
    batch_size = int(gen_kwargs.pop("batch_size", 8))
    gen_kwargs.setdefault("max_new_tokens", 32)
    gen_kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
    old_side = getattr(tokenizer, "padding_side", "right")
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    out: list[str] = []
    try:
        for i in range(0, len(prompts), batch_size):
            enc = tokenizer(list(prompts[i : i + batch_size]), return_tensors="pt", padding=True)
            seq = model.generate(
                input_ids=enc.input_ids.to(dev), attention_mask=enc.attention_mask.to(dev), **gen_kwargs
            )
            new = seq[:, enc.input_ids.shape[1] :]
            out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = old_side
        model.train(was_training)
    return out


# --- models with extra modules that are saved with them (DSD's MLP, AD's adversary) ------------------
class MethodModelMixin:
    """A wrapper whose ``method_extras`` (frozen or trainable) are saved and restored with it.

    ``save_pretrained`` also writes ``crawd_method.json`` (method name and options), which
    `crawd.baselines.load_pretrained` reads to rebuild the model before loading the weights.
    """

    method_name: str = ""
    method_options: dict = {}

    def _init_extras(self) -> None:
        self.method_extras = nn.ModuleDict()

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        sd = super().trainable_state_dict()  # type: ignore[misc]
        for n, p in self.named_parameters():  # type: ignore[attr-defined]
            if n.startswith("method_extras.") and n not in sd:
                sd[n] = p.detach().contiguous().cpu()
        return sd

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: object) -> None:
        super().save_pretrained(save_directory, **kwargs)  # type: ignore[misc]
        path = os.path.join(os.fspath(save_directory), METHOD_FILE)
        with open(path + ".tmp", "w") as fh:
            json.dump({"method": self.method_name, "options": self.method_options}, fh, indent=2)
        os.replace(path + ".tmp", path)


class MethodCausalLM(MethodModelMixin, CrawdForCausalLM):
    """`CrawdForCausalLM` with method modules (``method_extras``) saved alongside."""

    def __init__(self, base, tokenizer, config) -> None:
        super().__init__(base, tokenizer, config)
        self._init_extras()


class MethodSequenceClassification(MethodModelMixin, CrawdForSequenceClassification):
    """`CrawdForSequenceClassification` with method modules (``method_extras``) saved alongside."""

    def __init__(self, base, tokenizer, config) -> None:
        super().__init__(base, tokenizer, config)
        self._init_extras()
