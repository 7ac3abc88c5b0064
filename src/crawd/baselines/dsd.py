"""DSD, Deep Soft Debias (Rakshit et al. 2025) — **Reconstruction** after Bolukbasi et al.'s soft debias.

1. Bias subspace ``B`` (k x d): top principal component(s) of the definitional pairs' centred
   input embeddings (she-he, her-his, woman-man, ...).
2. A residual MLP ``f(e) = e + MLP(e)`` (identity at start) is fitted on the vocabulary embeddings
   ``W`` by minimising ``||f(W_b) f(W_b)^T - W_b W_b^T||_F^2 / b^2 + lambda ||f(N_b) B^T||^2 / |N_b|``
   over random vocabulary batches ``W_b`` and gender-neutral batches ``N_b`` (scale-normalised by
   the mean squared embedding norm, so the defaults fit any model).
3. ``f`` is frozen and inserted in front of the embedding layer (a forward hook on the input
   embeddings), then the model is fine-tuned as vanilla. ``f`` is saved with the model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import CrawdUsageError
from .base import Method, MethodCausalLM
from .lexicon import DEFINITIONAL_PAIRS, gendered_words


class ResidualMLP(nn.Module):
    """``f(e) = e + W2 gelu(W1 e)``; W2 starts at zero, so f starts as the identity."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return e + self.fc2(nn.functional.gelu(self.fc1(e)))


def _first_token(tokenizer, word: str) -> int | None:
    probe = tokenizer(" he", add_special_tokens=False)["input_ids"]
    toks = tokenizer((" " if len(probe) == 1 else "") + word, add_special_tokens=False)["input_ids"]
    return toks[0] if len(toks) == 1 else None


def bias_subspace(embeddings: torch.Tensor, tokenizer, pairs=DEFINITIONAL_PAIRS, k: int = 1) -> torch.Tensor:
    """B (k, d): top-k principal directions of the pair-centred definitional embeddings."""
    rows = []
    for a, b in pairs:
        ia, ib = _first_token(tokenizer, a), _first_token(tokenizer, b)
        if ia is None or ib is None:
            continue
        ea, eb = embeddings[ia].float(), embeddings[ib].float()
        mu = (ea + eb) / 2
        rows += [ea - mu, eb - mu]
    if len(rows) < 4:
        raise CrawdUsageError("dsd: fewer than 2 definitional pairs are single tokens for this tokenizer")
    _, _, vh = torch.linalg.svd(torch.stack(rows), full_matrices=False)
    return vh[:k]


def neutral_token_ids(tokenizer, vocab_size: int) -> torch.Tensor:
    """Ids of tokens that are not gendered words (word pieces stripped of their space markers)."""
    gendered = gendered_words()
    toks = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    keep = [i for i, t in enumerate(toks) if t is not None and t.lstrip("Ġ▁#").lower() not in gendered]
    return torch.tensor(keep, dtype=torch.long)


def dsd_objective(
    f: nn.Module, w_b: torch.Tensor, n_b: torch.Tensor, B: torch.Tensor, lam: float, scale: float
):
    """(total, inner-product term, bias term) of the soft-debias objective on one batch."""
    fw = f(w_b)
    gram = (fw @ fw.T - w_b @ w_b.T).pow(2).mean() / scale**2
    bias = (f(n_b) @ B.T).pow(2).sum(-1).mean() / scale
    return gram + lam * bias, gram, bias


def fit_soft_debias(
    f: nn.Module,
    embeddings: torch.Tensor,  # (V, d) frozen vocabulary embeddings
    neutral: torch.Tensor,  # ids of neutral words
    B: torch.Tensor,  # (k, d)
    *,
    lam: float = 0.2,
    steps: int = 200,
    batch: int = 512,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Fit ``f`` with Adam; returns the loss per step."""
    W = embeddings.detach().float()
    B = B.float().to(W.device)
    scale = float(W.pow(2).sum(-1).mean())
    f.float().train()
    opt = torch.optim.Adam(f.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        wi = torch.randint(0, W.shape[0], (batch,), generator=gen)
        ni = neutral[torch.randint(0, len(neutral), (batch,), generator=gen)]
        loss, _, _ = dsd_objective(f, W[wi.to(W.device)], W[ni.to(W.device)], B, lam, scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    f.eval()
    return losses


class DeepSoftDebias(Method):
    """DSD: a frozen residual MLP debiasing the token embeddings, then vanilla fine-tuning."""

    name: ClassVar[str] = "dsd"
    tasks: ClassVar[frozenset[str]] = frozenset({"causal-lm"})
    reconstruction: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Reconstruction: residual MLP on the input embeddings fitted to keep inner products and remove "
        "the gender direction from neutral words (soft debias), then vanilla fine-tuning."
    )
    defaults: ClassVar[dict[str, Any]] = {
        "lam": 0.2,
        "steps": 200,
        "batch": 512,
        "lr": 1e-3,
        "hidden": None,  # MLP width; None = the model width
        "k": 1,
        "seed": 0,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.fit_losses: list[float] = []

    def wrapper_class(self, task: str) -> type:
        return MethodCausalLM

    def attach(self, model, tokenizer, *, fit: bool) -> None:
        o = self.options
        emb = model.base.get_input_embeddings()
        W = emb.weight.detach()
        d = W.shape[1]
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(int(o["seed"]))
            f = ResidualMLP(d, int(o["hidden"] or d)).to(W.device)
        if fit:
            B = bias_subspace(W, tokenizer, k=int(o["k"]))
            neutral = neutral_token_ids(tokenizer, W.shape[0])
            self.fit_losses = fit_soft_debias(
                f,
                W,
                neutral,
                B,
                lam=float(o["lam"]),
                steps=int(o["steps"]),
                batch=int(o["batch"]),
                lr=float(o["lr"]),
                seed=int(o["seed"]),
            )
        for p in f.parameters():
            p.requires_grad_(False)
        model.method_extras["dsd"] = f
        model._place(f)
        model._hooks.append(emb.register_forward_hook(lambda mod, args, out: model.method_extras["dsd"](out)))
