"""EAR, Entropy-based Attention Regularisation (Attanasio et al. 2022): list-free.

``loss = L_task - alpha * mean_layers mean_tokens H(head-averaged attention row)``, the entropy
computed on the attention probabilities the model returns (no second softmax, unlike the original
code). Padding rows are excluded; padding columns carry zero probability.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from .base import Method, attentions_of, named_term


def attention_entropy(
    attentions: tuple[torch.Tensor, ...] | list[torch.Tensor],  # per layer (B, h, n, n) probabilities
    mask: torch.Tensor | None = None,  # (B, n)
    eps: float = 1e-12,
) -> torch.Tensor:
    """Mean over layers and real tokens of the entropy of the head-averaged attention distribution."""
    per_layer = []
    for a in attentions:
        p = a.float().mean(1)  # (B, n, n): average over heads, still a distribution per row
        h = -(p * (p + eps).log()).sum(-1)  # (B, n)
        if mask is None:
            per_layer.append(h.mean())
        else:
            m = mask.to(h.dtype)
            per_layer.append((h * m).sum() / m.sum().clamp_min(1.0))
    return torch.stack(per_layer).mean()


class EAR(Method):
    """EAR: maximise attention entropy (subtract ``alpha`` times it from the loss)."""

    name: ClassVar[str] = "ear"
    description: ClassVar[str] = "Task loss minus alpha * mean attention entropy (list-free)."
    defaults: ClassVar[dict[str, Any]] = {"alpha": 0.01}
    needs_attentions: ClassVar[bool] = True

    def loss_terms(self, model, tokenizer, config):
        alpha = float(self.options["alpha"])

        def ear_loss(model, inputs, outputs) -> torch.Tensor:
            att = attentions_of(outputs, "ear")
            return -alpha * attention_entropy(att, inputs.get("attention_mask"))

        return [named_term(ear_loss, "ear")]
