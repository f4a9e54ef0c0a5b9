"""Weight penalties (chainrule.nn.regularization): which parameters are penalized by default
and with a custom rule, values, and gradients against the analytic ones."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.nn.regularization import (
    default_include,
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    penalized_parameters,
)
from chainrule.testing import assert_close


class ScaleNorm(nn.Module):
    """A user-defined normalization layer: skipped by the default rule through its name."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(chainrule.ones(n))

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.gain * x / x.norm(dim=-1, keepdim=True)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.ln = nn.LayerNorm(6)
        self.act = nn.PReLU()
        self.fc2 = nn.Linear(6, 3, bias=False)
        self.norm = ScaleNorm(3)
        self.head = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.head(self.norm(self.fc2(self.act(self.ln(self.fc1(x))))))


def _params(model: nn.Module, names: list[str]) -> list:
    named = dict(model.named_parameters())
    return [named[n] for n in names]


def test_default_rule_skips_biases_and_normalization_parameters() -> None:
    model = Net()
    names = [n for n, _ in penalized_parameters(model)]
    assert names == ["fc1.weight", "act.weight", "fc2.weight", "head.0.weight"]
    # everything else exists and is skipped on purpose
    skipped = set(dict(model.named_parameters())) - set(names)
    assert skipped == {"fc1.bias", "ln.weight", "ln.bias", "norm.gain", "head.0.bias",
                       "head.1.weight", "head.1.bias"}


def test_custom_include_rule() -> None:
    model = Net()
    everything = [n for n, _ in penalized_parameters(model, lambda n, p, m: True)]
    assert everything == [n for n, _ in model.named_parameters()]
    only_matrices = [n for n, _ in penalized_parameters(model, lambda n, p, m: p.ndim >= 2)]
    assert only_matrices == ["fc1.weight", "fc2.weight", "head.0.weight"]

    def no_head(name: str, param, module) -> bool:  # noqa: ANN001
        return default_include(name, param, module) and not name.startswith("head.")

    assert [n for n, _ in penalized_parameters(model, no_head)] == ["fc1.weight", "act.weight",
                                                                     "fc2.weight"]


def test_shared_parameters_are_penalized_once() -> None:
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in penalized_parameters(model)] == ["0.weight"]
    w = lin.weight.detach().numpy()
    assert_close(l2_penalty(model).detach(), chainrule.tensor((w ** 2).sum()))


@pytest.mark.parametrize("kind", ["l1", "l2", "elastic"])
def test_value_and_gradient_equal_the_analytic_ones(kind: str) -> None:
    chainrule.manual_seed(0)
    model = Net()
    names = ["fc1.weight", "act.weight", "fc2.weight", "head.0.weight"]
    ws = [p.detach().numpy().astype(np.float64) for p in _params(model, names)]
    if kind == "l1":
        penalty, lam1, lam2 = l1_penalty(model, weight=0.03), 0.03, 0.0
    elif kind == "l2":
        penalty, lam1, lam2 = l2_penalty(model, weight=0.2), 0.0, 0.2
    else:
        penalty, lam1, lam2 = elastic_net_penalty(model, l1=0.05, l2=0.4), 0.05, 0.4
    expected = sum(lam1 * np.abs(w).sum() + lam2 * (w ** 2).sum() for w in ws)
    assert penalty.ndim == 0 and penalty.requires_grad
    assert_close(penalty.detach(), chainrule.tensor(expected, dtype=chainrule.float32))
    penalty.backward()
    for name, w, p in zip(names, ws, _params(model, names)):
        analytic = lam1 * np.sign(w) + 2 * lam2 * w
        assert_close(p.grad, chainrule.tensor(analytic, dtype=chainrule.float32), msg=name)
    for name, p in model.named_parameters():
        if name not in names:
            assert p.grad is None, name  # skipped parameters get no gradient at all


def test_l1_subgradient_at_zero_is_zero() -> None:
    model = nn.Linear(3, 1, bias=False)
    model.weight = nn.Parameter(chainrule.tensor([[0.0, -2.0, 3.0]]))
    l1_penalty(model, weight=0.5).backward()
    assert_close(model.weight.grad, chainrule.tensor([[0.0, -0.5, 0.5]]))


def test_l2_penalty_at_half_lambda_is_sgd_weight_decay() -> None:
    # grad of (lambda / 2) * ||w||^2 is lambda * w: the term SGD's weight_decay adds
    lam = 0.1
    model = nn.Linear(5, 4)
    l2_penalty(model, weight=lam / 2).backward()
    assert_close(model.weight.grad, model.weight.detach() * lam)
    assert model.bias.grad is None


def test_penalty_adds_to_a_data_loss_and_shrinks_weights() -> None:
    chainrule.manual_seed(1)
    model = nn.Linear(4, 1)
    x, y = chainrule.randn(32, 4), chainrule.randn(32, 1)
    norms = []
    for lam in (0.0, 1.0):
        m = nn.Linear(4, 1)
        m.load_state_dict(model.state_dict())
        for _ in range(50):
            m.zero_grad()
            loss = ((m(x) - y) ** 2).mean() + l2_penalty(m, weight=lam)
            loss.backward()
            with chainrule.no_grad():
                m.weight.sub_(0.1 * m.weight.grad)
                m.bias.sub_(0.1 * m.bias.grad)
        norms.append(m.weight.detach().norm().item())
    assert norms[1] < 0.7 * norms[0]


def test_module_without_weights_gives_a_zero_penalty() -> None:
    for fn in (l1_penalty, l2_penalty, elastic_net_penalty):
        out = fn(nn.ReLU())
        assert out.item() == 0.0 and out.ndim == 0
    assert l2_penalty(nn.LayerNorm(3)).item() == 0.0


def test_exported_from_nn() -> None:
    assert nn.regularization.l2_penalty is l2_penalty
