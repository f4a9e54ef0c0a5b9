"""Pooling primitives (max_pool and its scatter, avg_pool and its adjoint) against PyTorch:
forward, indices, vjp, jvp, finite differences to second order; tie rule; errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
from chainrule.ops import pool
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _distinct(*shape):
    """Inputs without ties (a permutation of spaced values), so argmaxes are stable under
    finite differences."""
    def make(rng):
        n = int(np.prod(shape))
        return [rng.permutation(n).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)]
    return make


SPECS = [
    OpSpec("max_pool", lambda x: pool.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
           make_inputs=_distinct(2, 3, 4, 6), covers=("max_pool_backward",)),
    OpSpec("max_pool", lambda x: pool.max_pool2d(x, 3, 2, 1, ceil_mode=True),
           lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True),
           make_inputs=_distinct(2, 2, 6, 5), variant="overlap_pad_ceil",
           covers=("max_pool_backward",)),
    OpSpec("max_pool", lambda x: pool.max_pool2d(x, (2, 3), (1, 2), (1, 0), dilation=(2, 1)),
           lambda x: TF.max_pool2d(x, (2, 3), (1, 2), (1, 0), dilation=(2, 1)),
           make_inputs=_distinct(1, 2, 6, 7), variant="dilation"),
    OpSpec("max_pool", lambda x: pool.max_pool1d(x, 3, 2, 1), lambda x: TF.max_pool1d(x, 3, 2, 1),
           make_inputs=_distinct(2, 3, 8), variant="1d"),
    OpSpec("max_pool", lambda x: pool.adaptive_max_pool2d(x, (2, 3)),
           lambda x: TF.adaptive_max_pool2d(x, (2, 3)), make_inputs=_distinct(2, 2, 5, 7),
           variant="adaptive"),
    OpSpec("max_pool", lambda x: pool.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
           make_inputs=_distinct(3, 4, 4), variant="unbatched"),
    OpSpec("max_pool_backward",
           lambda x: pool.max_pool2d(x, 3, 1) * pool.max_pool2d(x, 3, 1),
           lambda x: TF.max_pool2d(x, 3, 1) * TF.max_pool2d(x, 3, 1),
           make_inputs=_distinct(1, 2, 5, 5), covers=("max_pool",)),
    OpSpec("avg_pool", lambda x: pool.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2),
           shapes=[(2, 3, 4, 6)], covers=("avg_pool_backward",)),
    OpSpec("avg_pool", lambda x: pool.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                 count_include_pad=False),
           lambda x: TF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
           shapes=[(2, 2, 6, 5)], variant="exclude_pad_ceil", covers=("avg_pool_backward",)),
    OpSpec("avg_pool", lambda x: pool.avg_pool2d(x, (2, 3), (1, 2), (1, 1), divisor_override=4),
           lambda x: TF.avg_pool2d(x, (2, 3), (1, 2), (1, 1), divisor_override=4),
           shapes=[(1, 2, 5, 6)], variant="divisor_override"),
    OpSpec("avg_pool", lambda x: pool.avg_pool1d(x, 3, 2, 1, ceil_mode=True),
           lambda x: TF.avg_pool1d(x, 3, 2, 1, ceil_mode=True), shapes=[(2, 3, 8)],
           variant="1d"),
    OpSpec("avg_pool", lambda x: pool.adaptive_avg_pool2d(x, (2, 3)),
           lambda x: TF.adaptive_avg_pool2d(x, (2, 3)), shapes=[(2, 2, 4, 6)],
           variant="adaptive_even"),
    OpSpec("adaptive_avg_pool2d", lambda x: pool.adaptive_avg_pool2d(x, (3, 4)),
           lambda x: TF.adaptive_avg_pool2d(x, (3, 4)), shapes=[(2, 2, 5, 7)],
           variant="uneven"),
    OpSpec("adaptive_avg_pool1d", lambda x: pool.adaptive_avg_pool1d(x, 3),
           lambda x: TF.adaptive_avg_pool1d(x, 3), shapes=[(2, 3, 7)]),
    OpSpec("avg_pool_backward",
           lambda x: pool.avg_pool2d(x, 3, 1, 1) ** 2, lambda x: TF.avg_pool2d(x, 3, 1, 1) ** 2,
           shapes=[(1, 2, 4, 5)], covers=("avg_pool",)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


def _valid(opts: tuple) -> bool:
    # torch rejects padding larger than half the (dilated) window; those cases are in the
    # error-parity tests, not in this sweep
    k, _, p, d, _ = opts
    kk = (k, k) if isinstance(k, int) else k
    return all(p <= (d * (n - 1) + 1) // 2 for n in kk)


_OPTIONS = [o for o in itertools.product([2, 3, (2, 3)], [None, 1, 2, (1, 2)], [0, 1], [1, 2],
                                         [False, True]) if _valid(o)]


@pytest.mark.parametrize("hw", [(7, 8), (6, 6)])
@pytest.mark.parametrize("opts", _OPTIONS, ids=str)
def test_max_and_avg_pool2d_sweep_match_torch(hw, opts) -> None:
    k, s, p, d, ceil = opts
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((2, 3) + hw).astype(np.float32)
    x_np[0, 0, 0, :3] = x_np[0, 0, 0, 0]  # ties: the first maximum must win
    g_np = None
    for avg in (False, True):
        if avg and d != 1:
            continue
        x, tx = chainrule.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        if avg:
            out = pool.avg_pool2d(x, k, s, p, ceil, count_include_pad=bool(ceil))
            tout = TF.avg_pool2d(tx, k, s, p, ceil, count_include_pad=bool(ceil))
        else:
            out, idx = pool.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
            tout, tidx = TF.max_pool2d(tx, k, s, p, d, ceil, return_indices=True)
            np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
            assert idx.dtype == chainrule.int64
        assert_close(out, tout)
        g_np = np.random.default_rng(1).standard_normal(tuple(tout.shape)).astype(np.float32)
        out.backward(chainrule.tensor(g_np))
        tout.backward(torch.tensor(g_np))
        assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("shape,size", [((2, 3, 7, 9), (3, 4)), ((2, 3, 8, 8), 4),
                                        ((2, 3, 8, 8), (None, 3)), ((3, 5, 6), (2, 5)),
                                        ((2, 3, 5, 5), (5, 1))])
def test_adaptive_pools_match_torch(shape, size) -> None:
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape)
    for ours_fn, theirs_fn in ((pool.adaptive_avg_pool2d, TF.adaptive_avg_pool2d),
                               (pool.adaptive_max_pool2d, TF.adaptive_max_pool2d)):
        x, tx = chainrule.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        out, tout = ours_fn(x, size), theirs_fn(tx, size)
        assert_close(out, tout)
        g = rng.standard_normal(tuple(tout.shape))
        out.backward(chainrule.tensor(g))
        tout.backward(torch.tensor(g))
        assert_close(x.grad, tx.grad)
    idx = pool.adaptive_max_pool2d(chainrule.tensor(x_np), size, return_indices=True)[1]
    tidx = TF.adaptive_max_pool2d(torch.tensor(x_np), size, return_indices=True)[1]
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_max_pool_gradient_goes_to_first_maximum_and_nan_wins() -> None:
    x = chainrule.tensor([[[[1., 3., 3., 0.], [3., 2., 1., 3.]]]], requires_grad=True)
    out, idx = pool.max_pool2d(x, 2, return_indices=True)
    assert idx.tolist() == [[[[1, 2]]]]
    out.sum().backward()
    assert x.grad.tolist() == [[[[0., 1., 1., 0.], [0., 0., 0., 0.]]]]
    nan = float("nan")
    y = chainrule.tensor([[[1., nan, 5., nan, 2.]]])
    t = torch.tensor([[[1., nan, 5., nan, 2.]]])
    ours, theirs = pool.max_pool1d(y, 5, return_indices=True), TF.max_pool1d(t, 5,
                                                                             return_indices=True)
    assert np.isnan(ours[0].item()) and ours[1].item() == theirs[1].item() == 3


def test_max_pool_split_over_threads_matches_torch(monkeypatch) -> None:
    # Large max pools search and scatter one part of the batch per thread; forced here on a
    # small one with ties, and 3x3 windows over a 7x7 plane (a remainder row and column).
    from chainrule._backend import threads

    monkeypatch.setattr(pool, "_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    rng = np.random.default_rng(0)
    for k, shape in ((2, (5, 3, 6, 8)), (3, (3, 2, 7, 7))):
        x = rng.integers(0, 4, shape).astype(np.float32)  # many ties: the first must win
        ours, theirs = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, tout = pool.max_pool2d(ours, k), TF.max_pool2d(theirs, k)
        assert out.tolist() == tout.tolist()
        g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
        out.backward(chainrule.tensor(g))
        tout.backward(torch.tensor(g))
        assert ours.grad.tolist() == theirs.grad.tolist()


def test_max_pool_grad_fn_and_double_backward() -> None:
    x = chainrule.randn(1, 1, 4, 4, requires_grad=True)
    y = pool.max_pool2d(x, 2)
    assert y.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    (g,) = chainrule.autograd.grad((y ** 2).sum(), [x], create_graph=True)
    (gg,) = chainrule.autograd.grad(g.sum(), [x])
    assert_close(gg, (g != 0).float() * 2)


def test_adaptive_avg_pool_global_is_mean() -> None:
    x = chainrule.randn(2, 3, 5, 7)
    assert_close(pool.adaptive_avg_pool2d(x, 1), x.mean((2, 3), keepdim=True), rtol=1e-6,
                 atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda F, x: F.max_pool2d(x(2, 3, 5, 5), 3, padding=2),
    lambda F, x: F.max_pool2d(x(2, 3, 2, 2), 3),
    lambda F, x: F.max_pool2d(x(5, 5), 3),
    lambda F, x: F.avg_pool2d(x(2, 3, 5, 5), 3, padding=2),
    lambda F, x: F.max_pool2d(x(2, 3, 5, 5), 3, stride=0),
    lambda F, x: F.avg_pool2d(x(2, 3, 5, 5), 2, divisor_override=0),
    lambda F, x: F.avg_pool1d(x(2, 3, 2), 3),
])
def test_errors_match_torch(call) -> None:
    import chainrule.nn.functional as CF

    def run(F, lib):
        try:
            call(F, lambda *s: lib.randn(*s))
        except Exception as e:  # noqa: BLE001 - comparing types and messages
            return type(e), str(e)
        return None, None

    ours, theirs = run(CF, chainrule), run(TF, torch)
    assert theirs[0] is not None and ours == theirs
