"""Token-level perplexity on held-out text with a sliding window for long texts, batched."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ._common import MetricResult, bootstrap_ci
from .scoring import prefix_token_id, score_token_pairs


@dataclasses.dataclass
class PerplexityResult(MetricResult):
    """``value`` = exp(total NLL / total scored tokens) over all texts (corpus-level perplexity)."""

    value: float
    n: int
    n_tokens: int
    nll_per_token: float
    ci95: tuple[float, float] | None
    settings: dict
    per_text_nll: list[float] = dataclasses.field(default_factory=list, repr=False)
    per_text_tokens: list[int] = dataclasses.field(default_factory=list, repr=False)


def sliding_windows(ids: Sequence[int], max_length: int, stride: int) -> list[tuple[list[int], list[int]]]:
    """Split ``ids`` (ids[0] is the BOS/EOS prefix, never scored) into (context, scored) windows.

    Every token from position 1 on is scored exactly once; each window holds at most ``max_length`` tokens
    and, after the first, re-reads ``max_length - stride`` already-scored tokens as context.

    >>> sliding_windows([0, 1, 2, 3, 4, 5], max_length=4, stride=2)
    [([0], [1, 2, 3]), ([2, 3], [4, 5])]
    """
    if not 0 < stride <= max_length or max_length < 2:
        raise ValueError("need 0 < stride <= max_length and max_length >= 2")
    out, n, prev_end = [], len(ids), 1
    begin = 0
    while prev_end < n:
        end = min(begin + max_length, n)
        out.append((list(ids[begin:prev_end]), list(ids[prev_end:end])))
        prev_end = end
        begin = max(prev_end - (max_length - stride), 0)
    return out


def perplexity(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
    stride: int | None = None,
    ci: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> PerplexityResult:
    """Perplexity of ``model`` on ``texts``; every text token is scored (the first one given BOS/EOS).

    ``max_length`` defaults to min(model context, 1024) tokens per window, ``stride`` to half of it.
    The 95% CI is a bootstrap over texts (seeded).
    """
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("perplexity needs at least one non-empty text")
    cfg = getattr(model, "config", None)
    ctx = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 1024
    max_length = int(max_length or min(ctx, 1024))
    stride = int(stride or max(1, max_length // 2))
    pref = prefix_token_id(tokenizer)
    pairs, owner = [], []
    for t_i, text in enumerate(texts):
        ids = [pref] + list(tokenizer(text, add_special_tokens=False).input_ids)
        for w in sliding_windows(ids, max_length, stride):
            pairs.append(w)
            owner.append(t_i)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else pref
    s = score_token_pairs(
        model,
        pairs,
        pad_id=pad,
        batch_size=batch_size,
        max_length=max_length,
        progress=progress,
        desc="perplexity",
    )
    nll = np.zeros(len(texts))
    ntok = np.zeros(len(texts), dtype=np.int64)
    np.add.at(nll, owner, -s.logprob)
    np.add.at(ntok, owner, s.n_tokens)
    per_tok = float(nll.sum() / ntok.sum())
    interval = None
    if ci and len(texts) > 1:
        rows = np.stack([nll, ntok], axis=1)
        interval = bootstrap_ci(rows, lambda r: float(np.exp(r[:, 0].sum() / r[:, 1].sum())), seed=seed)
    return PerplexityResult(
        value=float(np.exp(per_tok)),
        n=len(texts),
        n_tokens=int(ntok.sum()),
        nll_per_token=per_tok,
        ci95=interval,
        settings={"max_length": max_length, "stride": stride, "batch_size": batch_size},
        per_text_nll=nll.tolist(),
        per_text_tokens=ntok.tolist(),
    )
