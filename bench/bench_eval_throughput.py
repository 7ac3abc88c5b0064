"""Throughput of the shared batched scorer: StereoSet intrasentence (2106 x 3) and CrowS-Pairs (1508 x 2) on a
model, batched, versus a naive one-sequence-at-a-time loop on a subset (agreement checked on that subset).

    .venv/bin/python bench/bench_eval_throughput.py --out bench/results/eval_throughput.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def naive_sentence_logprobs(model, tok, sents):
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    out = []
    with torch.no_grad():
        for s in sents:
            ids = [bos] + tok(s, add_special_tokens=False).input_ids
            lp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)  # (L, V)
            out.append(float(lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum()))
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded:smollm2")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--naive-subset", type=int, default=96, help="sentences for the one-at-a-time comparison")
    ap.add_argument(
        "--stereoset-limit", type=int, default=None, help="intrasentence items (default: all 2106)"
    )
    ap.add_argument("--crows-limit", type=int, default=None, help="pairs (default: all 1508)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="bench/results/eval_throughput.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from crawd.cli_eval import load_for_eval, write_json_atomic
    from crawd.data import load_crows_pairs
    from crawd.metrics import crows_pairs, stereoset
    from crawd.metrics.scoring import sentence_logprobs

    model, tok = load_for_eval(args.model)
    res: dict = {"model": args.model, "batch_size": args.batch_size, "threads": torch.get_num_threads()}
    t0 = time.perf_counter()
    st = stereoset(
        model, tok, kinds=("intrasentence",), limit=args.stereoset_limit, batch_size=args.batch_size
    )
    dt = time.perf_counter() - t0
    res["stereoset_intrasentence"] = {
        "items": st.n,
        "sentences": 3 * st.n,
        "seconds": round(dt, 1),
        "sentences_per_s": round(3 * st.n / dt, 1),
        "icat": st.value,
        "ss": st.ss,
        "lms": st.lms,
    }
    print(json.dumps(res["stereoset_intrasentence"]), flush=True)
    t0 = time.perf_counter()
    cr = crows_pairs(model, tok, limit=args.crows_limit, batch_size=args.batch_size)
    dt = time.perf_counter() - t0
    res["crows_pairs"] = {
        "pairs": cr.n,
        "sentences": 2 * cr.n,
        "seconds": round(dt, 1),
        "sentences_per_s": round(2 * cr.n / dt, 1),
        "stereotype_score": cr.value,
    }
    print(json.dumps(res["crows_pairs"]), flush=True)
    rows = load_crows_pairs(limit=args.naive_subset // 2).rows
    sents = [r["sent_more"] for r in rows] + [r["sent_less"] for r in rows]
    t0 = time.perf_counter()
    naive = naive_sentence_logprobs(model, tok, sents)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = sentence_logprobs(model, tok, sents, batch_size=args.batch_size).logprob
    t_batched = time.perf_counter() - t0
    res["naive_vs_batched_subset"] = {
        "sentences": len(sents),
        "naive_seconds": round(t_naive, 2),
        "batched_seconds": round(t_batched, 2),
        "speedup": round(t_naive / max(t_batched, 1e-9), 2),
        "max_abs_logprob_diff": float(np.abs(naive - batched).max()),
    }
    print(json.dumps(res["naive_vs_batched_subset"]), flush=True)
    write_json_atomic(res, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
