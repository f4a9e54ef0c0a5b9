"""chainrule.autograd.functional against torch.autograd.functional: values and structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import chainrule
import chainrule.autograd.functional as CF
from chainrule.testing import assert_close

RNG = np.random.default_rng(1)


def pair(*shape):
    a = RNG.standard_normal(shape)
    return chainrule.tensor(a), torch.tensor(a)


def assert_same_structure(c, t):
    """Same nesting of tuples and tensors, equal values."""
    if isinstance(t, (tuple, list)):
        assert type(c) is type(t) and len(c) == len(t), (type(c), type(t))
        for ci, ti in zip(c, t):
            assert_same_structure(ci, ti)
    else:
        assert isinstance(c, chainrule.Tensor) and not isinstance(c, tuple)
        assert tuple(c.shape) == tuple(t.shape)
        assert c.requires_grad == t.requires_grad
        assert_close(c.detach(), t.detach())


# Each case: (name, function for either library, input shapes)
FUNCS = [
    ("one_in_one_out", lambda lib: (lambda x: (x.exp() * x).sum(dim=1)), [(3, 4)]),
    ("two_in_one_out", lambda lib: (lambda x, y: x.tanh() * y + y * y), [(3,), (3,)]),
    ("one_in_two_out", lambda lib: (lambda x: (x * x, x.sin().sum())), [(2, 3)]),
    ("two_in_two_out", lambda lib: (lambda x, y: (x @ y, (x * 2).sum())), [(2, 3), (3, 2)]),
]


def inputs_for(shapes, tuple_inputs):
    cs, ts = zip(*[pair(*s) for s in shapes])
    if len(shapes) == 1 and not tuple_inputs:
        return cs[0], ts[0]
    return tuple(cs), tuple(ts)


@pytest.mark.parametrize("name,make,shapes", FUNCS, ids=[f[0] for f in FUNCS])
@pytest.mark.parametrize("tuple_inputs", [False, True])
def test_jacobian_matches_torch(name, make, shapes, tuple_inputs):
    xc, xt = inputs_for(shapes, tuple_inputs)
    jc = CF.jacobian(make(chainrule), xc)
    jt = TF.jacobian(make(torch), xt)
    assert_same_structure(jc, jt)


@pytest.mark.parametrize("name,make,shapes", FUNCS, ids=[f[0] for f in FUNCS])
def test_jacobian_forward_mode_matches_reverse(name, make, shapes):
    xc, xt = inputs_for(shapes, True)
    jf = CF.jacobian(make(chainrule), xc, strategy="forward-mode")
    jt = TF.jacobian(make(torch), xt, vectorize=True, strategy="forward-mode")
    assert_same_structure(jf, jt)


def test_jacobian_create_graph_is_differentiable():
    xc, xt = pair(3)
    xc.requires_grad_()
    xt.requires_grad_()
    jc = CF.jacobian(lambda x: x ** 3, xc, create_graph=True)
    jt = TF.jacobian(lambda x: x ** 3, xt, create_graph=True)
    assert_same_structure(jc, jt)
    w = RNG.standard_normal((3, 3))
    (gc,) = chainrule.autograd.grad((jc * chainrule.tensor(w)).sum(), xc)
    (gt,) = torch.autograd.grad((jt * torch.tensor(w)).sum(), xt)
    assert_close(gc, gt)


def test_jacobian_of_unused_input_is_zeros_or_strict_error():
    xc, _ = pair(2)
    yc, _ = pair(3)
    jx, jy = CF.jacobian(lambda x, y: x * 2, (xc, yc))
    assert jy.shape == (2, 3) and not jy.any()
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is "
                                           "independent of input 1"):
        CF.jacobian(lambda x, y: x * 2, (xc, yc), strict=True)
    with pytest.raises(RuntimeError, match="does not require gradients"):
        CF.jacobian(lambda x: chainrule.ones(2), xc, strict=True)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name,make,shapes", FUNCS, ids=[f[0] for f in FUNCS])
def test_vjp_matches_torch(name, make, shapes, create_graph):
    xc, xt = inputs_for(shapes, False)
    out_t = make(torch)(*(xt if isinstance(xt, tuple) else (xt,)))
    outs = out_t if isinstance(out_t, tuple) else (out_t,)
    vs = [RNG.standard_normal(tuple(o.shape)) for o in outs]
    vc = tuple(chainrule.tensor(v) for v in vs)
    vt = tuple(torch.tensor(v) for v in vs)
    if not isinstance(out_t, tuple):
        vc, vt = vc[0], vt[0]
    rc = CF.vjp(make(chainrule), xc, vc, create_graph=create_graph)
    rt = TF.vjp(make(torch), xt, vt, create_graph=create_graph)
    assert_same_structure(rc, rt)


@pytest.mark.parametrize("name,make,shapes", FUNCS, ids=[f[0] for f in FUNCS])
def test_jvp_matches_torch(name, make, shapes):
    xc, xt = inputs_for(shapes, False)
    ins_t = xt if isinstance(xt, tuple) else (xt,)
    vs = [RNG.standard_normal(tuple(i.shape)) for i in ins_t]
    vc = tuple(chainrule.tensor(v) for v in vs)
    vt = tuple(torch.tensor(v) for v in vs)
    if not isinstance(xt, tuple):
        vc, vt = vc[0], vt[0]
    rc = CF.jvp(make(chainrule), xc, vc)
    rt = TF.jvp(make(torch), xt, vt)
    assert_same_structure(rc, rt)


def test_v_may_be_omitted_only_for_one_element():
    x = chainrule.tensor([2.0])
    out, g = CF.vjp(lambda x: x ** 2, x)
    assert g.tolist() == [4.0]
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        CF.vjp(lambda x: x * 2, chainrule.ones(2))
    with pytest.raises(RuntimeError, match="v has invalid size: should be "
                                           r"chainrule.Size\(\[2\]\) but got"):
        CF.vjp(lambda x: x * 2, chainrule.ones(2), chainrule.ones(3))
    with pytest.raises(TypeError, match="The inputs given to vjp must be either a Tensor or a "
                                        "tuple of Tensors"):
        CF.vjp(lambda x: x, [chainrule.ones(1)])


def scalar_fn(lib):
    return lambda x, y: (x.exp() * y).sum() + (x * x * y).sum()


@pytest.mark.parametrize("tuple_inputs", [False, True])
def test_hessian_matches_torch(tuple_inputs):
    if tuple_inputs:
        (xc, yc), (xt, yt) = zip(pair(3), pair(3))
        hc = CF.hessian(scalar_fn(chainrule), (xc, yc))
        ht = TF.hessian(scalar_fn(torch), (xt, yt))
    else:
        xc, xt = pair(2, 2)
        hc = CF.hessian(lambda x: (x.sin() * x).sum(), xc)
        ht = TF.hessian(lambda x: (x.sin() * x).sum(), xt)
    assert_same_structure(hc, ht)


def test_hessian_forward_over_reverse_matches():
    xc, xt = pair(3)
    hc = CF.hessian(lambda x: (x.exp() * x).sum(), xc, outer_jacobian_strategy="forward-mode")
    ht = TF.hessian(lambda x: (x.exp() * x).sum(), xt)
    assert_same_structure(hc, ht)


def test_hessian_requires_scalar_output():
    with pytest.raises(RuntimeError, match="should contain a single element"):
        CF.hessian(lambda x: x * 2, chainrule.ones(2))


@pytest.mark.parametrize("fn", ["hvp", "vhp"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_hvp_vhp_match_torch(fn, create_graph):
    (xc, yc), (xt, yt) = zip(pair(3), pair(3))
    (vx_c, vy_c), (vx_t, vy_t) = zip(pair(3), pair(3))
    rc = getattr(CF, fn)(scalar_fn(chainrule), (xc, yc), (vx_c, vy_c), create_graph=create_graph)
    rt = getattr(TF, fn)(scalar_fn(torch), (xt, yt), (vx_t, vy_t), create_graph=create_graph)
    assert_same_structure(rc, rt)


def test_hvp_of_single_tensor_and_errors():
    xc, xt = pair(4)
    vc, vt = pair(4)
    rc = CF.hvp(lambda x: (x ** 4).sum(), xc, vc)
    rt = TF.hvp(lambda x: (x ** 4).sum(), xt, vt)
    assert_same_structure(rc, rt)
    with pytest.raises(RuntimeError, match="The function given to hvp should return a single "
                                           "Tensor"):
        CF.hvp(lambda x: (x.sum(), x.sum()), xc, vc)


def test_results_do_not_require_grad_without_create_graph():
    x = chainrule.ones(2, requires_grad=True)
    out, g = CF.vjp(lambda x: (x * x).sum(), x)
    assert not out.requires_grad and not g.requires_grad
    j = CF.jacobian(lambda x: x * x, x)
    assert not j.requires_grad
