"""One batched scorer shared by every likelihood-based metric, plus word representations.

* :func:`score_continuations` — sum log P(continuation | prefix) for many (prefix, continuation) pairs,
  tokenized the lm-evaluation-harness way (trailing spaces of the prefix move to the continuation; the
  continuation tokens are those of ``tokenize(prefix + continuation)`` after the prefix's tokens; an
  empty prefix becomes the BOS token, or EOS when there is none), right- or left-padded batches.
* :func:`next_token_logprobs` — log P(token | prompt) for a fixed set of token ids at the next position.
* :func:`word_representations` — one vector per word: mean over the word's tokens of the model's final
  representation (``final_representation`` of CrAWD wrappers, i.e. concat(H_x, H_cross); otherwise the
  last hidden state), with the word fed in running-text form (leading space) after the BOS/EOS token.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._common import eval_mode, has_final_representation, model_device


def prefix_token_id(tokenizer) -> int:
    """Token standing for an empty prefix: BOS if the tokenizer has one, else EOS (lm-eval's choice)."""
    tid = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if tid is None:
        raise ValueError("tokenizer has neither a BOS nor an EOS token to use as an empty prefix")
    return int(tid)


def encode_pair(tokenizer, prefix: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids (prefix, continuation), lm-eval style.

    >>> class Tok:  # a whitespace tokenizer standing in for a real one
    ...     bos_token_id, eos_token_id = 0, 1
    ...     def __call__(self, text, add_special_tokens=False):
    ...         return type("E", (), {"input_ids": [len(w) + 10 for w in text.split(" ") if w]})()
    >>> encode_pair(Tok(), "The cat ", "sat")
    ([13, 13], [13])
    >>> encode_pair(Tok(), "", "sat down")
    ([0], [13, 14])
    """
    n_space = len(prefix) - len(prefix.rstrip())
    if n_space:
        continuation = prefix[-n_space:] + continuation
        prefix = prefix[:-n_space]
    if not prefix:
        return [prefix_token_id(tokenizer)], list(tokenizer(continuation, add_special_tokens=False).input_ids)
    whole = list(tokenizer(prefix + continuation, add_special_tokens=False).input_ids)
    n_ctx = len(tokenizer(prefix, add_special_tokens=False).input_ids)
    return whole[:n_ctx], whole[n_ctx:]


def _max_len(model, max_length: int | None) -> int:
    if max_length:
        return int(max_length)
    cfg = getattr(model, "config", None)
    n = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 2048
    return int(min(n, 4096))


def _logits(model, ids: torch.Tensor, mask: torch.Tensor, left: bool) -> torch.Tensor:
    kwargs = {}
    if left:  # positions must count real tokens only; right padding needs no help
        kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, L)
    out = model(input_ids=ids, attention_mask=mask, **kwargs)
    return out.logits if hasattr(out, "logits") else out[0]  # (B, L, V)


def forward_batches(
    model,
    seqs: Sequence[Sequence[int]],
    *,
    pad_id: int,
    batch_size: int = 16,
    padding_side: str = "right",
    progress: bool = False,
    desc: str = "scoring",
) -> Iterator[tuple[list[int], torch.Tensor, list[int]]]:
    """Run ``model`` over token sequences in padded batches (longest first).

    Yields (indices into ``seqs``, logits (B, L, V) float32 on CPU-or-device, offsets) where ``offsets[j]`` is
    the position of token 0 of sequence j inside the padded row (0 for right padding).
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    dev = model_device(model)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    it = chunks
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(chunks, desc=desc, leave=False)
    left = padding_side == "left"
    for chunk in it:
        width = max(len(seqs[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)  # (B, L)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)  # (B, L)
        offsets = []
        for r, i in enumerate(chunk):
            s = torch.as_tensor(list(seqs[i]), dtype=torch.long)
            off = width - len(s) if left else 0
            ids[r, off : off + len(s)] = s
            mask[r, off : off + len(s)] = 1
            offsets.append(off)
        logits = _logits(model, ids.to(dev), mask.to(dev), left).float()  # (B, L, V)
        yield chunk, logits, offsets


@dataclass
class TokenScores:
    """Per-pair scores: sum log-prob, number of continuation tokens, and the argmax next token after the prefix."""

    logprob: np.ndarray  # (n,)
    n_tokens: np.ndarray  # (n,)
    first_argmax: np.ndarray  # (n,)

    @property
    def mean_logprob(self) -> np.ndarray:
        """Length-normalised log-prob (per continuation token)."""
        return self.logprob / np.maximum(self.n_tokens, 1)


def score_token_pairs(
    model,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    pad_id: int = 0,
    batch_size: int = 16,
    padding_side: str = "right",
    max_length: int | None = None,
    progress: bool = False,
    desc: str = "scoring",
) -> TokenScores:
    """Sum log P(cont | ctx) for token-id pairs; the context is cut from the left to fit ``max_length``."""
    limit = _max_len(model, max_length)
    seqs, starts, lens = [], [], []
    for ctx, cont in pairs:
        if len(cont) == 0:
            raise ValueError("empty continuation")
        full = list(ctx) + list(cont)
        full = full[-(limit + 1) :]
        seqs.append(full[:-1])  # the last token is only a target
        n_tgt = min(len(cont), limit)
        lens.append(n_tgt)
        starts.append(len(full) - 1 - n_tgt)  # input position predicting the first scored token
    lp = np.zeros(len(pairs))
    am = np.zeros(len(pairs), dtype=np.int64)
    n = len(pairs)
    targets = [torch.as_tensor(list(c)[-min(len(c), limit) :], dtype=torch.long) for _, c in pairs]
    with eval_mode(model):
        for chunk, logits, offs in forward_batches(
            model,
            seqs,
            pad_id=pad_id,
            batch_size=batch_size,
            padding_side=padding_side,
            progress=progress and n > 0,
            desc=desc,
        ):
            for r, i in enumerate(chunk):
                tgt = targets[i].to(logits.device)  # (T,)
                a = offs[r] + starts[i]
                rows = torch.log_softmax(logits[r, a : a + len(tgt)], dim=-1)  # (T, V)
                lp[i] = float(rows.gather(-1, tgt[:, None]).sum())
                am[i] = int(logits[r, offs[r] + starts[i]].argmax())
    return TokenScores(lp, np.asarray(lens), am)


def score_continuations(
    model,
    tokenizer,
    prefixes: Sequence[str],
    continuations: Sequence[str],
    *,
    batch_size: int = 16,
    padding_side: str = "right",
    max_length: int | None = None,
    progress: bool = False,
    desc: str = "scoring",
) -> TokenScores:
    """Sum log P(continuation | prefix) per pair (see :func:`encode_pair` for tokenization)."""
    if len(prefixes) != len(continuations):
        raise ValueError("prefixes and continuations differ in length")
    pairs = [encode_pair(tokenizer, p, c) for p, c in zip(prefixes, continuations, strict=True)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else prefix_token_id(tokenizer)
    return score_token_pairs(
        model,
        pairs,
        pad_id=pad,
        batch_size=batch_size,
        padding_side=padding_side,
        max_length=max_length,
        progress=progress,
        desc=desc,
    )


def sentence_logprobs(model, tokenizer, texts: Sequence[str], **kwargs) -> TokenScores:
    """Full-sentence log-likelihood log P(text | BOS) of each text (the CrowS / StereoSet causal-LM score)."""
    return score_continuations(model, tokenizer, [""] * len(texts), list(texts), **kwargs)


def next_token_logprobs(
    model,
    tokenizer,
    prompts: Sequence[str],
    token_ids: Sequence[int],
    *,
    batch_size: int = 16,
    padding_side: str = "right",
) -> np.ndarray:
    """log P(t | prompt) at the next position for each id in ``token_ids``: array (n_prompts, n_ids)."""
    seqs = [
        list(tokenizer(p, add_special_tokens=False).input_ids) or [prefix_token_id(tokenizer)]
        for p in prompts
    ]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else prefix_token_id(tokenizer)
    idx = torch.as_tensor(list(token_ids), dtype=torch.long)
    out = np.zeros((len(seqs), len(idx)))
    with eval_mode(model):
        for chunk, logits, offs in forward_batches(
            model, seqs, pad_id=pad, batch_size=batch_size, padding_side=padding_side
        ):
            for r, i in enumerate(chunk):
                last = torch.log_softmax(logits[r, offs[r] + len(seqs[i]) - 1], dim=-1)  # (V,)
                out[i] = last[idx.to(last.device)].cpu().numpy()
    return out


def hidden_states(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, final: bool = True
) -> torch.Tensor:
    """Final token representations (B, L, D): ``final_representation`` if the model has it (and ``final``),
    else the last hidden state."""
    if final and has_final_representation(model):
        return model.final_representation(input_ids, attention_mask)  # (B, L, 2d)
    out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    return out.hidden_states[-1]  # (B, L, d)


def word_token_ids(tokenizer, word: str) -> tuple[list[int], list[bool]]:
    """Input ids for a standalone word and a mask of the positions that belong to the word.

    Encoders (tokenizers with a CLS token): ``[CLS] word [SEP]``. Causal LMs: ``BOS`` + tokens of ``" word"``.
    """
    if getattr(tokenizer, "cls_token_id", None) is not None:
        enc = tokenizer(word, add_special_tokens=True, return_special_tokens_mask=True)
        return list(enc.input_ids), [not s for s in enc.special_tokens_mask]
    ids = list(tokenizer(" " + word.strip(), add_special_tokens=False).input_ids)
    return [prefix_token_id(tokenizer)] + ids, [False] + [True] * len(ids)


def word_representations(
    model, tokenizer, words: Sequence[str], *, batch_size: int = 32, final: bool = True
) -> np.ndarray:
    """(n_words, D) array: mean over each word's tokens of the final representation (see module doc);
    ``final=False`` uses the last hidden state even for CrAWD wrappers."""
    encoded = [word_token_ids(tokenizer, w) for w in words]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    dev = model_device(model)
    out: list[np.ndarray | None] = [None] * len(words)
    with eval_mode(model):
        for start in range(0, len(words), batch_size):
            chunk = list(range(start, min(start + batch_size, len(words))))
            width = max(len(encoded[i][0]) for i in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)  # (B, L)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)  # (B, L)
            sel = torch.zeros((len(chunk), width), dtype=torch.float32)  # (B, L) word positions
            for r, i in enumerate(chunk):
                t, m = encoded[i]
                ids[r, : len(t)] = torch.as_tensor(t)
                mask[r, : len(t)] = 1
                sel[r, : len(t)] = torch.as_tensor(m, dtype=torch.float32)
            h = hidden_states(model, ids.to(dev), mask.to(dev), final=final).float().cpu()  # (B, L, D)
            vec = (h * sel[..., None]).sum(1) / sel.sum(1, keepdim=True).clamp(min=1)  # (B, D)
            for r, i in enumerate(chunk):
                out[i] = vec[r].numpy()
    return np.stack(out) if out else np.zeros((0, 0))
