"""How CrAWD's added cost grows with input length n and reference length m (SmolLM2-135M, batch 1).

    python bench/bench_scaling.py --out bench/results          # n = 64..2048, m = 2..256
    python bench/bench_scaling.py --out bench/results --quick  # < 2 min

Measured (medians, interleaved per repetition):
* ``block(n, m)``: the cross-attention block with the top-K% decay, forward + backward, from given
  ``H_x`` (1, n, d) and ``H_b`` (1, m, d): the per-step cost left with a cached ``H_b``;
* ``reference(m)``: the reference pass through the adapter-tuned model with gradients (forward +
  backward), m tokens: the extra cost of the exact default, independent of n;
* ``step(n)``: a plain LoRA forward + backward of one sequence of n tokens (the vanilla step).
The growth check fits ``log block = a + p log n + q log m`` on the points with n*m >= 4096 (smaller
blocks are dominated by fixed per-call overheads) and requires p, q <= 1.1 (no faster than n*m).
Writes scaling.json and scaling.png under --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf_common as pc  # noqa: E402

from crawd.config import CrawdConfig  # noqa: E402
from crawd.modeling import CrawdForCausalLM  # noqa: E402


def block_fn(block, d: int, n: int, m: int):
    g = torch.Generator().manual_seed(n * 1000 + m)
    h_x = torch.randn(1, n, d, generator=g, requires_grad=True)
    h_b = torch.randn(1, m, d, generator=g, requires_grad=True)
    slots = torch.ones(1, m, dtype=torch.bool)

    def run():
        out, _ = block(h_x, h_b, slot_mask=slots)
        out.sum().backward()
        h_x.grad = h_b.grad = None
        block.zero_grad(set_to_none=True)

    return run


def reference_fn(model: CrawdForCausalLM, m: int):
    from crawd.wrapper import backbone_of

    ids = torch.randint(100, 20000, (1, m), generator=torch.Generator().manual_seed(m))

    def run():
        h = backbone_of(model.base)(input_ids=ids, use_cache=False).last_hidden_state
        h.float().pow(2).mean().backward()
        model.zero_grad(set_to_none=True)

    return run


def step_fn(model: CrawdForCausalLM, tok, n: int):
    batch = pc.lm_batch(tok, 1, n, seed=n)

    def run():
        with model.disable_crawd():
            model(**batch).loss.backward()
        model.zero_grad(set_to_none=True)

    return run


def fit_growth(grid: dict[tuple[int, int], float], min_nm: int) -> dict:
    pts = [(n, m, t) for (n, m), t in grid.items() if n * m >= min_nm]
    if len(pts) < 3:
        return {"p_n": float("nan"), "q_m": float("nan"), "points": len(pts), "ok": False}
    X = np.array([[1.0, np.log(n), np.log(m)] for n, m, _ in pts])
    y = np.log([t for *_, t in pts])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return {
        "p_n": float(coef[1]),
        "q_m": float(coef[2]),
        "points": len(pts),
        "ok": bool(coef[1] <= 1.1 and coef[2] <= 1.1),
    }


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ns, ms = res["n"], res["m"]
    for m in ms:
        t = [res["block_s"][f"{n}x{m}"] for n in ns]
        axes[0].loglog(ns, t, marker="o", label=f"m={m}")
        f = [res["fraction_exact"][f"{n}x{m}"] for n in ns]
        axes[1].loglog(ns, f, marker="o", label=f"exact, m={m}")
    m0 = ms[-1]
    t0 = res["block_s"][f"{ns[0]}x{m0}"]
    axes[0].loglog(ns, [t0 * n / ns[0] for n in ns], "k--", lw=0.8, label="∝ n (at largest m)")
    axes[0].set_title("CrAWD block, forward + backward (s)")
    axes[1].set_title("added cost / vanilla step (exact H_b)")
    for ax in axes:
        ax.set_xlabel("input length n")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results")
    p.add_argument("--quick", action="store_true", help="n in {64, 256, 512}, m in {2, 32, 256}")
    p.add_argument("--lengths", default="64,128,256,512,1024,2048")
    p.add_argument("--ref-lengths", default="2,8,32,128,256")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument(
        "--step-reps", type=int, default=3, help="repetitions of the (expensive) vanilla step, no warm-up"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    ns = [64, 256, 512] if a.quick else [int(x) for x in a.lengths.split(",")]
    ms = [2, 32, 256] if a.quick else [int(x) for x in a.ref_lengths.split(",")]
    base, tok = pc.smollm2()
    model = CrawdForCausalLM.from_base(base, tok, CrawdConfig(max_reference_tokens=64)).train()
    d = base.config.hidden_size
    block = model.block
    res: dict = {
        "machine": pc.machine_info(),
        "args": vars(a),
        "n": ns,
        "m": ms,
        "hidden_size": d,
        "heads": block.num_heads,
        "top_k": block.top_k,
    }
    bt = pc.interleaved({f"{n}x{m}": block_fn(block, d, n, m) for n in ns for m in ms}, a.reps)
    res["block_s"] = {k: pc.med(v) for k, v in bt.items()}
    print("block done", flush=True)
    rt = pc.interleaved({str(m): reference_fn(model, m) for m in ms}, a.reps)
    res["reference_s"] = {k: pc.med(v) for k, v in rt.items()}
    print("reference done", flush=True)
    st = pc.interleaved({str(n): step_fn(model, tok, n) for n in ns}, a.step_reps, warmup=0)
    res["step_s"] = {k: pc.med(v) for k, v in st.items()}
    grid = {(n, m): res["block_s"][f"{n}x{m}"] for n in ns for m in ms}
    res["growth_fit"] = fit_growth(grid, 4096)
    res["per_nm_us"] = {f"{n}x{m}": 1e6 * t / (n * m) for (n, m), t in grid.items()}
    res["fraction_block"] = {f"{n}x{m}": grid[n, m] / res["step_s"][str(n)] for n in ns for m in ms}
    res["fraction_exact"] = {
        f"{n}x{m}": (grid[n, m] + res["reference_s"][str(m)]) / res["step_s"][str(n)] for n in ns for m in ms
    }
    res["machine"]["load_avg_after"] = list(__import__("os").getloadavg())
    path = pc.write_json(a.out, "scaling.json", res)
    plot(res, Path(a.out) / "scaling.png")
    fit = res["growth_fit"]
    print(f"growth exponents: n^{fit['p_n']:.2f} m^{fit['q_m']:.2f} ({'ok' if fit['ok'] else 'FAIL'})")
    for n in ns:
        print(
            f"n={n:5d} step {res['step_s'][str(n)]:.3f}s  "
            + "  ".join(
                f"m={m}: block {grid[n, m] * 1e3:.1f}ms ({100 * res['fraction_block'][f'{n}x{m}']:.1f}%), "
                f"+ref {100 * res['fraction_exact'][f'{n}x{m}']:.1f}%"
                for m in ms
            )
        )
    print(f"wrote {path} and scaling.png")


if __name__ == "__main__":
    main()
