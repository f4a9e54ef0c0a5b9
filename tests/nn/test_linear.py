"""Linear, Bilinear, Embedding and F.linear / bilinear / embedding / one_hot / pad against
PyTorch twins: forward, gradients (random cotangents), double backward, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.testing import assert_close, default_tolerances


def _close_grad(a, b) -> None:
    r, t = default_tolerances(a.dtype, kind="grad")
    assert_close(a, b, rtol=r, atol=t)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_matches_torch(twin, rng, shape, bias, dtype) -> None:
    theirs = torch.nn.Linear(3, 4, bias=bias).to(getattr(torch, np.dtype(dtype).name))
    ours = nn.Linear(3, 4, bias=bias).to(getattr(chainrule, np.dtype(dtype).name))
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, *shape, dtype=dtype)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    _close_grad(x.grad, tx.grad)
    assert out.grad_fn is not None and [n for n, _ in ours.named_parameters()] == \
        [n for n, _ in theirs.named_parameters()]


def test_linear_default_init_has_torchs_distribution() -> None:
    chainrule.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    b = m.bias.detach().numpy()
    assert np.abs(b).max() <= bound and abs(b.std() - bound / math.sqrt(3)) < 0.1 * bound
    # torch's own default, for the record: the same bound
    t = torch.nn.Linear(400, 300).weight.detach().numpy()
    assert abs(t.std() - w.std()) < 0.01 * bound


def test_linear_wrong_width_names_the_layer_and_both_shapes() -> None:
    with pytest.raises(RuntimeError) as info:
        nn.Linear(3, 2)(chainrule.randn(4, 5))
    assert str(info.value) == ("Linear(in_features=3, out_features=2, bias=True): mat1 and mat2 "
                               "shapes cannot be multiplied (4x5 and 3x2)")
    with pytest.raises(RuntimeError) as ours:
        F.linear(chainrule.randn(2, 4, 5), chainrule.randn(2, 3))
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.linear(torch.randn(2, 4, 5), torch.randn(2, 3))
    assert str(ours.value) == str(theirs.value)


def test_gradient_penalty_double_backward_through_linear_matches_torch(twin, rng) -> None:
    torch.manual_seed(1)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    ours = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 4, 3)
    losses = []
    for lib, m, inp in ((chainrule, ours, x), (torch, theirs, tx)):
        out = m(inp)
        (g,) = lib.autograd.grad(out.sum(), inp, create_graph=True)
        loss = out.pow(2).mean() + ((g.norm(2, dim=1) - 1) ** 2).mean()
        loss.backward()
        losses.append(loss)
    assert_close(losses[0], losses[1])
    twin.assert_grads(ours, theirs)
    _close_grad(x.grad, tx.grad)


def test_linear_gradcheck_float64() -> None:
    w = chainrule.randn(3, 4, dtype=chainrule.float64, requires_grad=True)
    b = chainrule.randn(3, dtype=chainrule.float64, requires_grad=True)
    x = chainrule.randn(2, 5, 4, dtype=chainrule.float64, requires_grad=True)
    assert gradcheck(F.linear, (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), (x, w, b))


@pytest.mark.parametrize("batch", [(6,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(twin, rng, batch, bias) -> None:
    theirs = torch.nn.Bilinear(3, 4, 2, bias=bias)
    ours = nn.Bilinear(3, 4, 2, bias=bias)
    twin.load(ours, theirs)
    x1, tx1 = twin.inputs(rng, *batch, 3)
    x2, tx2 = twin.inputs(rng, *batch, 4)
    out, tout = ours(x1, x2), theirs(tx1, tx2)
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    _close_grad(x1.grad, tx1.grad)
    _close_grad(x2.grad, tx2.grad)
    assert repr(ours) == repr(theirs)
    bound = 1 / math.sqrt(3)
    assert float(nn.Bilinear(3, 4, 50).weight.abs().max()) <= bound


def test_bilinear_gradcheck_and_errors() -> None:
    d = chainrule.float64
    args = (chainrule.randn(2, 3, dtype=d, requires_grad=True),
            chainrule.randn(2, 4, dtype=d, requires_grad=True),
            chainrule.randn(5, 3, 4, dtype=d, requires_grad=True),
            chainrule.randn(5, dtype=d, requires_grad=True))
    assert gradcheck(F.bilinear, args)
    assert gradgradcheck(F.bilinear, args)
    bad = [((2, 3), (2, 4), (5, 3, 3), None), ((2, 3), (3, 4), (5, 3, 4), None),
           ((2, 3), (2, 4), (5, 3, 4), (4,)), ((2, 5), (2, 4), (5, 3, 4), None),
           ((2, 3), (2, 1, 4), (5, 3, 4), None)]
    for s1, s2, sw, sb in bad:
        msgs = []
        for lib, fn in ((chainrule, F.bilinear), (torch, torch.nn.functional.bilinear)):
            with pytest.raises(RuntimeError) as info:
                fn(lib.randn(*s1), lib.randn(*s2), lib.randn(*sw),
                   None if sb is None else lib.randn(*sb))
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_matches_torch(twin, rng, padding_idx) -> None:
    theirs = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    ours = nn.Embedding(6, 3, padding_idx=padding_idx)
    assert ours.padding_idx == theirs.padding_idx and repr(ours) == repr(theirs)
    if padding_idx is not None:
        assert not ours.weight[ours.padding_idx].any()
    twin.load(ours, theirs)
    idx = np.array([[0, 5, 2, 0], [5, 5, 1, 3]])
    out, tout = ours(chainrule.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)


def test_embedding_max_norm_and_scale_grad_by_freq_match_torch(twin, rng) -> None:
    theirs = torch.nn.Embedding(5, 4, max_norm=1.0, norm_type=2.0, scale_grad_by_freq=True)
    ours = nn.Embedding(5, 4, max_norm=1.0, norm_type=2.0, scale_grad_by_freq=True)
    twin.load(ours, theirs)
    assert repr(ours) == repr(theirs)
    idx = np.array([1, 1, 3, 1, 4])
    out, tout = ours(chainrule.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out, tout)
    assert_close(ours.weight, theirs.weight)  # rows 1, 3, 4 renormalised in place, as torch
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)


def test_embedding_init_from_pretrained_and_errors() -> None:
    chainrule.manual_seed(0)
    w = nn.Embedding(1000, 20).weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    emb = nn.Embedding.from_pretrained(chainrule.eye(3), freeze=False, padding_idx=1)
    assert emb.weight.requires_grad and emb.padding_idx == 1
    assert repr(emb) == repr(torch.nn.Embedding.from_pretrained(torch.eye(3), padding_idx=1))
    for bad in (chainrule.tensor([5]), chainrule.tensor([-1])):
        with pytest.raises(IndexError, match="index out of range in self"):
            F.embedding(bad, chainrule.randn(3, 2))
    msgs = []
    for lib, fn in ((chainrule, F.embedding), (torch, torch.nn.functional.embedding)):
        with pytest.raises(RuntimeError) as info:
            fn(lib.tensor([1.0]), lib.randn(3, 2))
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(chainrule.tensor([1]), chainrule.randn(3, 2), padding_idx=-4)


def test_embedding_gradcheck() -> None:
    w = chainrule.randn(4, 3, dtype=chainrule.float64, requires_grad=True)
    idx = chainrule.tensor([[0, 2], [2, 3]])
    # (padding_idx and scale_grad_by_freq alter the gradient on purpose: parity tests cover them)
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert gradgradcheck(lambda w: F.embedding(idx, w).pow(2), (w,))


def test_one_hot_matches_torch() -> None:
    for args in (([3, 0, 1],), ([[1, 2], [0, 0]], 4), ([2],)):
        assert_close(F.one_hot(chainrule.tensor(args[0]), *args[1:]),
                     torch.nn.functional.one_hot(torch.tensor(args[0]), *args[1:]))
    cases = [(chainrule.tensor([1.0]), torch.tensor([1.0]), ()),
             (chainrule.tensor([-1, 2]), torch.tensor([-1, 2]), ()),
             (chainrule.tensor([1, 5]), torch.tensor([1, 5]), (3,)),
             (chainrule.tensor([], dtype=chainrule.int64), torch.tensor([], dtype=torch.int64),
              ())]
    for ours, theirs, extra in cases:
        with pytest.raises(RuntimeError) as a:
            F.one_hot(ours, *extra)
        with pytest.raises(RuntimeError) as b:
            torch.nn.functional.one_hot(theirs, *extra)
        assert str(a.value) == str(b.value)


PAD_CASES = [
    ((2, 3, 4), (1, 2), "constant", 0.5),
    ((2, 3, 4), (-1, 2, 1, 0), "constant", None),
    ((1, 2, 5), (2, 3), "reflect", None),
    ((2, 5), (4, 1), "reflect", None),
    ((1, 2, 4, 5), (1, 2, 3, 1), "reflect", None),
    ((1, 2, 3, 3, 4), (1, 1, 2, 0, 1, 2), "reflect", None),
    ((1, 2, 5), (3, 2), "replicate", None),
    ((2, 2, 4, 5), (2, -1, 0, 3), "replicate", None),
    ((1, 2, 3, 3, 4), (1, 2, 2, 1, 0, 3), "replicate", None),
    ((1, 2, 5), (5, 2), "circular", None),
    ((1, 2, 4, 5), (1, 2, 3, 1), "circular", None),
    ((1, 1, 3, 3, 4), (1, 2, 2, 1, 0, 3), "circular", None),
]


@pytest.mark.parametrize("shape,pad,mode,value", PAD_CASES)
def test_pad_matches_torch(rng, shape, pad, mode, value) -> None:
    arr = rng.standard_normal(shape).astype(np.float32)
    x, tx = chainrule.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    out = F.pad(x, pad, mode=mode, value=value)
    tout = torch.nn.functional.pad(tx, pad, mode=mode, value=value)
    assert_close(out, tout)
    cot = rng.standard_normal(tuple(out.shape)).astype(np.float32)
    out.backward(chainrule.tensor(cot))
    tout.backward(torch.tensor(cot))
    _close_grad(x.grad, tx.grad)


def test_pad_gradcheck() -> None:
    x = chainrule.randn(1, 2, 4, 3, dtype=chainrule.float64, requires_grad=True)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert gradcheck(lambda x, mode=mode: F.pad(x, (1, 2, 2, 1), mode=mode), (x,))


def test_pad_errors_match_torch() -> None:
    cases = [((1, 2, 3), (1,), "constant", None), ((1, 2, 3), (1,) * 8, "constant", None),
             ((1, 2, 3), (3, 3), "reflect", None), ((3,), (1, 1), "reflect", None),
             ((1, 2, 3), (1, 1), "reflect", 2.0), ((1, 2, 3), (1,) * 6, "replicate", None),
             ((1, 2, 3), (1, 1), "foo", None), ((1, 2, 3), (4, 4), "circular", None)]
    for shape, pad, mode, value in cases:
        with pytest.raises(Exception) as a:
            F.pad(chainrule.randn(*shape), pad, mode=mode, value=value)
        with pytest.raises(Exception) as b:
            torch.nn.functional.pad(torch.randn(*shape), pad, mode=mode, value=value)
        assert type(a.value) is type(b.value) and str(a.value) == str(b.value)
