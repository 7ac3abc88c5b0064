"""Fixtures for metric tests: one tiny random Llama-style LM shared by the module tests (fast, deterministic)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_lm():
    """(model, tokenizer): random 2-layer Llama with SmolLM2's tokenizer (from tests/conftest.py)."""
    from conftest import tiny_causal_lm

    return tiny_causal_lm("llama", seed=0)
