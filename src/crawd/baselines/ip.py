"""IP, Implication Prompting (Furniturewala et al. 2024): inference time, on top of the vanilla model.

1. ``S = LLM(C)``; 2. ``I = LLM("Here is a text: " S " Generate the implication of the given text:")``;
3. final ``= LLM(S I "Considering the implication and referring to the original sentence, generate an
unbiased text." C)``. Steps 1 and 2 sample at temperature 1.0; step 3 uses the caller's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from .base import Method, generate_continuations

IMPLICATION_PROMPT = "Here is a text: {S}\nGenerate the implication of the given text:"
FINAL_PROMPT = (
    "{S}\n{I}\nConsidering the implication and referring to the original sentence, "
    "generate an unbiased text.\n{C}"
)


def implication_chain(
    llm: Callable[[list[str], dict], list[str]],
    prompts: Sequence[str],
    *,
    step_kwargs: dict[str, Any] | None = None,
    final_kwargs: dict[str, Any] | None = None,
) -> list[dict[str, str]]:
    """Run the three steps with ``llm(prompts, kwargs) -> texts``; one dict per prompt with every step.

    >>> fake = lambda ps, kw: [f"<{p[-6:]}>" for p in ps]
    >>> r = implication_chain(fake, ["The nurse said"])[0]
    >>> r["step1_prompt"], r["step2_prompt"].startswith("Here is a text: <e said>")
    ('The nurse said', True)
    >>> r["step3_prompt"].endswith("generate an unbiased text.\\nThe nurse said")
    True
    """
    prompts = list(prompts)
    s = llm(prompts, dict(step_kwargs or {}))
    p2 = [IMPLICATION_PROMPT.format(S=x) for x in s]
    i = llm(p2, dict(step_kwargs or {}))
    p3 = [FINAL_PROMPT.format(S=a, I=b, C=c) for a, b, c in zip(s, i, prompts, strict=True)]
    final = llm(p3, dict(final_kwargs or {}))
    return [
        {
            "step1_prompt": c,
            "S": a,
            "step2_prompt": q2,
            "I": b,
            "step3_prompt": q3,
            "output": f,
        }
        for c, a, q2, b, q3, f in zip(prompts, s, p2, i, p3, final, strict=True)
    ]


class ImplicationPrompting(Method):
    """IP: the vanilla model, prompted in three steps at inference (no extra training term)."""

    name: ClassVar[str] = "ip"
    tasks: ClassVar[frozenset[str]] = frozenset({"causal-lm"})
    description: ClassVar[str] = (
        "Inference-time: generate, generate the implication, then regenerate an unbiased text (vanilla training)."
    )
    defaults: ClassVar[dict[str, Any]] = {"temperature": 1.0, "step_max_new_tokens": 48}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.last_chain: list[dict[str, str]] = []

    def generate(self, model, tokenizer, prompts, **gen_kwargs):
        step = {
            "do_sample": True,
            "temperature": float(self.options["temperature"]),
            "max_new_tokens": int(self.options["step_max_new_tokens"]),
        }
        if "batch_size" in gen_kwargs:
            step["batch_size"] = gen_kwargs["batch_size"]

        def llm(ps: list[str], kw: dict) -> list[str]:
            return [t.strip() for t in generate_continuations(model, tokenizer, ps, **kw)]

        self.last_chain = implication_chain(llm, prompts, step_kwargs=step, final_kwargs=gen_kwargs)
        return [r["output"] for r in self.last_chain]
