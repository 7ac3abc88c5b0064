"""mode="attention": in-layer CrAWD that decays self-attention toward sensitive-associated tokens.

Beyond the paper (docs/METHOD.md section 4, last point). In each selected layer l every input token i
gets an association score ``s_l(i)`` with the reference sequence (at layer l); the top-K% most
associated tokens of each example are selected and every query's self-attention logit toward them gets
``log(lambda)`` added, i.e. their attention weights are multiplied by lambda and the row is renormalised.

Decisions (documented in docs/ATTENTION_MODE.md):

* **Causal ("online") top-K%.** Token t is selected when it arrives, against the tokens seen so far:
  ``rank_t < round(K * c_t)`` where ``c_t`` counts the eligible tokens 0..t of its row and ``rank_t`` those
  with a higher score (ties: the earlier one ranks higher). Later tokens never change an earlier
  decision, so the per-key bias is cached with the keys: cached decoding equals the uncached pass and
  no future information leaks into training. Padding and the first real token of each row (the
  attention sink) are never selected.
* **Scorers.** ``direction`` (no parameters): ``|P_U(h_c)| / |h_c|``, the cosine between the token's
  hidden state entering the layer (centred by the mean reference representation of that layer) and the
  subspace U of one group's centred reference word representations (he - she for {he, she}; the
  principal directions for more words); the maximum over groups. ``cross_attention`` (learned, per
  layer): the largest scaled dot product over heads and reference slots between projections of the
  layer-normalised token and reference states; the projections start tied (a random orthogonal
  projection, so the score starts as a similarity) and learn through a straight-through estimator.
* **Reference representations** are the hidden states of the reference sequence entering each layer,
  computed without gradient once per forward (cached while weights are unchanged).
* **Attention.** A registered ``AttentionInterface`` function ``crawd_sdpa`` (mask: transformers'
  ``sdpa_mask``) calls transformers' ``sdpa_attention_forward`` with the bias as ``position_bias``: the
  scaled-dot-product path stays in use; layers without a bias run plain SDPA (bit-identical to the base).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .errors import CrawdUsageError
from .reference import GROUPS

ATTN_KEY = "crawd_sdpa"
#: Words outside the paper's groups that still belong to one (the paper's Table 3 adds man/woman, male/female).
_EXTRA_GENDER = (
    "man woman male female men women boy girl his her him hers father mother son daughter brother sister "
    "husband wife king queen mr mrs ms sir madam uncle aunt actor actress gentleman lady"
)
EXTRA_GROUP_WORDS: dict[str, str] = {w: "gender" for w in _EXTRA_GENDER.split()}


def register_attention() -> None:
    """Register ``crawd_sdpa`` in transformers' attention and mask interfaces (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTN_KEY, crawd_sdpa_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_KEY, sdpa_mask)


def crawd_sdpa_attention(module: nn.Module, query, key, value, attention_mask, **kwargs):
    """SDPA with the per-key CrAWD bias of ``module`` (``module._crawd_bias`` (B, kv) or None) added."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bias = getattr(module, "_crawd_bias", None)
    if bias is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if bias.shape[-1] != key.shape[2] or bias.shape[0] not in (1, query.shape[0]):
        raise CrawdUsageError(
            f"attention-mode bias covers {tuple(bias.shape)} keys but layer {module.layer_idx} has "
            f"{tuple(key.shape[:3])}: the cache and the CrAWD history are out of step (beam search or a "
            "reordered / sliding cache is not supported in mode='attention')"
        )
    pb = bias[:, None, None, :].to(query.dtype)  # (B, 1, 1, kv): log(lambda) on decayed keys, 0 elsewhere
    return sdpa_attention_forward(module, query, key, value, attention_mask, position_bias=pb, **kwargs)


def online_topk(
    scores: torch.Tensor,  # (B, T) scores of all positions (history + new)
    eligible: torch.Tensor,  # (B, T) bool: positions that may be selected
    n_new: int,
    top_k: float,
) -> torch.Tensor:
    """Causal top-K%: for each of the last ``n_new`` positions t, selected iff eligible and its rank among
    the eligible positions 0..t is below round(K * count). Returns (B, n_new) bool.

    >>> s = torch.tensor([[0.0, 0.9, 0.1, 0.8, 0.2]]); e = torch.tensor([[False, True, True, True, True]])
    >>> online_topk(s, e, 5, 0.5).int().tolist()
    [[0, 1, 0, 1, 0]]
    """
    with torch.no_grad():
        B, T = scores.shape
        t = torch.arange(T - n_new, T, device=scores.device)  # (n,)
        j = torch.arange(T, device=scores.device)  # (T,)
        before = j[None, :] <= t[:, None]  # (n, T)
        s_t = scores[:, T - n_new :, None]  # (B, n, 1)
        s_j = scores[:, None, :]  # (B, 1, T)
        higher = (s_j > s_t) | ((s_j == s_t) & (j[None, None, :] < t[None, :, None]))  # (B, n, T)
        pool = eligible[:, None, :] & before[None]  # (B, n, T)
        count = pool.sum(-1)  # (B, n)
        rank = (higher & pool).sum(-1)  # (B, n)
        k = torch.floor(count.double() * top_k + 0.5).long()  # (B, n): round(K * count)
        return eligible[:, T - n_new :] & (rank < k)  # (B, n)


def reference_groups(words: list[str], word_of_slot: list[str | None]) -> list[list[list[int]]]:
    """Slots grouped by sensitive group, then by word: [[slots of word 1, slots of word 2, ...], ...]."""
    group_of = {w.lower(): g for g, ws in GROUPS.items() if g != "all" for w in ws}
    group_of = {**EXTRA_GROUP_WORDS, **group_of}
    groups: dict[str, list[list[int]]] = {}
    for w in words:
        slots = [i for i, o in enumerate(word_of_slot) if o == w]
        if slots:
            groups.setdefault(group_of.get(w.lower(), "custom"), []).append(slots)
    return list(groups.values())


class CrossAttentionScorer(nn.Module):
    """Learned association: max over heads and reference slots of q_i . k_s / sqrt(d_head)."""

    def __init__(self, hidden_size: int, num_heads: int, attn_dim: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, attn_dim // num_heads
        self.norm = nn.LayerNorm(hidden_size, elementwise_affine=False)
        self.q_proj = nn.Linear(hidden_size, attn_dim, bias=False)
        self.k_proj = nn.Linear(hidden_size, attn_dim, bias=False)
        w = torch.empty(attn_dim, hidden_size)
        nn.init.orthogonal_(w)
        with torch.no_grad():  # tied start: q . k is a (projected) similarity of the normalised states
            self.q_proj.weight.copy_(w)
            self.k_proj.weight.copy_(w)

    def forward(self, h: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """h (B, n, d), ref (m, d) reference word slots -> scores (B, n)."""
        B, n, _ = h.shape
        q = self.q_proj(self.norm(h)).view(B, n, self.num_heads, self.head_dim)  # (B, n, H, dh)
        k = self.k_proj(self.norm(ref.to(h.dtype))).view(-1, self.num_heads, self.head_dim)  # (m, H, dh)
        logits = torch.einsum("bnhd,mhd->bnhm", q, k) / math.sqrt(self.head_dim)  # (B, n, H, m)
        return logits.flatten(2).amax(-1)  # (B, n)


def direction_scores(h: torch.Tensor, center: torch.Tensor, bases: list[torch.Tensor]) -> torch.Tensor:
    """h (B, n, d), center (d,), bases [(r_g, d) orthonormal rows] -> max_g |P_g(h - c)| / |h - c|: (B, n)."""
    hc = (h - center.to(h.dtype)).float()  # (B, n, d)
    hc = hc / hc.norm(dim=-1, keepdim=True).clamp_min(1e-6)  # (B, n, d)
    per_group = [(hc @ u.float().T).norm(dim=-1) for u in bases]  # each (B, n)
    return torch.stack(per_group, 0).amax(0)  # (B, n)


def group_bases(ref: torch.Tensor, groups: list[list[list[int]]]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """ref (m, d) slot states -> (center (d,), per group an orthonormal (r, d) basis of its centred words)."""
    words = [ref[s].float().mean(0) for g in groups for s in g]  # each (d,)
    center = torch.stack(words).mean(0)  # (d,)
    bases = []
    for g in groups:
        r = torch.stack([ref[s].float().mean(0) for s in g])  # (k, d)
        if len(g) == 1:
            u = (r[0] - center)[None] if len(words) > 1 else r  # a lone word: its own (centred) direction
        else:
            _, sv, vh = torch.linalg.svd(r - r.mean(0), full_matrices=False)  # vh (k, d)
            u = vh[: len(g) - 1][sv[: len(g) - 1] > 1e-6 * sv[0].clamp_min(1e-12)]  # (k-1, d)
        bases.append(u / u.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    return center, bases


def decoder_layers(backbone: nn.Module) -> list[nn.Module]:
    for name in ("layers", "h"):
        layers = getattr(backbone, name, None)
        if isinstance(layers, nn.ModuleList):
            return list(layers)
    raise CrawdUsageError(f"mode='attention': cannot find the decoder layers of {type(backbone).__name__}")


class AttentionDecay(nn.Module):
    """The attention-mode controller: hooks, per-layer scorers and the cached per-key bias history."""

    def __init__(self, owner: nn.Module) -> None:
        super().__init__()
        from .wrapper import backbone_of

        cfg = owner.crawd_config
        object.__setattr__(self, "_owner", owner)  # not a submodule (no cycle in state_dict)
        self.backbone = [backbone_of(owner.base)]  # a list: not registered as a submodule
        layers = decoder_layers(self.backbone[0])
        L = len(layers)
        chosen = cfg.attention_layers if cfg.attention_layers is not None else list(range(L // 3, L))
        bad = [i for i in chosen if not -L <= i < L]
        if bad:
            raise CrawdUsageError(f"attention_layers {bad} out of range for a model with {L} layers")
        self.layer_ids = sorted({i % L for i in chosen})
        self.top_k, self.association = cfg.top_k, cfg.association
        self.log_decay = max(math.log(cfg.decay), -1e4) if cfg.decay > 0 else -1e4
        self.no_op = cfg.decay == 1.0
        self.groups = reference_groups(owner.reference.words, owner.reference.word_of_slot)
        if self.association == "cross_attention":
            d = owner.base.config.hidden_size
            attn_dim, _ = cfg.resolved_dims(d)
            self.scorers = nn.ModuleDict(
                {str(i): CrossAttentionScorer(d, cfg.num_heads, attn_dim) for i in self.layer_ids}
            )
            owner._place(self.scorers)
        self.record = False
        self.last_selection: dict[int, torch.Tensor] = {}  # layer -> (B, n) bool, when record is on
        self.last_scores: dict[int, torch.Tensor] = {}  # layer -> (B, n), when record is on
        self._step: dict = {}
        self._history: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> scores, bias (B, P)
        self._eligible: torch.Tensor | None = None  # (B, P) bool history
        self._ref_cache: tuple | None = None
        self._attn = {i: getattr(layers[i], "self_attn", None) or layers[i].attn for i in range(L)}
        register_attention()
        owner.base.set_attn_implementation(ATTN_KEY)
        owner._hooks.append(self.backbone[0].register_forward_pre_hook(self._begin, with_kwargs=True))
        for i in self.layer_ids:
            owner._hooks.append(
                layers[i].register_forward_pre_hook(self._make_layer_hook(i), with_kwargs=True)
            )

    # --- the reference at every layer ----------------------------------------------------------------
    def reference_states(self) -> dict:
        """Per selected layer: word slot states (m_w, d) and, for ``direction``, (center, bases)."""
        owner = self._owner
        key = owner._version_key()
        if self._ref_cache is not None and self._ref_cache[0] == key:
            return self._ref_cache[1]
        owner._encoding_reference = True
        try:
            with torch.no_grad():
                out = self.backbone[0](
                    input_ids=owner.ref_input_ids,
                    attention_mask=owner.ref_attention_mask,
                    use_cache=False,
                    output_hidden_states=True,
                )
        finally:
            owner._encoding_reference = False
        states = {}
        for i in self.layer_ids:
            ref = out.hidden_states[i][0]  # (m, d): the reference entering layer i
            states[i] = group_bases(ref, self.groups) if self.association == "direction" else ref
        self._ref_cache = (key, states)
        return states

    def scores(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Association of every token of h (B, n, d) entering ``layer`` with the reference: (B, n)."""
        st = self.reference_states()[layer]
        if self.association == "direction":
            return direction_scores(h, *st)  # (B, n)
        slots = self._owner.ref_slot_mask[0]
        return self.scorers[str(layer)](h, st[slots])  # (B, n)

    # --- hooks ---------------------------------------------------------------------------------------
    def _begin(self, module, args, kwargs) -> None:
        owner = self._owner
        if owner._encoding_reference:  # the nested reference pass: leave the outer pass's state alone
            return
        if not owner._crawd_enabled or self.no_op:
            self._step = {"active": False}
            return
        self.reference_states()  # encode (or fetch) the reference before any layer of this pass runs
        ids = kwargs.get("input_ids", args[0] if args else None)
        emb = kwargs.get("inputs_embeds")
        B, n = ids.shape if ids is not None else emb.shape[:2]
        dev = (ids if ids is not None else emb).device
        mask = kwargs.get("attention_mask")
        valid = (
            mask[:, -n:].bool()
            if isinstance(mask, torch.Tensor) and mask.dim() == 2
            else torch.ones(B, n, dtype=torch.bool, device=dev)
        )  # (B, n)
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        past = int(cache.get_seq_length()) if cache is not None and hasattr(cache, "get_seq_length") else 0
        if past == 0:
            self._history, self._eligible = {}, torch.zeros(B, 0, dtype=torch.bool, device=dev)
        elif self._eligible is None or self._eligible.shape != (B, past):
            raise CrawdUsageError(
                "mode='attention' lost the per-key decay history of the cache (beam search, a reordered cache, "
                "or a cache not built through this model?)"
            )
        seen = (
            self._eligible.any(-1, keepdim=True) if past else torch.zeros(B, 1, dtype=torch.bool, device=dev)
        )
        first = valid & ((valid.long().cumsum(-1) == 1) & ~seen)  # (B, n): the row's first real token
        eligible = valid & ~first  # (B, n)
        keep = not torch.is_grad_enabled()
        self._step = {"active": True, "n": n, "past": past, "eligible": eligible, "keep": keep}
        if keep:
            self._eligible = torch.cat([self._eligible, eligible], 1)  # (B, past + n)

    def _make_layer_hook(self, layer: int):
        def hook(module, args, kwargs):
            self._layer(layer, args[0] if args else kwargs["hidden_states"])

        return hook

    def _layer(self, layer: int, h: torch.Tensor) -> None:
        attn = self._attn[layer]
        st = self._step
        if self._owner._encoding_reference or not st.get("active"):
            attn._crawd_bias = None
            return
        n, past = st["n"], st["past"]
        s_new = self.scores(layer, h)  # (B, n)
        hist_s, hist_b = self._history.get(layer, (s_new[:, :0].detach(), s_new[:, :0].detach()))
        if hist_s.shape[1] != past:
            raise CrawdUsageError(
                f"mode='attention': layer {layer} history has {hist_s.shape[1]} keys, cache {past}"
            )
        elig_all = torch.cat([self._eligible[:, :past], st["eligible"]], 1)  # (B, past + n)
        sel = online_topk(torch.cat([hist_s, s_new.detach()], 1), elig_all, n, self.top_k)  # (B, n)
        bias = sel.to(s_new.dtype)  # (B, n)
        if torch.is_grad_enabled() and self.association == "cross_attention":
            # straight-through: the forward value is exactly log(lambda) * sel; the scorer gets a gradient
            bias = bias + (s_new - s_new.detach()) * st["eligible"].to(s_new.dtype)  # (B, n)
        bias = bias * self.log_decay  # (B, n): log(lambda) on decayed keys, 0 elsewhere
        full = torch.cat([hist_b.to(bias.dtype), bias], 1)  # (B, past + n)
        attn._crawd_bias = full
        if st["keep"]:
            self._history[layer] = (torch.cat([hist_s, s_new.detach()], 1), full.detach())
        if self.record:
            self.last_selection[layer], self.last_scores[layer] = sel, s_new.detach()

    @torch.no_grad()
    def decayed_tokens(self, input_ids, attention_mask=None) -> tuple[dict, dict]:
        """({layer: (B, n) bool selected}, {layer: (B, n) scores}) for a batch, one uncached pass."""
        self.record, self.last_selection, self.last_scores = True, {}, {}
        try:
            self._owner.base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            return dict(self.last_selection), dict(self.last_scores)
        finally:
            self.record = False
