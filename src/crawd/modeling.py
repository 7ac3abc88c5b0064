"""CrAWD wrappers for causal language models and sequence classifiers.

The causal LM keeps the Hugging Face model intact (so `generate`, the KV cache and `Trainer` work as
usual) and adds the CrAWD branch through two hooks that live as long as the wrapper:

* a forward hook on the transformer body records ``H_x`` (B, n, d), the padding of the rows and, in
  cached generation, how many positions came before;
* a forward pre-hook on the LM head adds the branch to the hidden states it receives:
  ``head="projected"``: ``W_lm (H_x + P H_cross)``; ``head="concat"``: a forward hook adds
  ``W_c H_cross`` to the logits.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import CrawdConfig
from .errors import CrawdUsageError
from .wrapper import CAUSAL_ARCHS, ENCODER_ARCHS, CrawdModelBase, backbone_of


class CrawdForCausalLM(CrawdModelBase):
    """A causal LM with the paper's cross-attention weight decay on its final representation."""

    task = "causal-lm"
    supported_archs = CAUSAL_ARCHS

    @classmethod
    def from_base(cls, model: nn.Module, tokenizer, config: CrawdConfig | None = None) -> CrawdForCausalLM:
        """Wrap an already-loaded transformers causal LM; logits are unchanged until training."""
        return cls(model, tokenizer, config or CrawdConfig())

    def __init__(self, base: nn.Module, tokenizer, config: CrawdConfig) -> None:
        super().__init__(base, tokenizer, config)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if getattr(base.generation_config, "pad_token_id", None) is None:
            base.generation_config.pad_token_id = tokenizer.pad_token_id
        self._inject_lora()
        self._state: dict = {}
        self._history: tuple | None = None
        self._encoding_reference = False
        if config.mode == "paper":
            d = base.config.hidden_size
            self.block = self._make_block(d)
            if config.head == "projected":
                self.proj = nn.Linear(d, d, bias=False)
            else:
                self.proj = nn.Linear(d, base.get_output_embeddings().weight.shape[0], bias=False)
            nn.init.zeros_(self.proj.weight)
            self._place(self.block, self.proj)
            body = backbone_of(base)
            head = base.get_output_embeddings()
            self._hooks.append(body.register_forward_hook(self._record_body, with_kwargs=True))
            if config.head == "projected":
                self._hooks.append(head.register_forward_pre_hook(self._add_projected))
            else:
                self._hooks.append(head.register_forward_hook(self._add_concat))
        elif config.mode == "attention":
            from .attention_mode import AttentionDecay

            self.attn_decay = AttentionDecay(
                self
            )  # in-layer decay of self-attention (docs/ATTENTION_MODE.md)

    # --- hooks -------------------------------------------------------------------------------------
    def _record_body(self, module, args, kwargs, output) -> None:
        if self._encoding_reference or not self._crawd_enabled:
            return
        h_x = output[0] if isinstance(output, tuple) else output.last_hidden_state  # (B, n, d)
        B, n, _ = h_x.shape
        mask = kwargs.get("attention_mask")
        rows = mask[:, -n:].bool() if isinstance(mask, torch.Tensor) and mask.dim() == 2 else None  # (B, n)
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        past = 0
        if cache is not None and hasattr(cache, "get_seq_length"):
            past = int(cache.get_seq_length()) - n
        self._state = {"h_x": h_x, "rows": rows, "past": past, "cached": cache is not None}

    def _cross_for_head(self, n_out: int) -> torch.Tensor | None:
        """H_cross (B, n_out, d) for the last ``n_out`` rows of the recorded body output."""
        st = self._state
        if not st or not self._crawd_enabled:
            return None
        h_x, rows, past = st["h_x"], st["rows"], st["past"]
        history = None
        if self.crawd_config.topk_scope == "example" and past > 0:
            history = self._take_history(past, h_x.shape[0])
        h_b = self.encode_reference()  # (1, m, d)
        h_cross, raw = self.block(
            h_x, h_b, slot_mask=self.ref_slot_mask, row_mask=rows, history=history, keep_last=n_out
        )
        if st["cached"] and not torch.is_grad_enabled() and self.crawd_config.topk_scope == "example":
            r = rows if rows is not None else torch.ones(h_x.shape[:2], dtype=torch.bool, device=h_x.device)
            self._history = (
                (raw, r)
                if history is None
                else (torch.cat([history[0], raw], 2), torch.cat([history[1], r], 1))
            )
        self._state = {}
        return h_cross

    def _take_history(self, past: int, batch: int):
        hist = self._history
        if hist is None or hist[0].shape[0] != batch or hist[0].shape[2] < past:
            raise CrawdUsageError(
                "cached generation lost the history of earlier cross-attention weights (beam search or a "
                "reordered cache?); use topk_scope='token' for that decoding mode"
            )
        return hist[0][:, :, :past], hist[1][:, :past]

    def _add_projected(self, module, args):
        hidden = args[0]  # (B, n_out, d)
        h_cross = self._cross_for_head(hidden.shape[1])
        if h_cross is None:
            return None
        return (hidden + self.proj(h_cross),) + tuple(args[1:])

    def _add_concat(self, module, args, output):
        h_cross = self._cross_for_head(args[0].shape[1])
        if h_cross is None:
            return None
        return output + self.proj(h_cross)

    # --- public API --------------------------------------------------------------------------------
    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        """Same inputs and outputs as the base model's forward (``.loss``, ``.logits``, cache)."""
        return self.base(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)

    def generate(self, *args, **kwargs):
        """transformers' ``generate`` with the KV cache; the CrAWD branch acts at every step."""
        if (kwargs.get("num_beams") or 1) > 1 and (
            self.crawd_config.mode == "attention"
            or (self.crawd_config.mode == "paper" and self.crawd_config.topk_scope == "example")
        ):
            raise CrawdUsageError(
                "beam search needs mode='paper' with topk_scope='token' (example scope and mode='attention' "
                "keep a per-sequence history that a reordered beam cache would break)"
            )
        self._history = None
        try:
            return self.base.generate(*args, **kwargs)
        finally:
            self._history = None
            self._state = {}

    def can_generate(self) -> bool:
        return True

    @property
    def generation_config(self):
        return self.base.generation_config

    def _forward_recording(self, input_ids, attention_mask=None, **kwargs) -> None:
        self.base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)

    def _body_states(self, input_ids, attention_mask=None) -> torch.Tensor:
        out = backbone_of(self.base)(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        self._state = {}  # the body hook recorded this call; nothing reads it
        return out.last_hidden_state  # (B, n, d)


class CrawdForSequenceClassification(CrawdModelBase):
    """An encoder classifier whose head reads the pooled concat(H_x, H_cross) (the paper's Table 4)."""

    task = "classification"
    supported_archs = ENCODER_ARCHS
    head_modules = ("classifier", "score")

    @classmethod
    def from_base(
        cls, model: nn.Module, tokenizer, config: CrawdConfig | None = None, num_labels: int | None = None
    ):
        """Wrap a `*ForSequenceClassification` model, or a bare encoder (a new classifier is added)."""
        config = config or CrawdConfig()
        if not hasattr(model, "classifier") and not hasattr(model, "score"):
            model = _classifier_from_encoder(model, num_labels or config.num_labels or 2)
        elif num_labels is not None and num_labels != model.config.num_labels:
            raise CrawdUsageError(
                f"num_labels={num_labels} but the model's classifier has {model.config.num_labels}"
            )
        config.num_labels = model.config.num_labels
        return cls(model, tokenizer, config)

    def __init__(self, base: nn.Module, tokenizer, config: CrawdConfig) -> None:
        if config.mode == "attention":
            raise CrawdUsageError(
                "mode='attention' supports causal LMs only; use mode='paper' for classifiers"
            )
        super().__init__(base, tokenizer, config)
        self._encoding_reference = False
        self._inject_lora(extra_trainable=self.head_modules)
        if config.mode == "paper":
            d = base.config.hidden_size
            self.block = self._make_block(d)
            self.proj = nn.Linear(d, base.config.num_labels, bias=False)  # W_c, zero-initialised
            nn.init.zeros_(self.proj.weight)
            self.cross_dropout = nn.Dropout(config.dropout)
            self._place(self.block, self.proj)

    def forward(self, input_ids=None, attention_mask=None, labels=None, token_type_ids=None, **kwargs):
        from transformers.modeling_outputs import SequenceClassifierOutput

        kwargs.pop("num_items_in_batch", None)
        kwargs.pop("output_hidden_states", None)  # always on: the block reads the last hidden state
        out = self.base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_hidden_states=True,
            **kwargs,
        )
        logits = out.logits  # (B, C): the base classifier on the pooled H_x
        if self.crawd_config.mode == "paper" and self._crawd_enabled:
            h_cross = self._cross_all_rows(out.hidden_states[-1], attention_mask)  # (B, n, d)
            logits = logits + self.proj(self.cross_dropout(h_cross[:, 0]))  # pooled at [CLS]
        loss = None
        if labels is not None:
            if logits.shape[-1] == 1:
                loss = nn.functional.mse_loss(logits.squeeze(-1), labels.float())
            else:
                loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions
        )

    def _forward_recording(self, input_ids, attention_mask=None, **kwargs) -> None:
        self.forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _body_states(self, input_ids, attention_mask=None) -> torch.Tensor:
        return backbone_of(self.base)(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _classifier_from_encoder(encoder: nn.Module, num_labels: int) -> nn.Module:
    """A `AutoModelForSequenceClassification` of the encoder's config carrying the encoder's weights."""
    from transformers import AutoModelForSequenceClassification

    cfg = encoder.config
    cfg.num_labels = num_labels
    model = AutoModelForSequenceClassification.from_config(cfg)
    missing = backbone_of(model).load_state_dict(encoder.state_dict(), strict=False)
    if missing.unexpected_keys:
        raise CrawdUsageError(
            f"encoder weights do not fit {type(model).__name__}: {missing.unexpected_keys[:3]}"
        )
    model.name_or_path = getattr(encoder, "name_or_path", None) or cfg.name_or_path
    return model.to(next(encoder.parameters()).device).eval()
