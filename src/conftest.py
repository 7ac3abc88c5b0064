"""Doctests under src/: the same missing-data rule as tests/ (see tests/data_skip.py)."""

from data_skip import pytest_runtest_call  # noqa: F401
