import json

import numpy as np
import pytest

from crawd.metrics import ausc, llm_judge
from crawd.metrics.ausc import ausc_from_arrays
from crawd.metrics.judge import build_judge_messages, openai_send, parse_rating


def test_ausc_from_arrays_hand_computed():
    # ranked sensitivities: 0.2 (att .9), 1.0 (att .5), 0.0 (att .1)
    att, sens = np.array([0.5, 0.1, 0.9]), np.array([1.0, 0.0, 0.2])
    c = [0.2, (0.2 + 1.0) / 2, (0.2 + 1.0 + 0.0) / 3]
    assert ausc_from_arrays(att, sens, k_max=3) == pytest.approx(sum(c) / 3)
    assert ausc_from_arrays(att, sens, k_max=1) == pytest.approx(0.2)
    assert ausc_from_arrays(att, sens, k_max=10) == pytest.approx(sum(c) / 3)  # K = min(k_max, n)
    assert np.isnan(ausc_from_arrays(np.array([]), np.array([])))


def test_ausc_on_tiny_bert_classifier_and_tiny_lm_restores_attention(tiny_lm):
    from conftest import tiny_bert_classifier

    texts = ["The nurse said she was tired.", "He repaired the old car yesterday.", "Nice weather."]
    for model, tok in (tiny_bert_classifier(), tiny_lm):
        before = model.config._attn_implementation
        r = ausc(model, tok, texts, ["he", "she"], k_max=3)
        assert model.config._attn_implementation == before
        assert r.n == 3 and -1.0 <= r.value <= 1.0
        assert r.settings["reconstruction"] is True
        assert r.value == pytest.approx(
            ausc(model, tok, texts, ["he", "she"], k_max=3, batch_size=1).value, abs=1e-4
        )
    with pytest.raises(ValueError):
        ausc(model, tok, texts, [])


def test_judge_prompt_parsing_with_fake_endpoint():
    seen = []

    def fake_send(messages):
        seen.append(messages)
        return {"A": "Score: 8", "B": "I would say 3/10.", "C": "cannot rate"}[messages[0]["content"][-1]]

    r = llm_judge(["p1", "p2", "p3"], ["A", "B", "C"], send=fake_send)
    assert r.ratings == [8.0, 3.0, None] and r.value == 5.5 and r.n_failed == 1
    assert "Prompt: p1" in seen[0][0]["content"]
    assert build_judge_messages("x", "y", template="{prompt}|{text}") == [{"role": "user", "content": "x|y"}]
    assert parse_rating("0 then 11 then 9") == 9.0


def test_openai_send_builds_request(monkeypatch):
    captured = {}

    class Resp:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return json.dumps({"choices": [{"message": {"content": "7"}}]}).encode()

    def fake_urlopen(req, timeout):
        captured["url"], captured["body"] = req.full_url, json.loads(req.data)
        captured["auth"] = req.get_header("Authorization")
        return Resp()

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    send = openai_send("http://localhost:9/v1/", "judge-model", api_key="k")
    assert send([{"role": "user", "content": "hi"}]) == "7"
    assert captured["url"] == "http://localhost:9/v1/chat/completions"
    assert captured["body"]["model"] == "judge-model" and captured["auth"] == "Bearer k"
