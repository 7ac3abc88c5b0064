"""AUSC — **reconstruction** of Haque et al. (2024)'s indirect-bias score (their definition is not available here).

Per text: attention importance a_i of token i = attention it receives from the prediction position ([CLS] = 0
for encoders, the last real token for decoders) in the last layer, averaged over heads; sensitivity
s_i = max_s cos(h_i, e_s) between the token's last hidden state and the reference words' representations
(mean over the word's tokens of the last hidden state, word fed alone). Special and padding tokens are not
ranked. c(k) = mean s over the k most-attended tokens; AUSC = sum_{k=1..K} c(k) / K with K = min(10, tokens).
Reported: mean over texts (higher = more reliance on sensitive context). See BASELINES.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ._common import MetricResult, bootstrap_ci, eval_mode, model_device
from .scoring import word_representations


def ausc_from_arrays(attention: np.ndarray, sensitivity: np.ndarray, *, k_max: int = 10) -> float:
    """AUSC of one instance from per-token importances and sensitivities (candidate tokens only).

    >>> ausc_from_arrays(np.array([0.5, 0.3, 0.2]), np.array([1.0, 0.0, 0.5]), k_max=2)
    0.75
    """
    if len(attention) == 0:
        return float("nan")
    order = np.argsort(-np.asarray(attention), kind="stable")
    s = np.asarray(sensitivity)[order]
    k = min(k_max, len(s))
    c = np.cumsum(s[:k]) / np.arange(1, k + 1)  # c(k) for k = 1..K
    return float(c.sum() / k)


@contextlib.contextmanager
def eager_attention(model) -> Iterator[None]:
    """Temporarily switch a transformers model to eager attention (sdpa returns no attention weights in 5.x)."""
    cfg = getattr(model, "config", None)
    old = getattr(cfg, "_attn_implementation", None)
    switch = old not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(old)


@dataclasses.dataclass
class AUSCResult(MetricResult):
    """``value`` = mean AUSC over texts; ``per_text`` values; the method is a reconstruction (see module doc)."""

    value: float
    n: int
    ci95: tuple[float, float] | None
    settings: dict
    per_text: list[float] = dataclasses.field(default_factory=list, repr=False)


def ausc(
    model,
    tokenizer,
    texts: Sequence[str],
    reference_words: Sequence[str],
    *,
    k_max: int = 10,
    batch_size: int = 16,
    max_length: int = 256,
    seed: int = 0,
) -> AUSCResult:
    """AUSC (reconstruction) of a HF classifier / encoder / causal LM on ``texts``."""
    if not reference_words:
        raise ValueError("ausc needs at least one reference word")
    texts = list(texts)
    encoder = getattr(tokenizer, "cls_token_id", None) is not None
    dev = model_device(model)
    ref = torch.as_tensor(
        word_representations(model, tokenizer, reference_words, final=False), dtype=torch.float32
    )
    ref = torch.nn.functional.normalize(ref, dim=-1)  # (S, d)
    vals: list[float] = []
    with eval_mode(model), eager_attention(model):
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            enc = tokenizer(
                chunk,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=max_length,
                add_special_tokens=encoder,
                return_special_tokens_mask=True,
            )
            mask = enc.attention_mask  # (B, L)
            out = model(
                input_ids=enc.input_ids.to(dev),
                attention_mask=mask.to(dev),
                output_attentions=True,
                output_hidden_states=True,
            )
            if not out.attentions:
                raise RuntimeError("model returned no attention weights; it needs eager attention")
            att = out.attentions[-1].float().mean(1).cpu()  # (B, L, L) head-averaged
            h = torch.nn.functional.normalize(out.hidden_states[-1].float().cpu(), dim=-1)  # (B, L, d)
            sens = (h @ ref.T).max(-1).values  # (B, L)
            for b in range(len(chunk)):
                real = mask[b].bool()
                q = 0 if encoder else int(real.nonzero().max())  # prediction position
                cand = real & ~enc.special_tokens_mask[b].bool()
                idx = cand.nonzero().flatten()
                vals.append(ausc_from_arrays(att[b, q, idx].numpy(), sens[b, idx].numpy(), k_max=k_max))
    arr = np.array(vals)
    ok = arr[~np.isnan(arr)]
    interval = bootstrap_ci(ok, seed=seed) if len(ok) > 1 else None
    return AUSCResult(
        value=float(ok.mean()) if len(ok) else float("nan"),
        n=len(ok),
        ci95=interval,
        settings={
            "k_max": k_max,
            "layer": "last",
            "reconstruction": True,
            "reference_words": list(reference_words),
            "query_position": "[CLS]" if encoder else "last token",
        },
        per_text=arr.tolist(),
    )
