"""The method registry: names, tasks, errors, and the reconstruction labels."""

from __future__ import annotations

import pytest

from crawd import CrawdConfig
from crawd.baselines import NOT_REPRODUCED, available, get_method
from crawd.errors import CrawdUsageError


def test_available_per_task():
    assert available("causal-lm") == ["vanilla", "crawd", "dt", "ibm", "ip", "dsd", "cda", "ear"]
    assert available("classification") == ["vanilla", "crawd", "ad", "cbe", "ibm", "ear", "cda"]
    assert set(available()) == set(available("causal-lm")) | set(available("classification"))
    assert "kgdebias" not in available()
    for name in available():
        m = get_method(name)
        assert m.name == name and m.description
        assert m.tasks <= {"causal-lm", "classification"}


def test_unknown_name_lists_valid_ones():
    with pytest.raises(CrawdUsageError) as exc:
        get_method("debias-magic")
    msg = str(exc.value)
    assert "\n" not in msg and all(n in msg for n in available())


def test_kgdebias_not_reproduced():
    with pytest.raises(CrawdUsageError, match="not reproduced"):
        get_method("KGDebias")
    assert "kgdebias" in NOT_REPRODUCED


def test_unknown_option_and_wrong_task():
    with pytest.raises(CrawdUsageError, match="unknown option"):
        get_method("ear", alpah=0.1)
    assert get_method("ear", alpha=0.5).options["alpha"] == 0.5
    with pytest.raises(CrawdUsageError, match="supports"):
        get_method("dt").check_task("classification")
    with pytest.raises(CrawdUsageError, match="supports"):
        get_method("ad").check_task("causal-lm")


def test_reconstruction_labels():
    recon = {n for n in available() if get_method(n).reconstruction}
    assert recon == {"dt", "ibm", "dsd", "cbe"}


def test_model_configs():
    cfg = CrawdConfig(reference_words=["gender"], mode="paper", top_k=0.3)
    assert get_method("vanilla").model_config(cfg).mode == "none"
    assert get_method("crawd").model_config(CrawdConfig(mode="none")).mode == "paper"
    assert get_method("crawd").model_config(CrawdConfig(mode="attention")).mode == "attention"
    assert get_method("dt").model_config(cfg).top_k == 0.3 and cfg.mode == "paper"  # a copy
