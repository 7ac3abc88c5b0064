"""CrAWD / vanilla LoRA: training-step time, step peak memory and greedy generation throughput.

    python bench/bench_overhead.py --out bench/results            # SmolLM2-135M, n = 64..512
    python bench/bench_overhead.py --out bench/results --llama1b  # + a random ~1B Llama (few steps)
    python bench/bench_overhead.py --out bench/results --quick    # < 2 min

vanilla = `CrawdConfig(mode="none")` (plain LoRA, same wrapper); CrAWD = mode "paper" with the paper's
21-word reference, in three ways of obtaining H_b: ``exact`` (default: the reference through the whole
model with gradients, every step), ``nograd`` (``reference_grad=False``) and ``cached`` (the steps
between refreshes of ``reference_refresh_steps=k``: the block alone). The amortised cost of refreshing
every k steps is ``((k - 1) * cached + exact) / k`` (or ``nograd`` in place of ``exact``).
Times are interleaved per repetition (order rotated) and reported as medians. Peak memory is the
resident weights + optimizer state plus the peak of tensor memory allocated during one step (profiler
allocation events; see docs/PERFORMANCE.md). Writes overhead.json and overhead.png under --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf_common as pc  # noqa: E402


def bench_training(van, cr, tok, *, B: int, n: int, reps: int, variants: list[str], shared: bool) -> dict:
    batch = pc.lm_batch(tok, B, n, seed=n)
    van_step = pc.make_step(van, batch, vanilla_via_disable=shared)
    cr_steps = {}
    for v in variants:  # one optimizer per variant over the same parameters (state is per variant)
        cr_steps[v] = pc.make_step(cr, batch)

    def runner(v):
        def run():
            pc.set_variant(cr, v)
            cr_steps[v]()

        return run

    fns = {"vanilla": van_step} | {v: runner(v) for v in variants}
    times = pc.interleaved(fns, reps)
    print(f"  timed B={B} n={n}: " + ", ".join(f"{k} {pc.med(t):.3f}s" for k, t in times.items()), flush=True)
    row: dict = {"B": B, "n": n, "reps": reps, "times_s": times}
    row["median_s"] = {k: pc.med(t) for k, t in times.items()}
    row["ratio"] = {v: row["median_s"][v] / row["median_s"]["vanilla"] for v in variants}
    # per repetition, against the vanilla step of the same repetition: robust to slow load drift
    row["paired_ratio"] = {
        v: pc.med([c / b for c, b in zip(times[v], times["vanilla"], strict=True)]) for v in variants
    }
    # peak memory: one profiled step each (deterministic, not timed)
    mem = {}
    for k, f in fns.items():
        model = van if k == "vanilla" else cr
        opt = van_step.opt if k == "vanilla" else cr_steps[k].opt
        if k != "vanilla":
            pc.set_variant(cr, k)
        peak = pc.step_peak_bytes(f if k == "vanilla" else cr_steps[k])
        mem[k] = {"resident": pc.resident_bytes(model, opt), "step_peak": peak}
    row["memory_bytes"] = mem
    if shared:  # one model: the vanilla run holds the block's weights too (no grads, no Adam state)
        extra = sum(p.numel() * p.element_size() for m in cr.added_modules() for p in m.parameters())
        mem["vanilla"]["resident"] -= extra
    tot = {k: m["resident"] + m["step_peak"] for k, m in mem.items()}
    row["memory_ratio"] = {v: tot[v] / tot["vanilla"] for v in variants}
    row["step_peak_ratio"] = {v: mem[v]["step_peak"] / mem["vanilla"]["step_peak"] for v in variants}
    return row


@torch.no_grad()
def bench_generation(van, cr, tok, *, B: int, new: int, reps: int, shared: bool) -> dict:
    prompts = ["My friend works as a nurse and", "The engineer said that", "Yesterday the doctor"] * 4
    side, tok.padding_side = tok.padding_side, "left"
    enc = tok(prompts[:B], return_tensors="pt", padding=True)
    tok.padding_side = side
    for m in (van, cr):
        m.eval()
    kw = dict(max_new_tokens=new, min_new_tokens=new, do_sample=False)

    def gen_van():
        if shared:
            with cr.disable_crawd():
                cr.generate(**enc, **kw)
        else:
            van.generate(**enc, **kw)

    times = pc.interleaved({"vanilla": gen_van, "crawd": lambda: cr.generate(**enc, **kw)}, reps)
    tps = {k: [B * new / t for t in v] for k, v in times.items()}
    med = {k: pc.med(v) for k, v in tps.items()}
    return {
        "B": B,
        "new_tokens": new,
        "reps": reps,
        "tokens_per_s": tps,
        "median_tokens_per_s": med,
        "ratio": med["crawd"] / med["vanilla"],
        "paired_ratio": pc.med([c / v for c, v in zip(tps["crawd"], tps["vanilla"], strict=True)]),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, res in result["models"].items():
        rows = res["training"]
        ns = [r["n"] for r in rows]
        for v in rows[0]["ratio"]:
            axes[0].plot(ns, [r["ratio"][v] for r in rows], marker="o", label=f"{name} {v}")
            axes[1].plot(ns, [r["memory_ratio"][v] for r in rows], marker="o", label=f"{name} {v}")
    for ax, t in zip(axes, ("training-step time ratio", "peak-memory ratio"), strict=True):
        ax.axhline(1.05, color="grey", ls="--", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("input length n")
        ax.set_title(f"CrAWD / vanilla LoRA: {t}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: batch 2 x 64, exact and cached only, 8 generated tokens",
    )
    p.add_argument("--lengths", default="64,128,256,512")
    p.add_argument("--tokens-per-step", type=int, default=512, help="batch = tokens // n (8 x 64 at n=64)")
    p.add_argument("--batch", type=int, default=0, help="a fixed batch size instead of --tokens-per-step")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--variants", default="exact,nograd,cached")
    p.add_argument("--llama1b", action="store_true", help="also a random ~1B Llama (batch 2 x 64, 3 reps)")
    p.add_argument("--gen-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    lengths = [64] if a.quick else [int(x) for x in a.lengths.split(",")]
    variants = ["exact", "cached"] if a.quick else a.variants.split(",")
    result: dict = {"machine": pc.machine_info(), "args": vars(a), "models": {}}
    base, tok = pc.smollm2()
    van, cr = pc.wrap_pair(base, tok)
    res: dict = {
        "training": [],
        "params": cr.parameter_report(),
        "reference_tokens": int(cr.ref_slot_mask.sum()),
    }
    for n in lengths:
        batch = 2 if a.quick else (a.batch or max(1, a.tokens_per_step // n))
        vs = variants if n <= 128 or a.quick else [v for v in variants if v != "nograd"] or variants
        row = bench_training(van, cr, tok, B=batch, n=n, reps=a.reps, variants=vs, shared=False)
        res["training"].append(row)
        print(f"smollm2 B={batch} n={n}: ratio {row['ratio']} memory {row['memory_ratio']}", flush=True)
    res["generation"] = bench_generation(
        van, cr, tok, B=2 if a.quick else 4, new=8 if a.quick else a.gen_tokens, reps=a.reps, shared=False
    )
    print(f"smollm2 generation ratio {res['generation']['ratio']:.3f}", flush=True)
    result["models"]["smollm2-135m"] = res
    del van, cr, base
    if a.llama1b and not a.quick:
        base, tok = pc.random_llama_1b(tok)
        m, _ = pc.wrap_pair(base, tok, copies=False)
        r1: dict = {"params": m.parameter_report(), "training": []}
        row = bench_training(m, m, tok, B=2, n=64, reps=3, variants=["exact", "cached"], shared=True)
        r1["training"].append(row)
        print(f"llama1b B=2 n=64: ratio {row['ratio']} memory {row['memory_ratio']}", flush=True)
        r1["generation"] = bench_generation(m, m, tok, B=1, new=16, reps=3, shared=True)
        print(f"llama1b generation ratio {r1['generation']['ratio']:.3f}", flush=True)
        result["models"]["random-llama-1b"] = r1
    result["machine"]["load_avg_after"] = list(__import__("os").getloadavg())
    path = pc.write_json(a.out, "overhead.json", result)
    plot(result, Path(a.out) / "overhead.png")
    print(f"wrote {path} and overhead.png")


if __name__ == "__main__":
    main()
