"""Cross-check crawd's CrowS-Pairs score against lm-evaluation-harness's ``crows_pairs_english`` scoring.

lm-eval's task scores each pair as a 2-way multiple choice with an empty context (so the context becomes the
model's prefix token, BOS or EOS) and ``target_delimiter: ""``: ll(s) = sum log P(s | prefix); pct_stereotype =
mean[ll(sent_more) > ll(sent_less)]. Its dataset (``jannalu/crows_pairs_multilingual``, hub only) is not
reachable here, so this script feeds lm-eval's own ``HFLM.loglikelihood`` the local original CSV (1508 pairs).
When ``lm_eval`` cannot be imported it falls back to an independent unbatched re-implementation of that
formula. Install lm-eval without touching the project venv, e.g.:

    pip install --no-deps --target /tmp/lmeval lm-eval
    PYTHONPATH=/tmp/lmeval .venv/bin/python bench/crows_vs_lm_eval.py --out bench/results/crows_vs_lm_eval.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def lm_eval_loglikelihoods(model, tok, sents: list[str], batch_size: int):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size)
    reqs = [
        Instance(request_type="loglikelihood", doc={}, arguments=("", s), idx=i) for i, s in enumerate(sents)
    ]
    return np.array([ll for ll, _ in lm.loglikelihood(reqs, disable_tqdm=True)]), f"lm_eval {_version()} HFLM"


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("lm_eval")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def naive_loglikelihoods(model, tok, sents: list[str], batch_size: int):
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    out = []
    with torch.no_grad():
        for s in sents:
            ids = [bos] + tok(s, add_special_tokens=False).input_ids
            lp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)  # (L, V)
            out.append(float(lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum()))
    return np.array(out), "independent unbatched re-implementation of lm-eval's formula"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded:smollm2")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="bench/results/crows_vs_lm_eval.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from crawd.cli_eval import load_for_eval, write_json_atomic
    from crawd.data import load_crows_pairs
    from crawd.metrics import crows_pairs

    model, tok = load_for_eval(args.model)
    t0 = time.perf_counter()
    ours = crows_pairs(model, tok, limit=args.limit, batch_size=args.batch_size)
    t_ours = time.perf_counter() - t0
    rows = load_crows_pairs(limit=args.limit).rows
    sents = [r["sent_more"] for r in rows] + [r["sent_less"] for r in rows]
    t0 = time.perf_counter()
    try:
        ll, ref_name = lm_eval_loglikelihoods(model, tok, sents, args.batch_size)
    except ImportError:
        ll, ref_name = naive_loglikelihoods(model, tok, sents, args.batch_size)
    t_ref = time.perf_counter() - t0
    n = len(rows)
    ref = 100.0 * float(np.mean(ll[:n] > ll[n:]))
    res = {
        "model": args.model,
        "n_pairs": n,
        "crawd_pct_stereotype": ours.value,
        "reference_pct_stereotype": ref,
        "reference": ref_name,
        "abs_diff_points": abs(ours.value - ref),
        "crawd_likelihood_diff": ours.likelihood_diff,
        "reference_likelihood_diff": float(np.abs(ll[:n] - ll[n:]).mean()),
        "seconds": {"crawd": round(t_ours, 1), "reference": round(t_ref, 1)},
        "threads": torch.get_num_threads(),
    }
    write_json_atomic(res, args.out)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
