"""Custom autograd.Function: torch's API, graph behaviour and errors, against PyTorch."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import chainrule
import chainrule.autograd.forward_ad as fwAD
from chainrule.autograd import Function, gradcheck, gradgradcheck
from chainrule.autograd.function import once_differentiable
from chainrule.testing import assert_close

RNG = np.random.default_rng(0)


def both(arr, requires_grad=True):
    return (chainrule.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def make_mul_scale(lib):
    """The same custom Function written against chainrule or torch."""

    class MulScale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_backward(x, y)
            ctx.save_for_forward(x, y)  # jvp sees only these, as in torch
            ctx.k = k
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y * ctx.k, g * x * ctx.k, None

        @staticmethod
        def jvp(ctx, x_dot, y_dot, k_dot):
            x, y = ctx.saved_tensors
            return (x_dot * y + x * y_dot) * ctx.k

    return MulScale


class Cube(Function):
    """New-style: forward without ctx, setup_context saves input and output."""

    @staticmethod
    def forward(x):
        return x ** 3

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x, output)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return 3 * out / x * g

    @staticmethod
    def jvp(ctx, x_dot):
        x, out = ctx.saved_tensors
        return 3 * out / x * x_dot


class CubeFwd(Cube):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x, output)
        ctx.save_for_forward(x, output)


def test_forward_backward_matches_torch_with_random_cotangent():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    g = RNG.standard_normal((3, 4))
    xc, xt = both(a)
    yc, yt = both(b)
    oc = make_mul_scale(chainrule).apply(xc, yc, 2.5)
    ot = make_mul_scale(torch).apply(xt, yt, 2.5)
    assert_close(oc, ot)
    oc.backward(chainrule.tensor(g))
    ot.backward(torch.tensor(g))
    assert_close(xc.grad, xt.grad)
    assert_close(yc.grad, yt.grad)


def test_grad_fn_name_next_functions_and_needs_input_grad():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen["needs"] = ctx.needs_input_grad
            return x * k + y

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    x = chainrule.ones(2, requires_grad=True)
    y = chainrule.ones(2)
    out = Scale.apply(x, y, 3.0)
    assert seen["needs"] == (True, False, False)
    assert type(out.grad_fn).__name__ == "ScaleBackward"
    assert out.grad_fn.name() == "ScaleBackward"
    assert repr(out) == "tensor([4., 4.], grad_fn=<ScaleBackward>)"
    nf = out.grad_fn.next_functions
    assert len(nf) == 2  # one per tensor input, as torch
    assert nf[0][0].name() == "torch::autograd::AccumulateGrad" and nf[1] == (None, 0)
    with chainrule.no_grad():
        out2 = Scale.apply(x, y, 3.0)
    assert seen["needs"] == (False, False, False)
    assert out2.grad_fn is None and not out2.requires_grad


def test_ctx_attributes_visible_on_grad_fn():
    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.constant = 7
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = chainrule.ones(2, requires_grad=True)
    y = Keep.apply(x)
    assert y.grad_fn.constant == 7
    assert y.grad_fn.saved_tensors[0] is x


def test_setup_context_style_and_double_backward_matches_torch():
    a = RNG.uniform(0.5, 2.0, size=(5,))
    xc, xt = both(a)
    (gc_,) = chainrule.autograd.grad(Cube.apply(xc).sum(), xc, create_graph=True)
    (gt,) = torch.autograd.grad((xt ** 3).sum(), xt, create_graph=True)
    assert_close(gc_, gt)
    w = RNG.standard_normal(5)
    (hc,) = chainrule.autograd.grad((gc_ * chainrule.tensor(w)).sum(), xc)
    (ht,) = torch.autograd.grad((gt * torch.tensor(w)).sum(), xt)
    assert_close(hc, ht)


def test_gradcheck_and_gradgradcheck():
    x = chainrule.tensor(RNG.uniform(0.5, 2.0, (3,)), requires_grad=True)
    assert gradcheck(Cube.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))
    y = chainrule.tensor(RNG.standard_normal(3), requires_grad=True)
    mul = make_mul_scale(chainrule)
    assert gradcheck(lambda a, b: mul.apply(a, b, 1.5), (x, y), check_forward_ad=True)


def test_forward_mode_jvp_matches_torch():
    a, b, t = (RNG.standard_normal(4) for _ in range(3))
    with fwAD.dual_level():
        xc = fwAD.make_dual(chainrule.tensor(a), chainrule.tensor(t))
        oc = make_mul_scale(chainrule).apply(xc, chainrule.tensor(b), 3.0)
        tc = fwAD.unpack_dual(oc).tangent
    with torch.autograd.forward_ad.dual_level():
        xt = torch.autograd.forward_ad.make_dual(torch.tensor(a), torch.tensor(t))
        ot = make_mul_scale(torch).apply(xt, torch.tensor(b), 3.0)
        tt = torch.autograd.forward_ad.unpack_dual(ot).tangent
    assert_close(tc, tt)


def test_jvp_receives_zeros_for_tensors_without_tangent_and_none_for_others():
    got = {}

    class Rec(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            return x * y

        @staticmethod
        def jvp(ctx, x_dot, y_dot, k_dot):
            got["args"] = (x_dot, y_dot, k_dot)
            return x_dot

    with fwAD.dual_level():
        x = fwAD.make_dual(chainrule.zeros(2), chainrule.ones(2))
        Rec.apply(x, chainrule.ones(2), 4)
    x_dot, y_dot, k_dot = got["args"]
    assert x_dot.tolist() == [1.0, 1.0] and y_dot.tolist() == [0.0, 0.0] and k_dot is None


def test_save_for_forward_is_what_jvp_sees():
    a = RNG.uniform(0.5, 2.0, 3)
    with fwAD.dual_level():
        x = fwAD.make_dual(chainrule.tensor(a), chainrule.ones(3))
        t = fwAD.unpack_dual(CubeFwd.apply(x)).tangent
    assert_close(t, chainrule.tensor(3 * a ** 2))


def test_missing_jvp_raises_torch_error():
    class NoJvp(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(chainrule.zeros(2), chainrule.ones(2))
        with pytest.raises(NotImplementedError, match="You must implement the jvp function"):
            NoJvp.apply(x)
    with pytest.raises(NotImplementedError, match="backward or vjp"):
        NoJvp.apply(chainrule.ones(2, requires_grad=True)).sum().backward()


def test_multiple_outputs_used_separately_and_together():
    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            return ga * 2 + gb * 2 * x

    class SplitT(torch.autograd.Function):
        forward = Split.forward
        backward = Split.backward

    a = RNG.standard_normal(3)
    wa, wb = RNG.standard_normal(3), RNG.standard_normal(3)
    for use in ("a", "b", "ab"):
        xc, xt = both(a)
        ac, bc = Split.apply(xc)
        at, bt = SplitT.apply(xt)
        assert (ac.output_nr, bc.output_nr) == (0, 1) and ac.grad_fn is bc.grad_fn
        lc = (ac * chainrule.tensor(wa)).sum() if "a" in use else 0
        lc = lc + (bc * chainrule.tensor(wb)).sum() if "b" in use else lc
        lt = (at * torch.tensor(wa)).sum() if "a" in use else 0
        lt = lt + (bt * torch.tensor(wb)).sum() if "b" in use else lt
        lc.backward()
        lt.backward()
        assert_close(xc.grad, xt.grad)
    # both outputs as roots of one backward call
    xc, xt = both(a)
    ac, bc = Split.apply(xc)
    at, bt = SplitT.apply(xt)
    chainrule.autograd.backward([ac, bc], [chainrule.tensor(wa), chainrule.tensor(wb)])
    torch.autograd.backward([at, bt], [torch.tensor(wa), torch.tensor(wb)])
    assert_close(xc.grad, xt.grad)


def test_hooks_and_retain_grad_on_each_output():
    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb * 3

    x = chainrule.ones(2, requires_grad=True)
    a, b = Split.apply(x)
    handle = b.register_hook(lambda g: g * 100)
    a.retain_grad()
    b.retain_grad()
    assert a.retains_grad and b.retains_grad
    (a + b).sum().backward(retain_graph=True)
    assert x.grad.tolist() == [302.0, 302.0]
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [100.0, 100.0]
    handle.remove()
    x.grad = None
    (a + b).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_materialize_grads_default_and_disabled():
    got = {}

    class Two(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x.clone(), x.clone()

        @staticmethod
        def backward(ctx, g1, g2):
            got["g2"] = g2
            return g1, None

    x = chainrule.ones(2, requires_grad=True)
    a, _ = Two.apply(x, True)
    a.sum().backward()
    assert got["g2"].tolist() == [0.0, 0.0]
    a, _ = Two.apply(x, False)
    a.sum().backward()
    assert got["g2"] is None


def test_mark_non_differentiable_and_integer_outputs():
    got = {}

    class SortF(Function):
        @staticmethod
        def forward(ctx, x):
            s = x * 1
            mask = x > 0
            ctx.mark_non_differentiable(mask)
            return s, mask, x.argmax()

        @staticmethod
        def backward(ctx, gs, gmask, gidx):
            got["g"] = (gmask, gidx)
            return gs

    x = chainrule.tensor([1.0, -1.0], requires_grad=True)
    s, mask, idx = SortF.apply(x)
    assert s.requires_grad and not mask.requires_grad and not idx.requires_grad
    s.sum().backward()
    assert got["g"][0].dtype == chainrule.bool and got["g"][1].dtype == chainrule.int64


def test_non_tensor_outputs_pass_through():
    class WithInfo(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, "info"

        @staticmethod
        def backward(ctx, g, g_info):
            assert g_info is None
            return g * 2

    x = chainrule.ones(2, requires_grad=True)
    y, info = WithInfo.apply(x)
    assert info == "info"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_mark_dirty_rebases_history_and_bumps_version():
    class AddOne(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    leaf = chainrule.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        AddOne.apply(leaf)
    z = leaf.clone()
    out = AddOne.apply(z)
    assert out is z and z.grad_fn.name() == "AddOneBackward" and z._version == 2
    (z * 3).sum().backward()
    assert leaf.grad.tolist() == [3.0, 3.0]


def test_returned_input_becomes_a_view():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = chainrule.ones(2, requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and y._base is x and y.data_ptr() == x.data_ptr()
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_backward_gradient_count_and_shape_errors_match_torch():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    class NotNone(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:2]

    x = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"function TooFewBackward returned an incorrect "
                                           r"number of gradients \(expected 2, got 1\)"):
        TooFew.apply(x, 2).sum().backward()
    with pytest.raises(RuntimeError, match="returned a gradient different than None at position "
                                           "2, but the corresponding forward input was not a "
                                           "Variable"):
        NotNone.apply(x, 2).sum().backward()
    with pytest.raises(RuntimeError, match=r"Function BadShapeBackward returned an invalid "
                                           r"gradient at index 0 - got \[2\] but expected shape "
                                           r"compatible with \[3\]"):
        BadShape.apply(x).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward can only save variables, but "
                                        "argument 0 is of type int"):
        class SaveInt(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(3)
                return x

        SaveInt.apply(x)


def test_broadcast_gradient_is_summed_to_input_shape():
    class Expand(Function):
        @staticmethod
        def forward(ctx, b):
            return b.expand(3, 2).clone()

        @staticmethod
        def backward(ctx, g):
            return g  # shape (3, 2) for a (2,) input: the engine sums it down, as torch

    b = chainrule.ones(2, requires_grad=True)
    Expand.apply(b).sum().backward()
    assert b.grad.tolist() == [3.0, 3.0]


def test_saved_tensors_freed_and_second_backward_raises():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors  # noqa: B018
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()
    y = Cube.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [3.0 * 3, 12.0 * 3]


def test_inplace_change_of_saved_tensor_is_detected():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    z = x * 1
    y = Cube.apply(z)
    z.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*CubeBackward"):
        y.sum().backward()
    y = Cube.apply(x)
    y.mul_(2)  # the saved output changes
    with pytest.raises(RuntimeError, match=r"output 0 of CubeBackward, is at version 1"):
        y.sum().backward()


def test_saved_output_makes_no_reference_cycle():
    gc.collect()
    x = chainrule.ones(3, requires_grad=True)
    y = Cube.apply(x)
    node_ref = weakref.ref(y.grad_fn)
    out_ref = weakref.ref(y)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del y
        assert node_ref() is None and out_ref() is None  # freed by refcount, no cycle
    finally:
        if was_enabled:
            gc.enable()


def test_once_differentiable_backward_runs_without_graph_and_double_backward_raises():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not chainrule.is_grad_enabled()
            return 2 * x * g

    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    (g,) = chainrule.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 4.0] and g.grad_fn is None  # incoming grad needs no grad
    (g,) = chainrule.autograd.grad((Sq.apply(x) * x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was "
                                           "marked with @once_differentiable"):
        g.sum().backward()
    assert chainrule.autograd.once_differentiable is once_differentiable


def test_custom_function_under_anomaly_mode_names_function():
    class LogF(Function):
        @staticmethod
        def forward(ctx, x):
            with np.errstate(divide="ignore"):  # computed outside chainrule's ops
                return chainrule.from_numpy(np.log(x.detach().numpy()))

        @staticmethod
        def backward(ctx, g):
            return g

    with chainrule.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="Function 'LogF' produced"):
            LogF.apply(chainrule.tensor([0.0], requires_grad=True))


def test_instantiating_and_calling_raises_legacy_error():
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        Cube()(chainrule.ones(1))


def test_both_backward_and_vjp_defined_raises():
    class Both(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

        @staticmethod
        def vjp(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="Implementing both 'backward' and 'vjp'"):
        Both.apply(chainrule.ones(1, requires_grad=True)).sum().backward()
