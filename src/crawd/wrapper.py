"""What every CrAWD model shares: LoRA injection, freezing, the reference sequence and its cached
encoding, parameter reports, fingerprints of the base, and adapter-only save / load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager

import torch
from torch import nn

from .config import CrawdConfig
from .errors import CrawdDataError, CrawdUsageError
from .layers import CrossAttentionBlock
from .reference import ReferenceBatch, tokenize_reference

WEIGHTS_NAME = "crawd_model.safetensors"

#: LoRA targets per architecture (attention projections). Other architectures raise a clear error.
LORA_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gpt2": ["c_attn", "c_proj"],
    "bert": ["query", "key", "value"],
    "roberta": ["query", "key", "value"],
}
CAUSAL_ARCHS = ("llama", "mistral", "qwen2", "qwen3", "gpt2")
ENCODER_ARCHS = ("bert", "roberta")


def base_fingerprint(model: nn.Module) -> str | None:
    """A short hash of the base model's weights (a few values of every tensor); None on the meta device."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if "lora_" in name or name.startswith(("crawd_", "block.", "proj.")):
            continue
        if p.device.type == "meta":
            return None
        h.update(name.replace(".base_layer", "").encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(p.detach().flatten()[:16].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def model_type(model: nn.Module) -> str:
    return getattr(getattr(model, "config", None), "model_type", type(model).__name__)


def backbone_of(model: nn.Module) -> nn.Module:
    """The transformer body of a `*ForCausalLM` / `*ForSequenceClassification` model."""
    prefix = getattr(model, "base_model_prefix", "")
    return getattr(model, prefix, None) or model


class CrawdModelBase(nn.Module):
    """Shared machinery; subclasses build the block and the head around a Hugging Face model."""

    task: str = "causal-lm"
    supported_archs: tuple[str, ...] = ()

    def __init__(self, base: nn.Module, tokenizer, config: CrawdConfig) -> None:
        super().__init__()
        arch = model_type(base)
        if arch not in self.supported_archs:
            raise CrawdUsageError(
                f"architecture {arch!r} is not supported by {type(self).__name__}; supported: {list(self.supported_archs)}"
            )
        self.crawd_config = config
        self.tokenizer = tokenizer
        config.task = self.task
        if config.base_model_name_or_path is None:
            config.base_model_name_or_path = getattr(base, "name_or_path", None) or getattr(
                base.config, "name_or_path", None
            )
        if config.base_fingerprint is None:
            config.base_fingerprint = base_fingerprint(base)
        self.base = base
        self._hooks: list = []
        self._ref_cache: tuple | None = None
        self._trainable_params: list | None = None  # cached: walking the module tree costs ms per call
        self._ref_train: list | None = None  # training-time H_b cache (reference_refresh_steps)
        self._crawd_enabled = True
        self.reference: ReferenceBatch | None = None
        if config.mode != "none":
            self.reference = tokenize_reference(
                tokenizer, config.reference_words, max_tokens=config.max_reference_tokens
            )
            dev = _device_of(base)
            self.register_buffer("ref_input_ids", self.reference.input_ids.to(dev), persistent=False)
            self.register_buffer(
                "ref_attention_mask", self.reference.attention_mask.to(dev), persistent=False
            )
            self.register_buffer("ref_slot_mask", self.reference.slot_mask.to(dev), persistent=False)

    # --- construction helpers ----------------------------------------------------------------------
    def _make_block(self, hidden_size: int) -> CrossAttentionBlock:
        c = self.crawd_config
        attn_dim, ffn_dim = c.resolved_dims(hidden_size)
        return CrossAttentionBlock(
            hidden_size,
            num_heads=c.num_heads,
            attn_dim=attn_dim,
            ffn_dim=ffn_dim,
            dropout=c.dropout,
            top_k=c.top_k,
            decay=c.decay,
            scope=c.topk_scope,
            renormalize=c.renormalize,
        )

    def _inject_lora(self, extra_trainable: tuple[str, ...] = ()) -> None:
        """Freeze the base, add LoRA (rank > 0) and mark the head modules of the task trainable."""
        c = self.crawd_config
        for p in self.base.parameters():
            p.requires_grad_(False)
        if getattr(self.base, "is_loaded_in_4bit", False):
            from peft import prepare_model_for_kbit_training

            prepare_model_for_kbit_training(self.base, use_gradient_checkpointing=False)
        if c.lora_r > 0:
            from peft import LoraConfig, inject_adapter_in_model

            targets = c.lora_target_modules or LORA_TARGETS[model_type(self.base)]
            lcfg = LoraConfig(
                r=c.lora_r,
                lora_alpha=c.lora_alpha,
                lora_dropout=c.lora_dropout,
                target_modules=targets,
                fan_in_fan_out=model_type(self.base) == "gpt2",
            )
            try:
                inject_adapter_in_model(lcfg, self.base)
            except ValueError as exc:
                raise CrawdUsageError(f"lora_target_modules {targets}: {str(exc).splitlines()[0]}") from None
            for n, p in self.base.named_parameters():
                if "lora_" in n:
                    p.requires_grad_(True)
        for n, p in self.base.named_parameters():
            if any(n.startswith(e + ".") or f".{e}." in n for e in extra_trainable):
                p.requires_grad_(True)

    def _place(self, *modules: nn.Module) -> None:
        dev, dtype = _device_of(self.base), _float_dtype_of(self.base)
        for m in modules:
            m.to(device=dev, dtype=dtype)

    # --- the reference sequence --------------------------------------------------------------------
    def _trainable(self) -> list:
        """The trainable tensors, listed once (again after `train()` / `eval()` or an invalidation)."""
        if self._trainable_params is None:
            self._trainable_params = [p for p in self.parameters() if p.requires_grad]
        return self._trainable_params

    def train(self, mode: bool = True):
        self._trainable_params = None
        return super().train(mode)

    def _version_key(self) -> tuple:
        return (
            self.training,
            self.ref_input_ids.device,
            tuple(p._version for p in self._trainable()),
        )

    def encode_reference(self) -> torch.Tensor:
        """H_b (1, m, d): the reference through the same (adapter-tuned) model, once per forward pass.

        Training with gradients enabled (``self.training``): by default (``reference_grad=True``,
        ``reference_refresh_steps=1``) it is recomputed every call and gradients flow through it (exact).
        ``reference_grad=False`` encodes it under ``no_grad``; ``reference_refresh_steps=k`` re-encodes it
        only every k optimizer steps (counted as changes of the trainable weights' versions, so the
        micro-batches of one gradient-accumulation step count once) and reuses the detached copy between.
        Otherwise (evaluation, ``no_grad``) it is cached and recomputed when any trainable weight changed.
        """
        c = self.crawd_config
        if self.training and torch.is_grad_enabled():
            if c.reference_grad and c.reference_refresh_steps == 1:
                return self._run_reference_pass()
            return self._train_reference(c.reference_grad, c.reference_refresh_steps)
        key = self._version_key()
        if self._ref_cache is not None and self._ref_cache[0] == key and not torch.is_grad_enabled():
            return self._ref_cache[1]
        h_b = self._run_reference_pass()
        if not torch.is_grad_enabled():
            self._ref_cache = (self._version_key(), h_b)
        return h_b

    def _run_reference_pass(self) -> torch.Tensor:
        self._encoding_reference = True
        try:
            out = backbone_of(self.base)(
                input_ids=self.ref_input_ids, attention_mask=self.ref_attention_mask, use_cache=False
            )
        finally:
            self._encoding_reference = False
        return out.last_hidden_state  # (1, m, d)

    def _train_reference(self, grad: bool, every: int) -> torch.Tensor:
        """The cheaper training options: H_b without gradient and / or refreshed every ``every`` steps."""
        versions = tuple(p._version for p in self._trainable())
        st = self._ref_train  # [h_b detached, versions last seen, steps since encode]
        if st is not None and versions != st[1]:
            st[1], st[2] = versions, st[2] + 1
        if st is not None and st[2] < every and st[0].device == self.ref_input_ids.device:
            return st[0]
        if grad:
            h_b = self._run_reference_pass()
        else:
            with torch.no_grad():
                h_b = self._run_reference_pass()
        self._ref_train = [h_b.detach(), versions, 0]
        return h_b

    def invalidate_reference_cache(self) -> None:
        self._ref_cache = None
        self._ref_train = None
        self._trainable_params = None

    # --- switches ----------------------------------------------------------------------------------
    @contextmanager
    def disable_crawd(self):
        """Run as the base model plus LoRA only (no cross-attention branch) inside the block."""
        prev, self._crawd_enabled = self._crawd_enabled, False
        try:
            yield self
        finally:
            self._crawd_enabled = prev

    def remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    # --- reading the branch ------------------------------------------------------------------------
    def _forward_recording(self, input_ids, attention_mask=None, **kwargs) -> None:
        """One forward pass through the whole model (the block records its weights)."""
        raise NotImplementedError

    def _body_states(self, input_ids, attention_mask=None) -> torch.Tensor:
        """H_x (B, n, d): the last hidden states of the transformer body."""
        raise NotImplementedError

    def _cross_all_rows(self, h_x: torch.Tensor, attention_mask=None) -> torch.Tensor:
        rows = attention_mask.bool() if attention_mask is not None else None  # (B, n)
        h_cross, _ = self.block(h_x, self.encode_reference(), slot_mask=self.ref_slot_mask, row_mask=rows)
        return h_cross  # (B, n, d)

    @torch.no_grad()
    def cross_attention_weights(
        self, input_ids, attention_mask=None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw, decayed) cross-attention weights, each (batch, heads, n, m) over the reference word tokens."""
        if self.crawd_config.mode != "paper":
            raise CrawdUsageError(
                f"cross_attention_weights needs mode='paper', this model has {self.crawd_config.mode!r}"
            )
        self.block.record = True
        try:
            self._forward_recording(input_ids, attention_mask, **kwargs)
            raw, decayed = self.block.last_weights  # (B, h, n, m) each
        finally:
            self.block.record, self.block.last_weights = False, None
        slots = self.ref_slot_mask[0]
        return raw[..., slots], decayed[..., slots]

    @torch.no_grad()
    def final_representation(self, input_ids, attention_mask=None) -> torch.Tensor:
        """H_final = concat(H_x, H_cross): (batch, n, 2d); for other modes, H_x (batch, n, d)."""
        h_x = self._body_states(input_ids, attention_mask)  # (B, n, d)
        if self.crawd_config.mode != "paper":
            return h_x
        return torch.cat([h_x, self._cross_all_rows(h_x, attention_mask)], dim=-1)  # (B, n, 2d)

    # --- reports -----------------------------------------------------------------------------------
    def added_modules(self) -> list[nn.Module]:
        return [m for name, m in self.named_children() if name != "base"]

    def parameter_report(self) -> dict[str, int]:
        """Counts: total, trainable, added (CrAWD block + head, LoRA excluded), lora, base."""
        added = sum(p.numel() for m in self.added_modules() for p in m.parameters())
        lora = sum(p.numel() for n, p in self.base.named_parameters() if "lora_" in n)
        base = sum(p.numel() for n, p in self.base.named_parameters() if "lora_" not in n)
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {
            "total": base + lora + added,
            "trainable": trainable,
            "added": added,
            "lora": lora,
            "base": base,
            "added_pct_of_base": round(100.0 * added / max(base, 1), 4),
        }

    def print_trainable_parameters(self) -> None:
        r = self.parameter_report()
        print(
            f"trainable params: {r['trainable']:,} || added (CrAWD block + head): {r['added']:,} "
            f"({r['added_pct_of_base']:.3f}% of base) || LoRA: {r['lora']:,} || all params: {r['total']:,}"
        )

    # --- conveniences expected by Trainer / generate -----------------------------------------------
    @property
    def config(self):
        return self.base.config

    @property
    def device(self) -> torch.device:
        return _device_of(self.base)

    @property
    def dtype(self) -> torch.dtype:
        return _float_dtype_of(self.base)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None) -> None:
        self.base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gradient_checkpointing_kwargs)
        self.base.enable_input_require_grads()

    def gradient_checkpointing_disable(self) -> None:
        self.base.gradient_checkpointing_disable()

    # --- save / load -------------------------------------------------------------------------------
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().contiguous().cpu() for n, p in self.named_parameters() if p.requires_grad}

    def save_pretrained(
        self, save_directory: str | os.PathLike, state_dict: dict | None = None, **_: object
    ) -> None:
        """Write only the CrAWD block, head and LoRA weights (safetensors) and the config JSON, atomically.

        ``state_dict``: a gathered full state dict (FSDP) to take the trainable tensors from.
        """
        from safetensors.torch import save_file

        weights = self.trainable_state_dict()
        if state_dict is not None:
            weights = {
                k: (state_dict[k] if k in state_dict else v).detach().contiguous().cpu()
                for k, v in weights.items()
            }

        save_directory = os.fspath(save_directory)
        parent = os.path.dirname(os.path.abspath(save_directory))
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=".crawd-save-")
        try:
            save_file(weights, os.path.join(tmp, WEIGHTS_NAME), metadata={"format": "pt"})
            self.crawd_config.save(tmp)
            os.makedirs(save_directory, exist_ok=True)
            for f in os.listdir(tmp):
                os.replace(os.path.join(tmp, f), os.path.join(save_directory, f))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def load_adapter_weights(self, directory: str | os.PathLike) -> None:
        from safetensors.torch import load_file

        path = os.path.join(directory, WEIGHTS_NAME)
        if not os.path.exists(path):
            raise CrawdDataError(f"no {WEIGHTS_NAME} in {directory}")
        state = load_file(path, device=str(self.device))
        own = dict(self.named_parameters())
        missing = sorted(n for n, p in own.items() if p.requires_grad and n not in state)
        unexpected = sorted(n for n in state if n not in own)
        if missing or unexpected:
            raise CrawdUsageError(
                f"saved weights in {directory} do not fit this model: missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
        with torch.no_grad():
            for n, t in state.items():
                own[n].copy_(t.to(own[n].dtype))
        self.invalidate_reference_cache()

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, base_model: nn.Module | None = None, tokenizer=None, **load_kwargs
    ):
        """Restore a saved model; the base is loaded by its recorded name or path when not given."""
        from .models import load_model

        cfg = CrawdConfig.load(directory)
        if base_model is None:
            if not cfg.base_model_name_or_path:
                raise CrawdUsageError(f"{directory}: the config names no base model; pass base_model=")
            task = "causal-lm" if cfg.task == "causal-lm" else "classification"
            base_model, tok = load_model(
                cfg.base_model_name_or_path, task=task, num_labels=cfg.num_labels, **load_kwargs
            )
            tokenizer = tokenizer or tok
        if tokenizer is None:
            raise CrawdUsageError("pass tokenizer= together with base_model=")
        fp = base_fingerprint(base_model)
        if cfg.base_fingerprint and fp and fp != cfg.base_fingerprint:
            raise CrawdUsageError(
                f"the base model differs from the one {directory} was trained on "
                f"(fingerprint {fp} != {cfg.base_fingerprint}, base {cfg.base_model_name_or_path!r})"
            )
        model = cls._from_loaded(base_model, tokenizer, cfg)
        model.load_adapter_weights(directory)
        return model.eval()

    @classmethod
    def _from_loaded(cls, base_model, tokenizer, cfg):
        return cls.from_base(base_model, tokenizer, cfg)


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _float_dtype_of(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def read_config(directory: str | os.PathLike) -> dict:
    with open(os.path.join(directory, "crawd_config.json")) as fh:
        return json.load(fh)
