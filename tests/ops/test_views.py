"""In-place writes through views: AsStrided / CopySlices and the base's rewritten history."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule.ops.views import AsStrided, CopySlices
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

GEO = ((2, 2), (1, 4), 1)  # a 2x2 transposed block starting at element 1 of a 3x4 base


def _torch_copy_slices(b, s):
    # torch.as_strided_scatter's base gradient is wrong in 2.13 (it returns the region of g,
    # finite differences disagree), so the oracle is the in-place write torch records itself.
    out = b.clone()
    out.as_strided((2, 2), (1, 4), 1).copy_(s)
    return out

SPECS = [
    OpSpec("as_strided", lambda x: AsStrided.apply(x, geo=GEO, src=(3, 4)),
           lambda x: torch.as_strided(x, (2, 2), (1, 4), 1), shapes=[(3, 4)]),
    OpSpec("copy_slices", lambda b, s: CopySlices.apply(b, s, geo=GEO),
           lambda b, s: _torch_copy_slices(b, s), shapes=[(3, 4), (2, 2)]),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


def _program(lib):
    x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    v = lib.tensor(10.0, requires_grad=True)
    h = x * 1
    h[0][1] = v * 2                 # setitem on a view of h
    h[1, 1:].mul_(3)                # in-place op on a slice
    h.t()[2].add_(v)                # in-place op through a transposed view
    weights = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (h * weights).sum().backward()
    return h, x, v


def test_inplace_through_views_matches_torch() -> None:
    h, x, v = _program(chainrule)
    th, tx, tv = _program(torch)
    assert_close(h, th)
    assert_close(x.grad, tx.grad)
    assert_close(v.grad, tv.grad)
    assert h.grad_fn.name() == th.grad_fn.name() == "torch::autograd::CopySlices"


def test_setitem_into_constant_tensor_gives_it_history() -> None:
    w = chainrule.tensor(2.0, requires_grad=True)
    z = chainrule.zeros(3)
    z[1] = w * 3
    z.sum().backward()
    assert w.grad.item() == 3.0
    assert not z.is_leaf


def test_view_of_leaf_requiring_grad_raises() -> None:
    x = chainrule.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0].mul_(2)
    with pytest.raises(RuntimeError):
        torch.ones(2, 2, requires_grad=True)[0].mul_(2)


def test_numpy_array_on_the_left_defers_to_tensor() -> None:
    out = np.ones((2, 2), dtype=np.float32) @ chainrule.ones(2, 2)
    assert isinstance(out, chainrule.Tensor)
    assert isinstance(np.float32(2.0) * chainrule.ones(2), chainrule.Tensor)
