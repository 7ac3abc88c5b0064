"""Looking inside a CrAWD model: the cross-attention of a prompt against the reference (the paper's Fig. 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CrossAttentionMap:
    """Head-averaged cross-attention of one prompt: rows = input tokens, columns = reference tokens."""

    input_tokens: list[str]
    reference_tokens: list[str]
    raw: torch.Tensor  # (n, m) mean over heads, before the decay
    decayed: torch.Tensor  # (n, m) mean over heads, after the decay

    def to_dict(self) -> dict:
        return {
            "input_tokens": self.input_tokens,
            "reference_tokens": self.reference_tokens,
            "raw": self.raw.tolist(),
            "decayed": self.decayed.tolist(),
        }

    def format(self, which: str = "raw", digits: int = 3) -> str:
        """A fixed-width text table of the matrix."""
        mat = self.raw if which == "raw" else self.decayed
        w = max(8, digits + 4, *(len(t) + 1 for t in self.reference_tokens))
        lw = max(6, *(len(t) for t in self.input_tokens)) + 1
        lines = [" " * lw + "".join(t.rjust(w) for t in self.reference_tokens)]
        for tok, row in zip(self.input_tokens, mat.tolist(), strict=True):
            lines.append(tok.ljust(lw) + "".join(f"{v:.{digits}f}".rjust(w) for v in row))
        return "\n".join(lines)


def _clean(tok: str) -> str:
    return tok.replace("Ġ", " ").replace("▁", " ").strip() or tok


def cross_attention_map(model, tokenizer, prompt: str) -> CrossAttentionMap:
    """Cross-attention weights of ``prompt`` against the model's reference words, averaged over heads."""
    enc = tokenizer([prompt], return_tensors="pt").to(model.device)
    raw, decayed = model.cross_attention_weights(enc["input_ids"], enc["attention_mask"])  # (1, h, n, m)
    ids = enc["input_ids"][0].tolist()
    slots = model.ref_slot_mask[0].tolist()
    ref_ids = [t for t, s in zip(model.ref_input_ids[0].tolist(), slots, strict=True) if s]
    return CrossAttentionMap(
        input_tokens=[_clean(t) for t in tokenizer.convert_ids_to_tokens(ids)],
        reference_tokens=[_clean(t) for t in tokenizer.convert_ids_to_tokens(ref_ids)],
        raw=raw[0].mean(0).float().cpu(),
        decayed=decayed[0].mean(0).float().cpu(),
    )


def plot_cross_attention(amap: CrossAttentionMap, *, title: str | None = None):
    """Heatmaps of the raw and decayed weights side by side; returns a matplotlib Figure (never saved here)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n, m = amap.raw.shape
    fig, axes = plt.subplots(1, 2, figsize=(2.2 + 1.1 * m * 2, 1.2 + 0.35 * n), constrained_layout=True)
    vmax = float(amap.raw.max())
    for ax, mat, name in zip(axes, (amap.raw, amap.decayed), ("before decay", "after decay"), strict=True):
        im = ax.imshow(mat.numpy(), cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(m), amap.reference_tokens)
        ax.set_yticks(range(n), amap.input_tokens)
        ax.set_title(name)
        for i in range(n):
            for j in range(m):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(im, ax=axes, shrink=0.8, label="cross-attention (mean over heads)")
    if title:
        fig.suptitle(title)
    return fig
