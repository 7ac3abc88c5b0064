"""CBE, Controlling Bias Exposure (He et al. 2022) — **Reconstruction on a transformer encoder**.

The original uses two rationale extractors over GloVe + BiLSTM. Here:

* the *bias extractor* is a small auxiliary model over the frozen input embeddings: token gates
  ``p_b(t) = sigmoid(u . e_t + c)`` pool the embeddings, a linear layer predicts the protected
  attribute; it is fitted before fine-tuning (cross-entropy + ``sparsity * mean gate``) and frozen;
* the task model's token selection ``p_o(t)`` is its last-layer [CLS] attention, averaged over heads;
* ``E = mean_t 1[p_b(t) > 1 - tau] * (-log(1 - p_o(t) + eps))``, ``loss = CE + w E``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import CrawdUsageError
from .base import Method, attentions_of, named_term
from .ibm import attention_importance


def cbe_penalty(
    p_b: torch.Tensor,  # (B, n) bias-extractor selection probabilities
    p_o: torch.Tensor,  # (B, n) task-model selection (attention importance), in [0, 1]
    mask: torch.Tensor | None = None,  # (B, n)
    *,
    tau: float = 0.5,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Mean over real tokens of ``1[p_b > 1 - tau] * -log(1 - p_o + eps)``; zero when none is selected."""
    sel = (p_b > 1 - tau).to(p_o.dtype)
    if mask is not None:
        sel = sel * mask.to(p_o.dtype)
    energy = -torch.log((1 - p_o).clamp_min(0) + eps)
    denom = mask.sum() if mask is not None else torch.tensor(float(p_o.numel()))
    return (sel * energy).sum() / denom.clamp_min(1).to(p_o.dtype)


class BiasExtractor(nn.Module):
    """Token gates over embeddings, pooled into a protected-attribute classifier."""

    def __init__(self, dim: int, num_groups: int) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, 1)
        self.out = nn.Linear(dim, num_groups)

    def gates(self, emb: torch.Tensor) -> torch.Tensor:  # (B, n, d) -> (B, n)
        return torch.sigmoid(self.gate(emb)).squeeze(-1)

    def forward(self, emb: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.gates(emb) * mask  # (B, n)
        pooled = (g.unsqueeze(-1) * emb).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)  # (B, d)
        return self.out(pooled), g


class ControllingBiasExposure(Method):
    """CBE: keep the task model's attention off tokens a protected-attribute extractor selects."""

    name: ClassVar[str] = "cbe"
    tasks: ClassVar[frozenset[str]] = frozenset({"classification"})
    reconstruction: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Reconstruction: CE + w * mean_t 1[p_b(t) > 1 - tau] * -log(1 - p_o(t)); p_b from a frozen "
        "protected-attribute gate model, p_o the task model's [CLS] attention."
    )
    defaults: ClassVar[dict[str, Any]] = {
        "weight": 0.1,
        "tau": 0.5,
        "num_groups": None,  # None: the number of groups in the training data (at least 2)
        "sparsity": 0.05,
        "aux_epochs": 3,
        "aux_lr": 1e-2,
        "aux_batch": 32,
        "max_length": 128,
        "seed": 0,
    }
    needs_attentions: ClassVar[bool] = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.extractor: BiasExtractor | None = None

    @torch.no_grad()
    def _embed(self, model, input_ids: torch.Tensor) -> torch.Tensor:
        return model.base.get_input_embeddings()(input_ids).float()

    def prepare(self, model, tokenizer, texts, labels=None, groups=None) -> None:
        """Fit the bias extractor on the training texts and their protected attribute."""
        if groups is None:
            raise CrawdUsageError("cbe needs the protected attribute of each training text (groups=)")
        o = self.options
        dev = next(model.parameters()).device
        n_groups = int(o["num_groups"] or max(2, max(int(g) for g in groups) + 1))
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(int(o["seed"]))
            ext = BiasExtractor(model.base.config.hidden_size, n_groups).to(dev)
        opt = torch.optim.Adam(ext.parameters(), lr=float(o["aux_lr"]))
        idx = [i for i, g in enumerate(groups) if int(g) >= 0]
        gen = torch.Generator().manual_seed(int(o["seed"]))
        for _ in range(int(o["aux_epochs"])):
            order = [idx[i] for i in torch.randperm(len(idx), generator=gen).tolist()]
            for s in range(0, len(order), int(o["aux_batch"])):
                part = order[s : s + int(o["aux_batch"])]
                enc = tokenizer(
                    [texts[i] for i in part],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=int(o["max_length"]),
                )
                emb = self._embed(model, enc.input_ids.to(dev))
                mask = enc.attention_mask.to(dev).float()
                logits, g = ext(emb, mask)
                y = torch.tensor([int(groups[i]) for i in part], device=dev)
                loss = nn.functional.cross_entropy(logits, y) + float(o["sparsity"]) * (
                    g.sum() / mask.sum().clamp_min(1)
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
        for p in ext.parameters():
            p.requires_grad_(False)
        self.extractor = ext.eval()

    def transform_train_data(self, texts, labels=None, groups=None):
        """Unchanged data; kept so that `loss_terms` can fit the extractor if `prepare` was not called."""
        out = super().transform_train_data(texts, labels, groups)
        self._train_data = out
        return out

    def loss_terms(self, model, tokenizer, config):
        if self.extractor is None and getattr(self, "_train_data", None) is not None:
            texts, labels, groups = self._train_data
            if groups is not None and not all(isinstance(g, int) for g in groups):
                from .train import _group_ids

                groups = _group_ids(groups)[0]
            self.prepare(model, tokenizer, texts, labels, groups)
        if self.extractor is None:
            raise CrawdUsageError(
                "cbe: call prepare(model, tokenizer, texts, labels, groups) before training"
            )
        weight, tau = float(self.options["weight"]), float(self.options["tau"])
        ext = self.extractor

        def cbe_loss(model, inputs, outputs) -> torch.Tensor:
            mask = inputs.get("attention_mask")
            with torch.no_grad():
                p_b = ext.gates(self._embed(model, inputs["input_ids"]))  # (B, n)
            att = attentions_of(outputs, "cbe")[-1]  # (B, h, n, n)
            p_o = attention_importance(att, mask, causal=False)  # (B, n)
            return weight * cbe_penalty(p_b, p_o.float(), mask, tau=tau)

        return [named_term(cbe_loss, "cbe")]
