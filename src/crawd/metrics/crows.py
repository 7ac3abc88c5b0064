"""CrowS-Pairs (Nangia et al. 2020): stereotype score overall and per bias type.

Score of a sentence: full-sentence log-likelihood log P(s | BOS) for causal LMs (as lm-evaluation-harness's
``crows_pairs_english``), pseudo-log-likelihood over the tokens the two sentences share for masked LMs
(the original CrowS metric). Stereotype score = % of pairs whose ``sent_more`` scores strictly higher (ties
count as not stereotyped, as in the original); 50 = no preference.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ._common import MetricResult, bootstrap_ci, eval_mode, is_masked_lm, model_device


@dataclasses.dataclass
class CrowsResult(MetricResult):
    """``value`` = % pairs with sent_more preferred; ``by_bias_type`` {type: {score, n}}; lm-eval's likelihood_diff."""

    value: float
    n: int
    ci95: tuple[float, float] | None
    by_bias_type: dict
    by_direction: dict
    likelihood_diff: float
    settings: dict
    source: str = ""


def crows_from_scores(
    rows: Sequence[dict], more: Sequence[float], less: Sequence[float], *, ci: bool = True, seed: int = 0
) -> CrowsResult:
    """Stereotype score from per-pair sentence scores.

    >>> rows = [{"bias_type": "gender", "stereo_antistereo": "stereo"}, {"bias_type": "age",
    ...          "stereo_antistereo": "antistereo"}, {"bias_type": "age", "stereo_antistereo": "stereo"}]
    >>> r = crows_from_scores(rows, [-1.0, -5.0, -2.0], [-2.0, -4.0, -2.0], ci=False)
    >>> round(r.value, 2), r.by_bias_type["age"]["score"], r.by_bias_type["gender"]["score"]
    (33.33, 0.0, 100.0)
    """
    m, ls = np.asarray(more, dtype=float), np.asarray(less, dtype=float)
    win = (m > ls).astype(float)  # (n,)
    by_type = {
        b: {
            "score": 100.0 * float(win[[r["bias_type"] == b for r in rows]].mean()),
            "n": int(sum(r["bias_type"] == b for r in rows)),
        }
        for b in sorted({r["bias_type"] for r in rows})
    }
    by_dir = {
        d: {
            "score": 100.0 * float(win[[r.get("stereo_antistereo") == d for r in rows]].mean()),
            "n": int(sum(r.get("stereo_antistereo") == d for r in rows)),
        }
        for d in sorted({r.get("stereo_antistereo", "") for r in rows})
        if d
    }
    interval = bootstrap_ci(100.0 * win, seed=seed) if ci and len(rows) > 1 else None
    return CrowsResult(
        value=100.0 * float(win.mean()),
        n=len(rows),
        ci95=interval,
        by_bias_type=by_type,
        by_direction=by_dir,
        likelihood_diff=float(np.abs(m - ls).mean()),
        settings={},
    )


def _shared_positions(a: list[int], b: list[int]) -> tuple[list[int], list[int]]:
    """Positions of the tokens the two sequences share (difflib matching blocks, as the original CrowS code)."""
    pa, pb = [], []
    for blk in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        pa += range(blk.a, blk.a + blk.size)
        pb += range(blk.b, blk.b + blk.size)
    return pa, pb


def pseudo_log_likelihoods(
    model, tokenizer, seqs: Sequence[list[int]], positions: Sequence[list[int]], *, batch_size: int = 32
) -> np.ndarray:
    """Sum over ``positions[i]`` of log P(token | sequence with that one token masked), per sequence."""
    jobs = [(i, p) for i, ps in enumerate(positions) for p in ps]
    out = np.zeros(len(seqs))
    dev = model_device(model)
    with eval_mode(model):
        for s in range(0, len(jobs), batch_size):
            chunk = jobs[s : s + batch_size]
            width = max(len(seqs[i]) for i, _ in chunk)
            ids = torch.full((len(chunk), width), tokenizer.pad_token_id or 0, dtype=torch.long)  # (B, L)
            mask = torch.zeros_like(ids)  # (B, L)
            for r, (i, p) in enumerate(chunk):
                ids[r, : len(seqs[i])] = torch.as_tensor(seqs[i])
                mask[r, : len(seqs[i])] = 1
                ids[r, p] = tokenizer.mask_token_id
            logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits.float()  # (B, L, V)
            for r, (i, p) in enumerate(chunk):
                out[i] += float(torch.log_softmax(logits[r, p], -1)[seqs[i][p]])
    return out


def _mlm_scores(
    model, tokenizer, more: list[str], less: list[str], batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    enc_m = [list(tokenizer(s).input_ids) for s in more]
    enc_l = [list(tokenizer(s).input_ids) for s in less]
    pos_m, pos_l = [], []
    for a, b in zip(enc_m, enc_l, strict=True):
        pa, pb = _shared_positions(a, b)
        # drop the special tokens at both ends ([CLS], [SEP])
        pos_m.append([p for p in pa if 0 < p < len(a) - 1])
        pos_l.append([p for p in pb if 0 < p < len(b) - 1])
    return (
        pseudo_log_likelihoods(model, tokenizer, enc_m, pos_m, batch_size=batch_size),
        pseudo_log_likelihoods(model, tokenizer, enc_l, pos_l, batch_size=batch_size),
    )


def crows_pairs(
    model,
    tokenizer,
    *,
    path=None,
    limit: int | None = None,
    batch_size: int = 32,
    bias_types: Sequence[str] | None = None,
    seed: int = 0,
    progress: bool = False,
    score_fn: Callable[[list[str]], Sequence[float]] | None = None,
) -> CrowsResult:
    """CrowS-Pairs stereotype score of ``model`` (``limit`` = first N pairs; ``score_fn(sentences)`` overrides)."""
    from ..data import load_crows_pairs
    from .scoring import sentence_logprobs

    loaded = load_crows_pairs(path)
    rows = [r for r in loaded.rows if bias_types is None or r["bias_type"] in bias_types]
    rows = rows if limit is None else rows[:limit]
    more, less = [r["sent_more"] for r in rows], [r["sent_less"] for r in rows]
    if score_fn is not None:
        s = np.asarray(score_fn(more + less), dtype=float)
        sm, sl, method = s[: len(rows)], s[len(rows) :], "custom"
    elif is_masked_lm(model):
        sm, sl = _mlm_scores(model, tokenizer, more, less, batch_size)
        method = "pseudo-log-likelihood of shared tokens (masked LM)"
    else:
        s = sentence_logprobs(
            model, tokenizer, more + less, batch_size=batch_size, progress=progress, desc="crows"
        ).logprob
        sm, sl, method = s[: len(rows)], s[len(rows) :], "full-sentence log-likelihood given BOS (causal LM)"
    res = crows_from_scores(rows, sm, sl, seed=seed)
    res.settings = {"score": method, "limit": limit, "batch_size": batch_size}
    res.source = loaded.source
    return res
