"""Shared fixtures: tiny random models built from configs, and the embedded real models loaded once."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# CRAWD_TEST_THREADS=1 is much faster on a busy shared machine; 2 threads on a quiet one.
torch.set_num_threads(int(os.environ.get("CRAWD_TEST_THREADS", max(1, min(2, os.cpu_count() or 1)))))


from crawd.testing import tiny_bert_classifier, tiny_causal_lm, tiny_tokenizer  # noqa: E402,F401


@pytest.fixture(scope="session")
def smollm2():
    """(model, tokenizer) of the embedded SmolLM2-135M, loaded once per session. Do not modify it."""
    from crawd.models import load_embedded

    return load_embedded("smollm2", cache=True)


@pytest.fixture(scope="session")
def minilm():
    """(encoder, tokenizer) of the embedded all-MiniLM-L6-v2, loaded once per session. Do not modify it."""
    from crawd.models import load_embedded

    return load_embedded("minilm", cache=True)


from data_skip import BIAS_DATA, pytest_runtest_call  # noqa: E402,F401  (the hook applies here)

#: For tests that read the bias datasets through another layer (a CLI runner) that swallows the error.
needs_bias_data = pytest.mark.skipif(
    not BIAS_DATA, reason="needs the bias datasets ($CRAWD_DATA_DIR or ../shared/data)"
)
