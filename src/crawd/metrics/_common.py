"""Shared pieces of the metrics: result base class, eval-mode context, device lookup, bootstrap CIs."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np


@dataclasses.dataclass
class MetricResult:
    """Base of all result objects: ``value`` (the headline number), ``n`` and JSON export."""

    def to_dict(self) -> dict:
        """Plain-JSON dict (numpy scalars converted, NaN -> None)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@contextlib.contextmanager
def eval_mode(model) -> Iterator[None]:
    """``model.eval()`` and ``torch.no_grad()`` for the block; the previous training mode is restored after."""
    import torch

    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training and hasattr(model, "train"):
            model.train()


def model_device(model):
    """Device of a model or wrapper (``.device`` if present, else its first parameter's)."""
    import torch

    dev = getattr(model, "device", None)
    if dev is not None:
        return torch.device(dev)
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def bootstrap_ci(
    data: Sequence | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic`` over rows of ``data`` (resampled with replacement, seeded).

    >>> lo, hi = bootstrap_ci([0, 1, 1, 0, 1, 1, 1, 0], seed=0)
    >>> 0.0 <= lo <= 0.625 <= hi <= 1.0
    True
    >>> bootstrap_ci([2.0, 2.0, 2.0])
    (2.0, 2.0)
    """
    arr = np.asarray(data)
    n = len(arr)
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(arr[rng.integers(0, n, n)]) for _ in range(n_resamples)], dtype=float)
    stats = stats[~np.isnan(stats)]
    if len(stats) == 0:
        return (float("nan"), float("nan"))
    a = (1 - confidence) / 2
    return (float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a)))


def has_final_representation(model) -> bool:
    """True for CrAWD wrappers exposing ``final_representation(input_ids, attention_mask)``."""
    return callable(getattr(model, "final_representation", None))


def is_masked_lm(model) -> bool:
    """True for masked-LM heads (BERT-style ``...ForMaskedLM``)."""
    return "MaskedLM" in type(model).__name__
