"""Evaluation dataset loaders and the shared data-folder resolver."""

from .loaders import (
    Loaded,
    load_bbq,
    load_bios,
    load_crows_pairs,
    load_gender_pairs,
    load_occupation_stats,
    load_occupations,
    load_stereoset,
    load_weat_tests,
    load_winobias,
)
from .paths import resolve_data_dir

__all__ = [
    "Loaded",
    "load_bbq",
    "load_bios",
    "load_crows_pairs",
    "load_gender_pairs",
    "load_occupation_stats",
    "load_occupations",
    "load_stereoset",
    "load_weat_tests",
    "load_winobias",
    "resolve_data_dir",
]
