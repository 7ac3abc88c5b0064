"""`CrawdConfig`: every setting of a CrAWD model, validated, with a JSON round trip."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import CrawdUsageError
from .reference import expand_reference_words

CONFIG_NAME = "crawd_config.json"
MODES = ("paper", "attention", "none")
HEADS = ("projected", "concat")
TOPK_SCOPES = ("example", "token")
TASKS = ("causal-lm", "classification")
ASSOCIATIONS = ("cross_attention", "direction")


def _help(text: str, default: Any = None, factory: Any = None):
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class CrawdConfig:
    """Configuration of a CrAWD model (see docs/METHOD.md for every decision).

    >>> cfg = CrawdConfig(reference_words=["gender"], top_k=0.3)
    >>> cfg.reference_words
    ['he', 'she']
    >>> CrawdConfig.from_json(cfg.to_json()) == cfg
    True
    >>> CrawdConfig(top_k=1.5)
    Traceback (most recent call last):
    ...
    crawd.errors.CrawdUsageError: top_k must be in (0, 1], got 1.5
    """

    mode: str = _help(
        "'paper': the paper's cross-attention block on a side branch; 'attention': in-layer decay of "
        "self-attention toward sensitive-associated tokens; 'none': plain (Q)LoRA, the vanilla baseline.",
        "paper",
    )
    reference_words: list[str] = _help(
        "Reference sensitive words, or group names (gender, sexuality, age, race, disability, religion, "
        "body, wealth, all); combinable.",
        factory=lambda: ["all"],
    )
    top_k: float = _help("Fraction K of cross-attention weights decayed (top-K%), in (0, 1].", 0.4)
    decay: float = _help("lambda: the factor applied to the top-K% weights, in [0, 1]; 1.0 = no decay.", 0.2)
    topk_scope: str = _help(
        "Where the top-K% is taken: 'example' (per example over all heads, tokens and reference slots, "
        "the paper's reading) or 'token' (per input token over heads and slots; causal, cheapest).",
        "example",
    )
    renormalize: bool = _help(
        "Renormalise the decayed weights to sum to 1 per row (off, as in the paper).", False
    )
    num_heads: int = _help("Heads of the cross-attention block.", 8)
    attn_dim: int | None = _help(
        "Inner width of the cross-attention block; None = max(8 * num_heads, hidden_size // 8).", None
    )
    ffn_dim: int | None = _help(
        "Width of the block's feed-forward network; None = max(32, hidden_size // 4).", None
    )
    dropout: float = _help("Dropout inside the cross-attention block.", 0.1)
    head: str = _help(
        "'projected' (default): logits = W_lm (H_x + P H_cross), P a zero-initialised d x d matrix; "
        "'concat': logits = W_lm H_x + W_c H_cross, W_c a zero-initialised V x d matrix.",
        "projected",
    )
    max_reference_tokens: int = _help(
        "Upper bound on the number of reference word tokens (the paper pads to 32).", 32
    )
    reference_grad: bool = _help(
        "Training: backpropagate through the reference pass that computes H_b (exact, the default). "
        "False encodes the reference under no_grad (H_b is a constant per step; cheaper, see "
        "docs/PERFORMANCE.md).",
        True,
    )
    reference_refresh_steps: int = _help(
        "Training: re-encode the reference every k optimizer steps and reuse the cached, detached H_b "
        "in between (1 = every forward pass, exact). Evaluation always uses the current weights.",
        1,
    )
    lora_r: int = _help("LoRA rank; 0 = no LoRA (only the CrAWD block and head are trained).", 16)
    lora_alpha: int = _help("LoRA alpha.", 32)
    lora_dropout: float = _help("LoRA dropout.", 0.1)
    lora_target_modules: list[str] | None = _help(
        "Module names LoRA adapts; None = the architecture's default (attention projections).", None
    )
    load_in_4bit: bool = _help("QLoRA: load the base in 4 bit (needs CUDA and bitsandbytes).", False)
    task: str = _help("'causal-lm' or 'classification' (set by the wrapper).", "causal-lm")
    num_labels: int | None = _help("Number of classes for classification.", None)
    base_model_name_or_path: str | None = _help(
        "Name or path of the base model (recorded when saving).", None
    )
    base_fingerprint: str | None = _help("Hash of the base model's weights, checked when loading.", None)
    attention_layers: list[int] | None = _help(
        "mode='attention': decoder layers whose self-attention is decayed (negative counts from the end); "
        "None = the upper two thirds.",
        None,
    )
    association: str = _help(
        "mode='attention': how tokens are scored against the reference: 'cross_attention' (a learned "
        "cross-attention per layer) or 'direction' (parameter-free cosine with the reference directions).",
        "cross_attention",
    )

    def __post_init__(self) -> None:
        self.reference_words = expand_reference_words(self.reference_words)
        _check(self.mode in MODES, "mode", self.mode, f"one of {MODES}")
        _check(self.head in HEADS, "head", self.head, f"one of {HEADS}")
        _check(self.topk_scope in TOPK_SCOPES, "topk_scope", self.topk_scope, f"one of {TOPK_SCOPES}")
        _check(self.task in TASKS, "task", self.task, f"one of {TASKS}")
        _check(self.association in ASSOCIATIONS, "association", self.association, f"one of {ASSOCIATIONS}")
        if self.attention_layers is not None:
            _check(
                isinstance(self.attention_layers, list)
                and len(self.attention_layers) > 0
                and all(isinstance(i, int) and not isinstance(i, bool) for i in self.attention_layers),
                "attention_layers",
                self.attention_layers,
                "None or a non-empty list of layer indices",
            )
        if self.mode != "none":
            _check(len(self.reference_words) > 0, "reference_words", self.reference_words, "non-empty")
        _check(_num(self.top_k) and 0 < self.top_k <= 1, "top_k", self.top_k, "in (0, 1]")
        _check(_num(self.decay) and 0 <= self.decay <= 1, "decay", self.decay, "in [0, 1]")
        _check(_num(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "in [0, 1)")
        _check(
            _num(self.lora_dropout) and 0 <= self.lora_dropout < 1,
            "lora_dropout",
            self.lora_dropout,
            "in [0, 1)",
        )
        _check(
            isinstance(self.num_heads, int) and self.num_heads > 0,
            "num_heads",
            self.num_heads,
            "a positive integer",
        )
        for name in ("attn_dim", "ffn_dim"):
            v = getattr(self, name)
            _check(v is None or (isinstance(v, int) and v > 0), name, v, "a positive integer or None")
        if self.attn_dim is not None:
            _check(
                self.attn_dim % self.num_heads == 0,
                "attn_dim",
                self.attn_dim,
                f"a multiple of num_heads={self.num_heads}",
            )
        _check(isinstance(self.lora_r, int) and self.lora_r >= 0, "lora_r", self.lora_r, "an integer >= 0")
        _check(self.max_reference_tokens > 0, "max_reference_tokens", self.max_reference_tokens, "positive")
        _check(isinstance(self.reference_grad, bool), "reference_grad", self.reference_grad, "a bool")
        _check(
            isinstance(self.reference_refresh_steps, int)
            and not isinstance(self.reference_refresh_steps, bool)
            and self.reference_refresh_steps >= 1,
            "reference_refresh_steps",
            self.reference_refresh_steps,
            "an integer >= 1",
        )
        if self.num_labels is not None:
            _check(self.num_labels >= 1, "num_labels", self.num_labels, ">= 1")

    # --- JSON round trip -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawdConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CrawdUsageError(f"unknown CrawdConfig field(s) {unknown}; valid: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> CrawdConfig:
        return cls.from_dict(json.loads(text))

    def save(self, directory: str | os.PathLike) -> None:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, CONFIG_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> CrawdConfig:
        path = os.path.join(directory, CONFIG_NAME)
        if not os.path.exists(path):
            from .errors import CrawdDataError

            raise CrawdDataError(f"no {CONFIG_NAME} in {directory}: not a saved crawd model")
        with open(path) as fh:
            return cls.from_json(fh.read())

    def resolved_dims(self, hidden_size: int) -> tuple[int, int]:
        """(attn_dim, ffn_dim) for a base of this hidden size."""
        attn = self.attn_dim or max(8 * self.num_heads, (hidden_size // 8) // self.num_heads * self.num_heads)
        ffn = self.ffn_dim or max(32, hidden_size // 4)
        return attn, ffn


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise CrawdUsageError(f"{name} must be {expected}, got {value!r}")
