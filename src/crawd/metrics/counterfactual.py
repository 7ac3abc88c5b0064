"""Counterfactual sensitivity: how much a model's predictions move when gendered words in the prompt are swapped.

Swaps: the CDA word pairs (Lu et al., ``gender_word_lists/cda_default_pairs.json``) both ways plus pronouns
(he/she, him/her, his/her, himself/herself); whole words, case kept. "her" becomes "him" before punctuation,
the end of the text or a function word (to, and, the, ...), otherwise "his".

For each (prompt, continuation) with at least one swap in the prompt: delta = log P(cont | prompt) -
log P(cont | swapped prompt) (summed over continuation tokens); reported: mean |delta| (value), mean delta,
and the flip rate of the argmax next token after the prompt. Default items: Bias in Bios sample bios, prompt =
the first 12 words, continuation = the next 8 words, kept when the prompt has a gendered word and the
continuation has none.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from ._common import MetricResult, bootstrap_ci

PRONOUN_PAIRS = (("he", "she"), ("him", "her"), ("his", "her"), ("himself", "herself"), ("his", "hers"))
_FUNCTION_WORDS = {
    "to",
    "and",
    "or",
    "the",
    "a",
    "an",
    "that",
    "with",
    "for",
    "in",
    "on",
    "at",
    "as",
    "from",
    "by",
    "about",
    "into",
    "but",
    "so",
    "if",
    "when",
    "because",
    "was",
    "is",
    "would",
    "will",
}


def swap_table(pairs: Sequence[tuple[str, str]] | None = None) -> dict[str, str]:
    """Lower-case word -> counterpart, both directions (first pair listed wins for an ambiguous word)."""
    if pairs is None:
        from ..data import load_gender_pairs

        pairs = load_gender_pairs().rows
    table: dict[str, str] = {}
    for m, f in list(PRONOUN_PAIRS) + [tuple(p) for p in pairs]:
        table.setdefault(m.lower(), f.lower())
        table.setdefault(f.lower(), m.lower())
    return table


def _case_like(word: str, src: str) -> str:
    if src.isupper() and len(src) > 1:
        return word.upper()
    if src[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def swap_gender(text: str, table: dict[str, str] | None = None) -> tuple[str, int]:
    """(text with gendered words swapped, number of swaps).

    >>> t = swap_table([("man", "woman"), ("father", "mother")])
    >>> swap_gender("She told her father that He met the man. I saw her.", t)
    ('He told his mother that She met the woman. I saw him.', 6)
    >>> swap_gender("The shepherd's hearth.", t)
    ("The shepherd's hearth.", 0)
    """
    table = table if table is not None else swap_table()
    count = 0

    def rep(m: re.Match) -> str:
        nonlocal count
        w = m.group(0)
        low = w.lower()
        if low not in table:
            return w
        count += 1
        if low == "her":
            nxt = re.match(r"\s*([A-Za-z]+)", text[m.end() :])
            return _case_like("his" if nxt and nxt.group(1).lower() not in _FUNCTION_WORDS else "him", w)
        return _case_like(table[low], w)

    out = re.sub(r"(?<![\w'-])[A-Za-z]+(?:-[A-Za-z]+)*(?![\w-])", rep, text)
    return out, count


def default_items(n_prompt: int = 12, n_cont: int = 8, limit: int | None = None) -> list[tuple[str, str]]:
    """(prompt, continuation) pairs from the Bias in Bios sample (see module doc)."""
    from ..data import load_bios

    table = swap_table()
    items = []
    for r in load_bios().rows:
        words = r["text"].split()
        if len(words) < n_prompt + n_cont:
            continue
        prompt, cont = " ".join(words[:n_prompt]), " " + " ".join(words[n_prompt : n_prompt + n_cont])
        if swap_gender(prompt, table)[1] and not swap_gender(cont, table)[1]:
            items.append((prompt, cont))
    return items if limit is None else items[:limit]


@dataclasses.dataclass
class CounterfactualResult(MetricResult):
    """``value`` = mean |delta log P(continuation)|; ``flip_rate`` of the next-token argmax; ``mean_delta``."""

    value: float
    flip_rate: float
    mean_delta: float
    n: int
    ci95: tuple[float, float] | None
    settings: dict


def counterfactual_sensitivity(
    model,
    tokenizer,
    items: Sequence[tuple[str, str]] | None = None,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    limit: int | None = None,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> CounterfactualResult:
    """Counterfactual sensitivity of ``model`` on (prompt, continuation) ``items`` (default: see module doc)."""
    from .scoring import score_continuations

    source = "given" if items is not None else "bias_in_bios_sample first 12 words -> next 8 words"
    items = list(items) if items is not None else default_items(limit=limit)
    if limit is not None:
        items = items[:limit]
    table = swap_table(pairs)
    swapped = [(swap_gender(p, table)[0], c) for p, c in items]
    keep = [i for i, (p, _) in enumerate(items) if swapped[i][0] != p]
    if not keep:
        raise ValueError("no prompt contains a swappable gendered word")
    orig = [items[i] for i in keep]
    cf = [swapped[i] for i in keep]
    s = score_continuations(
        model,
        tokenizer,
        [p for p, _ in orig] + [p for p, _ in cf],
        [c for _, c in orig] + [c for _, c in cf],
        batch_size=batch_size,
        progress=progress,
        desc="counterfactual",
    )
    n = len(orig)
    delta = s.logprob[:n] - s.logprob[n:]  # (n,)
    flips = (s.first_argmax[:n] != s.first_argmax[n:]).astype(float)  # (n,)
    interval = bootstrap_ci(np.abs(delta), seed=seed) if n > 1 else None
    return CounterfactualResult(
        value=float(np.abs(delta).mean()),
        flip_rate=float(flips.mean()),
        mean_delta=float(delta.mean()),
        n=n,
        ci95=interval,
        settings={
            "items": source,
            "n_pairs_swapped": len(table) // 2,
            "limit": limit,
            "example": [orig[0][0], cf[0][0]],
        },
    )
