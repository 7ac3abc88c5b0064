"""GPU check: CrAWD with bf16 LoRA and 4-bit QLoRA on a 1B+ model (never required by CI).

    python bench/gpu_qlora.py --model meta-llama/Llama-3.2-1B --out bench/results
    python bench/gpu_qlora.py --random-1b --out bench/results   # no download: random ~1B Llama, bf16 only

Exits 0 with a message when no CUDA device exists. For each precision (bf16, and 4-bit NF4 QLoRA when
bitsandbytes is installed and a named model is given) it trains a few steps of vanilla LoRA and CrAWD
interleaved (median step time, ``torch.cuda.max_memory_allocated`` per step), checks that the loss is
finite and falls on a repeated batch, and measures greedy generation tokens/s with the KV cache.
Writes gpu_qlora.json under --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf_common as pc  # noqa: E402

from crawd.config import CrawdConfig  # noqa: E402
from crawd.modeling import CrawdForCausalLM  # noqa: E402


def load(args, four_bit: bool):
    from crawd.models import load_model

    if args.random_1b:
        _, tok = pc.smollm2()
        base, tok = pc.random_llama_1b(tok)
        return base.to("cuda", torch.bfloat16), tok
    base, tok = load_model(args.model, dtype=torch.bfloat16, load_in_4bit=four_bit)
    return (base if four_bit else base.to("cuda")), tok


def cuda_step(model, batch, opt, vanilla: bool) -> tuple[float, int, float]:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    if vanilla:
        with model.disable_crawd():
            loss = model(**batch).loss
            loss.backward()
    else:
        loss = model(**batch).loss
        loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    return time.perf_counter() - t, torch.cuda.max_memory_allocated(), float(loss)


def run_precision(args, four_bit: bool) -> dict:
    base, tok = load(args, four_bit)
    cfg = CrawdConfig(mode="paper", lora_dropout=0.0, dropout=0.0, load_in_4bit=four_bit)
    model = CrawdForCausalLM.from_base(base, tok, cfg).train()
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    batch = {k: v.cuda() for k, v in pc.lm_batch(tok, args.batch, args.seq).items()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    rows: dict[str, list] = {"vanilla": [], "crawd": []}
    for i in range(args.steps + 1):
        for name in ("vanilla", "crawd") if i % 2 == 0 else ("crawd", "vanilla"):
            rows[name].append(cuda_step(model, batch, opt, vanilla=name == "vanilla"))
    rows = {k: v[1:] for k, v in rows.items()}  # drop the warm-up step
    med = {k: pc.med([r[0] for r in v]) for k, v in rows.items()}
    mem = {k: max(r[1] for r in v) for k, v in rows.items()}
    losses = [r[2] for r in rows["crawd"]]
    model.eval()
    enc = tok(["My friend works as a nurse and"] * 4, return_tensors="pt").to("cuda")
    kw = dict(max_new_tokens=64, min_new_tokens=64, do_sample=False)
    gen = {}
    for name in ("vanilla", "crawd", "vanilla", "crawd"):
        torch.cuda.synchronize()
        t = time.perf_counter()
        if name == "vanilla":
            with model.disable_crawd():
                model.generate(**enc, **kw)
        else:
            model.generate(**enc, **kw)
        torch.cuda.synchronize()
        gen[name] = 4 * 64 / (time.perf_counter() - t)  # the second (warm) run is kept
    ok = all(map(lambda x: x == x and abs(x) < 1e4, losses)) and losses[-1] < losses[0]
    return {
        "precision": "4bit-nf4" if four_bit else "bf16",
        "params": model.parameter_report(),
        "step_median_s": med,
        "step_ratio": med["crawd"] / med["vanilla"],
        "peak_memory_bytes": mem,
        "memory_ratio": mem["crawd"] / mem["vanilla"],
        "crawd_losses": losses,
        "loss_finite_and_falls": ok,
        "generation_tokens_per_s": gen,
        "generation_ratio": gen["crawd"] / gen["vanilla"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model", default="meta-llama/Llama-3.2-1B", help="hub id or local path of a 1B+ causal LM"
    )
    p.add_argument("--random-1b", action="store_true", help="a random ~1B Llama instead (bf16 only)")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--gradient-checkpointing", action="store_true")
    a = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_qlora: no CUDA device here; nothing to do (this check runs only on a GPU machine).")
        return 0
    result: dict = {"machine": pc.machine_info(), "device": torch.cuda.get_device_name(0), "runs": []}
    result["runs"].append(run_precision(a, four_bit=False))
    torch.cuda.empty_cache()
    if a.random_1b:
        print("gpu_qlora: 4-bit QLoRA skipped with --random-1b (quantize a real checkpoint: --model)")
    elif importlib.util.find_spec("bitsandbytes") is None:
        print("gpu_qlora: bitsandbytes not installed; 4-bit QLoRA skipped (pip install bitsandbytes)")
    else:
        result["runs"].append(run_precision(a, four_bit=True))
    path = pc.write_json(a.out, "gpu_qlora.json", result)
    for r in result["runs"]:
        print(
            f"{r['precision']}: step x{r['step_ratio']:.3f}, memory x{r['memory_ratio']:.3f}, "
            f"generation x{r['generation_ratio']:.3f}, loss ok: {r['loss_finite_and_falls']}"
        )
    print(f"wrote {path}")
    return 0 if all(r["loss_finite_and_falls"] for r in result["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
