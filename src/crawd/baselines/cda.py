"""CDA: counterfactual data augmentation, gendered words and first names swapped both ways."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import CrawdUsageError
from .base import Method, _opt_list
from .lexicon import gender_pairs, name_pairs

_WORD = r"[\w-]"  # characters that continue a word (whole-word matching; "he's" -> "she's")


def _match_case(src: str, target: str) -> str:
    if src.isupper() and len(src) > 1:
        return target.upper()
    if src[:1].isupper():
        return target[:1].upper() + target[1:]
    return target


class Swapper:
    """Swap words of (a, b) pairs both ways in one pass: no double swap, case kept, whole words only.

    ``names`` pairs are only swapped where the word is capitalised (``Mark`` the name, not ``mark``).

    >>> Swapper([("he", "she"), ("man", "woman")])("He said the woman saw him.")
    'She said the man saw him.'
    """

    def __init__(self, pairs: Sequence[tuple[str, str]], names: Sequence[tuple[str, str]] = ()) -> None:
        self.words: dict[str, str] = {}
        for a, b in pairs:
            self.words.setdefault(a.lower(), b.lower())
            self.words.setdefault(b.lower(), a.lower())
        self.names: dict[str, str] = {}
        for a, b in names:
            for x, y in ((a, b), (b, a)):
                if x.lower() not in self.words:
                    self.names.setdefault(x.lower(), y.lower())
        keys = sorted(set(self.words) | set(self.names), key=len, reverse=True)
        if not keys:
            raise CrawdUsageError("CDA: no word pairs to swap")
        alt = "|".join(re.escape(k) for k in keys)
        self.pattern = re.compile(rf"(?<!{_WORD})({alt})(?!{_WORD})", re.IGNORECASE)

    def _sub(self, m: re.Match) -> str:
        src = m.group(0)
        low = src.lower()
        if low in self.words:
            return _match_case(src, self.words[low])
        if src[:1].isupper():
            return _match_case(src, self.names[low])
        return src

    def __call__(self, text: str) -> str:
        return self.pattern.sub(self._sub, text)


class CDA(Method):
    """Counterfactual data augmentation: each training text plus its gender-swapped copy."""

    name: ClassVar[str] = "cda"
    description: ClassVar[str] = (
        "Adds a copy of each training text with gendered words (and first names) swapped both ways."
    )
    defaults: ClassVar[dict[str, Any]] = {
        "vocabulary": "full",  # "full": all CDA pairs; "reference": only pairs holding a reference word
        "names": True,  # also swap the 1,000 first-name pairs (capitalised occurrences)
        "only_changed": True,  # add a copy only where the swap changed the text
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["vocabulary"] not in ("full", "reference"):
            raise CrawdUsageError(
                f"cda: vocabulary must be 'full' or 'reference', got {self.options['vocabulary']!r}"
            )
        self._swapper: Swapper | None = None

    def swapper(self) -> Swapper:
        if self._swapper is None:
            pairs = list(gender_pairs())
            names: list[tuple[str, str]] = list(name_pairs()) if self.options["names"] else []
            if self.options["vocabulary"] == "reference":
                ref = {w.lower() for w in self.reference_words}
                if {"he", "she"} & ref:
                    ref |= {"his", "her", "him", "hers", "himself", "herself"}
                pairs = [p for p in pairs if p[0] in ref or p[1] in ref]
                names = [p for p in names if p[0] in ref or p[1] in ref]
            self._swapper = Swapper(pairs, names)
        return self._swapper

    def transform_train_data(self, texts, labels=None, groups=None):
        texts, labels, groups = list(texts), _opt_list(labels), _opt_list(groups)
        swap = self.swapper()
        idx, new = [], []
        for i, t in enumerate(texts):
            s = swap(t)
            if s != t or not self.options["only_changed"]:
                idx.append(i)
                new.append(s)
        out_labels = None if labels is None else labels + [labels[i] for i in idx]
        out_groups = None if groups is None else groups + [groups[i] for i in idx]
        return texts + new, out_labels, out_groups
