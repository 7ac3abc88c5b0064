"""DT, Debias Tuning (Dong et al. 2024) — **Reconstruction** of the training loss.

At every position of the training text, with attribute word sets (sides) from ``reference_words``:

* ``L_g = sum_{w in all attribute words} p(w | prefix)`` (explicit mentions, the GAS analog);
* ``L_l = mean over attributes, pairs of sides (A, B) of |log p(A | prefix) - log p(B | prefix)|``,
  which for gender is the paper's ``|log p(G_f) - log p(G_m)|``;
* ``loss = L_LM + w_g L_g + w_l L_l``.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, ClassVar

import torch

from ..errors import CrawdUsageError
from .base import Method, named_term
from .lexicon import attribute_sets


def word_token_ids(tokenizer, words: list[str], *, capitalised: bool = True) -> list[int]:
    """First token of each word as it appears in running text (leading space), and capitalised."""
    probe = tokenizer(" he", add_special_tokens=False)["input_ids"]
    space = " " if len(probe) == 1 else ""
    ids: list[int] = []
    forms = [w for word in words for w in ((word, word[:1].upper() + word[1:]) if capitalised else (word,))]
    for w in forms:
        toks = tokenizer(space + w, add_special_tokens=False)["input_ids"]
        if toks and toks[0] not in ids and toks[0] != getattr(tokenizer, "unk_token_id", None):
            ids.append(toks[0])
    return ids


def dt_terms(
    logits: torch.Tensor,  # (B, n, V)
    mask: torch.Tensor | None,  # (B, n) 1 for real tokens
    sides: list[list[list[int]]],  # attributes -> sides -> token ids
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_g, L_l) averaged over the real positions."""
    lse = logits.float().logsumexp(-1, keepdim=True)  # (B, n, 1)
    all_ids = sorted({t for attr in sides for side in attr for t in side})
    logp = logits[..., all_ids].float() - lse  # (B, n, k)
    col = {t: i for i, t in enumerate(all_ids)}
    l_g = logp.exp().sum(-1)  # (B, n)
    gaps = []
    for attr in sides:
        side_lp = [logp[..., [col[t] for t in side]].logsumexp(-1) for side in attr if side]  # each (B, n)
        gaps.extend((a - b).abs() for a, b in combinations(side_lp, 2))
    l_l = torch.stack(gaps).mean(0) if gaps else torch.zeros_like(l_g)  # (B, n)
    if mask is None:
        return l_g.mean(), l_l.mean()
    m = mask.to(l_g.dtype)
    denom = m.sum().clamp_min(1.0)
    return (l_g * m).sum() / denom, (l_l * m).sum() / denom


class DebiasTuning(Method):
    """DT (Dong et al. 2024): LM loss plus penalties on the mass and the gap of attribute words."""

    name: ClassVar[str] = "dt"
    tasks: ClassVar[frozenset[str]] = frozenset({"causal-lm"})
    reconstruction: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Reconstruction: L_LM + w_g * sum p(attribute words) + w_l * |log p(G_f) - log p(G_m)| per position."
    )
    defaults: ClassVar[dict[str, Any]] = {"w_g": 1.0, "w_l": 1.0, "capitalised": True}

    def token_sides(self, tokenizer) -> list[list[list[int]]]:
        sets = attribute_sets(self.reference_words)
        cap = self.options["capitalised"]
        sides = [
            [word_token_ids(tokenizer, side, capitalised=cap) for side in attr] for attr in sets.values()
        ]
        if not any(t for attr in sides for side in attr for t in side):
            raise CrawdUsageError(f"dt: no reference word is in the vocabulary: {self.reference_words}")
        return sides

    def loss_terms(self, model, tokenizer, config):
        self.configure(config)
        sides = self.token_sides(tokenizer)
        w_g, w_l = float(self.options["w_g"]), float(self.options["w_l"])

        def dt_loss(model, inputs, outputs) -> torch.Tensor:
            l_g, l_l = dt_terms(outputs.logits, inputs.get("attention_mask"), sides)
            return w_g * l_g + w_l * l_l

        return [named_term(dt_loss, "dt")]
