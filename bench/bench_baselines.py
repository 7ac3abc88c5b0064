"""Time per training step of every method against vanilla LoRA (same data, batch, optimizer).

    python bench/bench_baselines.py --out bench/results                  # SmolLM2-135M, generation methods
    python bench/bench_baselines.py --out bench/results --classification # + MiniLM, classification methods
    python bench/bench_baselines.py --out bench/results --quick          # fewer repetitions

One training step = forward (with the method's forward_kwargs), the task loss plus the method's loss
terms, backward, AdamW step. Each method's model is built on its own copy of the base; steps are
interleaved across methods per repetition (order rotated) and reported as medians, so a busy machine
slows every method alike. CDA and IP train exactly like vanilla (CDA on up to twice the texts: its
cost is the data factor, reported; IP costs three generations at inference). DSD's one-time fit of
its embedding MLP is timed separately. Writes baselines_<task>.json under --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf_common as pc  # noqa: E402

from crawd import CrawdConfig  # noqa: E402
from crawd.baselines import get_method  # noqa: E402
from crawd.data import load_bios  # noqa: E402

STEP_METHODS = {
    "causal-lm": ["vanilla", "crawd", "dt", "ibm", "ear", "dsd"],
    "classification": ["vanilla", "crawd", "ad", "cbe", "ibm", "ear"],
}


def make_method_step(method, model, tok, cfg: CrawdConfig, batch: dict):
    """A closure running one training step of ``method`` on ``batch``."""
    terms = method.loss_terms(model, tok, cfg)
    fk = method.forward_kwargs()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    fwd = {k: v for k, v in batch.items() if k != "group"}

    def step() -> None:
        out = model(**fwd, **fk)
        loss = out.loss
        for t in terms:
            loss = loss + t(model=model, inputs=batch, outputs=out)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def run(task: str, *, B: int, n: int, reps: int) -> dict:
    bios = load_bios(limit=4 * B).rows
    texts = [r["text"] for r in bios]
    genders = [r["gender"] for r in bios]
    cfg = CrawdConfig(reference_words=["gender"])
    if task == "causal-lm":
        from crawd.models import load_embedded

        base0, tok = load_embedded("smollm2")
    else:
        from crawd.modeling import _classifier_from_encoder
        from crawd.models import load_embedded

        enc, tok = load_embedded("minilm")
        base0 = _classifier_from_encoder(enc, 2)
    enc_batch = tok(texts[:B], return_tensors="pt", padding="max_length", truncation=True, max_length=n)
    batch = {"input_ids": enc_batch.input_ids, "attention_mask": enc_batch.attention_mask}
    if task == "causal-lm":
        batch["labels"] = enc_batch.input_ids.masked_fill(enc_batch.attention_mask == 0, -100)
    else:
        batch["labels"] = torch.tensor([i % 2 for i in range(B)])
        batch["group"] = torch.tensor([0 if str(g).lower() in ("f", "female") else 1 for g in genders[:B]])
    steps, extra = {}, {}
    for name in STEP_METHODS[task]:
        opts = {"aux_epochs": 1} if name == "cbe" else {}
        method = get_method(name, **opts)
        t0 = time.perf_counter()
        model = method.build(
            copy.deepcopy(base0), tok, cfg, task=task, num_labels=2 if task != "causal-lm" else None
        )
        if name == "dsd":
            extra["dsd_fit_seconds"] = round(time.perf_counter() - t0, 2)
            extra["dsd_fit_loss_first_last"] = [
                round(method.fit_losses[0], 5),
                round(method.fit_losses[-1], 5),
            ]
        if name == "cbe":
            t0 = time.perf_counter()
            method.prepare(model, tok, texts, None, [int(g) for g in batch["group"].tolist()] * 4)
            extra["cbe_extractor_fit_seconds"] = round(time.perf_counter() - t0, 2)
        steps[name] = make_method_step(method, model, tok, model.crawd_config, batch)
    times = pc.interleaved(steps, reps=reps, warmup=1)
    van = pc.med(times["vanilla"])
    cda = get_method("cda")
    cda.configure(cfg)
    cda_factor = len(cda.transform_train_data(texts)[0]) / len(texts)
    rows = {
        k: {
            "median_s": round(pc.med(v), 4),
            "vs_vanilla": round(pc.med(v) / van, 3),
            "reconstruction": get_method(k).reconstruction,
        }
        for k, v in times.items()
    }
    return {
        "task": task,
        "model": "embedded:smollm2" if task == "causal-lm" else "embedded:minilm",
        "batch": B,
        "tokens": n,
        "reps": reps,
        "steps": rows,
        "cda_data_factor": round(cda_factor, 3),
        "notes": "cda and ip train like vanilla; cda on cda_data_factor x the texts; ip = 3 generations",
        **extra,
        "machine": pc.machine_info(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 repetitions")
    ap.add_argument("--classification", action="store_true", help="also time the classification methods")
    a = ap.parse_args()
    torch.manual_seed(0)
    reps = 3 if a.quick else a.reps
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for task in ["causal-lm"] + (["classification"] if a.classification else []):
        res = run(task, B=a.batch, n=a.tokens, reps=reps)
        path = out / f"baselines_{task}.json"
        path.write_text(json.dumps(res, indent=2))
        print(f"{task}: wrote {path}")
        for k, r in res["steps"].items():
            print(f"  {k:8s} {r['median_s']:.3f} s/step  x{r['vs_vanilla']:.2f} vs vanilla")


if __name__ == "__main__":
    main()
