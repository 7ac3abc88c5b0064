"""CrAWD and the comparison methods of the paper (plus CDA and EAR) behind one interface.

>>> available("classification")
['vanilla', 'crawd', 'ad', 'cbe', 'ibm', 'ear', 'cda']
>>> get_method("dt").reconstruction
True
>>> get_method("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
crawd.errors.CrawdUsageError: unknown method 'nope'; valid: vanilla, crawd, dt, ibm, ip, dsd, cda, ear, ad, cbe
"""

from __future__ import annotations

from typing import Any

from ..errors import CrawdUsageError
from .ad import AdversarialDebiasing
from .base import Method, MethodCausalLM, MethodSequenceClassification
from .cbe import ControllingBiasExposure
from .cda import CDA
from .dsd import DeepSoftDebias
from .dt import DebiasTuning
from .ear import EAR
from .ibm import IBM
from .ip import ImplicationPrompting
from .train import load_pretrained, train_method
from .vanilla import Crawd, Vanilla

#: Every method, in the order reports list them.
METHODS: dict[str, type[Method]] = {
    m.name: m
    for m in (
        Vanilla,
        Crawd,
        DebiasTuning,
        IBM,
        ImplicationPrompting,
        DeepSoftDebias,
        CDA,
        EAR,
        AdversarialDebiasing,
        ControllingBiasExposure,
    )
}
#: Methods of the paper we do not reproduce, with the reason (get_method raises it).
NOT_REPRODUCED: dict[str, str] = {
    "kgdebias": (
        "KGDebias (Ma et al. 2024) is not reproduced: it needs a second pre-training on a corpus built "
        "from a structured knowledge graph, and no such corpus is available to this project"
    ),
}
#: The paper's methods per task (the comparison of Tables 2/7 and Table 4) plus CDA and EAR.
TASK_METHODS: dict[str, tuple[str, ...]] = {
    "causal-lm": ("vanilla", "crawd", "dt", "ibm", "ip", "dsd", "cda", "ear"),
    "classification": ("vanilla", "crawd", "ad", "cbe", "ibm", "ear", "cda"),
}


def available(task: str | None = None) -> list[str]:
    """Names of the runnable methods, for one task (``"causal-lm"``, ``"classification"``) or all."""
    if task is None:
        return list(METHODS)
    if task not in TASK_METHODS:
        raise CrawdUsageError(f"task must be one of {sorted(TASK_METHODS)}, got {task!r}")
    return list(TASK_METHODS[task])


def get_method(name: str, **options: Any) -> Method:
    """A fresh `Method` by name; ``options`` override its defaults (unknown ones are an error)."""
    key = str(name).strip().lower()
    if key in NOT_REPRODUCED:
        raise CrawdUsageError(NOT_REPRODUCED[key])
    if key not in METHODS:
        raise CrawdUsageError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    return METHODS[key](**options)


__all__ = [
    "CDA",
    "EAR",
    "IBM",
    "METHODS",
    "NOT_REPRODUCED",
    "TASK_METHODS",
    "AdversarialDebiasing",
    "ControllingBiasExposure",
    "Crawd",
    "DebiasTuning",
    "DeepSoftDebias",
    "ImplicationPrompting",
    "Method",
    "MethodCausalLM",
    "MethodSequenceClassification",
    "Vanilla",
    "available",
    "get_method",
    "load_pretrained",
    "train_method",
]
