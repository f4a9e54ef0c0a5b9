"""Reductions against PyTorch (forward, vjp, jvp), finite differences, and targeted behaviour."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import chainrule
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _with_zeros(shape: tuple[int, ...], zeros: list[tuple[int, ...]]):
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        for z in zeros:
            x[z] = 0.0
        return [x]

    return make


def _nonzero(shape: tuple[int, ...], low: float = 0.3, high: float = 1.5):
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)]

    return make


def _distinct(shape: tuple[int, ...]):
    """Values well apart (no near-ties), so max/min are differentiable for finite differences."""

    def make(rng: np.random.Generator) -> list[np.ndarray]:
        n = math.prod(shape)
        return [(rng.permutation(n) * 0.37 - n * 0.15).reshape(shape).astype(np.float64)]

    return make


SPECS = [
    # sum
    OpSpec("sum", lambda x: x.sum(), lambda x: x.sum()),
    OpSpec("sum", lambda x: x.sum(1), lambda x: x.sum(1), variant="dim"),
    OpSpec("sum", lambda x: x.sum((0, 2), keepdim=True), lambda x: x.sum((0, 2), keepdim=True),
           shapes=[(2, 3, 4)], variant="dims_keepdim"),
    OpSpec("sum", lambda x: x.sum(-1), lambda x: x.sum(-1), shapes=[(5,)], variant="neg_dim"),
    OpSpec("sum", lambda x: x.sum(), lambda x: x.sum(), shapes=[()], variant="0d"),
    OpSpec("sum", lambda x: x.sum(0, keepdim=True), lambda x: x.sum(0, keepdim=True),
           shapes=[()], variant="0d_dim"),
    OpSpec("sum", lambda x: chainrule.sum(x, 0, dtype=chainrule.float64),
           lambda x: torch.sum(x, 0, dtype=torch.float64), covers=("to_copy",), variant="dtype"),
    # mean
    OpSpec("mean", lambda x: x.mean(), lambda x: x.mean()),
    OpSpec("mean", lambda x: x.mean((0, 1), keepdim=True), lambda x: x.mean((0, 1), keepdim=True),
           shapes=[(2, 3, 4)], variant="dims_keepdim"),
    OpSpec("mean", lambda x: x.mean(0), lambda x: x.mean(0), shapes=[()], variant="0d"),
    # prod
    OpSpec("prod", lambda x: x.prod(), lambda x: x.prod(), make_inputs=_nonzero((3, 4))),
    OpSpec("prod", lambda x: x.prod(1), lambda x: x.prod(1), make_inputs=_nonzero((3, 4)),
           variant="dim"),
    OpSpec("prod", lambda x: x.prod(0, keepdim=True), lambda x: x.prod(0, keepdim=True),
           make_inputs=_nonzero((3, 4)), variant="keepdim"),
    OpSpec("prod", lambda x: x.prod(), lambda x: x.prod(), shapes=[()], variant="0d"),
    OpSpec("prod", lambda x: x.prod(1), lambda x: x.prod(1),
           make_inputs=_with_zeros((3, 4), [(0, 1), (1, 0), (1, 3)]),
           covers=("cat", "narrow", "flip", "cumprod"), variant="zeros_dim"),
    OpSpec("prod", lambda x: x.prod(), lambda x: x.prod(),
           make_inputs=_with_zeros((2, 3), [(1, 2)]), variant="zero_all"),
    # amax / amin (full max/min share their rule)
    OpSpec("amax", lambda x: x.amax(), lambda x: x.amax(), make_inputs=_distinct((3, 4)),
           second_order=False),
    OpSpec("amax", lambda x: x.amax((0, 2), keepdim=True), lambda x: x.amax((0, 2), keepdim=True),
           make_inputs=_distinct((2, 3, 4)), second_order=False, variant="dims_keepdim"),
    OpSpec("amax", lambda x: x.amax(0), lambda x: x.amax(0), shapes=[()], second_order=False,
           variant="0d"),
    OpSpec("amin", lambda x: x.amin(1), lambda x: x.amin(1), make_inputs=_distinct((3, 4)),
           second_order=False),
    OpSpec("max_all", lambda x: x.max(), lambda x: x.max(), make_inputs=_distinct((3, 4)),
           second_order=False),
    OpSpec("min_all", lambda x: chainrule.min(x), lambda x: torch.min(x),
           make_inputs=_distinct((3, 4)), second_order=False),
    # max / min along a dim: values at the indices
    OpSpec("max_dim", lambda x: x.max(1), lambda x: x.max(1), make_inputs=_distinct((3, 4)),
           covers=("indexed_values", "indexed_values_backward")),
    OpSpec("max_dim", lambda x: x.max(0, keepdim=True), lambda x: x.max(0, keepdim=True),
           make_inputs=_distinct((3, 4)), variant="keepdim"),
    OpSpec("max_dim", lambda x: chainrule.max(x, 0), lambda x: torch.max(x, 0), shapes=[()],
           variant="0d"),
    OpSpec("min_dim", lambda x: x.min(-1), lambda x: x.min(-1), make_inputs=_distinct((2, 3, 4))),
    # norm
    OpSpec("norm", lambda x: x.norm(), lambda x: x.norm()),
    OpSpec("norm", lambda x: x.norm(dim=1, keepdim=True), lambda x: x.norm(dim=1, keepdim=True),
           variant="dim_keepdim"),
    OpSpec("norm", lambda x: chainrule.norm(x, 1, dim=0), lambda x: torch.norm(x, 1, dim=0),
           make_inputs=_nonzero((3, 4)), second_order=False, variant="p1"),
    OpSpec("norm", lambda x: x.norm(3, dim=(0, 1)), lambda x: x.norm(3, dim=(0, 1)),
           shapes=[(2, 3, 4)], variant="p3_dims"),
    OpSpec("norm", lambda x: x.norm(1.5, 1), lambda x: x.norm(1.5, 1),
           make_inputs=_nonzero((3, 4)), variant="p1_5"),
    OpSpec("norm", lambda x: x.norm(0.5), lambda x: x.norm(0.5), make_inputs=_nonzero((3, 4)),
           variant="p0_5"),
    OpSpec("norm", lambda x: x.norm(-2, 1), lambda x: x.norm(-2, 1), make_inputs=_nonzero((3, 4)),
           variant="neg_p"),
    OpSpec("norm", lambda x: x.norm(float("inf"), 1), lambda x: x.norm(float("inf"), 1),
           make_inputs=_distinct((3, 4)), second_order=False, variant="inf"),
    OpSpec("norm", lambda x: x.norm(float("-inf")), lambda x: x.norm(float("-inf")),
           make_inputs=_distinct((3, 4)), second_order=False, variant="neg_inf"),
    OpSpec("norm", lambda x: x.norm(0, 1), lambda x: x.norm(0, 1), make_inputs=_nonzero((3, 4)),
           variant="p0"),
    OpSpec("norm", lambda x: x.norm("fro", (0, 1)), lambda x: x.norm("fro", (0, 1)),
           shapes=[(2, 3, 4)], variant="fro"),
    OpSpec("norm", lambda x: x.norm(), lambda x: x.norm(), shapes=[()], variant="0d"),
    # logsumexp
    OpSpec("logsumexp", lambda x: x.logsumexp(1), lambda x: x.logsumexp(1)),
    OpSpec("logsumexp", lambda x: chainrule.logsumexp(x, (0, 2), keepdim=True),
           lambda x: torch.logsumexp(x, (0, 2), keepdim=True), shapes=[(2, 3, 4)],
           variant="dims_keepdim"),
    OpSpec("logsumexp", lambda x: x.logsumexp(0), lambda x: x.logsumexp(0), shapes=[()],
           variant="0d"),
    OpSpec("logsumexp", lambda x: x.logsumexp(1), lambda x: x.logsumexp(1),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)) + np.array([[500.0], [-500.0], [0]])],
           variant="large"),
    # cumsum / cumprod
    OpSpec("cumsum", lambda x: x.cumsum(1), lambda x: x.cumsum(1)),
    OpSpec("cumsum", lambda x: x.cumsum(0), lambda x: x.cumsum(0), shapes=[(2, 3, 4)],
           variant="dim0"),
    OpSpec("cumsum", lambda x: x.cumsum(-1), lambda x: x.cumsum(-1), shapes=[()], variant="0d"),
    OpSpec("cumprod", lambda x: x.cumprod(1), lambda x: x.cumprod(1),
           make_inputs=_nonzero((3, 4))),
    OpSpec("cumprod", lambda x: x.cumprod(1), lambda x: x.cumprod(1),
           make_inputs=_with_zeros((3, 5), [(0, 1), (1, 3), (2, 2), (2, 4)]), variant="zeros"),
    OpSpec("cumprod", lambda x: x.cumprod(0), lambda x: x.cumprod(0),
           make_inputs=_with_zeros((4, 2), [(0, 0), (1, 0), (3, 1)]), variant="zeros_dim0"),
    OpSpec("cumprod", lambda x: x.cumprod(0), lambda x: x.cumprod(0), shapes=[()], variant="0d"),
    # composites
    OpSpec("var", lambda x: x.var(), lambda x: x.var()),
    OpSpec("var", lambda x: x.var(1, keepdim=True), lambda x: x.var(1, keepdim=True),
           variant="dim_keepdim"),
    OpSpec("var", lambda x: x.var((0, 2), correction=0), lambda x: x.var((0, 2), correction=0),
           shapes=[(2, 3, 4)], variant="correction0"),
    OpSpec("var", lambda x: chainrule.var(x, 1, False), lambda x: torch.var(x, 1, False),
           variant="unbiased_false"),
    OpSpec("std", lambda x: x.std(), lambda x: x.std()),
    OpSpec("std", lambda x: x.std(0, correction=2), lambda x: x.std(0, correction=2),
           shapes=[(5, 3)], variant="correction2"),
    OpSpec("std", lambda x: x.std(1, unbiased=False, keepdim=True),
           lambda x: x.std(1, unbiased=False, keepdim=True), variant="unbiased_keepdim"),
    OpSpec("var_mean", lambda x: chainrule.var_mean(x, 1), lambda x: torch.var_mean(x, 1)),
    OpSpec("var_mean", lambda x: chainrule.var_mean(x, keepdim=True),
           lambda x: torch.var_mean(x, keepdim=True), variant="keepdim"),
    OpSpec("std_mean", lambda x: chainrule.std_mean(x, (0, 1), correction=0),
           lambda x: torch.std_mean(x, (0, 1), correction=0), shapes=[(2, 3, 4)]),
    OpSpec("max", lambda x, y: chainrule.max(x, y), lambda x, y: torch.max(x, y),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.uniform(-2, 2, (4,)) + 5.0],
           variant="binary"),
    OpSpec("min", lambda x, y: x.min(other=y), lambda x, y: x.min(other=y),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.uniform(-2, 2, (3, 4)) + 5.0],
           variant="binary"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


# ---------------------------------------------------------------------------------------------
# Forward-only reductions, dtypes and shapes against torch

INT = np.array([[3, -1, 4], [1, 5, -9]], dtype=np.int64)
BOOL = np.array([[True, False, True], [True, True, True]])
FLOAT = np.array([[1.5, 0.0, -2.0], [3.0, 3.0, 0.5]], dtype=np.float32)
UINT8 = np.array([[1, 0, 2], [3, 4, 5]], dtype=np.uint8)


@pytest.mark.parametrize("arr", [INT, BOOL, FLOAT, UINT8], ids=["int64", "bool", "float", "uint8"])
@pytest.mark.parametrize("call", [
    lambda m, x: m.sum(x), lambda m, x: m.sum(x, 1), lambda m, x: m.prod(x),
    lambda m, x: m.prod(x, 0, keepdim=True), lambda m, x: m.cumsum(x, 1),
    lambda m, x: m.cumprod(x, 0), lambda m, x: m.all(x), lambda m, x: m.any(x, 1),
    lambda m, x: m.all(x, (0, 1), keepdim=True), lambda m, x: m.count_nonzero(x),
    lambda m, x: m.count_nonzero(x, 0), lambda m, x: m.amax(x, 1), lambda m, x: m.max(x),
    lambda m, x: m.min(x, 0), lambda m, x: m.sum(x, dtype=m.float64),
    lambda m, x: m.cumsum(x, 0, dtype=m.float32),
], ids=["sum", "sum_dim", "prod", "prod_keepdim", "cumsum", "cumprod", "all", "any_dim",
        "all_dims_keepdim", "count_nonzero", "count_nonzero_dim", "amax", "max", "min_dim",
        "sum_dtype", "cumsum_dtype"])
def test_dtypes_match_torch(arr: np.ndarray, call) -> None:
    ours = call(chainrule, chainrule.tensor(arr))
    theirs = call(torch, torch.tensor(arr))
    assert_close(ours, theirs)


@pytest.mark.parametrize("call", [
    lambda m, x: m.argmax(x), lambda m, x: m.argmax(x, keepdim=True),
    lambda m, x: m.argmax(x, 1), lambda m, x: m.argmin(x, 0, keepdim=True),
    lambda m, x: m.argmin(x), lambda m, x: m.argmax(x[0, 0], 0),
    lambda m, x: m.argmax(x[0, 0], 0, keepdim=True), lambda m, x: m.argmax(x, -1),
], ids=["flat", "flat_keepdim", "dim", "argmin_keepdim", "argmin_flat", "0d", "0d_keepdim",
        "neg_dim"])
def test_argmax_argmin(call) -> None:
    x = np.array([[1.0, 7.0, 7.0, -2.0], [4.0, -3.0, 0.0, -3.0]], dtype=np.float32)
    assert_close(call(chainrule, chainrule.tensor(x)), call(torch, torch.tensor(x)))


def test_argmax_nan_and_first_tie() -> None:
    x = [1.0, float("nan"), 3.0, float("nan")]
    assert chainrule.argmax(chainrule.tensor(x)).item() == torch.argmax(torch.tensor(x)).item()
    assert chainrule.argmin(chainrule.tensor(x)).item() == 1
    assert chainrule.tensor([2.0, 5.0, 5.0]).argmax().item() == 1


def test_empty_reductions_match_torch() -> None:
    e = np.ones((0, 3), dtype=np.float32)
    for call in [lambda m, x: m.sum(x), lambda m, x: m.prod(x), lambda m, x: m.mean(x),
                 lambda m, x: m.sum(x, 0), lambda m, x: m.logsumexp(x, 0),
                 lambda m, x: m.amax(x, 1), lambda m, x: m.max(x, 1).values,
                 lambda m, x: m.norm(x), lambda m, x: m.cumsum(x, 0)]:
        assert_close(call(chainrule, chainrule.tensor(e)), call(torch, torch.tensor(e)),
                     equal_nan=True)


# ---------------------------------------------------------------------------------------------
# max / min with a dim: namedtuple results, indices, gradient routing


def test_max_dim_returns_named_tuple() -> None:
    x = chainrule.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True)
    out = x.max(dim=1)
    values, indices = out
    assert isinstance(out, tuple) and isinstance(out, chainrule.return_types.max)
    assert out.values is values and out.indices is indices and out[0] is values
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert indices.dtype == chainrule.int64 and not indices.requires_grad
    assert values.grad_fn.name() == "MaxBackward0"
    assert repr(out).startswith("chainrule.return_types.max(\nvalues=tensor([5., 7.]")
    low = x.min(0, keepdim=True)
    assert isinstance(low, chainrule.return_types.min)
    assert low.values.shape == (1, 3) and low.indices.tolist() == [[0, 1, 0]]
    assert low.values.grad_fn.name() == "MinBackward0"


def test_max_dim_gradient_goes_to_first_index_amax_splits_ties() -> None:
    data = [[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]
    # max(dim) routes everything to one index; amax shares among the tied maxima
    tie_dim = chainrule.tensor(data, requires_grad=True)
    tie_dim.max(1).values.backward(chainrule.tensor([2.0, -1.0]))
    t_dim = torch.tensor(data, requires_grad=True)
    t_dim.max(1).values.backward(torch.tensor([2.0, -1.0]))
    assert_close(tie_dim.grad, t_dim.grad)
    assert tie_dim.grad.tolist() == [[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]
    for name in ("amax", "amin"):
        ours = chainrule.tensor(data, requires_grad=True)
        theirs = torch.tensor(data, requires_grad=True)
        getattr(ours, name)(1).backward(chainrule.tensor([2.0, -1.0]))
        getattr(theirs, name)(1).backward(torch.tensor([2.0, -1.0]))
        assert_close(ours.grad, theirs.grad)
    full = chainrule.tensor(data, requires_grad=True)
    full.max().backward()
    t_full = torch.tensor(data, requires_grad=True)
    t_full.max().backward()
    assert_close(full.grad, t_full.grad)
    assert full.grad.tolist() == [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]


def test_norm_inf_ties_match_torch() -> None:
    data = [[-3.0, 1.0, 3.0], [2.0, -2.0, 0.5]]
    ours = chainrule.tensor(data, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    ours.norm(float("inf"), dim=1).backward(chainrule.tensor([1.0, 2.0]))
    theirs.norm(float("inf"), dim=1).backward(torch.tensor([1.0, 2.0]))
    assert_close(ours.grad, theirs.grad)


def test_max_binary_form_and_nan() -> None:
    x = chainrule.tensor([1.0, float("nan"), 3.0])
    r = x.max(0)
    assert math.isnan(r.values.item()) and r.indices.item() == 1
    assert torch.max(torch.tensor([1.0, float("nan"), 3.0]), 0).indices.item() == 1
    y = chainrule.tensor([2.0, 0.0, 4.0])
    assert chainrule.max(y, chainrule.tensor(2.5)).tolist() == [2.5, 2.5, 4.0]
    assert y.min(chainrule.tensor([3.0, -1.0, 5.0])).tolist() == [2.0, -1.0, 4.0]


# ---------------------------------------------------------------------------------------------
# Zero-sensitive gradients


def test_prod_and_cumprod_gradients_with_zeros_match_torch() -> None:
    data = np.array([[0.0, 2.0, 3.0, 0.0], [1.5, 0.0, -2.0, 4.0], [1.0, 2.0, -1.0, 0.5]])
    rng = np.random.default_rng(0)
    for f in [lambda x: x.prod(1), lambda x: x.prod(), lambda x: x.cumprod(1),
              lambda x: x.cumprod(0)]:
        ours = chainrule.tensor(data, requires_grad=True)
        theirs = torch.tensor(data, requires_grad=True)
        o, t_ = f(ours), f(theirs)
        cot = rng.standard_normal(tuple(o.shape))
        o.backward(chainrule.tensor(cot))
        t_.backward(torch.tensor(cot))
        assert_close(ours.grad, theirs.grad)


def test_norm_and_std_gradient_zero_at_zero() -> None:
    for f in [lambda x: x.norm(), lambda x: x.norm(dim=1), lambda x: x.norm(3, 1),
              lambda x: x.norm(1.5), lambda x: x.std(1), lambda x: chainrule.std_mean(x)[0]]:
        x = chainrule.zeros(2, 3, requires_grad=True)
        f(x).sum().backward()
        assert x.grad.tolist() == [[0.0] * 3] * 2
    t_ = torch.zeros(2, 3, requires_grad=True)
    t_.std(1).sum().backward()
    assert t_.grad.abs().sum().item() == 0.0


def test_logsumexp_stable_and_infinite() -> None:
    x = chainrule.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]])
    assert_close(x.logsumexp(1), torch.tensor([1000.0, -1000.0]) + math.log(2.0))
    inf = float("inf")
    for row in ([-inf, -inf], [inf, 1.0], [inf, inf]):
        assert_close(chainrule.tensor(row).logsumexp(0), torch.tensor(row).logsumexp(0))
    assert chainrule.logsumexp(chainrule.tensor([[1, 2]]), 1).dtype == chainrule.float32


def test_var_degrees_of_freedom_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = chainrule.ones(2, 3).var(1, correction=5)
    assert any("degrees of freedom is <= 0" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.ones(2, 3).var(1, correction=5)
        single = torch.ones(1).var()
        assert_close(chainrule.ones(1).var(), single, equal_nan=True)
    assert_close(out, expected, equal_nan=True)


def test_inplace_scans() -> None:
    x = chainrule.tensor([1.0, 2.0, 3.0])
    v = x._version
    assert x.cumsum_(0) is x and x.tolist() == [1.0, 3.0, 6.0] and x._version == v + 1
    assert x.cumprod_(0).tolist() == [1.0, 3.0, 18.0]


def test_grad_fn_names() -> None:
    x = chainrule.ones(2, 3, requires_grad=True)
    names = {"SumBackward0": x.sum(), "MeanBackward0": x.mean(), "ProdBackward0": x.prod(),
             "AmaxBackward0": x.amax(), "MaxBackward1": x.max(), "MinBackward1": x.min(),
             "LinalgVectorNormBackward0": x.norm(), "LogsumexpBackward0": x.logsumexp(1),
             "CumsumBackward0": x.cumsum(0), "CumprodBackward0": x.cumprod(1)}
    for name, t_ in names.items():
        assert t_.grad_fn.name() == name


# ---------------------------------------------------------------------------------------------
# Errors: the exception type torch raises for the same misuse


ERRORS = [
    lambda m: m.ones(2, 3).sum(2),
    lambda m: m.ones(2, 3).sum((0, 0)),
    lambda m: m.ones(2, 3).amax((1, -1)),
    lambda m: m.ones(2, 3, dtype=m.int64).mean(),
    lambda m: m.ones(2, 3, dtype=m.int64).var(),
    lambda m: m.ones(2, 3, dtype=m.int64).std(1),
    lambda m: m.ones(2, 3, dtype=m.int64).norm(),
    lambda m: m.ones(0, 3).max(),
    lambda m: m.ones(0, 3).max(0),
    lambda m: m.ones(0, 3).amax(),
    lambda m: m.ones(0, 3).amin((0, 1)),
    lambda m: m.ones(0, 3).argmax(),
    lambda m: m.ones(0, 3).argmax(0),
    lambda m: m.ones(2, 3).max(2),
    lambda m: m.ones(2, 3).cumsum(2),
    lambda m: m.ones(2, 3).prod((0, 1)),
    lambda m: m.tensor([True, False]).argmax(),
    lambda m: m.ones(2, 3).norm("nuc", (0, 1, 2)),
    lambda m: m.ones(2, 3).norm("bad"),
    lambda m: m.ones(0).norm(float("inf")),
]


@pytest.mark.parametrize("misuse", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_errors_match_torch_type(misuse) -> None:
    with pytest.raises(Exception) as expected:
        misuse(torch)
    with pytest.raises(expected.type):
        misuse(chainrule)


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero"):
        chainrule.ones(0, 3).max(0)
    with pytest.raises(RuntimeError, match="could not infer output dtype"):
        chainrule.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point"):
        chainrule.tensor([1, 2]).norm()


def test_modifying_max_indices_in_place_is_caught() -> None:
    x = chainrule.tensor([[1.0, 3.0], [4.0, 2.0]], requires_grad=True)
    values, indices = x.max(1)
    indices.add_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        values.sum().backward()


def test_large_sums_over_the_batch_split_over_threads_match_torch(monkeypatch) -> None:
    # Floating sums over the leading dim of large arrays run one part of it per thread
    # (chainrule/_backend/threads.py); forced here on a small array, with two parts.
    from chainrule._backend import threads
    from chainrule.ops import reduce

    monkeypatch.setattr(reduce, "_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    x = np.random.default_rng(0).standard_normal((5, 3, 4, 2)).astype(np.float32)
    ours, theirs = chainrule.tensor(x), torch.tensor(x)
    for dims, keep in (((0, 2, 3), False), ((0,), True), (None, False), ((1,), False)):
        got = ours.sum(dims, keepdim=keep) if dims else ours.sum()
        want = theirs.sum(dims, keepdim=keep) if dims else theirs.sum()
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
