"""The reference sensitive sequence `b`: group names, word lists and its tokenization.

The paper (Section 4) attends from the input to a short sequence of sensitive tokens, one or a few
words per group. Group names expand to the paper's words; several groups and plain words combine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from .errors import CrawdUsageError

#: The paper's sensitive groups and their reference words (21 words in all).
GROUPS: dict[str, tuple[str, ...]] = {
    "gender": ("he", "she"),
    "sexuality": ("gay", "straight"),
    "age": ("young", "old"),
    "race": ("black", "white", "Asian", "European", "American", "Mexican"),
    "disability": ("disabled", "abled"),
    "religion": ("Muslim", "Christian", "Jewish"),
    "body": ("fat", "thin"),
    "wealth": ("rich", "poor"),
}
GROUPS["all"] = tuple(w for g in list(GROUPS) for w in GROUPS[g])


def expand_reference_words(words: str | Iterable[str]) -> list[str]:
    """Expand group names (``"gender"``, ``"all"``, ...) and comma-separated strings into words.

    Order is kept, duplicates are dropped.

    >>> expand_reference_words("gender")
    ['he', 'she']
    >>> expand_reference_words(["gender", "man", "woman", "he"])
    ['he', 'she', 'man', 'woman']
    >>> len(expand_reference_words("all"))
    21
    """
    if isinstance(words, str):
        words = [w for w in words.split(",")]
    out: list[str] = []
    for raw in words:
        if not isinstance(raw, str):
            raise CrawdUsageError(f"reference_words: expected strings, got {raw!r}")
        w = raw.strip()
        if not w:
            continue
        for x in GROUPS.get(w.lower(), (w,)):
            if x not in out:
                out.append(x)
    return out


@dataclass
class ReferenceBatch:
    """A tokenized reference sequence: ids (1, m) and a mask (1, m) of the slots that may be attended.

    Special tokens (BOS, [CLS], [SEP]) are encoded with the words, so the model sees a well-formed
    sequence, but they are masked out: only word tokens are attended and decayed.
    """

    input_ids: torch.Tensor  # (1, m)
    attention_mask: torch.Tensor  # (1, m): 1 for every real token (what the model attends in encoding)
    slot_mask: torch.Tensor  # (1, m) bool: True where a reference word token sits
    words: list[str]
    word_of_slot: list[str | None]

    @property
    def num_word_tokens(self) -> int:
        return int(self.slot_mask.sum())


def _word_token_ids(tokenizer, word: str, leading_space: bool) -> list[int]:
    text = (" " + word) if leading_space else word
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_reference(tokenizer, words: list[str], *, max_tokens: int = 32) -> ReferenceBatch:
    """Tokenize the reference words as they appear in running text.

    A word splitting into several tokens contributes all of them. Words that the tokenizer can only
    map to its unknown token are dropped with a warning; if none is left, a `CrawdUsageError`.
    """
    if not words:
        raise CrawdUsageError("reference_words is empty: give words or group names (e.g. 'gender')")
    unk = getattr(tokenizer, "unk_token_id", None)
    # Byte-level BPE tokenizers (GPT-2, Llama 3, SmolLM2, Qwen2) mark a word boundary by a leading space.
    probe = tokenizer(" he", add_special_tokens=False)["input_ids"]
    leading_space = len(probe) == 1 and tokenizer.convert_ids_to_tokens(probe)[0] not in ("▁", " ")
    ids: list[int] = []
    owners: list[str | None] = []
    kept: list[str] = []
    dropped: list[str] = []
    for w in words:
        toks = _word_token_ids(tokenizer, w, leading_space)
        if not toks or (unk is not None and all(t == unk for t in toks)):
            dropped.append(w)
            continue
        kept.append(w)
        ids.extend(toks)
        owners.extend([w] * len(toks))
    if not kept:
        raise CrawdUsageError(f"reference_words {words!r}: every word is out of the tokenizer's vocabulary")
    if dropped:
        import warnings

        warnings.warn(f"reference words out of vocabulary, dropped: {dropped}", stacklevel=2)
    if len(ids) > max_tokens:
        raise CrawdUsageError(
            f"max_reference_tokens={max_tokens} is too small: the reference words take {len(ids)} tokens"
        )
    prefix: list[int] = []
    suffix: list[int] = []
    if (
        getattr(tokenizer, "cls_token_id", None) is not None
        and getattr(tokenizer, "sep_token_id", None) is not None
    ):
        prefix, suffix = [tokenizer.cls_token_id], [tokenizer.sep_token_id]
    elif getattr(tokenizer, "bos_token_id", None) is not None and _adds_bos(tokenizer):
        prefix = [tokenizer.bos_token_id]
    full = prefix + ids + suffix
    slot = [False] * len(prefix) + [True] * len(ids) + [False] * len(suffix)
    return ReferenceBatch(
        input_ids=torch.tensor([full], dtype=torch.long),
        attention_mask=torch.ones(1, len(full), dtype=torch.long),
        slot_mask=torch.tensor([slot], dtype=torch.bool),
        words=kept,
        word_of_slot=[None] * len(prefix) + owners + [None] * len(suffix),
    )


def _adds_bos(tokenizer) -> bool:
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id
