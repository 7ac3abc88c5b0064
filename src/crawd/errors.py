"""Exceptions with one-line messages: the CLI turns them into `crawd: error: ...` and exit status 2."""

from __future__ import annotations


class CrawdError(Exception):
    """Base class of crawd's user-facing errors (bad input, missing files, unsupported models)."""


class CrawdUsageError(CrawdError, ValueError):
    """The user asked for something invalid: a bad value, an unknown name, an empty word list."""


class CrawdDataError(CrawdError, FileNotFoundError):
    """A dataset or model file could not be found; the message says where crawd looked."""
