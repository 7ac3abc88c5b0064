"""Word lists the baselines share: gender pairs, name pairs, and attribute sets from `reference_words`.

Pairs come from ``shared/data/gender_word_lists`` (Lu et al.'s CDA pairs, Hall Maudslay et al.'s
1,000 name pairs) through `crawd.data.paths.resolve_data_dir`. The CDA list lacks the object and
possessive pronouns; `PRONOUN_PAIRS` adds them (``her`` is mapped to ``his``, a known ambiguity of
word-level CDA: ``her`` may also stand for ``him``).
"""

from __future__ import annotations

import json
from functools import lru_cache

from ..errors import CrawdDataError
from ..reference import GROUPS

#: (male, female) pronoun pairs missing from the CDA list. Order matters for the reverse map:
#: the first pair containing a word defines its swap ("her" -> "his").
PRONOUN_PAIRS: tuple[tuple[str, str], ...] = (
    ("he", "she"),
    ("his", "her"),
    ("him", "her"),
    ("his", "hers"),
    ("himself", "herself"),
)

#: Definitional pairs (female, male) of Bolukbasi et al., used by DSD for the bias direction.
DEFINITIONAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("she", "he"),
    ("her", "his"),
    ("woman", "man"),
    ("Mary", "John"),
    ("herself", "himself"),
    ("daughter", "son"),
    ("mother", "father"),
    ("gal", "guy"),
    ("girl", "boy"),
    ("female", "male"),
)


def _data_dir():
    from ..data.paths import resolve_data_dir

    return resolve_data_dir("gender_word_lists")


@lru_cache(maxsize=4)
def gender_pairs(include_pronouns: bool = True) -> tuple[tuple[str, str], ...]:
    """(male, female) word pairs: the CDA list (lower-case) plus the pronoun pairs."""
    path = _data_dir() / "cda_default_pairs.json"
    if not path.exists():
        raise CrawdDataError(f"CDA word pairs not found: {path}")
    pairs = [(m.lower(), f.lower()) for m, f in json.loads(path.read_text())]
    if include_pronouns:
        pairs = list(PRONOUN_PAIRS) + [p for p in pairs if p not in PRONOUN_PAIRS]
    return tuple(pairs)


@lru_cache(maxsize=2)
def name_pairs() -> tuple[tuple[str, str], ...]:
    """(male, female) first-name pairs (lower-case), frequency matched."""
    path = _data_dir() / "names_pairs_1000_scaled.json"
    if not path.exists():
        raise CrawdDataError(f"name pairs not found: {path}")
    return tuple((m.lower(), f.lower()) for m, f in json.loads(path.read_text()))


@lru_cache(maxsize=2)
def gendered_words() -> frozenset[str]:
    """Every lower-case word that carries gender (both sides of the pairs plus the definitional list)."""
    words = {w for p in gender_pairs() for w in p}
    path = _data_dir() / "gender_specific_full.json"
    if path.exists():
        words |= {w.lower() for w in json.loads(path.read_text())}
    return frozenset(words)


def attribute_sets(reference_words: list[str]) -> dict[str, list[list[str]]]:
    """Split the reference words into attributes, each a list of sides (lists of words).

    Gender words are sorted into a female and a male side by the gender pairs (``he`` -> male,
    ``she`` -> female, ``woman`` -> female ...); words of the other groups of `crawd.reference.GROUPS`
    form one side each within their group; any other word is its own attribute with one side.

    >>> attribute_sets(["he", "she", "man", "woman"])["gender"]
    [['she', 'woman'], ['he', 'man']]
    >>> attribute_sets(["he", "she", "black", "white"])["race"]
    [['black'], ['white']]
    """
    male = {m for m, _ in gender_pairs()}
    female = {f for _, f in gender_pairs()}
    group_of = {w.lower(): g for g, ws in GROUPS.items() if g not in ("all", "gender") for w in ws}
    out: dict[str, list[list[str]]] = {}
    fem: list[str] = []
    mal: list[str] = []
    for w in reference_words:
        lw = w.lower()
        if lw in female and lw not in male:
            fem.append(w)
        elif lw in male:
            mal.append(w)
        elif lw in group_of:
            out.setdefault(group_of[lw], []).append([w])
        else:
            out.setdefault(lw, []).append([w])
    if fem or mal:
        out = {"gender": [fem, mal], **out}
    return out
