"""Fused loss primitives (chainrule/ops/losses.py) against PyTorch: forward, vjp, jvp and
finite differences to second order, over reductions, weights, ignore_index, label smoothing
and N-d inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
import chainrule.nn.functional as F
from chainrule.ops.losses import CrossEntropy
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])


def _logits_and_targets(shape: tuple[int, ...], ignore: int | None = None):  # noqa: ANN202
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.standard_normal(shape) * 2
        t = rng.integers(0, shape[1] if len(shape) > 1 else shape[0],
                         size=(shape[:1] + shape[2:]) if len(shape) > 1 else ())
        if ignore is not None and t.ndim:
            t.flat[1] = ignore
        return [x, t]
    return make


def _ce(reduction: str = "mean", weight: bool = False, ignore_index: int = -100,
        label_smoothing: float = 0.0):  # noqa: ANN202
    def ours(x, t):  # noqa: ANN001, ANN202
        w = chainrule.tensor(W5, dtype=x.dtype) if weight else None
        return F.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)

    def theirs(x, t):  # noqa: ANN001, ANN202
        w = torch.tensor(W5, dtype=x.dtype) if weight else None
        return TF.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                                label_smoothing=label_smoothing)
    return ours, theirs


def _nll(reduction: str = "mean", weight: bool = False, ignore_index: int = -100):  # noqa: ANN202
    def ours(x, t):  # noqa: ANN001, ANN202
        w = chainrule.tensor(W5, dtype=x.dtype) if weight else None
        return F.nll_loss(x, t, weight=w, ignore_index=ignore_index, reduction=reduction)

    def theirs(x, t):  # noqa: ANN001, ANN202
        w = torch.tensor(W5, dtype=x.dtype) if weight else None
        return TF.nll_loss(x, t, weight=w, ignore_index=ignore_index, reduction=reduction)
    return ours, theirs


def _ce_spec(variant: str, shape: tuple[int, ...] = (4, 5), ignore: int | None = None,
             **kw) -> OpSpec:  # noqa: ANN003
    ours, theirs = _ce(**kw)
    return OpSpec("cross_entropy", ours, theirs, make_inputs=_logits_and_targets(shape, ignore),
                  variant=variant)


def _nll_spec(variant: str, shape: tuple[int, ...] = (4, 5), ignore: int | None = None,
              **kw) -> OpSpec:  # noqa: ANN003
    ours, theirs = _nll(**kw)
    return OpSpec("nll_loss", ours, theirs, make_inputs=_logits_and_targets(shape, ignore),
                  variant=variant)


SPECS = [
    _ce_spec("mean"),
    _ce_spec("sum", reduction="sum"),
    _ce_spec("none", reduction="none"),
    _ce_spec("weight_mean", weight=True),
    _ce_spec("weight_none", weight=True, reduction="none"),
    _ce_spec("ignore", ignore=3, ignore_index=3),
    _ce_spec("ignore_default", ignore=-100),
    _ce_spec("smooth", label_smoothing=0.2),
    _ce_spec("smooth_weight_ignore", ignore=1, weight=True, ignore_index=1,
             label_smoothing=0.3),
    _ce_spec("smooth_weight_none", weight=True, reduction="none", label_smoothing=0.1),
    _ce_spec("smooth_sum", reduction="sum", label_smoothing=0.4),
    _ce_spec("3d", shape=(2, 5, 3), weight=True, label_smoothing=0.1),
    _ce_spec("4d_none", shape=(2, 5, 3, 2), reduction="none", ignore=2, ignore_index=2),
    _ce_spec("5d", shape=(2, 5, 2, 2, 2), label_smoothing=0.05),
    _ce_spec("unbatched", shape=(5,), weight=True),
    _ce_spec("unbatched_smooth_none", shape=(5,), reduction="none", label_smoothing=0.2),
    # CrossEntropy called without softmax scratch space: the backward recomputes softmax
    OpSpec("cross_entropy",
           lambda x, t: CrossEntropy.apply(x, t, chainrule.empty(0, dtype=x.dtype),
                                           ignore_index=-100, reduction="sum",
                                           label_smoothing=0.1),
           lambda x, t: TF.cross_entropy(x, t, reduction="sum", label_smoothing=0.1),
           make_inputs=_logits_and_targets((4, 5)), variant="no_scratch"),
    _nll_spec("mean"),
    _nll_spec("sum", reduction="sum"),
    _nll_spec("none", reduction="none"),
    _nll_spec("weight_ignore", ignore=0, weight=True, ignore_index=0),
    _nll_spec("weight_none", weight=True, reduction="none"),
    _nll_spec("4d", shape=(2, 5, 3, 2), weight=True),
    _nll_spec("unbatched", shape=(5,)),
    OpSpec("binary_cross_entropy", lambda x, t: F.binary_cross_entropy(x, t),
           lambda x, t: TF.binary_cross_entropy(x, t), shapes=[(3, 4), (3, 4)], low=0.05,
           high=0.95),
    OpSpec("binary_cross_entropy", lambda x, t: F.binary_cross_entropy(x, t, reduction="none"),
           lambda x, t: TF.binary_cross_entropy(x, t, reduction="none"), shapes=[(6,), (6,)],
           low=0.05, high=0.95, variant="none"),
    OpSpec("binary_cross_entropy",
           lambda x, t: F.binary_cross_entropy(x, t, chainrule.tensor(W5[:4], dtype=x.dtype),
                                               reduction="sum"),
           lambda x, t: TF.binary_cross_entropy(x, t, torch.tensor(W5[:4], dtype=x.dtype),
                                                reduction="sum"),
           shapes=[(3, 4), (3, 4)], low=0.05, high=0.95, variant="weight_sum"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    a = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4 + 5]], dtype=np.float32)
    x = chainrule.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y = np.array([1, 2])
    for ls in (0.0, 0.3):
        ours = F.cross_entropy(x, chainrule.tensor(y), label_smoothing=ls)
        theirs = TF.cross_entropy(t, torch.tensor(y), label_smoothing=ls)
        assert_close(ours, theirs)
        (gx,) = chainrule.autograd.grad(ours, x)
        (gt,) = torch.autograd.grad(theirs, t)
        assert np.isfinite(gx.numpy()).all()
        assert_close(gx, gt)


def test_cross_entropy_without_grad_matches() -> None:
    a = np.random.default_rng(4).standard_normal((6, 5)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 0])
    with chainrule.no_grad():
        ours = F.cross_entropy(chainrule.tensor(a, requires_grad=True), chainrule.tensor(y),
                               label_smoothing=0.2)
    assert not ours.requires_grad
    assert_close(ours, TF.cross_entropy(torch.tensor(a), torch.tensor(y), label_smoothing=0.2))


def test_cross_entropy_all_targets_ignored_is_nan_as_torch() -> None:
    x = chainrule.randn(3, 4, requires_grad=True)
    y = chainrule.tensor([-100, -100, -100])
    loss = F.cross_entropy(x, y)
    assert np.isnan(loss.item())
    assert F.cross_entropy(x, y, reduction="sum").item() == 0.0


def test_hessian_vector_product_through_cross_entropy_matches_torch() -> None:
    rng = np.random.default_rng(3)
    a, v = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    y = np.array([0, 3, 1, -100])
    res = []
    for lib, fn in ((chainrule, F.cross_entropy), (torch, TF.cross_entropy)):
        x = lib.tensor(a, requires_grad=True)
        loss = fn(x, lib.tensor(y), weight=lib.tensor(W5), label_smoothing=0.15)
        (g,) = lib.autograd.grad(loss, x, create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.tensor(v)).sum(), x)
        res.append(hv)
    assert_close(res[0], res[1])


def test_binary_cross_entropy_saturated_probabilities_match_torch() -> None:
    # log is clamped at -100 and the derivative divides by max(x (1 - x), 1e-12): finite.
    a = np.array([0.0, 1.0, 0.0, 1.0, 1e-30])
    tgt = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    x = chainrule.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    ours = F.binary_cross_entropy(x, chainrule.tensor(tgt), reduction="none")
    theirs = TF.binary_cross_entropy(t, torch.tensor(tgt), reduction="none")
    assert_close(ours, theirs)
    g = np.arange(1.0, 6.0)
    (gx,) = chainrule.autograd.grad(ours, x, chainrule.tensor(g))
    (gt,) = torch.autograd.grad(theirs, t, torch.tensor(g))
    assert_close(gx, gt)


def test_cross_entropy_grad_fn_is_one_fused_node() -> None:
    x = chainrule.randn(2, 3, requires_grad=True)
    loss = F.cross_entropy(x, chainrule.tensor([0, 2]))
    assert loss.grad_fn.name() == "NllLossBackward0"  # torch's name (nll_loss of log_softmax)
    assert loss.grad_fn.next_functions[0][0].name().endswith("AccumulateGrad")
