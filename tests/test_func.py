"""chainrule.func against torch.func: values, result structures, nesting and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.func as tf

import chainrule
import chainrule.func as cf
from chainrule.testing import assert_close

RNG = np.random.default_rng(2)


def pair(*shape):
    a = RNG.standard_normal(shape)
    return chainrule.tensor(a), torch.tensor(a)


def same(c, t):
    """Same pytree structure (tuple/list/dict), equal tensors, same requires_grad."""
    if isinstance(t, (tuple, list)):
        assert type(c) is type(t) and len(c) == len(t), (type(c), type(t))
        for ci, ti in zip(c, t):
            same(ci, ti)
    elif isinstance(t, dict):
        assert isinstance(c, dict) and list(c) == list(t)
        for k in t:
            same(c[k], t[k])
    else:
        assert isinstance(c, chainrule.Tensor), type(c)
        assert tuple(c.shape) == tuple(t.shape)
        assert c.requires_grad == t.requires_grad
        assert_close(c.detach(), t.detach())


def f_scalar(x, y):
    return (x.sin() * y).sum() + (x * x).sum() / 3


def test_grad_argnums_int_and_tuple():
    (xc, xt), (yc, yt) = pair(3), pair(3)
    same(cf.grad(f_scalar)(xc, yc), tf.grad(f_scalar)(xt, yt))
    same(cf.grad(f_scalar, argnums=1)(xc, yc), tf.grad(f_scalar, argnums=1)(xt, yt))
    same(cf.grad(f_scalar, argnums=(0, 1))(xc, yc), tf.grad(f_scalar, argnums=(0, 1))(xt, yt))
    same(cf.grad(f_scalar, argnums=-1)(xc, yc), tf.grad(f_scalar, argnums=-1)(xt, yt))


def test_grad_with_aux_and_grad_and_value():
    (xc, xt) = pair(4)

    def f(x):
        y = x.exp()
        return y.sum(), {"y": y}

    gc, auxc = cf.grad(f, has_aux=True)(xc)
    gt, auxt = tf.grad(f, has_aux=True)(xt)
    same((gc, auxc), (gt, auxt))
    same(cf.grad_and_value(f, has_aux=True)(xc), tf.grad_and_value(f, has_aux=True)(xt))
    same(cf.grad_and_value(f_scalar)(xc, xc), tf.grad_and_value(f_scalar)(xt, xt))


def test_grad_of_pytree_argument():
    (wc, wt), (bc, bt), (xc, xt) = pair(3, 2), pair(2), pair(4, 3)

    def loss(params, x):
        return ((x @ params["w"] + params["b"]).tanh() ** 2).mean()

    same(cf.grad(loss)({"w": wc, "b": bc}, xc), tf.grad(loss)({"w": wt, "b": bt}, xt))
    same(cf.grad(loss)({"w": wc, "b": bc}, xc), tf.grad(loss)({"w": wt, "b": bt}, xt))


def test_nested_grad_gives_higher_derivatives():
    xc, xt = pair()

    def f(x):
        return x.sin() * x ** 3

    same(cf.grad(cf.grad(f))(xc), tf.grad(tf.grad(f))(xt))
    same(cf.grad(cf.grad(cf.grad(f)))(xc), tf.grad(tf.grad(tf.grad(f)))(xt))


def test_grad_composes_with_outer_autograd():
    xc, xt = pair(3)
    wc = chainrule.tensor(RNG.standard_normal(3), requires_grad=True)
    wt = torch.tensor(wc.detach().numpy(), requires_grad=True)
    gc = cf.grad(lambda x: (x * x * wc).sum())(xc)
    gt = tf.grad(lambda x: (x * x * wt).sum())(xt)
    same(gc, gt)  # depends on w, which requires grad outside: keeps its graph
    gc.sum().backward()
    gt.sum().backward()
    assert_close(wc.grad, wt.grad)


def test_grad_errors():
    x = chainrule.ones(3)
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, "
                                           "got tensor with 1 dims"):
        cf.grad(lambda x: x * 2)(x)
    with pytest.raises(RuntimeError, match="output of function f should be a tuple"):
        cf.grad(lambda x: x.sum(), has_aux=True)(x)
    with pytest.raises(RuntimeError, match="Got argnum=2, but only 1 positional inputs"):
        cf.grad(lambda x: x.sum(), argnums=2)(x)
    with pytest.raises(RuntimeError, match="argnums must be non-empty"):
        cf.grad(lambda x: x.sum(), argnums=())(x)


def test_vjp_matches_torch_and_vjp_fn_is_reusable():
    (xc, xt), (yc, yt) = pair(2, 3), pair(3)

    def f(x, y):
        return x * y, (x ** 2).sum(dim=1)

    oc, fc = cf.vjp(f, xc, yc)
    ot, ft = tf.vjp(f, xt, yt)
    same(oc, ot)
    for _ in range(2):
        (c1c, c1t), (c2c, c2t) = pair(2, 3), pair(2)
        same(fc((c1c, c2c)), ft((c1t, c2t)))
    with pytest.raises(RuntimeError, match="Expected pytree structure of cotangents"):
        fc(c1c)


def test_vjp_single_output_and_aux():
    xc, xt = pair(3)
    oc, fc, ac = cf.vjp(lambda x: (x.exp(), x.sum()), xc, has_aux=True)
    ot, ft, at = tf.vjp(lambda x: (x.exp(), x.sum()), xt, has_aux=True)
    same((oc, ac), (ot, at))
    vc, vt = pair(3)
    same(fc(vc), ft(vt))


def test_jvp_matches_torch():
    (xc, xt), (yc, yt) = pair(3), pair(3)
    (tx_c, tx_t), (ty_c, ty_t) = pair(3), pair(3)

    def f(x, y):
        return x.sin() * y, (x / (y * y + 1)).sum()

    same(cf.jvp(f, (xc, yc), (tx_c, ty_c)), tf.jvp(f, (xt, yt), (tx_t, ty_t)))
    same(cf.jvp(lambda x: x.exp(), (xc,), (tx_c,)), tf.jvp(lambda x: x.exp(), (xt,), (tx_t,)))


def test_jvp_errors():
    x = chainrule.ones(2)
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        cf.jvp(lambda x: x, x, (x,))
    with pytest.raises(RuntimeError, match="Expected primals and tangents to have the same "
                                           "python structure"):
        cf.jvp(lambda x: x, (x,), (x, x))


JAC_CASES = [
    ("single", lambda x, y: x.exp() * y.sum(), 0),
    ("argnums_tuple", lambda x, y: x.exp() * y.sum(), (0, 1)),
    ("multi_out", lambda x, y: (x * y.sum(), (x @ x.T).tanh()), 0),
    ("multi_out_tuple", lambda x, y: (x.sum() * y, x.sin()), (1, 0)),
]


@pytest.mark.parametrize("name,f,argnums", JAC_CASES, ids=[c[0] for c in JAC_CASES])
@pytest.mark.parametrize("kind", ["jacrev", "jacfwd"])
def test_jacobians_match_torch(name, f, argnums, kind):
    (xc, xt), (yc, yt) = pair(2, 3), pair(4)
    jc = getattr(cf, kind)(f, argnums=argnums)(xc, yc)
    jt = getattr(tf, kind)(f, argnums=argnums)(xt, yt)
    same(jc, jt)


def test_jacobian_with_aux():
    xc, xt = pair(3)

    def f(x):
        return x.exp(), x.sum()

    same(cf.jacrev(f, has_aux=True)(xc), tf.jacrev(f, has_aux=True)(xt))
    same(cf.jacfwd(f, has_aux=True)(xc), tf.jacfwd(f, has_aux=True)(xt))


SMOOTH = [
    ("exp_mul", lambda x: (x.exp() * x).sum()),
    ("tanh_div", lambda x: (x.tanh() / (x * x + 1)).sum()),
    ("sigmoid_prod", lambda x: x.sigmoid().prod()),
    ("sqrt_log", lambda x: ((x * x + 1).sqrt() * (x * x + 2).log()).sum()),
]


@pytest.mark.parametrize("name,f", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_hessian_and_every_composition_match_torch(name, f):
    xc, xt = pair(3)
    ht = tf.hessian(f)(xt)
    same(cf.hessian(f)(xc), ht)
    # forward-over-reverse (torch's recipe) and the other orders agree too
    same(cf.jacfwd(cf.jacrev(f))(xc), ht)
    same(cf.jacrev(cf.jacfwd(f))(xc), ht)
    same(cf.jacrev(cf.jacrev(f))(xc), ht)
    same(cf.jacfwd(cf.jacfwd(f))(xc), ht)


def test_hessian_argnums_tuple():
    (xc, xt), (yc, yt) = pair(2), pair(3)
    same(cf.hessian(f_scalar_pair, argnums=(0, 1))(xc, yc),
         tf.hessian(f_scalar_pair, argnums=(0, 1))(xt, yt))


def f_scalar_pair(x, y):
    return (x.exp().sum() * y.sin()).sum() + (y * y).sum()


def test_results_are_plain_tensors():
    x = chainrule.ones(3)
    g = cf.grad(lambda x: (x.exp() * x).sum())(x)
    assert g.grad_fn is None and not g.requires_grad
    j = cf.jacrev(lambda x: x.exp())(x)
    assert j.grad_fn is None and not j.requires_grad
