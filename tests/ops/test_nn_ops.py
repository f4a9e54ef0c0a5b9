"""Softmax family against PyTorch (forward, vjp, jvp), finite differences to second order,
stability on large inputs, dtype and implicit-dim behaviour."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

SPECS = [
    OpSpec("softmax", lambda x: chainrule.softmax(x, dim=1), lambda x: torch.softmax(x, dim=1)),
    OpSpec("softmax", lambda x: x.softmax(0), lambda x: x.softmax(0), variant="dim0"),
    OpSpec("softmax", lambda x: chainrule.softmax(x, -1), lambda x: torch.softmax(x, -1),
           shapes=[(2, 3, 4)], variant="3d_last"),
    OpSpec("softmax", lambda x: chainrule.softmax(x, 0), lambda x: torch.softmax(x, 0),
           shapes=[(5,)], variant="1d"),
    OpSpec("softmax", lambda x: chainrule.softmax(x, 0), lambda x: torch.softmax(x, 0),
           shapes=[()], variant="0d"),
    OpSpec("softmax", lambda x: chainrule.softmax(x * 40, 1), lambda x: torch.softmax(x * 40, 1),
           variant="peaked"),
    OpSpec("log_softmax", lambda x: chainrule.log_softmax(x, dim=1),
           lambda x: torch.log_softmax(x, dim=1)),
    OpSpec("log_softmax", lambda x: x.log_softmax(dim=0), lambda x: x.log_softmax(dim=0),
           shapes=[(2, 3, 4)], variant="3d_dim0"),
    OpSpec("log_softmax", lambda x: chainrule.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0),
           shapes=[()], variant="0d"),
    OpSpec("log_softmax", lambda x: chainrule.log_softmax(x, 1, dtype=chainrule.float64),
           lambda x: torch.log_softmax(x, 1, dtype=torch.float64), variant="dtype"),
    OpSpec("softmin", lambda x: chainrule.softmin(x, dim=1), lambda x: F.softmin(x, dim=1),
           covers=("softmax",)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_for_large_inputs(fn: str, dtype: str) -> None:
    a = np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4 + 1.0, 1e4 - 1.0], [-1e4, -1e4, -1e4]],
                 dtype=dtype)
    x = chainrule.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    ours, theirs = getattr(chainrule, fn)(x, 1), getattr(torch, fn)(t, 1)
    assert np.isfinite(ours.detach().numpy()).all()
    assert_close(ours, theirs)
    g = np.random.default_rng(0).standard_normal(a.shape).astype(dtype)
    ours.backward(chainrule.tensor(g))
    theirs.backward(torch.tensor(g))
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad, t.grad)


def test_rows_sum_to_one_and_log_softmax_is_log_of_softmax() -> None:
    x = chainrule.randn(4, 7) * 5
    p = chainrule.softmax(x, dim=1)
    assert_close(p.sum(1), chainrule.ones(4))
    assert_close(chainrule.log_softmax(x, dim=1).exp(), p)


def test_hessian_vector_product_matches_torch() -> None:
    a = np.random.default_rng(1).standard_normal((3, 5))
    v = np.random.default_rng(2).standard_normal((3, 5))
    results = []
    for lib in (chainrule, torch):
        x = lib.tensor(a, requires_grad=True)
        loss = -(lib.log_softmax(x, 1)[:, 0]).sum() + (lib.softmax(x, 1) ** 2).sum()
        (gx,) = lib.autograd.grad(loss, x, create_graph=True)
        (hv,) = lib.autograd.grad((gx * lib.tensor(v)).sum(), x)
        results.append(hv.detach().numpy())
    assert_close(results[0], results[1])


@pytest.mark.parametrize("shape,expected_dim", [((5,), 0), ((2, 3), 1), ((2, 3, 4), 0),
                                                ((2, 3, 4, 5), 1)])
def test_implicit_dim_warns_and_matches_torch(shape: tuple, expected_dim: int) -> None:
    a = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = chainrule.softmax(chainrule.tensor(a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = F.softmax(torch.tensor(a))
    assert_close(ours, theirs)
    assert_close(ours, chainrule.softmax(chainrule.tensor(a), expected_dim))


def test_dtype_argument_and_positional_dtype() -> None:
    x = chainrule.ones(2, 3)
    assert chainrule.softmax(x, 1, dtype=chainrule.float64).dtype is chainrule.float64
    assert chainrule.softmax(x, 1, chainrule.float64).dtype is chainrule.float64  # torch.softmax
    assert x.log_softmax(1, dtype=chainrule.float64).dtype is chainrule.float64
    assert chainrule.softmax(x, 1).dtype is chainrule.float32


def test_integer_input_raises_like_torch() -> None:
    with pytest.raises(RuntimeError) as theirs:
        torch.softmax(torch.ones(3, dtype=torch.long), 0)
    with pytest.raises(RuntimeError) as ours:
        chainrule.softmax(chainrule.ones(3, dtype=chainrule.long), 0)
    assert str(ours.value) == str(theirs.value)


def test_bad_dim_raises_index_error() -> None:
    with pytest.raises(IndexError, match="Dimension out of range"):
        chainrule.softmax(chainrule.ones(2, 3), 2)


def test_empty_input() -> None:
    x = chainrule.ones(0, 3)
    assert chainrule.softmax(x, 1).shape == (0, 3)
    assert chainrule.log_softmax(x, 0).shape == (0, 3)


def test_grad_fn_names() -> None:
    x = chainrule.ones(2, 3, requires_grad=True)
    assert chainrule.softmax(x, 1).grad_fn.name() == "SoftmaxBackward0"
    assert chainrule.log_softmax(x, 1).grad_fn.name() == "LogSoftmaxBackward0"
