import numpy as np
import pytest
import torch

from crawd.metrics import perplexity, score_continuations
from crawd.metrics.perplexity import sliding_windows
from crawd.metrics.scoring import encode_pair, next_token_logprobs, prefix_token_id, word_representations

PREFIXES = [
    "The cat sat on the",
    "",
    "A much longer prefix that has quite a few more tokens in it than",
    "Hi ",
]
CONTS = [" mat.", "Hello world, how are you?", " others do", "there"]


def manual_logprob(model, tok, prefix, cont):
    ctx, c = encode_pair(tok, prefix, cont)
    ids = torch.tensor([ctx + c])
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)  # (L, V)
    return sum(float(lp[len(ctx) - 1 + j, t]) for j, t in enumerate(c))


def test_scores_match_unbatched_manual_computation(tiny_lm):
    model, tok = tiny_lm
    s = score_continuations(model, tok, PREFIXES, CONTS, batch_size=3)
    expected = [manual_logprob(model, tok, p, c) for p, c in zip(PREFIXES, CONTS, strict=True)]
    np.testing.assert_allclose(s.logprob, expected, rtol=1e-4, atol=1e-4)
    assert list(s.n_tokens) == [len(encode_pair(tok, p, c)[1]) for p, c in zip(PREFIXES, CONTS, strict=True)]


def test_left_and_right_padding_agree(tiny_lm):
    model, tok = tiny_lm
    right = score_continuations(model, tok, PREFIXES, CONTS, batch_size=4, padding_side="right")
    left = score_continuations(model, tok, PREFIXES, CONTS, batch_size=4, padding_side="left")
    np.testing.assert_allclose(left.logprob, right.logprob, rtol=1e-4, atol=1e-4)
    assert (left.first_argmax == right.first_argmax).all()


def test_empty_prefix_uses_bos_and_trailing_space_moves(tiny_lm):
    _, tok = tiny_lm
    ctx, cont = encode_pair(tok, "", "Hello")
    assert ctx == [prefix_token_id(tok)]
    ctx2, cont2 = encode_pair(tok, "Hi ", "there")
    ctx3, cont3 = encode_pair(tok, "Hi", " there")
    assert (ctx2, cont2) == (ctx3, cont3)


def test_scoring_restores_training_mode(tiny_lm):
    model, tok = tiny_lm
    model.train()
    try:
        score_continuations(model, tok, ["a"], [" b"])
        assert model.training
    finally:
        model.eval()


def test_next_token_logprobs_match_scores(tiny_lm):
    model, tok = tiny_lm
    ids = [tok(" he", add_special_tokens=False).input_ids[0]]
    lp = next_token_logprobs(model, tok, ["The doctor said that", "Nurses"], ids, batch_size=2)
    s = score_continuations(model, tok, ["The doctor said that", "Nurses"], [" he", " he"])
    np.testing.assert_allclose(lp[:, 0], s.logprob, atol=1e-4)


def test_sliding_windows_cover_every_token_once():
    ids = list(range(23))
    wins = sliding_windows(ids, max_length=8, stride=3)
    scored = [t for _, c in wins for t in c]
    assert scored == ids[1:]
    assert all(len(c) + len(s) <= 8 for c, s in wins)
    with pytest.raises(ValueError):
        sliding_windows(ids, max_length=4, stride=5)


def test_perplexity_matches_manual_and_window_size_is_close(tiny_lm):
    model, tok = tiny_lm
    texts = ["The quick brown fox jumps over the lazy dog. " * 6, "Short text here."]
    r = perplexity(model, tok, texts, batch_size=2, ci=False)
    manual = [manual_logprob(model, tok, "", t) for t in texts]
    ntok = sum(len(tok(t, add_special_tokens=False).input_ids) for t in texts)
    assert r.n_tokens == ntok
    assert r.value == pytest.approx(float(np.exp(-sum(manual) / ntok)), rel=1e-4)
    windowed = perplexity(model, tok, texts, max_length=16, stride=8, ci=False)
    assert windowed.n_tokens == ntok
    assert windowed.value != pytest.approx(r.value, rel=1e-9)  # truncated context changes the number
    assert abs(np.log(windowed.value) - np.log(r.value)) < 0.5


def test_perplexity_reproducible_and_ci(tiny_lm):
    model, tok = tiny_lm
    texts = ["one two three four", "five six seven", "eight nine ten eleven twelve"]
    a, b = perplexity(model, tok, texts, seed=3), perplexity(model, tok, texts, seed=3)
    assert a.to_dict() == b.to_dict()
    assert a.ci95[0] <= a.value <= a.ci95[1]


def test_word_representations_shape_and_mean_pooling(tiny_lm):
    model, tok = tiny_lm
    vecs = word_representations(model, tok, ["nurse", "engineer", "he"], batch_size=2)
    assert vecs.shape == (3, model.config.hidden_size)
    ids = [prefix_token_id(tok)] + tok(" engineer", add_special_tokens=False).input_ids
    with torch.no_grad():
        h = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]  # (L, d)
    np.testing.assert_allclose(vecs[1], h[1:].mean(0).numpy(), atol=1e-4)


def test_final_representation_is_used_when_present(tiny_lm):
    model, tok = tiny_lm

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, **kw):
            return self.inner(**kw)

        def final_representation(self, input_ids, attention_mask):
            h = self.inner(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return torch.cat([h.hidden_states[-1], 2 * h.hidden_states[-1]], -1)  # (B, L, 2d)

    vecs = word_representations(Wrapper(model), tok, ["nurse"])
    assert vecs.shape == (1, 2 * model.config.hidden_size)
