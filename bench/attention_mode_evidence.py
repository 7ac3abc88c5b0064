"""Evidence for mode="attention" side by side with mode="paper" and vanilla LoRA (docs/ATTENTION_MODE.md).

CPU scale: SmolLM2-135M (embedded), LoRA fine-tuning on the Bias in Bios sample for a few steps, per seed:

* vanilla (LoRA only), paper (the paper's side-branch block), attention/direction, attention/cross_attention;
* inference-only application of attention/direction to the pre-trained model and to each vanilla model
  (vanilla is trained as a mode="attention" wrapper inside ``disable_crawd()``: exactly plain LoRA);
* metrics: occupation-gender association gap, counterfactual sensitivity, GAS, WEAT (gender tests),
  perplexity on held-out bios, train-step and forward-pass time ratios to vanilla;
* "no full list needed": with reference {he, she} (then + man/woman, + male/female), recall of the 28 GAS
  words and of gendered first names among the decayed tokens of held-out bios, against the selection rate.

    .venv/bin/python bench/attention_mode_evidence.py --seeds 0 1 --steps 8

Writes bench/results/attention_mode_evidence.json and .md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from crawd import CrawdConfig, CrawdForCausalLM
from crawd.data import load_bios, resolve_data_dir
from crawd.metrics import (
    GAS_WORDS,
    counterfactual_sensitivity,
    generate_for_gas,
    occupation_gender_association,
    perplexity,
    weat,
)
from crawd.models import load_embedded

EVAL_N = 24
METHODS = {
    "vanilla": dict(mode="attention", association="direction"),  # trained with CrAWD disabled
    "paper": dict(mode="paper"),
    "attention_direction": dict(mode="attention", association="direction"),
    "attention_cross_attention": dict(mode="attention", association="cross_attention"),
}
REF_SETS = {
    "he,she": ["he", "she"],
    "+man,woman": ["he", "she", "man", "woman"],
    "+male,female": ["he", "she", "man", "woman", "male", "female"],
}


def names() -> set[str]:
    d = resolve_data_dir("names_by_gender_race")
    out = set()
    for f in ("census1990_dist.female.first.txt", "census1990_dist.male.first.txt"):
        for line in (d / f).read_text().splitlines()[:300]:  # the 300 most frequent of each list
            if line.strip():
                out.add(line.split()[0].lower())
    return out - {w.lower() for w in GAS_WORDS}


def wrap(cfg_kw: dict, seed: int, ref: list[str] | None = None, lora_r: int = 8):
    torch.manual_seed(seed)
    base, tok = load_embedded("smollm2")
    tok.padding_side = "right"
    cfg = CrawdConfig(
        reference_words=ref or ["gender"], lora_r=lora_r, lora_alpha=2 * max(lora_r, 1), **cfg_kw
    )
    return CrawdForCausalLM.from_base(base, tok, cfg), tok


def train(model, tok, texts: list[str], *, steps: int, batch: int, lr: float, seed: int, vanilla: bool):
    rng = random.Random(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    times, losses = [], []
    for _ in range(steps):
        enc = tok(rng.sample(texts, batch), return_tensors="pt", padding=True, truncation=True, max_length=48)
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)  # (B, n)
        t = time.perf_counter()
        if vanilla:
            with model.disable_crawd():
                loss = model(**enc, labels=labels).loss
                loss.backward()
        else:
            loss = model(**enc, labels=labels).loss
            loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
        losses.append(float(loss))
    model.eval()
    return {"step_s": float(np.median(times[1:] or times)), "loss_first": losses[0], "loss_last": losses[-1]}


def evaluate(model, tok, ppl_texts: list[str], seed: int) -> dict:
    t = time.perf_counter()
    assoc = occupation_gender_association(model, tok, seed=seed)
    t_assoc = time.perf_counter() - t
    ppl = perplexity(model, tok, ppl_texts[:EVAL_N], batch_size=8, ci=False)
    gas = generate_for_gas(model, tok, limit=EVAL_N, max_new_tokens=20, seed=seed, batch_size=EVAL_N)
    cf = counterfactual_sensitivity(model, tok, limit=EVAL_N, batch_size=EVAL_N, seed=seed)
    w = weat(model, tok, tests=["weat6", "weat7", "weat8"], p_value=False)
    return {
        "assoc_gap": assoc.value,
        "assoc_mean_abs": assoc.mean_abs,
        "assoc_pearson_r": assoc.pearson_r,
        "ppl": ppl.value,
        "gas": gas.value,
        "cf_sensitivity": cf.value,
        "weat_gender": w.value,
        "assoc_forward_s": t_assoc,
    }


def target_masks(tok, texts: list[str], max_length: int, targets: dict[str, set[str]]):
    """Tokenize with offsets; per target set a (B, n) bool mask of tokens inside a target word."""
    enc = tok(
        texts,
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
    )
    off = enc.pop("offset_mapping")  # (B, n, 2)
    masks = {k: torch.zeros(enc.input_ids.shape, dtype=torch.bool) for k in targets}
    for b, text in enumerate(texts):
        for m in re.finditer(r"[A-Za-z]+", text):
            for k, words in targets.items():
                if m.group(0).lower() in words:
                    # overlap: byte-level BPE tokens carry the leading space ("Ġhe" spans " he")
                    inside = (off[b, :, 1] > m.start()) & (off[b, :, 0] < m.end())
                    masks[k][b] |= inside
    return enc, masks


def recall_of(selected: dict, masks: dict, valid: torch.Tensor) -> dict:
    """Mean over layers of recall per target set, and the selection rate (= recall of a random choice)."""
    out = {k: [] for k in masks}
    rate = []
    for sel in selected.values():
        for k, m in masks.items():
            out[k].append(float((sel & m).sum() / m.sum().clamp_min(1)))
        rate.append(float(sel[valid].float().mean()))
    res = {f"recall_{k}": float(np.mean(v)) for k, v in out.items()}
    res["random_baseline"] = float(np.mean(rate))
    res["n_targets"] = {k: int(m.sum()) for k, m in masks.items()}
    return res


def paper_selected(model, enc, top_k: float) -> dict:
    """Paper mode: token score = max raw cross-attention weight over heads / reference slots; top-K% tokens."""
    raw, _ = model.cross_attention_weights(enc.input_ids, enc.attention_mask)  # (B, h, n, m)
    score = raw.amax(dim=(1, 3)).masked_fill(enc.attention_mask == 0, -1.0)  # (B, n)
    k = (enc.attention_mask.sum(-1).float() * top_k).ceil().long()  # (B,)
    ranks = score.argsort(-1, descending=True).argsort(-1)  # (B, n)
    return {"final": ranks < k[:, None]}


def recall_analysis(model, tok, texts, targets, top_k: float, paper: bool = False) -> dict:
    enc, masks = target_masks(tok, texts, 64, targets)
    valid = enc.attention_mask.bool()
    sel = (
        paper_selected(model, enc, top_k)
        if paper
        else model.attn_decay.decayed_tokens(enc.input_ids, enc.attention_mask)[0]
    )
    return recall_of(sel, masks, valid)


def overhead(texts: list[str], reps: int = 3) -> dict:
    """Interleaved timing on one wrapper (CrAWD off / on alternately, so CPU contention hits both alike):
    median ratio of a forward pass and of a training step (forward + backward), attention/direction."""
    m, tok = wrap(dict(mode="attention", association="direction"), 0)
    enc = tok(texts[:8], return_tensors="pt", padding=True, truncation=True, max_length=64)
    labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)  # (B, n)
    out: dict = {"forward": [], "train_step": []}
    for _ in range(reps):
        for kind in ("forward", "train_step"):
            t = []
            for on in (False, True):
                m.train(kind == "train_step")
                m.attn_decay._ref_cache = None  # training re-encodes the reference after every step
                t0 = time.perf_counter()
                with (
                    torch.set_grad_enabled(kind == "train_step"),
                    m.disable_crawd() if not on else nullcontext(),
                ):
                    loss = m(**enc, labels=labels).loss
                    if kind == "train_step":
                        loss.backward()
                t.append(time.perf_counter() - t0)
            out[kind].append(t[1] / t[0])
    return {k: float(np.median(v)) for k, v in out.items()} | {"raw": out}


def summarize(rows: list[dict], keys: list[str]) -> dict:
    out = {}
    for k in keys:
        v = [r[k] for r in rows if r.get(k) is not None]
        out[k] = (float(np.mean(v)), float(np.std(v)) if len(v) > 1 else 0.0) if v else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--out", default="bench/results/attention_mode_evidence")
    ap.add_argument("--stages", nargs="+", default=["recall", "pretrained", "train"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--eval-n", type=int, default=24, help="texts / prompts per generation-based metric")
    ap.add_argument("--merge", help="a JSON of an earlier run whose runs / recall rows are kept")
    args = ap.parse_args()
    torch.set_num_threads(2)
    bios = load_bios().rows
    random.Random(1234).shuffle(bios)
    train_texts = [r["text"] for r in bios[:200]]
    held = [r["text"] for r in bios[200:]]
    ppl_texts, recall_texts = held[:32], held[32:64]
    targets = {"gas_words": {w.lower() for w in GAS_WORDS}, "first_names": names()}
    res: dict = {"args": vars(args), "runs": [], "recall": []}
    if args.merge:
        old = json.loads(Path(args.merge).read_text())
        res["runs"], res["recall"] = old["runs"], old["recall"]
    global EVAL_N
    EVAL_N = args.eval_n
    t0 = time.perf_counter()

    # pre-trained model, plain and with training-free attention/direction; recall for growing reference sets
    for assoc in ("direction", "cross_attention") if "recall" in args.stages else ():
        for name, ref in REF_SETS.items():
            m, tok = wrap(dict(mode="attention", association=assoc), 0, ref, lora_r=0)
            r = recall_analysis(m, tok, recall_texts, targets, m.crawd_config.top_k)
            res["recall"].append(
                {"model": "pre-trained (training-free)", "mode": f"attention/{assoc}", "ref": name, **r}
            )
            print("recall", assoc, name, r, flush=True)
    if "pretrained" in args.stages:
        m, tok = wrap(dict(mode="attention", association="direction"), 0, lora_r=0)
        with m.disable_crawd():
            res["runs"].append({"method": "pre-trained", "seed": 0, **evaluate(m, tok, ppl_texts, 0)})
        ev = evaluate(m, tok, ppl_texts, 0)
        res["runs"].append({"method": "pre-trained + attention/direction (inference only)", "seed": 0, **ev})
        print(res["runs"][-2:], flush=True)
        Path(args.out + ".json").write_text(json.dumps(res, indent=1))

    if "overhead" in args.stages:
        res["overhead"] = overhead(held)
        print("overhead", res["overhead"], flush=True)
        Path(args.out + ".json").write_text(json.dumps(res, indent=1))
    for seed in args.seeds if "train" in args.stages else ():
        for method, kw in ((k, METHODS[k]) for k in args.methods):
            m, tok = wrap(kw, seed)
            tr = train(
                m,
                tok,
                train_texts,
                steps=args.steps,
                batch=args.batch,
                lr=args.lr,
                seed=seed,
                vanilla=method == "vanilla",
            )
            if method == "vanilla":
                with m.disable_crawd():
                    ev = evaluate(m, tok, ppl_texts, seed)
                res["runs"].append({"method": method, "seed": seed, **tr, **ev})
                ev2 = evaluate(m, tok, ppl_texts, seed)
                res["runs"].append(
                    {"method": "vanilla + attention/direction (inference only)", "seed": seed, **tr, **ev2}
                )
            else:
                ev = evaluate(m, tok, ppl_texts, seed)
                res["runs"].append({"method": method, "seed": seed, **tr, **ev, **m.parameter_report()})
                if method != "attention_direction":
                    r = recall_analysis(
                        m, tok, recall_texts, targets, m.crawd_config.top_k, paper=method == "paper"
                    )
                    res["recall"].append(
                        {"model": f"fine-tuned seed {seed}", "mode": method, "ref": "he,she", **r}
                    )
            print(
                method,
                seed,
                {k: v for k, v in res["runs"][-1].items() if not isinstance(v, dict)},
                flush=True,
            )
            del m
            Path(args.out + ".json").write_text(json.dumps(res, indent=1))

    res["elapsed_s"] = time.perf_counter() - t0
    Path(args.out + ".json").write_text(json.dumps(res, indent=1))
    Path(args.out + ".md").write_text(markdown(res))
    print(markdown(res))


def markdown(res: dict) -> str:
    keys = [
        "assoc_gap",
        "assoc_mean_abs",
        "cf_sensitivity",
        "gas",
        "weat_gender",
        "ppl",
        "step_s",
        "assoc_forward_s",
    ]
    methods = list(dict.fromkeys(r["method"] for r in res["runs"]))
    van = {r["seed"]: r for r in res["runs"] if r["method"] == "vanilla"}
    lines = [
        "| method | seeds | " + " | ".join(keys) + " | step / vanilla | forward / vanilla |",
        "|" + "---|" * (len(keys) + 4),
    ]
    for meth in methods:
        rows = [r for r in res["runs"] if r["method"] == meth]
        s = summarize(rows, keys)
        cells = [f"{v[0]:.3f} ± {v[1]:.3f}" if v else "-" for v in s.values()]
        step = [r["step_s"] / van[r["seed"]]["step_s"] for r in rows if r["seed"] in van and "step_s" in r]
        fwd = [r["assoc_forward_s"] / van[r["seed"]]["assoc_forward_s"] for r in rows if r["seed"] in van]
        ratio = [f"{np.mean(x):.2f}" if x else "-" for x in (step, fwd)]
        lines.append(f"| {meth} | {len(rows)} | " + " | ".join(cells + ratio) + " |")
    lines += [
        "",
        "| model | mode | reference | recall GAS words | recall first names | selection rate (random) |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["recall"]:
        lines.append(
            f"| {r['model']} | {r['mode']} | {r['ref']} | {r['recall_gas_words']:.3f} | "
            f"{r['recall_first_names']:.3f} | {r['random_baseline']:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
