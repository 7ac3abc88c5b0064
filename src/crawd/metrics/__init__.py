"""Bias and utility metrics: plain functions returning dataclass results with ``value``, by-group values, ``to_dict()``.

Likelihood metrics share one batched scorer (:mod:`crawd.metrics.scoring`); see docs/METRICS.md for the exact
definitions and the choices made where the sources leave room.
"""

from ._common import MetricResult, bootstrap_ci
from .association import AssociationResult, occupation_gender_association
from .ausc import AUSCResult, ausc
from .bbq import BBQResult, bbq
from .classification import TPRGapResult, tpr_gap
from .counterfactual import CounterfactualResult, counterfactual_sensitivity, swap_gender
from .crows import CrowsResult, crows_pairs
from .gas import GAS_WORDS, GASResult, gender_attribute_score, generate_for_gas
from .judge import JudgeResult, llm_judge
from .perplexity import PerplexityResult, perplexity
from .scoring import score_continuations, sentence_logprobs, word_representations
from .stereoset import StereoSetResult, icat, stereoset
from .weat import WEATResult, weat, weat_effect_size, weat_p_value
from .winobias import WinoBiasResult, winobias

__all__ = [
    "GAS_WORDS",
    "AUSCResult",
    "AssociationResult",
    "BBQResult",
    "CounterfactualResult",
    "CrowsResult",
    "GASResult",
    "JudgeResult",
    "MetricResult",
    "PerplexityResult",
    "StereoSetResult",
    "TPRGapResult",
    "WEATResult",
    "WinoBiasResult",
    "ausc",
    "bbq",
    "bootstrap_ci",
    "counterfactual_sensitivity",
    "crows_pairs",
    "gender_attribute_score",
    "generate_for_gas",
    "icat",
    "llm_judge",
    "occupation_gender_association",
    "perplexity",
    "score_continuations",
    "sentence_logprobs",
    "stereoset",
    "swap_gender",
    "tpr_gap",
    "weat",
    "weat_effect_size",
    "weat_p_value",
    "winobias",
    "word_representations",
]
