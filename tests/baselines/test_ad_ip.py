"""AD's gradient reversal and adversary loss; IP's three-step prompt chain."""

from __future__ import annotations

import torch

from crawd.baselines.ad import Adversary, adversarial_loss, grad_reverse
from crawd.baselines.ip import implication_chain


def test_reversal_flips_and_scales_the_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = grad_reverse(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def test_adversary_learns_while_encoder_gets_reversed_gradient():
    torch.manual_seed(0)
    adv = Adversary(4, 2, hidden=8)
    h = torch.randn(6, 4, requires_grad=True)
    group = torch.tensor([0, 1, 0, 1, 0, -1])
    loss = adversarial_loss(adv, h, group, lam=1.0, positive_label=None)
    loss.backward()
    g_rev = h.grad.clone()
    h.grad = None
    plain = torch.nn.functional.cross_entropy(adv(h[:5]), group[:5])
    assert torch.allclose(loss, plain)
    plain.backward()
    assert torch.allclose(g_rev[:5], -h.grad[:5], atol=1e-6) and g_rev[5].abs().sum() == 0
    assert all(p.grad is not None for p in adv.parameters())


def test_adversary_positive_only_and_missing_group():
    adv = Adversary(4, 2)
    h = torch.randn(4, 4)
    labels = torch.tensor([0, 0, 0, 0])
    assert adversarial_loss(adv, h, torch.tensor([0, 1, 0, 1]), labels, positive_label=1).item() == 0.0
    assert float(adversarial_loss(adv, h, None)) == 0.0


def test_ip_produces_the_three_step_chain():
    calls = []

    def llm(prompts, kwargs):
        calls.append((list(prompts), kwargs))
        return [f"OUT{len(calls)}({p[:12]})" for p in prompts]

    res = implication_chain(llm, ["The nurse", "The boss"], step_kwargs={"t": 1}, final_kwargs={"t": 0})
    assert len(calls) == 3 and [c[1]["t"] for c in calls] == [1, 1, 0]
    assert calls[0][0] == ["The nurse", "The boss"]
    r = res[0]
    assert r["S"] == "OUT1(The nurse)"
    assert r["step2_prompt"] == "Here is a text: OUT1(The nurse)\nGenerate the implication of the given text:"
    assert r["I"].startswith("OUT2(")
    assert r["step3_prompt"] == (
        "OUT1(The nurse)\n" + r["I"] + "\nConsidering the implication and referring to the original "
        "sentence, generate an unbiased text.\nThe nurse"
    )
    assert r["output"].startswith("OUT3(") and res[1]["step1_prompt"] == "The boss"
