"""AD, adversarial debiasing with gradient reversal (Zhang et al. 2018; Elazar and Goldberg 2018).

``L = CE(f(h), y) + w * CE(g(R_lambda(h)), a)``: ``h`` the encoder's [CLS] representation, ``f`` the
task head, ``g`` an adversary predicting the protected attribute ``a`` (the batch column
``group``), ``R_lambda`` identity forward and ``-lambda`` times the gradient backward. With
``positive_only`` (equality of opportunity, the default) the adversary sees only examples with
``y = positive_label``. Rows with ``group < 0`` are ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from .base import Method, MethodSequenceClassification, named_term


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Identity forward; the gradient multiplied by ``-lam`` backward."""
    return _GradientReversal.apply(x, lam)


class Adversary(nn.Module):
    """A two-layer MLP from the [CLS] representation to the protected attribute."""

    def __init__(self, dim: int, num_groups: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, num_groups))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def adversarial_loss(
    adversary: nn.Module,
    h: torch.Tensor,  # (B, d)
    group: torch.Tensor | None,  # (B,)
    labels: torch.Tensor | None = None,
    *,
    lam: float = 1.0,
    positive_label: int | None = 1,
) -> torch.Tensor:
    """Mean CE of the adversary on the reversed representation over the rows it may see."""
    if group is None:
        return h.sum() * 0.0
    keep = group >= 0
    if positive_label is not None and labels is not None:
        keep = keep & (labels == positive_label)
    logits = adversary(grad_reverse(h, lam))  # (B, G)
    ce = nn.functional.cross_entropy(logits.float(), group.clamp(min=0).long(), reduction="none")
    return (ce * keep.to(ce.dtype)).sum() / keep.sum().clamp_min(1)


class AdversarialDebiasing(Method):
    """AD: an adversary on a gradient-reversal layer predicts the protected attribute."""

    name: ClassVar[str] = "ad"
    tasks: ClassVar[frozenset[str]] = frozenset({"classification"})
    description: ClassVar[str] = (
        "Task CE + CE of an adversary predicting the protected attribute through gradient reversal."
    )
    defaults: ClassVar[dict[str, Any]] = {
        "lam": 1.0,
        "weight": 1.0,
        "num_groups": None,  # None: the number of groups in the training data (2 when unknown)
        "hidden": 128,
        "positive_only": True,
        "positive_label": 1,
    }

    def wrapper_class(self, task: str) -> type:
        return MethodSequenceClassification

    def attach(self, model, tokenizer, *, fit: bool) -> None:
        o = self.options
        adv = Adversary(model.base.config.hidden_size, int(o["num_groups"] or 2), int(o["hidden"]))
        model.method_extras["adversary"] = adv
        model._place(adv)

    def loss_terms(self, model, tokenizer, config):
        o = self.options
        lam, weight = float(o["lam"]), float(o["weight"])
        pos = int(o["positive_label"]) if o["positive_only"] else None

        def ad_loss(model, inputs, outputs) -> torch.Tensor:
            h = outputs.hidden_states[-1][:, 0]  # (B, d) [CLS]
            adv = model.method_extras["adversary"]
            return weight * adversarial_loss(
                adv, h, inputs.get("group"), inputs.get("labels"), lam=lam, positive_label=pos
            )

        return [named_term(ad_loss, "ad")]
