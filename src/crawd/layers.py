"""The cross-attention block (CAB) of the paper and the top-K% weight decay (Eq. 2).

Shapes: batch B, input length n, reference length m, heads h, model width d, block width a.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def topk_decay_mask(
    beta: torch.Tensor,  # (B, h, n, m) attention weights
    valid: torch.Tensor,  # (B, 1 or h, n, m) bool: entries that may be selected
    top_k: float,
    scope: str = "example",
) -> torch.Tensor:
    """Boolean mask of the top-K% valid entries, per example (``scope="example"``) or per input token.

    Exactly ``ceil(top_k * n_valid)`` entries are selected in each group (ties broken by position);
    invalid entries are never selected. No gradient flows through the selection.

    >>> beta = torch.tensor([[[[0.1, 0.9], [0.6, 0.4]]]])
    >>> valid = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    >>> topk_decay_mask(beta, valid, 0.5).int().tolist()
    [[[[0, 1], [1, 0]]]]
    >>> topk_decay_mask(beta, valid, 0.5, scope="token").int().tolist()
    [[[[0, 1], [1, 0]]]]
    """
    B, h, n, m = beta.shape
    with torch.no_grad():
        valid = valid.expand(B, h, n, m)
        if scope == "example":
            scores = beta.detach().reshape(B, h * n * m)  # (B, h*n*m)
            ok = valid.reshape(B, h * n * m)
        elif scope == "token":
            scores = beta.detach().permute(0, 2, 1, 3).reshape(B * n, h * m)  # (B*n, h*m)
            ok = valid.permute(0, 2, 1, 3).reshape(B * n, h * m)
        else:
            raise ValueError(f"scope must be 'example' or 'token', got {scope!r}")
        count = ok.sum(-1)  # (G,)
        k = torch.ceil(count.to(torch.float64) * top_k - 1e-9).clamp(min=0).long()  # (G,)
        k = torch.minimum(k, count)
        sel = _select_top(scores, ok, k, count)
        if scope == "example":
            return sel.reshape(B, h, n, m)
        return sel.reshape(B, n, h, m).permute(0, 2, 1, 3)


def _select_top(scores: torch.Tensor, ok: torch.Tensor, k: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """(G, N) scores, (G, N) valid, (G,) numbers to select, (G,) valid counts -> (G, N) bool with exactly k[g] valid entries of row g:
    the largest, ties at the threshold broken by position (lowest index first).

    Linear time: the threshold is the k-th largest value (``kthvalue``, a selection, not a sort), then a
    comparison; rows are grouped by their k (one group per distinct k: at most B in example scope, at most
    two in token scope).
    """
    G, N = scores.shape
    sel = torch.zeros_like(ok)
    full = (k == count) & (k > 0)  # (G,): every valid entry is selected
    if bool(full.any()):
        sel[full] = ok[full]
    rest = (~full) & (k > 0)
    if not bool(rest.any()):
        return sel
    for kv in torch.unique(k[rest]).tolist():
        rows = (rest & (k == kv)).nonzero().squeeze(1)  # (R,)
        x = scores[rows].masked_fill(~ok[rows], float("-inf"))  # (R, N)
        tau = x.kthvalue(N - kv + 1, dim=-1, keepdim=True).values  # (R, 1): the kv-th largest
        above = x > tau  # (R, N)
        ties = x == tau  # (R, N): valid, as tau > -inf when kv <= the valid count
        need = kv - above.sum(-1, keepdim=True)  # (R, 1): >= 1
        if bool((ties.sum(-1, keepdim=True) > need).any()):
            ties = ties & (ties.cumsum(-1) <= need)
        sel[rows] = above | ties
    return sel


class CrossAttentionBlock(nn.Module):
    """One multi-head cross-attention layer from the input ``H_x`` to the reference ``H_b``.

    ``H_cross = LN(X + FFN(X))`` with ``X = LN(H_x + A)``, ``A = W_O (beta' V)`` and ``beta'`` the
    cross-attention weights with the top-K% multiplied by ``decay`` (not renormalised by default).
    The block works in a reduced width ``attn_dim`` to keep the added parameters small.
    """

    def __init__(
        self,
        hidden_size: int,
        *,
        num_heads: int = 8,
        attn_dim: int = 64,
        ffn_dim: int = 128,
        dropout: float = 0.1,
        top_k: float = 0.4,
        decay: float = 0.2,
        scope: str = "example",
        renormalize: bool = False,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if attn_dim % num_heads:
            raise ValueError(f"attn_dim={attn_dim} must be a multiple of num_heads={num_heads}")
        self.num_heads, self.head_dim = num_heads, attn_dim // num_heads
        self.top_k, self.decay, self.scope, self.renormalize = top_k, decay, scope, renormalize
        self.q_proj = nn.Linear(hidden_size, attn_dim)
        self.k_proj = nn.Linear(hidden_size, attn_dim)
        self.v_proj = nn.Linear(hidden_size, attn_dim)
        self.o_proj = nn.Linear(attn_dim, hidden_size)
        self.ln1 = nn.LayerNorm(hidden_size, eps=eps)
        self.ffn = nn.Sequential(nn.Linear(hidden_size, ffn_dim), nn.GELU(), nn.Linear(ffn_dim, hidden_size))
        self.ln2 = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.record = False  # when True, the last raw / decayed weights are kept for inspection
        self.last_weights: tuple[torch.Tensor, torch.Tensor] | None = None

    def keys_values(self, h_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project the reference once: (1 or B, m, d) -> K, V of shape (1 or B, h, m, dh)."""
        Bb, m, _ = h_b.shape
        k = self.k_proj(h_b).view(Bb, m, self.num_heads, self.head_dim).transpose(1, 2)  # (Bb, h, m, dh)
        v = self.v_proj(h_b).view(Bb, m, self.num_heads, self.head_dim).transpose(1, 2)  # (Bb, h, m, dh)
        return k, v

    def attention_weights(self, h_x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        B, n, _ = h_x.shape
        q = self.q_proj(h_x).view(B, n, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, n, dh)
        return torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # (B, h, n, m) logits

    def forward(
        self,
        h_x: torch.Tensor,  # (B, n, d) input representations
        h_b: torch.Tensor,  # (1 or B, m, d) reference representations
        *,
        slot_mask: torch.Tensor,  # (m,) or (1, m) bool: reference slots that may be attended
        row_mask: torch.Tensor | None = None,  # (B, n) bool: real (non-padding) input tokens
        history: tuple[torch.Tensor, torch.Tensor] | None = None,  # earlier raw weights (B,h,L,m), rows (B,L)
        keep_last: int | None = None,  # compute H_cross for the last rows only (all rows are ranked)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (H_cross (B, n_out, d), raw weights beta (B, h, n, m))."""
        B, n, d = h_x.shape
        k, v = self.keys_values(h_b)
        logits = self.attention_weights(h_x, k)  # (B, h, n, m)
        slots = slot_mask.reshape(1, 1, 1, -1).to(torch.bool)  # (1, 1, 1, m)
        beta = torch.softmax(logits.masked_fill(~slots, float("-inf")).float(), dim=-1).to(
            h_x.dtype
        )  # (B, h, n, m)
        decayed = self.apply_decay(beta, slots, row_mask, history)  # (B, h, n, m)
        if keep_last is not None and keep_last < n:
            decayed, h_x = (
                decayed[:, :, n - keep_last :],
                h_x[:, n - keep_last :],
            )  # (B, h, n_out, m), (B, n_out, d)
        n_out = h_x.shape[1]
        a = torch.matmul(self.dropout(decayed), v).transpose(1, 2).reshape(B, n_out, -1)  # (B, n_out, h*dh)
        x = self.ln1(h_x + self.dropout(self.o_proj(a)))  # (B, n_out, d)
        return self.ln2(x + self.dropout(self.ffn(x))), beta  # (B, n_out, d), (B, h, n, m)

    def apply_decay(self, beta, slots, row_mask, history=None) -> torch.Tensor:
        """beta (B, h, n, m) -> beta' with the top-K% valid entries multiplied by ``decay``."""
        B, h, n, m = beta.shape
        if self.decay == 1.0:
            out = beta
        else:
            rows = (
                torch.ones(B, n, dtype=torch.bool, device=beta.device)
                if row_mask is None
                else row_mask.bool()
            )
            valid = slots & rows[:, None, :, None]  # (B, 1, n, m)
            if history is not None and self.scope == "example":
                # Cached generation: rank the new rows together with every earlier row of the sequence,
                # so the selection is the one an uncached forward pass over the whole sequence makes.
                h_beta, h_rows = history
                full = torch.cat([h_beta, beta], dim=2)  # (B, h, L+n, m)
                full_valid = torch.cat([slots & h_rows.bool()[:, None, :, None], valid], dim=2)
                sel = topk_decay_mask(full, full_valid, self.top_k, self.scope)[:, :, -n:]  # (B, h, n, m)
            else:
                sel = topk_decay_mask(beta, valid, self.top_k, self.scope)  # (B, h, n, m)
            out = torch.where(sel, beta * self.decay, beta)
            if self.renormalize:
                out = out / out.sum(-1, keepdim=True).clamp_min(1e-12)
        if self.record:
            self.last_weights = (beta.detach(), out.detach())
        return out
