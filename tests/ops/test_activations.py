"""Fused activation primitives (chainrule/ops/activations.py) against PyTorch: forward, vjp,
jvp, finite differences to second order, and torch's derivative conventions at the kinks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
import chainrule.nn.functional as F
from chainrule.ops.activations import (
    HardtanhBackward,
    LeakyReluBackward,
    ShrinkBackward,
    ThresholdBackward,
)
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

aten = torch.ops.aten

SPECS = [
    OpSpec("hardtanh", lambda x: F.hardtanh(x), lambda x: TF.hardtanh(x), low=-3, high=3),
    OpSpec("hardtanh", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0),
           shapes=[(2, 3, 4)], low=-3, high=3, variant="bounds"),
    OpSpec("hardtanh", F.relu6, TF.relu6, low=-3, high=9, variant="relu6"),
    OpSpec("hardtanh", F.hardsigmoid, TF.hardsigmoid, low=-5, high=5, variant="hardsigmoid",
           second_order=False),  # torch has no double backward for hardsigmoid
    OpSpec("hardtanh", lambda x: F.hardtanh(x), lambda x: TF.hardtanh(x), shapes=[()], low=-3,
           high=3, variant="0d"),
    OpSpec("hardtanh_backward",
           lambda g, x: HardtanhBackward.apply(g, x, min_val=-1.0, max_val=1.0),
           lambda g, x: aten.hardtanh_backward(g, x, -1.0, 1.0), shapes=[(3, 4), (3, 4)]),
    OpSpec("leaky_relu", lambda x: F.leaky_relu(x), lambda x: TF.leaky_relu(x)),
    OpSpec("leaky_relu", lambda x: F.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3),
           shapes=[(5,)], variant="slope"),
    OpSpec("leaky_relu_backward",
           lambda g, x: LeakyReluBackward.apply(g, x, negative_slope=0.2),
           lambda g, x: aten.leaky_relu_backward(g, x, 0.2, False), shapes=[(3, 4), (3, 4)]),
    OpSpec("threshold", lambda x: F.threshold(x, 0.5, -3.0),
           lambda x: TF.threshold(x, 0.5, -3.0)),
    OpSpec("threshold_backward",
           lambda g, x: ThresholdBackward.apply(g, x, threshold=0.5),
           lambda g, x: aten.threshold_backward(g, x, 0.5), shapes=[(3, 4), (3, 4)]),
    OpSpec("elu", lambda x: F.elu(x), lambda x: TF.elu(x), low=-4, high=3),
    OpSpec("elu", lambda x: F.elu(x, 0.4), lambda x: TF.elu(x, 0.4), low=-4, high=3,
           shapes=[(2, 5)], variant="alpha"),
    OpSpec("elu", F.selu, TF.selu, low=-4, high=3, variant="selu"),
    OpSpec("elu", lambda x: F.celu(x, 2.5), lambda x: TF.celu(x, 2.5), low=-4, high=3,
           variant="celu"),
    OpSpec("elu", lambda x: F.elu(x), lambda x: TF.elu(x), shapes=[()], variant="0d"),
    OpSpec("hardswish", F.hardswish, TF.hardswish, low=-5, high=5),
    OpSpec("hardswish", F.hardswish, TF.hardswish, shapes=[()], variant="0d"),
    OpSpec("leaky_relu", F.leaky_relu, TF.leaky_relu, shapes=[()], variant="0d"),
    OpSpec("hardshrink", lambda x: F.hardshrink(x), lambda x: TF.hardshrink(x)),
    OpSpec("softshrink", lambda x: F.softshrink(x, 0.7), lambda x: TF.softshrink(x, 0.7)),
    OpSpec("shrink_backward", lambda g, x: ShrinkBackward.apply(g, x, lambd=0.5),
           lambda g, x: aten.hardshrink_backward(g, x, 0.5), shapes=[(3, 4), (3, 4)]),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


# Inputs exactly on every kink: the subgradient conventions must be torch's.
KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0])


@pytest.mark.parametrize("name,ours,theirs", [
    ("hardtanh", F.hardtanh, TF.hardtanh),
    ("relu6", F.relu6, TF.relu6),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid),
    ("hardswish", F.hardswish, TF.hardswish),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu),
    ("threshold", lambda x: F.threshold(x, 1.0, 2.0), lambda x: TF.threshold(x, 1.0, 2.0)),
    ("elu", F.elu, TF.elu),
    ("selu", F.selu, TF.selu),
    ("celu", lambda x: F.celu(x, 2.0), lambda x: TF.celu(x, 2.0)),
    ("hardshrink", F.hardshrink, TF.hardshrink),
    ("softshrink", lambda x: F.softshrink(x, 1.0), lambda x: TF.softshrink(x, 1.0)),
])
def test_derivative_conventions_at_kinks(name: str, ours, theirs) -> None:  # noqa: ANN001
    x = chainrule.tensor(KINKS, requires_grad=True)
    t = torch.tensor(KINKS, requires_grad=True)
    g = np.random.default_rng(0).standard_normal(KINKS.shape)
    (gx,) = chainrule.autograd.grad(ours(x), x, chainrule.tensor(g))
    (gt,) = torch.autograd.grad(theirs(t), t, torch.tensor(g))
    assert_close(gx, gt, msg=name)


def test_elu_large_inputs_give_finite_gradients() -> None:
    # A composite where(x > 0, x, expm1(x)) sends 0 * inf = nan back for large x.
    x = chainrule.tensor([100.0, 1000.0, -1000.0], requires_grad=True)
    F.elu(x).sum().backward()
    assert_close(x.grad, chainrule.tensor([1.0, 1.0, 0.0]))


def test_second_derivative_of_elu_at_zero_matches_torch() -> None:
    # torch's elu_double_backward masks with x < 0 (its first derivative with x <= 0).
    x = chainrule.tensor([0.0, -1.0], requires_grad=True)
    t = torch.tensor([0.0, -1.0], requires_grad=True)
    (gx,) = chainrule.autograd.grad(F.elu(x, 2.0).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad(TF.elu(t, 2.0).sum(), t, create_graph=True)
    assert_close(chainrule.autograd.grad(gx.sum(), x)[0], torch.autograd.grad(gt.sum(), t)[0])


@pytest.mark.parametrize("fn,name", [(F.hardtanh, "HardtanhBackwardBackward0"),
                                     (F.leaky_relu, "LeakyReluBackwardBackward0"),
                                     (lambda x: F.threshold(x, 0.0, 1.0),
                                      "ThresholdBackwardBackward0")])
def test_backward_of_piecewise_linear_is_recorded_like_torch(fn, name: str) -> None:  # noqa: ANN001
    # torch's gradient of these requires grad under create_graph (a zero second derivative).
    x = chainrule.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    (gx,) = chainrule.autograd.grad(fn(x).sum(), x, create_graph=True)
    assert gx.requires_grad and gx.grad_fn.name() == name
    (ggx,) = chainrule.autograd.grad((gx * gx).sum(), x)
    assert_close(ggx, chainrule.zeros(3))
