"""Convolution primitives (convolution, conv_transpose, conv_weight_grad, im2col, col2im)
against PyTorch: forward, vjp, jvp, finite differences to second order; error parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
from chainrule.ops.conv import ConvWeightGrad, fold, unfold
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _conv2d(stride=1, padding=0, dilation=1, groups=1):
    def ours(x, w, *b):
        return chainrule.conv2d(x, w, *b, stride=stride, padding=padding, dilation=dilation,
                                groups=groups)

    def theirs(x, w, *b):
        return TF.conv2d(x, w, *b, stride=stride, padding=padding, dilation=dilation,
                         groups=groups)

    return ours, theirs


def _conv_t2d(stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    def ours(x, w, *b):
        return chainrule.conv_transpose2d(x, w, *b, stride=stride, padding=padding,
                                          output_padding=output_padding, groups=groups,
                                          dilation=dilation)

    def theirs(x, w, *b):
        return TF.conv_transpose2d(x, w, *b, stride=stride, padding=padding,
                                   output_padding=output_padding, groups=groups,
                                   dilation=dilation)

    return ours, theirs


def _weight_grad(kernel, stride=1, padding=0, dilation=1, groups=1):
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    def ours(x, g):
        return ConvWeightGrad.apply(x, g, kernel_size=pair(kernel), stride=pair(stride),
                                    padding=pair(padding), dilation=pair(dilation),
                                    groups=groups)

    def theirs(x, g):
        c_out = g.shape[1]
        size = (c_out, x.shape[1] // groups) + pair(kernel)
        return torch.nn.grad.conv2d_weight(x, size, g, stride, padding, dilation, groups)

    return ours, theirs


SPECS = [
    OpSpec("convolution", *_conv2d(), shapes=[(2, 3, 5, 6), (4, 3, 3, 3), (4,)],
           covers=("conv_transpose", "conv_weight_grad")),
    OpSpec("convolution", *_conv2d(stride=2, padding=1), shapes=[(2, 2, 6, 5), (3, 2, 3, 2)],
           variant="stride_pad_nobias"),
    OpSpec("convolution", *_conv2d(stride=(2, 1), padding=(0, 2), dilation=(1, 2), groups=2),
           shapes=[(1, 4, 7, 6), (6, 2, 2, 3), (6,)], variant="groups_dilation"),
    OpSpec("convolution", *_conv2d(padding=1), shapes=[(2, 3, 4, 4), (2, 3, 1, 1)],
           variant="pointwise_padded"),
    OpSpec("convolution", *_conv2d(stride=2), shapes=[(2, 4, 5, 5), (3, 4, 1, 1), (3,)],
           variant="pointwise_strided"),
    OpSpec("convolution", *_conv2d(padding="same", dilation=2), shapes=[(1, 2, 5, 6),
                                                                        (3, 2, 2, 3)],
           variant="same_asymmetric"),
    OpSpec("convolution",
           lambda x, w, b: chainrule.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
           lambda x, w, b: TF.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
           shapes=[(2, 4, 9), (2, 2, 3), (2,)], variant="conv1d"),
    OpSpec("convolution", lambda x, w: chainrule.conv2d(x, w, padding=1),
           lambda x, w: TF.conv2d(x, w, padding=1), shapes=[(3, 5, 4), (2, 3, 3, 3)],
           variant="unbatched"),
    OpSpec("conv_transpose", *_conv_t2d(), shapes=[(2, 3, 4, 3), (3, 2, 3, 3), (2,)],
           covers=("convolution", "conv_weight_grad")),
    OpSpec("conv_transpose", *_conv_t2d(stride=2, padding=1, output_padding=1),
           shapes=[(1, 2, 3, 4), (2, 3, 3, 2), (3,)], variant="stride_outpad"),
    OpSpec("conv_transpose", *_conv_t2d(stride=(1, 2), padding=(1, 0), groups=2, dilation=2),
           shapes=[(2, 4, 4, 3), (4, 1, 2, 2)], variant="groups_dilation"),
    OpSpec("conv_transpose", *_conv_t2d(padding=1, output_padding=1, dilation=2),
           shapes=[(1, 2, 3, 3), (2, 2, 2, 3)], variant="outpad_below_dilation"),
    OpSpec("conv_transpose",
           lambda x, w, b: chainrule.conv_transpose1d(x, w, b, stride=3, padding=1,
                                                      output_padding=2),
           lambda x, w, b: TF.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
           shapes=[(2, 2, 4), (2, 3, 3), (3,)], variant="conv_transpose1d"),
    OpSpec("conv_weight_grad", *_weight_grad(3, padding=1), shapes=[(2, 3, 5, 4), (2, 4, 5, 4)],
           covers=("convolution", "conv_transpose")),
    OpSpec("conv_weight_grad", *_weight_grad((2, 3), stride=2, dilation=(2, 1), groups=2),
           shapes=[(2, 4, 6, 7), (2, 2, 2, 3)], variant="strided_groups"),
    OpSpec("conv_weight_grad", *_weight_grad(1, stride=2), shapes=[(2, 3, 5, 5), (2, 2, 3, 3)],
           variant="pointwise"),
    OpSpec("im2col", lambda x: unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
           lambda x: TF.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
           shapes=[(2, 3, 5, 6)], covers=("col2im",)),
    OpSpec("im2col", lambda x: unfold(x, 2), lambda x: TF.unfold(x, 2), shapes=[(2, 4, 3)],
           variant="unbatched"),
    OpSpec("col2im", lambda c: fold(c, (4, 5), 2, stride=(2, 1), padding=(1, 0)),
           lambda c: TF.fold(c, (4, 5), 2, stride=(2, 1), padding=(1, 0)),
           shapes=[(2, 12, 12)], covers=("im2col",)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


_CASES = [  # (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
    (2, 4, 9, 8, 6, 3, 1, 1, 1, 1),
    (2, 4, 9, 8, 6, 3, 2, 1, 1, 2),
    (1, 3, 10, 9, 6, (2, 3), (1, 2), (0, 1), (2, 1), 3),
    (3, 2, 6, 6, 4, 1, 1, 0, 1, 1),
    (2, 6, 7, 7, 6, 3, 1, 2, 2, 6),  # depthwise
    (2, 3, 8, 8, 5, 5, 3, 2, 1, 1),
    (40, 3, 6, 6, 4, 3, 1, 1, 1, 1),  # several batch chunks
]


@pytest.mark.parametrize("case", _CASES, ids=lambda c: "x".join(map(str, c[:4])) + f"-{c[5:]}")
def test_conv2d_forward_and_all_gradients_float32(case) -> None:
    _check_conv2d_case(case)


@pytest.mark.parametrize("case", _CASES, ids=lambda c: "x".join(map(str, c[:4])) + f"-{c[5:]}")
def test_conv2d_with_the_batch_split_over_threads(case, monkeypatch) -> None:
    # Large convolutions split the batch over threads (chainrule/_backend/threads.py); forced
    # here on small ones, with two parts even where the BLAS has one thread.
    from chainrule._backend import threads
    from chainrule.ops import conv

    monkeypatch.setattr(conv, "_PARALLEL_FLOP", 0)
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    _check_conv2d_case(case)


def _check_conv2d_case(case) -> None:
    n, c, h, w, co, k, s, p, d, g = case
    rng = np.random.default_rng(1)
    k2 = (k, k) if isinstance(k, int) else k
    arrays = [rng.standard_normal((n, c, h, w)), rng.standard_normal((co, c // g) + k2),
              rng.standard_normal(co)]
    arrays = [a.astype(np.float32) for a in arrays]
    ours = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = chainrule.conv2d(*ours, stride=s, padding=p, dilation=d, groups=g)
    tout = TF.conv2d(*theirs, stride=s, padding=p, dilation=d, groups=g)
    assert_close(out, tout, rtol=1e-4, atol=1e-4)
    cot = rng.standard_normal(tout.shape).astype(np.float32)
    out.backward(chainrule.tensor(cot))
    tout.backward(torch.tensor(cot))
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-3)


def test_grad_fn_names_match_torch() -> None:
    x = chainrule.randn(1, 2, 5, 5, requires_grad=True)
    w = chainrule.randn(3, 2, 3, 3, requires_grad=True)
    assert chainrule.conv2d(x, w).grad_fn.name() == "ConvolutionBackward0"
    assert chainrule.conv_transpose2d(x, w.transpose(0, 1)).grad_fn.name() == \
        "ConvolutionBackward0"
    assert unfold(x, 2).grad_fn.name() == "Im2ColBackward0"


def test_only_needed_gradients_are_computed() -> None:
    x = chainrule.randn(2, 3, 6, 6)
    w = chainrule.randn(4, 3, 3, 3, requires_grad=True)
    chainrule.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None


def test_gradient_penalty_double_backward_matches_torch() -> None:
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]]
    results = []
    for lib, F in ((chainrule, chainrule.conv2d), (torch, TF.conv2d)):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        y = F(x, w, b, stride=2, padding=1).tanh()
        (gx,) = lib.autograd.grad(y.sum(), [x], create_graph=True)
        penalty = (gx ** 2).sum()
        penalty.backward()
        results.append((gx, w.grad, b.grad, x.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, rtol=1e-9, atol=1e-10)


def test_hessian_vector_product_through_transpose_matches_torch() -> None:
    rng = np.random.default_rng(3)
    x_np, w_np, v_np = (rng.standard_normal(s) for s in [(1, 2, 4, 4), (2, 3, 2, 2), (2, 3, 2, 2)])
    results = []
    for lib, F in ((chainrule, chainrule.conv_transpose2d), (torch, TF.conv_transpose2d)):
        x = lib.tensor(x_np)
        w = lib.tensor(w_np, requires_grad=True)
        loss = (F(x, w, stride=2).sin() ** 2).sum()
        (g,) = lib.autograd.grad(loss, [w], create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.tensor(v_np)).sum(), [w])
        results.append(hv)
    assert_close(results[0], results[1], rtol=1e-9, atol=1e-10)


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None, None


@pytest.mark.parametrize("call", [
    lambda lib, F: F.conv2d(lib.randn(3, 4), lib.randn(8, 3, 3, 3)),
    lambda lib, F: F.conv2d(lib.randn(2, 4, 5, 5), lib.randn(8, 3, 3, 3)),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 2, 2), lib.randn(8, 3, 3, 3)),
    lambda lib, F: F.conv2d(lib.randn(2, 4, 5, 5), lib.randn(3, 2, 3, 3), groups=2),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), stride=2,
                            padding="same"),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), padding="foo"),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), stride=0),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), padding=-1),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), lib.randn(7)),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), padding=(1, 2, 3)),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5).double(), lib.randn(8, 3, 3, 3)),
    lambda lib, F: F.conv2d(lib.randn(2, 3, 5, 5), lib.randn(8, 3, 3, 3), lib.randn(8).double()),
    lambda lib, F: F.conv1d(lib.randn(2, 3, 5), lib.randn(4, 3, 3), stride=(1, 1)),
    lambda lib, F: F.conv_transpose2d(lib.randn(2, 3, 5, 5), lib.randn(4, 4, 3, 3)),
    lambda lib, F: F.conv_transpose2d(lib.randn(2, 3, 5, 5), lib.randn(3, 4, 3, 3), stride=2,
                                      output_padding=2),
    lambda lib, F: F.unfold(lib.randn(1, 3, 4, 4), 5),
    lambda lib, F: F.fold(lib.randn(1, 5, 9), 4, 2),
    lambda lib, F: F.fold(lib.randn(1, 8, 8), 4, 2),
])
def test_errors_match_torch(call) -> None:
    import chainrule.nn.functional as CF

    ours = _error(lambda: call(chainrule, CF))
    theirs = _error(lambda: call(torch, TF))
    assert theirs[0] is not None
    assert ours[0] is theirs[0], (ours, theirs)
    assert ours[1] == theirs[1]


def test_conv_of_empty_batch_and_channels() -> None:
    w = chainrule.randn(4, 3, 3, 3)
    assert chainrule.conv2d(chainrule.randn(0, 3, 5, 5), w).shape == (0, 4, 3, 3)
    out = chainrule.conv2d(chainrule.randn(2, 0, 5, 5), chainrule.randn(4, 0, 3, 3))
    assert out.shape == (2, 4, 3, 3) and not out.numpy().any()


def test_unfold_then_matmul_is_conv2d() -> None:
    x = chainrule.randn(2, 3, 6, 7)
    w = chainrule.randn(4, 3, 3, 3)
    cols = unfold(x, 3, padding=1, stride=2)
    out = (w.reshape(4, -1) @ cols).reshape(2, 4, 3, 4)
    assert_close(out, chainrule.conv2d(x, w, padding=1, stride=2), rtol=1e-5, atol=1e-5)
