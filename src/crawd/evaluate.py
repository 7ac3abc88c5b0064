"""Run several bias / utility benchmarks on one model and collect JSON-ready results.

Benchmark names: ppl, gas, weat, stereoset, crows, bbq, winobias, counterfactual, association.
Each entry of the returned dict holds ``value``, ``n``, ``ci95`` (bootstrap, where meaningful), ``source``
(data path), ``settings``, ``seconds`` and the metric's full result under ``detail``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from .errors import CrawdUsageError

BENCHMARKS = ("ppl", "gas", "weat", "stereoset", "crows", "bbq", "winobias", "counterfactual", "association")


def _ppl(model, tok, limit, seed, bs, progress):
    from .data import load_bios
    from .metrics import perplexity

    loaded = load_bios(limit=limit)
    r = perplexity(model, tok, [x["text"] for x in loaded.rows], batch_size=bs, seed=seed, progress=progress)
    return r, loaded.source + " (per_profession_10 bios, hard_text)"


def _gas(model, tok, limit, seed, bs, progress):
    from .metrics import generate_for_gas

    return generate_for_gas(
        model, tok, limit=limit, seed=seed, batch_size=bs, progress=progress
    ), "winobias/*_occupations.txt + winogender/occupations-stats.tsv (prompts)"


def _weat(model, tok, limit, seed, bs, progress):
    from .metrics import weat

    r = weat(model, tok, seed=seed, batch_size=bs, n_permutations=1000 if limit else 10000)
    return r, r.source


def _stereoset(model, tok, limit, seed, bs, progress):
    from .metrics import stereoset

    r = stereoset(model, tok, limit=limit, seed=seed, batch_size=bs, progress=progress)
    return r, r.source


def _crows(model, tok, limit, seed, bs, progress):
    from .metrics import crows_pairs

    r = crows_pairs(model, tok, limit=limit, seed=seed, batch_size=bs, progress=progress)
    return r, r.source


def _bbq(model, tok, limit, seed, bs, progress):
    from .metrics import bbq

    r = bbq(model, tok, limit=limit, batch_size=bs, progress=progress)
    return r, r.source


def _winobias(model, tok, limit, seed, bs, progress):
    from .metrics import winobias

    r = winobias(model, tok, limit=limit, seed=seed, batch_size=bs, progress=progress)
    return r, r.source


def _counterfactual(model, tok, limit, seed, bs, progress):
    from .metrics import counterfactual_sensitivity

    return counterfactual_sensitivity(
        model, tok, limit=limit, seed=seed, batch_size=bs, progress=progress
    ), "bias_in_bios_sample + gender_word_lists/cda_default_pairs.json"


def _association(model, tok, limit, seed, bs, progress):
    from .metrics import occupation_gender_association

    return occupation_gender_association(
        model, tok, seed=seed, batch_size=bs
    ), "winobias/*_occupations.txt + winogender/occupations-stats.tsv"


RUNNERS: dict[str, Callable] = {
    "ppl": _ppl,
    "gas": _gas,
    "weat": _weat,
    "stereoset": _stereoset,
    "crows": _crows,
    "bbq": _bbq,
    "winobias": _winobias,
    "counterfactual": _counterfactual,
    "association": _association,
}


def parse_benchmarks(benchmarks: str | Sequence[str]) -> list[str]:
    """Comma-separated string or list -> validated names (``all`` = every benchmark).

    >>> parse_benchmarks("ppl, crows")
    ['ppl', 'crows']
    >>> parse_benchmarks(["nope"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    crawd.errors.CrawdUsageError: unknown benchmark 'nope'; valid: ppl, gas, weat, ...
    """
    names = [
        b.strip() for b in (benchmarks.split(",") if isinstance(benchmarks, str) else benchmarks) if b.strip()
    ]
    if names == ["all"]:
        return list(BENCHMARKS)
    if not names:
        raise CrawdUsageError(f"no benchmark given; valid: {', '.join(BENCHMARKS)}")
    for b in names:
        if b not in RUNNERS:
            raise CrawdUsageError(f"unknown benchmark {b!r}; valid: {', '.join(BENCHMARKS)}")
    return names


def evaluate(
    model,
    tokenizer,
    benchmarks: str | Sequence[str],
    *,
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
) -> dict:
    """Run ``benchmarks`` on ``model``; returns {name: {value, n, ci95, source, settings, seconds, detail}}.

    ``limit`` caps each benchmark's items (per kind / category / type where the loader says so), ``seed``
    drives generation, permutations and bootstraps.
    """
    import numpy as np
    import torch

    names = parse_benchmarks(benchmarks)
    out: dict = {}
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="benchmarks")
    for name in it:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        res, source = RUNNERS[name](model, tokenizer, limit, seed, batch_size, progress)
        d = res.to_dict()
        out[name] = {
            "value": d.get("value"),
            "n": d.get("n"),
            "ci95": d.get("ci95"),
            "source": source,
            "settings": {**d.get("settings", {}), "limit": limit, "seed": seed, "batch_size": batch_size},
            "seconds": round(time.perf_counter() - t0, 2),
            "detail": {
                k: v
                for k, v in d.items()
                if k not in ("settings", "texts", "per_text_nll", "per_text_tokens", "per_text")
            },
        }
    return out
