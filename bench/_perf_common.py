"""Helpers shared by the bench scripts: model builders, interleaved timing, CPU peak memory, output."""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from crawd.config import CrawdConfig
from crawd.modeling import CrawdForCausalLM

#: Reference variants: the exact default and the documented cheaper ways to obtain H_b.
VARIANTS: dict[str, dict] = {
    "exact": {},  # reference_grad=True, reference_refresh_steps=1 (the default)
    "nograd": {"reference_grad": False},
    "cached": {"reference_refresh_steps": 10**9},  # steps between refreshes: the block's cost alone
}


def machine_info() -> dict:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_avg_1_5_15": list(os.getloadavg()),
        "platform": platform.platform(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def smollm2():
    from crawd.models import load_embedded

    return load_embedded("smollm2")


def random_llama_1b(vocab_tokenizer):
    """A random Llama of about 1.0B parameters (TinyLlama-like shape, SmolLM2's 49k vocabulary)."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    tok = vocab_tokenizer
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device("cpu"):
        model = AutoModelForCausalLM.from_config(cfg)
    model.config.name_or_path = "random-llama-1b"
    return model.eval(), tok


def wrap_pair(base, tok, *, copies: bool = True, **cfg) -> tuple[CrawdForCausalLM, CrawdForCausalLM]:
    """(vanilla LoRA, CrAWD) on the same base weights. ``copies=False`` shares one model and runs the
    vanilla step with ``disable_crawd()`` (same LoRA, no branch, no reference pass; saves memory)."""
    if copies:
        van = CrawdForCausalLM.from_base(copy.deepcopy(base), tok, CrawdConfig(mode="none", **cfg))
        cr = CrawdForCausalLM.from_base(base, tok, CrawdConfig(mode="paper", **cfg))
        return van, cr
    cr = CrawdForCausalLM.from_base(base, tok, CrawdConfig(mode="paper", **cfg))
    return cr, cr


def set_variant(model: CrawdForCausalLM, name: str) -> None:
    c = model.crawd_config
    c.reference_grad = VARIANTS[name].get("reference_grad", True)
    c.reference_refresh_steps = VARIANTS[name].get("reference_refresh_steps", 1)


def lm_batch(tok, B: int, n: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(100, min(len(tok), 20000), (B, n), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}


def make_step(model, batch: dict, *, vanilla_via_disable: bool = False) -> Callable[[], None]:
    """One training step: forward, backward, AdamW step, zero_grad (the optimizer is created here)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()

    def step() -> None:
        if vanilla_via_disable:
            with model.disable_crawd():
                loss = model(**batch).loss
                loss.backward()
        else:
            loss = model(**batch).loss
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step.opt = opt  # type: ignore[attr-defined]
    return step


def interleaved(fns: dict[str, Callable[[], None]], reps: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time each function ``reps`` times, alternating between them every repetition (order rotated)."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(reps):
        order = names[r % len(names) :] + names[: r % len(names)]
        for k in order:
            t = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t)
    return times


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def resident_bytes(model: torch.nn.Module, opt: torch.optim.Optimizer | None = None) -> int:
    """Bytes held between steps: parameters, buffers and optimizer state (grads are set to None)."""
    seen: set[int] = set()
    total = 0
    tensors = list(model.parameters()) + list(model.buffers())
    if opt is not None:
        tensors += [v for s in opt.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    for t in tensors:
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def step_peak_bytes(fn: Callable[[], None]) -> int:
    """Peak of CPU tensor memory allocated during ``fn`` above what was allocated before it (from the
    profiler's allocation events: activations, gradients, temporaries; the CPU analogue of
    ``torch.cuda.max_memory_allocated() - memory_allocated()`` at the start)."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    peak = 0
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        e = stack.pop()
        if e.typed[0] == _EventType.Allocation:
            peak = max(peak, e.typed[1].total_allocated)
        stack.extend(e.children)
    return peak


def write_json(out_dir: str | os.PathLike, name: str, data: dict) -> Path:
    p = Path(out_dir)
    p.mkdir(parents=True, exist_ok=True)
    path = p / name
    path.write_text(json.dumps(data, indent=2))
    return path
