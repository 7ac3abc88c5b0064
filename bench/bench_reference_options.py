"""Effect of the ways to obtain H_b on utility and bias after a short fine-tune (SmolLM2-135M, CPU).

    python bench/bench_reference_options.py --out bench/results
    python bench/bench_reference_options.py --out bench/results --quick   # < 2 min: 3 steps, exact + nograd

Runs vanilla LoRA and CrAWD with ``exact`` (default), ``nograd`` (``reference_grad=False``) and
``refresh4`` (``reference_refresh_steps=4``), each fine-tuned from the same SmolLM2 weights on the same
Bias in Bios batches (same seed), then measures held-out perplexity, the occupation-gender association
(stereotype gap and mean |a|) and GAS on greedy continuations of occupation prompts. A short run on a
CPU: it shows whether the cheaper options move the metrics away from the exact default, not the
paper's effect sizes. Writes reference_options.json under --out.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf_common as pc  # noqa: E402

from crawd.config import CrawdConfig  # noqa: E402
from crawd.modeling import CrawdForCausalLM  # noqa: E402

OPTIONS = {
    "vanilla": {"mode": "none"},
    "exact": {},
    "nograd": {"reference_grad": False},
    "refresh4": {"reference_refresh_steps": 4},
}


def fine_tune(model, tok, texts: list[str], *, steps: int, batch: int, max_len: int, lr: float) -> float:
    """Plain AdamW loop over fixed batches (same order for every option); returns mean step seconds."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    torch.manual_seed(0)
    t0 = time.perf_counter()
    for s in range(steps):
        chunk = [texts[(s * batch + i) % len(texts)] for i in range(batch)]
        enc = tok(chunk, return_tensors="pt", padding=True, truncation=True, max_length=max_len)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        model(**enc, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - t0) / steps


def evaluate(model, tok, heldout: list[str], gas_prompts: int) -> dict:
    from crawd.metrics.association import occupation_gender_association
    from crawd.metrics.gas import default_gas_prompts, generate_for_gas
    from crawd.metrics.perplexity import perplexity

    model.eval()
    ppl = perplexity(model, tok, heldout, batch_size=8, max_length=128, ci=False)
    assoc = occupation_gender_association(model, tok, batch_size=32)
    gas = generate_for_gas(
        model, tok, default_gas_prompts()[:gas_prompts], max_new_tokens=24, do_sample=False, batch_size=16
    )
    return {
        "ppl": ppl.value,
        "assoc_gap": assoc.value,
        "assoc_mean_abs": assoc.mean_abs,
        "gas": gas.value,
        "gas_n": gas.n,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--gas-prompts", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--options", default=",".join(OPTIONS))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.quick:
        a.steps, a.gas_prompts, a.options = 3, 4, "exact,nograd"
    from crawd.data import load_bios

    rows = load_bios().rows
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(rows), generator=g).tolist()
    texts = [rows[i]["text"] for i in order]
    heldout, train = texts[: 8 if a.quick else 40], texts[40:]
    base, tok = pc.smollm2()
    result: dict = {"machine": pc.machine_info(), "args": vars(a), "runs": {}}
    for name in a.options.split(","):
        cfg = CrawdConfig(**OPTIONS[name])
        torch.manual_seed(0)
        model = CrawdForCausalLM.from_base(copy.deepcopy(base), tok, cfg)
        step_s = fine_tune(model, tok, train, steps=a.steps, batch=a.batch, max_len=a.max_length, lr=a.lr)
        res = evaluate(model, tok, heldout, a.gas_prompts) | {"train_step_s": step_s}
        result["runs"][name] = res
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}, flush=True)
        del model
    result["runs"]["pretrained"] = evaluate(
        CrawdForCausalLM.from_base(base, tok, CrawdConfig(mode="none")), tok, heldout, a.gas_prompts
    )
    print("pretrained", result["runs"]["pretrained"], flush=True)
    path = pc.write_json(a.out, "reference_options.json", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
