"""Losses against PyTorch: every loss, in functional and Module form, with every reduction and
option (weights, ignore_index, label smoothing, probability targets, N-d inputs, pos_weight,
log_target, full, margins, swap, ...): values, input (and target) gradients with a random
cotangent, and second derivatives; the deprecated size_average / reduce flags; buffers in
state_dict; error parity."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close

R = ("none", "mean", "sum")
RNG = np.random.default_rng(0)


def _f(lib, name: str):  # noqa: ANN001, ANN202
    return getattr(lib.nn.functional, name)


class Case:
    """One loss computation written once for both libraries: ``fn(lib, *tensors)``."""

    def __init__(self, id: str, fn: Callable, inputs: list[np.ndarray], diff: tuple[int, ...],
                 second_order: bool = True) -> None:
        self.id, self.fn, self.inputs, self.diff = id, fn, inputs, diff
        self.second_order = second_order


def _x(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return RNG.uniform(low, high, size=shape)


def _labels(n_classes: int, *shape: int, ignore: int | None = None) -> np.ndarray:
    t = RNG.integers(0, n_classes, size=shape)
    if ignore is not None and t.size > 1:
        t.flat[0] = ignore
    return t


def _probs(*shape: int, dim: int = 1) -> np.ndarray:
    e = np.exp(RNG.standard_normal(shape))
    return e / e.sum(axis=dim, keepdims=True)


W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])


def _cases() -> list[Case]:
    cases = []
    add = cases.append
    for r in R:
        for name in ("mse_loss", "l1_loss"):
            add(Case(f"{name}-{r}", lambda L, a, b, n=name, r=r: _f(L, n)(a, b, reduction=r),
                     [_x(4, 5), _x(4, 5)], (0, 1)))
            add(Case(f"{name}-weight-{r}",
                     lambda L, a, b, w, n=name, r=r: _f(L, n)(a, b, reduction=r, weight=w),
                     [_x(4, 5), _x(4, 5), _x(4, 5, low=0.1, high=2)], (0, 1)))
            add(Case(f"{name}-module-{r}",
                     lambda L, a, b, n=name, r=r: getattr(
                         L.nn, {"mse_loss": "MSELoss", "l1_loss": "L1Loss"}[n])(reduction=r)(a, b),
                     [_x(3, 2, 2), _x(3, 2, 2)], (0, 1)))
        for beta in (1.0, 0.5, 0.0):
            add(Case(f"smooth_l1-{beta}-{r}",
                     lambda L, a, b, r=r, beta=beta: L.nn.SmoothL1Loss(reduction=r, beta=beta)(
                         a, b),
                     [_x(4, 5), _x(4, 5)], (0, 1)))
        for delta in (1.0, 0.7, 2.5):
            add(Case(f"huber-{delta}-{r}",
                     lambda L, a, b, r=r, d=delta: L.nn.HuberLoss(reduction=r, delta=d)(a, b),
                     [_x(4, 5), _x(4, 5)], (0, 1)))
        add(Case(f"huber-weight-{r}",
                 lambda L, a, b, w, r=r: _f(L, "huber_loss")(a, b, r, 0.6, weight=w),
                 [_x(4, 5), _x(4, 5), _x(4, 5, low=0.1, high=2)], (0, 1)))
        # NLL / cross-entropy over class indices
        for weighted in (False, True):
            for ignore in (-100, 2):
                for shape in ((6, 5), (2, 5, 3, 2), (2, 5, 4), (5,)):
                    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
                    lab = _labels(5, *tshape, ignore=ignore if ignore >= 0 else None)

                    def nll(L, a, t, r=r, w=weighted, ig=ignore):  # noqa: ANN001, ANN202
                        wt = L.tensor(W5, dtype=a.dtype) if w else None
                        return L.nn.NLLLoss(wt, ignore_index=ig, reduction=r)(
                            _f(L, "log_softmax")(a, 0 if a.ndim == 1 else 1), t)
                    add(Case(f"nll-w{int(weighted)}-ig{ignore}-{len(shape)}d-{r}", nll,
                             [_x(*shape), lab], (0,)))
                    for ls in (0.0, 0.25):
                        def ce(L, a, t, r=r, w=weighted, ig=ignore, ls=ls):  # noqa: ANN001, ANN202
                            wt = L.tensor(W5, dtype=a.dtype) if w else None
                            return L.nn.CrossEntropyLoss(wt, ignore_index=ig, reduction=r,
                                                         label_smoothing=ls)(a, t)
                        add(Case(f"ce-w{int(weighted)}-ig{ignore}-ls{ls}-{len(shape)}d-{r}", ce,
                                 [_x(*shape) * 2, lab], (0,)))
            # class probabilities (differentiable target too)
            for ls in (0.0, 0.3):
                for shape in ((6, 5), (2, 5, 3), (5,)):
                    def ce_p(L, a, t, r=r, w=weighted, ls=ls):  # noqa: ANN001, ANN202
                        wt = L.tensor(W5, dtype=a.dtype) if w else None
                        return _f(L, "cross_entropy")(a, t, wt, reduction=r, label_smoothing=ls)
                    add(Case(f"ce-probs-w{int(weighted)}-ls{ls}-{len(shape)}d-{r}", ce_p,
                             [_x(*shape), _probs(*shape, dim=0 if len(shape) == 1 else 1)],
                             (0, 1)))
        # binary cross-entropy
        for wshape in (None, (5,), (4, 5), (4, 1)):
            def bce(L, a, t, r=r, ws=wshape):  # noqa: ANN001, ANN202
                w = None if ws is None else L.tensor(np.linspace(0.5, 2, int(np.prod(ws)))
                                                     .reshape(ws), dtype=a.dtype)
                return L.nn.BCELoss(w, reduction=r)(a, t)
            add(Case(f"bce-w{wshape}-{r}", bce, [_x(4, 5, low=0.02, high=0.98),
                                                 _x(4, 5, low=0, high=1)], (0, 1)))
        for wshape, pshape in ((None, None), ((5,), None), (None, (5,)), ((4, 1), (4, 5))):
            def bcel(L, a, t, r=r, ws=wshape, ps=pshape):  # noqa: ANN001, ANN202
                w = None if ws is None else L.tensor(np.linspace(0.5, 2, int(np.prod(ws)))
                                                     .reshape(ws), dtype=a.dtype)
                pw = None if ps is None else L.tensor(np.linspace(0.2, 3, int(np.prod(ps)))
                                                      .reshape(ps), dtype=a.dtype)
                return L.nn.BCEWithLogitsLoss(w, reduction=r, pos_weight=pw)(a, t)
            add(Case(f"bcel-w{wshape}-p{pshape}-{r}", bcel, [_x(4, 5) * 10,
                                                              _x(4, 5, low=0, high=1)], (0, 1)))
        for log_input in (True, False):
            for full in (False, True):
                def pois(L, a, t, r=r, li=log_input, full=full):  # noqa: ANN001, ANN202
                    return L.nn.PoissonNLLLoss(li, full, eps=1e-6, reduction=r)(a, t)
                add(Case(f"poisson-log{int(log_input)}-full{int(full)}-{r}", pois,
                         [_x(4, 5, low=0.1, high=2), _x(4, 5, low=0, high=4)], (0, 1)))
        for margin in (0.0, 0.4):
            add(Case(f"cosine-m{margin}-{r}",
                     lambda L, a, b, t, r=r, m=margin: L.nn.CosineEmbeddingLoss(m, reduction=r)(
                         a, b, t),
                     [_x(6, 4), _x(6, 4), np.array([1, -1, 1, -1, -1, 1])], (0, 1)))
            add(Case(f"ranking-m{margin}-{r}",
                     lambda L, a, b, t, r=r, m=margin: L.nn.MarginRankingLoss(m, reduction=r)(
                         a, b, t),
                     [_x(6), _x(6), np.array([1.0, -1, 1, -1, -1, 1])], (0, 1)))
        for p, swap, eps in ((2.0, False, 1e-6), (1.0, True, 1e-6), (3.0, True, 0.1)):
            add(Case(f"triplet-p{p}-swap{int(swap)}-{r}",
                     lambda L, a, b, c, r=r, p=p, s=swap, e=eps: L.nn.TripletMarginLoss(
                         0.7, p, e, s, reduction=r)(a, b, c),
                     [_x(5, 4), _x(5, 4), _x(5, 4)], (0, 1, 2)))
        for full, vshape in ((False, (4, 5)), (True, (4, 1)), (False, (4,))):
            add(Case(f"gaussian-full{int(full)}-v{len(vshape)}-{r}",
                     lambda L, a, b, v, r=r, f=full: L.nn.GaussianNLLLoss(full=f, reduction=r)(
                         a, b, v),
                     [_x(4, 5), _x(4, 5), _x(*vshape, low=0.2, high=2)], (0, 1, 2)))
        add(Case(f"soft_margin-{r}", lambda L, a, t, r=r: L.nn.SoftMarginLoss(reduction=r)(a, t),
                 [_x(4, 5), np.sign(_x(4, 5))], (0,)))
        add(Case(f"hinge-{r}", lambda L, a, t, r=r: L.nn.HingeEmbeddingLoss(0.8, reduction=r)(
            a, t), [_x(4, 5), np.sign(_x(4, 5))], (0,)))
    for r in ("none", "mean", "sum", "batchmean"):
        for log_target in (False, True):
            def kl(L, a, t, r=r, lt=log_target):  # noqa: ANN001, ANN202
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # reduction='mean' warns in both
                    return L.nn.KLDivLoss(reduction=r, log_target=lt)(a, t)
            p = _probs(4, 5)
            add(Case(f"kl-{r}-log{int(log_target)}", kl,
                     [np.log(_probs(4, 5)), np.log(p) if log_target else p], (0, 1)))
    return cases


CASES = _cases()


def _run(case: Case, lib, dtype):  # noqa: ANN001, ANN202
    args = []
    for i, a in enumerate(case.inputs):
        arr = a.astype(dtype) if a.dtype.kind == "f" else a
        args.append(lib.tensor(arr, requires_grad=i in case.diff))
    return args, case.fn(lib, *args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_loss_matches_torch(case: Case, dtype: type) -> None:
    ours_in, ours = _run(case, chainrule, dtype)
    theirs_in, theirs = _run(case, torch, dtype)
    assert ours.dtype.itemsize == theirs.dtype.itemsize
    assert_close(ours, theirs, rtol=1e-5 if dtype == np.float32 else 1e-7,
                 atol=1e-5 if dtype == np.float32 else 1e-7, check_dtype=False)
    cot = RNG.standard_normal(tuple(theirs.shape)).astype(dtype)
    ours_g = chainrule.autograd.grad(ours, [ours_in[i] for i in case.diff],
                                     chainrule.tensor(cot), allow_unused=True)
    theirs_g = torch.autograd.grad(theirs, [theirs_in[i] for i in case.diff],
                                   torch.tensor(cot), allow_unused=True)
    tol = 2e-5 if dtype == np.float32 else 1e-7
    for i, og, tg in zip(case.diff, ours_g, theirs_g):
        og = chainrule.zeros_like(ours_in[i]) if og is None else og
        tg = torch.zeros_like(theirs_in[i]) if tg is None else tg
        assert_close(og, tg, rtol=tol, atol=tol, msg=f"gradient of input {i}")


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order], ids=lambda c: c.id)
def test_loss_second_derivatives_match_torch(case: Case) -> None:
    # d/dx of <d loss / dx, v>: a Hessian-vector product through the loss
    ours_in, ours = _run(case, chainrule, np.float64)
    theirs_in, theirs = _run(case, torch, np.float64)
    x, xt = ours_in[case.diff[0]], theirs_in[case.diff[0]]
    (g,) = chainrule.autograd.grad(ours.sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad(theirs.sum(), xt, create_graph=True)
    v = RNG.standard_normal(x.shape)
    if not gt.requires_grad:
        assert not g.requires_grad or (chainrule.autograd.grad(
            (g * chainrule.tensor(v)).sum(), x, allow_unused=True)[0] is None)
        return
    (h,) = chainrule.autograd.grad((g * chainrule.tensor(v)).sum(), x, allow_unused=True)
    (ht,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), xt, allow_unused=True)
    h = chainrule.zeros_like(x) if h is None else h
    if ht is None or ht._is_zerotensor():  # torch's lazy zeros (abs'' = 0) have no numpy
        ht = torch.zeros_like(xt)
    assert_close(h, ht, rtol=1e-6, atol=1e-7)


# -- options handled outside the value ----------------------------------------------------------
def test_legacy_size_average_and_reduce_flags() -> None:
    a, b = _x(3, 4), _x(3, 4)
    for kwargs, reduction in (({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                              ({"size_average": True, "reduce": True}, "mean")):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            m = nn.MSELoss(**kwargs)
        assert m.reduction == reduction
        with pytest.warns(UserWarning, match="deprecated"):
            ours = chainrule.nn.functional.l1_loss(chainrule.tensor(a), chainrule.tensor(b),
                                                   **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.nn.functional.l1_loss(torch.tensor(a), torch.tensor(b), **kwargs)
        assert_close(ours, theirs)


def test_broadcast_target_warns_and_broadcasts_as_torch() -> None:
    a, b = _x(3, 4), _x(4)
    with pytest.warns(UserWarning, match="Using a target size"):
        ours = chainrule.nn.functional.mse_loss(chainrule.tensor(a), chainrule.tensor(b),
                                                reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(b), reduction="none")
    assert_close(ours, theirs)


def test_kl_div_mean_warns_as_torch() -> None:
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        chainrule.nn.functional.kl_div(chainrule.zeros(2, 3), chainrule.ones(2, 3) / 3)


def test_weighted_loss_buffers_in_state_dict() -> None:
    for name, kwargs in (("CrossEntropyLoss", {"weight": W5}), ("NLLLoss", {"weight": W5}),
                         ("BCELoss", {"weight": W5}),
                         ("BCEWithLogitsLoss", {"weight": W5, "pos_weight": W5}),
                         ("CrossEntropyLoss", {}), ("MSELoss", {})):
        ours = getattr(nn, name)(**{k: chainrule.tensor(v) for k, v in kwargs.items()})
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kwargs.items()})
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)


def test_module_attributes_match_torch() -> None:
    ce, ce_t = nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.1, reduction="sum"), \
        torch.nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.1, reduction="sum")
    for attr in ("ignore_index", "label_smoothing", "reduction"):
        assert getattr(ce, attr) == getattr(ce_t, attr)
    tm, tm_t = nn.TripletMarginLoss(), torch.nn.TripletMarginLoss()
    for attr in ("margin", "p", "eps", "swap", "reduction"):
        assert getattr(tm, attr) == getattr(tm_t, attr)


def test_cross_entropy_trains_a_linear_classifier() -> None:
    # A small end-to-end check: the fused loss drives a softmax regression to fit its data.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 3))).argmax(1)
    w = chainrule.zeros(4, 3, requires_grad=True)
    xs, ys = chainrule.tensor(x), chainrule.tensor(y)
    first = None
    for _ in range(100):
        loss = chainrule.nn.functional.cross_entropy(xs @ w, ys, label_smoothing=0.05)
        first = loss.item() if first is None else first
        (g,) = chainrule.autograd.grad(loss, w)
        with chainrule.no_grad():
            w = (w - 1.0 * g).requires_grad_()
    assert loss.item() < 0.4 * first
    assert ((xs @ w).argmax(1).numpy() == y).mean() > 0.9


# -- errors --------------------------------------------------------------------------------------
def _errors() -> list[tuple[str, Callable]]:
    return [
        ("ce-float-target", lambda L: _f(L, "cross_entropy")(L.zeros(3, 5), L.zeros(3))),
        ("ce-int32-target", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.tensor([1, 2, 3], dtype=L.int32))),
        ("ce-batch", lambda L: _f(L, "cross_entropy")(L.zeros(3, 5), L.tensor([1, 2]))),
        ("ce-out-of-range", lambda L: _f(L, "cross_entropy")(L.zeros(3, 5), L.tensor([1, 2, 7]))),
        ("ce-negative", lambda L: _f(L, "cross_entropy")(L.zeros(3, 5), L.tensor([1, 2, -1]))),
        ("ce-multi-target", lambda L: _f(L, "cross_entropy")(L.zeros(3, 5), L.zeros(3, 4))),
        ("ce-weight-size", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.tensor([1, 2, 3]), weight=L.ones(4))),
        ("ce-weight-dtype", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.tensor([1, 2, 3]), weight=L.ones(5, dtype=L.float64))),
        ("ce-reduction", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.tensor([1, 2, 3]), reduction="avg")),
        ("ce-smoothing", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.tensor([1, 2, 3]), label_smoothing=1.5)),
        ("ce-probs-ignore", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.ones(3, 5) / 5, ignore_index=1)),
        ("ce-probs-int", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.ones(3, 5, dtype=L.int32))),
        ("ce-probs-weight", lambda L: _f(L, "cross_entropy")(
            L.zeros(3, 5), L.ones(3, 5) / 5, weight=L.ones(3))),
        ("ce-3d-target", lambda L: _f(L, "cross_entropy")(L.zeros(2, 5, 3), L.zeros(2, 4).long())),
        ("ce-4d-target", lambda L: _f(L, "cross_entropy")(
            L.zeros(2, 5, 3, 3), L.zeros(2, 3, 4).long())),
        ("ce-4d-rank", lambda L: _f(L, "cross_entropy")(L.zeros(2, 5, 3, 3), L.zeros(2, 3).long())),
        ("nll-0d", lambda L: _f(L, "nll_loss")(L.zeros(()), L.tensor(1))),
        ("nll-weight-2d", lambda L: _f(L, "nll_loss")(
            L.zeros(3, 5), L.tensor([1, 2, 3]), weight=L.ones(5, 1))),
        ("nll-byte-ok-range", lambda L: _f(L, "nll_loss")(
            L.zeros(3, 5), L.tensor([1, 2, 9], dtype=L.uint8))),
        ("mse-shape", lambda L: _f(L, "mse_loss")(L.zeros(3, 5), L.zeros(3, 4))),
        ("mse-weight-shape", lambda L: _f(L, "mse_loss")(L.zeros(3), L.zeros(3),
                                                         weight=L.ones(1))),
        ("mse-reduction", lambda L: _f(L, "mse_loss")(L.zeros(3), L.zeros(3), reduction="x")),
        ("l1-weight-reduction", lambda L: _f(L, "l1_loss")(
            L.zeros(3), L.zeros(3), reduction="x", weight=L.ones(3))),
        ("smooth-beta", lambda L: _f(L, "smooth_l1_loss")(L.zeros(3), L.zeros(3), beta=-1.0)),
        ("huber-delta", lambda L: _f(L, "huber_loss")(L.zeros(3), L.zeros(3), delta=0.0)),
        ("bce-size", lambda L: _f(L, "binary_cross_entropy")(L.zeros(3), L.zeros(3, 1))),
        ("bce-range", lambda L: _f(L, "binary_cross_entropy")(L.ones(3) * 2, L.zeros(3))),
        ("bce-dtype", lambda L: _f(L, "binary_cross_entropy")(
            L.ones(3) / 2, L.zeros(3, dtype=L.float64))),
        ("bcel-size", lambda L: _f(L, "binary_cross_entropy_with_logits")(
            L.zeros(3), L.zeros(3, 1))),
        ("kl-reduction", lambda L: _f(L, "kl_div")(L.zeros(3), L.zeros(3), reduction="x")),
        ("poisson-reduction", lambda L: _f(L, "poisson_nll_loss")(
            L.zeros(3), L.zeros(3), reduction="x")),
        ("cosine-target-2d", lambda L: _f(L, "cosine_embedding_loss")(
            L.zeros(3, 4), L.zeros(3, 4), L.ones(3, 1))),
        ("cosine-target-0d", lambda L: _f(L, "cosine_embedding_loss")(
            L.zeros(3, 4), L.zeros(3, 4), L.ones(()))),
        ("ranking-dims", lambda L: _f(L, "margin_ranking_loss")(
            L.zeros(3), L.zeros(3, 1), L.ones(3))),
        ("triplet-dims", lambda L: _f(L, "triplet_margin_loss")(
            L.zeros(3, 4), L.zeros(4), L.zeros(3, 4))),
        ("triplet-margin", lambda L: _f(L, "triplet_margin_loss")(
            L.zeros(3, 4), L.zeros(3, 4), L.zeros(3, 4), margin=0.0)),
        ("triplet-module-margin", lambda L: L.nn.TripletMarginLoss(margin=-1.0)),
        ("gaussian-var-size", lambda L: _f(L, "gaussian_nll_loss")(
            L.zeros(3, 4), L.zeros(3, 4), L.ones(2))),
        ("gaussian-var-negative", lambda L: _f(L, "gaussian_nll_loss")(
            L.zeros(3, 4), L.zeros(3, 4), -L.ones(3, 4))),
        ("gaussian-reduction", lambda L: _f(L, "gaussian_nll_loss")(
            L.zeros(3, 4), L.zeros(3, 4), L.ones(3, 4), reduction="x")),
    ]


@pytest.mark.parametrize("name,fn", _errors(), ids=[e[0] for e in _errors()])
@pytest.mark.filterwarnings("ignore:Using a target size")
def test_errors_match_torch(name: str, fn: Callable) -> None:
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(type(theirs.value)) as ours:
        fn(chainrule)
    expected = str(theirs.value).replace("torch.Size", "chainrule.Size")
    assert str(ours.value) == expected
