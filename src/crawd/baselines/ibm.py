"""IBM, Indirect Bias Mitigation (Haque et al. 2024) — **Reconstruction**.

Attention importance ``a_i``: attention token i receives from the prediction position ([CLS] for
encoders, the last real token for decoders), last layer, averaged over heads. Sensitive similarity
``s_i = max_s cos(h_i, e_s)`` between the token's last hidden state and the reference tokens'
representations ``e_s`` (the reference words through the same model, no gradient).
``loss = L_task + w * mean_batch(sum_i a_i s_i)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..reference import tokenize_reference
from ..wrapper import backbone_of
from .base import Method, attentions_of, named_term, prediction_index


def attention_importance(
    last_attention: torch.Tensor,  # (B, h, n, n) probabilities of the last layer
    attention_mask: torch.Tensor | None,  # (B, n)
    causal: bool,
) -> torch.Tensor:
    """a (B, n): the head-averaged attention row of the prediction position."""
    B, _, n, _ = last_attention.shape
    idx = prediction_index(attention_mask, B, n, causal).to(last_attention.device)  # (B,)
    rows = last_attention.mean(1)[torch.arange(B, device=idx.device), idx]  # (B, n)
    if attention_mask is not None:
        rows = rows * attention_mask.to(rows.dtype)
    return rows


def sensitive_similarity(hidden: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """s (B, n) = max over reference tokens of cos(h_i, e_s); hidden (B, n, d), reference (m, d)."""
    h = torch.nn.functional.normalize(hidden.float(), dim=-1)
    e = torch.nn.functional.normalize(reference.float(), dim=-1)
    return (h @ e.T).max(-1).values


@torch.no_grad()
def reference_representations(model, tokenizer, words: list[str], max_tokens: int = 32) -> torch.Tensor:
    """e (m, d): last hidden states of the reference word tokens through the model's backbone."""
    if getattr(model, "crawd_config", None) is not None and model.crawd_config.mode != "none":
        h_b = model.encode_reference()  # (1, m, d)
        return h_b[0, model.ref_slot_mask[0]].detach()
    ref = tokenize_reference(tokenizer, words, max_tokens=max_tokens)
    base = getattr(model, "base", model)
    dev = next(base.parameters()).device
    body = backbone_of(base)
    out = body(input_ids=ref.input_ids.to(dev), attention_mask=ref.attention_mask.to(dev))
    return out.last_hidden_state[0, ref.slot_mask[0].to(dev)].detach()  # (m, d)


class IBM(Method):
    """IBM: penalise attention importance on tokens similar to the sensitive reference tokens."""

    name: ClassVar[str] = "ibm"
    reconstruction: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Reconstruction: task loss + w * sum_i a_i max_s cos(h_i, e_s) (last-layer attention importance "
        "from the prediction position)."
    )
    defaults: ClassVar[dict[str, Any]] = {"weight": 0.1}
    needs_attentions: ClassVar[bool] = True

    def loss_terms(self, model, tokenizer, config):
        self.configure(config)
        weight = float(self.options["weight"])
        words, max_tokens = self.reference_words, config.max_reference_tokens
        causal = getattr(model, "task", "causal-lm") == "causal-lm"

        def ibm_loss(model, inputs, outputs) -> torch.Tensor:
            att = attentions_of(outputs, "ibm")[-1]  # (B, h, n, n)
            hidden = outputs.hidden_states[-1]  # (B, n, d)
            ref = reference_representations(model, tokenizer, words, max_tokens).to(hidden.device)
            a = attention_importance(att, inputs.get("attention_mask"), causal)  # (B, n)
            s = sensitive_similarity(hidden, ref)  # (B, n)
            return weight * (a.float() * s).sum(-1).mean()

        return [named_term(ibm_loss, "ibm")]
