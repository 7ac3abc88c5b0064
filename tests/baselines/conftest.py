"""Fixtures of the baseline tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_tok():
    """SmolLM2's tokenizer (shared; read-only)."""
    from crawd.models import load_embedded

    return load_embedded("smollm2", cache=True)[1]
