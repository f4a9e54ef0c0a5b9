"""Forward-mode AD: dual tensors, tangents against torch.func.jvp, levels and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.func

import chainrule
import chainrule.autograd.forward_ad as fwAD
from chainrule.testing import assert_close

RNG = np.random.default_rng(4)

FUNCS = [
    ("polynomial", lambda x, y: x * x * y + 3 * x - y),
    ("transcendental", lambda x, y: (x.exp() + y.sin()) * x.tanh()),
    ("division", lambda x, y: x / (y * y + 1)),
    ("broadcast_matmul", lambda x, y: (x.reshape(2, 3) @ y.reshape(3, 2)).sigmoid()),
    ("reductions", lambda x, y: (x * y).sum() + x.mean() * y.amax()),
    ("views", lambda x, y: x.reshape(3, 2).T[1] * y[:3]),
]


def _dual_jvp(f, primals, tangents):
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(primals, tangents)]
        out = f(*duals)
        primal, tangent = fwAD.unpack_dual(out)
    return primal, tangent


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
def test_tangents_match_torch_func_jvp(name, f):
    arrs = [RNG.standard_normal(6) for _ in range(2)]
    tans = [RNG.standard_normal(6) for _ in range(2)]
    pc, tc = _dual_jvp(f, [chainrule.tensor(a) for a in arrs], [chainrule.tensor(t) for t in tans])
    pt, tt = torch.func.jvp(f, tuple(torch.tensor(a) for a in arrs),
                            tuple(torch.tensor(t) for t in tans))
    assert_close(pc, pt)
    assert_close(tc, tt)


def test_tangent_only_on_some_inputs():
    x, y = chainrule.tensor([1.0, 2.0]), chainrule.tensor([3.0, 4.0])
    with fwAD.dual_level():
        dx = fwAD.make_dual(x, chainrule.tensor([1.0, 0.0]))
        out = dx * y + y
        assert fwAD.unpack_dual(out).tangent.tolist() == [3.0, 0.0]
        assert fwAD.unpack_dual(y * 2).tangent is None  # no dual input: no tangent


def test_make_dual_and_unpack_dual_structure():
    x = chainrule.tensor([1.0, 2.0])
    t = chainrule.tensor([5.0, 6.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, t)
        unpacked = fwAD.unpack_dual(d)
        assert isinstance(unpacked, fwAD.UnpackedDualTensor)
        primal, tangent = unpacked
        assert unpacked.primal is primal and unpacked.tangent is tangent
        assert primal.tolist() == [1.0, 2.0] and tangent.tolist() == [5.0, 6.0]
        assert fwAD.unpack_dual(primal).tangent is None  # the primal carries no tangent
        assert d.data_ptr() == x.data_ptr()  # a view of the primal, as torch
        assert "tangent=" in repr(d)
        assert fwAD.unpack_dual(x) == (x, None)


def test_tangents_are_dropped_when_the_level_exits():
    x = chainrule.tensor([1.0, 2.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, chainrule.ones(2))
        y = d * 3
    assert fwAD.unpack_dual(y).tangent is None and fwAD.unpack_dual(d).tangent is None
    assert repr(y) == "tensor([3., 6.])"


def test_enter_and_exit_level_functions():
    level = fwAD.enter_dual_level()
    try:
        d = fwAD.make_dual(chainrule.ones(1), chainrule.ones(1))
        assert fwAD.unpack_dual(d.exp()).tangent.item() == pytest.approx(np.e)
    finally:
        fwAD.exit_dual_level(level=level)
    with pytest.raises(RuntimeError):
        fwAD.make_dual(chainrule.ones(1), chainrule.ones(1))


def test_errors_match_torch():
    x = chainrule.ones(2)
    with pytest.raises(RuntimeError, match="Trying to create a dual Tensor for forward AD but no "
                                           "level exists, make sure to enter_dual_level\\(\\) "
                                           "first."):
        fwAD.make_dual(x, chainrule.ones(2))
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="Trying to set a forward gradient that has a "
                                               "different size than that of the original "
                                               "Tensor, this is not supported. Tensor is of size "
                                               r"\[2\] while the given forward gradient is of size "
                                               r"\[3\]."):
            fwAD.make_dual(x, chainrule.ones(3))
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, "
                                             "but got: chainrule.int64"):
            fwAD.make_dual(chainrule.ones(2, dtype=chainrule.int64),
                           chainrule.ones(2, dtype=chainrule.int64))
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported at the "
                                               "moment"):
            fwAD.enter_dual_level()


def test_forward_and_reverse_mode_together():
    # A dual tensor that also requires grad: the tangent is itself differentiable.
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, chainrule.tensor([1.0, 1.0]))
        out = (d * d).sum()
        primal, tangent = fwAD.unpack_dual(out)
    assert tangent.item() == 6.0  # sum of 2 x * 1
    primal.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_gradcheck_forward_mode_on_a_composite():
    x = chainrule.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    assert chainrule.autograd.gradcheck(lambda t: (t.exp() * t.sin()).sum(dim=1), (x,),
                                        check_forward_ad=True)
