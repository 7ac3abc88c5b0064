"""The numbers the paper reports (Findings of EMNLP 2025, pp. 15785-15798), table by table.

Each table is a list of rows ``{"model", "method", "variant", "metrics"}``; ``variant`` names a setting that
changes within a method (reference words in Table 3, top-K in Table 5, lambda in Table 6). Metric names are
the ones our runs write: icat, weat, gas, ppl, judge, accuracy, tpr_gap, ausc, weat_gender, weat_race, weat_age.
Table 1's ``significant`` marks the paper's asterisks (one-tailed t-test, p < 0.05, against both the
pre-trained and the vanilla model).
"""

from __future__ import annotations

#: Direction of every metric: True = higher is better.
HIGHER_IS_BETTER = {
    "icat": True,
    "lms": True,
    "ss": False,
    "judge": True,
    "accuracy": True,
    "weat": False,
    "gas": False,
    "ppl": False,
    "tpr_gap": False,
    "ausc": False,
    "weat_gender": False,
    "weat_race": False,
    "weat_age": False,
    "crows": False,
    "counterfactual": False,
    "association": False,
}

TITLES = {
    1: "Table 1: fine-tuning on Jigsaw, pre-trained vs vanilla vs CrAWD (5 seeds, one-tailed t-test)",
    2: "Table 2: gender bias in generation after fine-tuning on Bias in Bios",
    3: "Table 3: reference sequence size (prior knowledge), DT vs CrAWD on Bias in Bios",
    4: "Table 4: racial bias in classification (BERT-base) on the Measuring Hate Speech corpus",
    5: "Table 5: CrAWD with different top-K%",
    6: "Table 6: CrAWD with different weight decay lambda",
    7: "Table 7: multiple biases after fine-tuning on SNLI premises",
}


def _r(model, method, variant=None, significant=None, **metrics):
    row = {"model": model, "method": method, "variant": variant, "metrics": metrics}
    if significant:
        row["significant"] = significant
    return row


_T1 = [
    ("GPT2", (63.817, 0.980), (67.078, 0.693), (67.997, 0.374), {"weat": True}),
    ("Llama2-7B", (65.527, 0.863), (67.756, 0.722), (69.560, 0.406), {"icat": True, "weat": True}),
    ("Llama3-8B", (64.924, 0.583), (64.706, 0.557), (66.136, 0.345), {"icat": True, "weat": True}),
    ("Falcon-7B", (66.476, 0.498), (67.711, 0.340), (69.471, 0.247), {"icat": True, "weat": True}),
    ("FlanT5-3B", (66.000, 0.496), (67.123, 0.508), (68.241, 0.431), {"icat": True}),
    ("Deepseek-6.7B", (66.667, 0.221), (65.432, 0.897), (68.452, 0.200), {"icat": True}),
]

_T2 = {
    "Llama2-7B": {
        "vanilla": (0.860, 0.582, 15.360, 8.0),
        "ibm": (0.800, 0.613, 17.108, 7.5),
        "dt": (0.790, 0.589, 21.896, 8.0),
        "ip": (0.630, 0.443, 20.582, 8.0),
        "kgdebias": (0.843, 0.627, 23.028, 7.0),
        "dsd": (0.750, 0.526, 15.553, 7.5),
        "crawd": (0.340, 0.194, 22.646, 7.5),
    },
    "Llama3-8B": {
        "vanilla": (0.895, 0.640, 19.906, 8.5),
        "ibm": (0.835, 0.632, 28.527, 7.5),
        "dt": (0.870, 0.697, 41.533, 8.0),
        "ip": (0.780, 0.699, 28.002, 8.0),
        "kgdebias": (0.875, 0.760, 43.240, 7.5),
        "dsd": (0.900, 0.704, 41.677, 8.0),
        "crawd": (0.550, 0.639, 46.993, 7.5),
    },
}

_T3 = [  # reference words, DT (gas, weat, ppl), CrAWD (gas, weat, ppl); Llama2-7B
    ("he,she", (0.790, 0.589, 21.896), (0.340, 0.194, 22.646)),
    ("he,she,man,woman", (0.750, 0.546, 21.797), (0.485, 0.339, 22.421)),
    ("he,she,man,woman,male,female", (0.710, 0.595, 24.339), (0.405, 0.295, 23.103)),
]

_T4 = {
    "vanilla": (0.944, 0.181, 0.717),
    "ad": (0.916, 0.035, 0.702),
    "cbe": (0.924, 0.053, 0.604),
    "ibm": (0.874, 0.050, 0.636),
    "crawd": (0.972, 0.042, 0.413),
}

_T5 = {
    0.1: (0.485, 0.660, 16.609),
    0.2: (0.430, 0.624, 15.642),
    0.3: (0.400, 0.606, 19.687),
    0.4: (0.340, 0.194, 22.646),
    0.5: (0.310, 0.190, 26.371),
}
_T6 = {
    0.0: (0.315, 0.579, 16.119),
    0.1: (0.176, 0.665, 15.180),
    0.2: (0.340, 0.194, 22.646),
    0.3: (0.125, 0.341, 19.298),
    0.4: (0.410, 0.421, 22.197),
}

_T7 = {
    "LLaMA2-7b": {
        "vanilla": (0.955, 0.526, 0.049, 18.243),
        "ibm": (0.942, 0.846, 0.006, 19.958),
        "dt": (0.929, 0.667, 0.072, 17.512),
        "crawd": (0.938, 0.445, 0.028, 20.004),
    },
    "LLaMA3-8B": {
        "vanilla": (0.901, 0.190, 0.565, 32.072),
        "ibm": (0.546, 0.302, 0.984, 111.783),
        "dt": (0.878, 0.247, 0.708, 29.154),
        "crawd": (0.885, 0.349, 0.576, 35.952),
    },
}


def _build() -> dict[int, list[dict]]:
    t: dict[int, list[dict]] = {i: [] for i in range(1, 8)}
    for model, pre, van, cr, sig in _T1:
        t[1] += [
            _r(model, "pretrained", icat=pre[0], weat=pre[1]),
            _r(model, "vanilla", icat=van[0], weat=van[1]),
            _r(model, "crawd", significant=sig, icat=cr[0], weat=cr[1]),
        ]
    for model, methods in _T2.items():
        t[2] += [_r(model, m, gas=g, weat=w, ppl=p, judge=j) for m, (g, w, p, j) in methods.items()]
    for ref, dt, cr in _T3:
        t[3] += [
            _r("Llama2-7B", "dt", ref, gas=dt[0], weat=dt[1], ppl=dt[2]),
            _r("Llama2-7B", "crawd", ref, gas=cr[0], weat=cr[1], ppl=cr[2]),
        ]
    t[4] = [_r("BERT-base", m, accuracy=a, tpr_gap=g, ausc=u) for m, (a, g, u) in _T4.items()]
    t[5] = [_r("Llama2-7B", "crawd", f"top_k={k}", gas=g, weat=w, ppl=p) for k, (g, w, p) in _T5.items()]
    t[6] = [_r("Llama2-7B", "crawd", f"decay={d}", gas=g, weat=w, ppl=p) for d, (g, w, p) in _T6.items()]
    for model, methods in _T7.items():
        t[7] += [
            _r(model, m, weat_gender=g, weat_race=r, weat_age=a, ppl=p) for m, (g, r, a, p) in methods.items()
        ]
    return t


PAPER: dict[int, list[dict]] = _build()


def paper_rows(table: int, *, model: str | None = None) -> list[dict]:
    """The paper's rows of ``table`` (optionally of one model; the first model when ``model="first"``)."""
    rows = PAPER.get(int(table), [])
    if model == "first" and rows:
        model = rows[0]["model"]
    return [r for r in rows if model is None or r["model"] == model]


def paper_value(
    table: int, method: str, metric: str, *, variant: str | None = None, model: str | None = None
) -> float | None:
    """The paper's value of ``metric`` for ``method`` (and ``variant``) in ``table``; first model by default.

    >>> paper_value(2, "crawd", "gas")
    0.34
    >>> paper_value(4, "vanilla", "tpr_gap")
    0.181
    >>> paper_value(5, "crawd", "ppl", variant="top_k=0.1")
    16.609
    """
    for r in paper_rows(table, model=model or "first"):
        if r["method"] == method and (variant is None or r["variant"] == variant):
            return r["metrics"].get(metric)
    return None
