"""Element-wise ops against PyTorch (forward, vjp, jvp) and finite differences."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.ops.elementwise import ReluBackward, SigmoidBackward, TanhBackward
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

BROADCAST = [(3, 4), (4,)]


def _pos(rng: np.random.Generator, *shapes: tuple[int, ...], low: float = 0.5,
         high: float = 2.0) -> list[np.ndarray]:
    return [rng.uniform(low, high, size=s) for s in shapes]


def _distinct_pair(rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.uniform(-2, 2, size=(3, 4))
    y = x + rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.2, 1.0, size=(3, 4))
    return [x, y]


def _away_from_int(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.integers(-3, 3, size=(3, 4)) + rng.uniform(0.1, 0.4, size=(3, 4))]


SPECS = [
    OpSpec("add", lambda x, y: x + y, lambda x, y: x + y, shapes=BROADCAST),
    OpSpec("add", lambda x, y: chainrule.add(x, y, alpha=2), lambda x, y: torch.add(x, y, alpha=2),
           shapes=[(2, 1, 3), (4, 1)], variant="alpha_broadcast"),
    OpSpec("add", lambda x: x + 1.5, lambda x: x + 1.5, shapes=[()], variant="scalar"),
    OpSpec("sub", lambda x, y: x - y, lambda x, y: x - y, shapes=BROADCAST),
    OpSpec("sub", lambda x: 2.0 - x, lambda x: 2.0 - x, variant="rsub"),
    OpSpec("mul", lambda x, y: x * y, lambda x, y: x * y, shapes=[(4,), (3, 4)]),
    OpSpec("mul", lambda x, y: x * y, lambda x, y: x * y, shapes=[(), (2, 3)], variant="0d"),
    OpSpec("div", lambda x, y: x / y, lambda x, y: x / y,
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.uniform(0.5, 2, (4,))]),
    OpSpec("div", lambda x: 3.0 / x, lambda x: 3.0 / x, low=0.5, high=2.0, variant="rdiv"),
    OpSpec("neg", lambda x: -x, lambda x: -x),
    OpSpec("pow", lambda x, y: x ** y, lambda x, y: x ** y,
           make_inputs=lambda r: _pos(r, (3, 4), (4,))),
    OpSpec("pow", lambda x: 2.0 ** x, lambda x: 2.0 ** x, variant="rpow"),
    OpSpec("pow_scalar", lambda x: x ** 3, lambda x: x ** 3),
    OpSpec("pow_scalar", lambda x: x ** 2, lambda x: x ** 2, variant="square"),
    OpSpec("pow_scalar", lambda x: x ** -1.5, lambda x: x ** -1.5, low=0.5, high=2.0,
           variant="negative_fractional"),
    OpSpec("pow_scalar", lambda x: x ** 0, lambda x: x ** 0, variant="zero"),
    OpSpec("remainder", lambda x, y: x % y, lambda x, y: x % y,
           make_inputs=lambda r: [r.uniform(0.1, 0.9, (3, 4)) + r.integers(-3, 3, (3, 4)),
                                  np.full((4,), 1.0)]),
    OpSpec("fmod", lambda x, y: chainrule.fmod(x, y), lambda x, y: torch.fmod(x, y),
           make_inputs=lambda r: [r.uniform(0.1, 0.9, (3, 4)) + r.integers(-3, 3, (3, 4)),
                                  np.full((4,), 1.0)]),
    OpSpec("to_copy", lambda x: x.to(chainrule.float64) * 2, lambda x: x.to(torch.float64) * 2),
    OpSpec("clone", lambda x: x.clone(), lambda x: x.clone()),
    OpSpec("exp", lambda x: x.exp(), lambda x: x.exp()),
    OpSpec("exp", lambda x: chainrule.exp2(x), lambda x: torch.exp2(x), variant="exp2"),
    OpSpec("expm1", lambda x: x.expm1(), lambda x: x.expm1()),
    OpSpec("log", lambda x: x.log(), lambda x: x.log(), low=0.3, high=3.0),
    OpSpec("log", lambda x: x.log2(), lambda x: x.log2(), low=0.3, high=3.0, variant="log2"),
    OpSpec("log", lambda x: x.log10(), lambda x: x.log10(), low=0.3, high=3.0, variant="log10"),
    OpSpec("log1p", lambda x: x.log1p(), lambda x: x.log1p(), low=-0.5, high=2.0),
    OpSpec("sqrt", lambda x: x.sqrt(), lambda x: x.sqrt(), low=0.3, high=3.0),
    OpSpec("sqrt", lambda x: x.rsqrt(), lambda x: x.rsqrt(), low=0.3, high=3.0, variant="rsqrt"),
    OpSpec("div", lambda x: x.reciprocal(), lambda x: x.reciprocal(), low=0.3, high=3.0,
           variant="reciprocal"),
    OpSpec("sin", lambda x: x.sin(), lambda x: x.sin()),
    OpSpec("cos", lambda x: x.cos(), lambda x: x.cos()),
    OpSpec("tan", lambda x: x.tan(), lambda x: x.tan(), low=-1.2, high=1.2),
    OpSpec("asin", lambda x: x.asin(), lambda x: x.asin(), low=-0.9, high=0.9),
    OpSpec("acos", lambda x: x.acos(), lambda x: x.acos(), low=-0.9, high=0.9),
    OpSpec("atan", lambda x: x.atan(), lambda x: x.atan()),
    OpSpec("sinh", lambda x: x.sinh(), lambda x: x.sinh()),
    OpSpec("cosh", lambda x: x.cosh(), lambda x: x.cosh()),
    OpSpec("tanh", lambda x: x.tanh(), lambda x: x.tanh()),
    OpSpec("sigmoid", lambda x: x.sigmoid(), lambda x: x.sigmoid(), low=-6, high=6),
    OpSpec("relu", lambda x: x.relu(), lambda x: x.relu(),
           make_inputs=lambda r: [r.choice([-1.0, 1.0], (3, 4)) * r.uniform(0.1, 2, (3, 4))]),
    OpSpec("tanh_backward", lambda g, y: TanhBackward.apply(g, y),
           lambda g, y: torch.ops.aten.tanh_backward(g, y), shapes=[(3, 4), (3, 4)],
           low=-0.9, high=0.9),
    OpSpec("sigmoid_backward", lambda g, y: SigmoidBackward.apply(g, y),
           lambda g, y: torch.ops.aten.sigmoid_backward(g, y), shapes=[(3, 4), (3, 4)],
           low=0.1, high=0.9),
    OpSpec("relu_backward", lambda g, y: ReluBackward.apply(g, y),
           lambda g, y: torch.ops.aten.threshold_backward(g, y, 0.0),
           make_inputs=lambda r: [r.uniform(-1, 1, (3, 4)),
                                  r.choice([-1.0, 1.0], (3, 4)) * r.uniform(0.1, 2, (3, 4))]),
    OpSpec("softplus", lambda x: chainrule.softplus(x, beta=2.0, threshold=3.0),
           lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=3.0),
           make_inputs=lambda r: [np.array([-3.0, -0.5, 0.3, 1.2, 2.5])]),
    OpSpec("erf", lambda x: x.erf(), lambda x: x.erf()),
    OpSpec("abs", lambda x: x.abs(), lambda x: x.abs(),
           make_inputs=lambda r: [r.choice([-1.0, 1.0], (3, 4)) * r.uniform(0.1, 2, (3, 4))]),
    OpSpec("sign", lambda x: x.sign(), lambda x: x.sign(), second_order=False),
    OpSpec("floor", lambda x: x.floor(), lambda x: x.floor(), make_inputs=_away_from_int),
    OpSpec("ceil", lambda x: x.ceil(), lambda x: x.ceil(), make_inputs=_away_from_int),
    OpSpec("round", lambda x: x.round(), lambda x: x.round(), make_inputs=_away_from_int),
    OpSpec("round", lambda x: x.round(decimals=1), lambda x: x.round(decimals=1),
           make_inputs=lambda r: [np.array([0.123, 1.449, -2.361])], variant="decimals"),
    OpSpec("trunc", lambda x: x.trunc(), lambda x: x.trunc(), make_inputs=_away_from_int),
    OpSpec("trunc", lambda x: x.frac(), lambda x: x.frac(), make_inputs=_away_from_int,
           variant="frac"),
    OpSpec("clamp", lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7),
           make_inputs=lambda r: [np.array([-1.3, -0.2, 0.1, 0.5, 0.9, 1.7])]),
    OpSpec("clamp", lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1),
           make_inputs=lambda r: [np.array([-1.3, -0.2, 0.3, 0.5])], variant="min_only"),
    OpSpec("where", lambda x, lo, hi: chainrule.clamp(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
           make_inputs=lambda r: [np.array([-1.3, -0.2, 0.3, 1.5]), np.array([-1.0, -1.0, 0.0, 0.0]),
                                  np.array([1.0, 0.0, 1.0, 1.0])], variant="clamp_tensor_bounds"),
    OpSpec("maximum", lambda x, y: chainrule.maximum(x, y), lambda x, y: torch.maximum(x, y),
           make_inputs=_distinct_pair),
    OpSpec("maximum", lambda x, y: chainrule.maximum(x, y), lambda x, y: torch.maximum(x, y),
           make_inputs=lambda r: [np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])],
           variant="ties", second_order=False),
    OpSpec("minimum", lambda x, y: chainrule.minimum(x, y), lambda x, y: torch.minimum(x, y),
           make_inputs=_distinct_pair),
    OpSpec("where", lambda c, x, y: chainrule.where(c, x, y), lambda c, x, y: torch.where(c, x, y),
           make_inputs=lambda r: [r.random((3, 4)) > 0.5, r.uniform(-1, 1, (3, 4)),
                                  r.uniform(-1, 1, (4,))]),
    OpSpec("nan_to_num", lambda x: chainrule.nan_to_num(x * 1.0, posinf=9.0),
           lambda x: torch.nan_to_num(x * 1.0, posinf=9.0)),
    OpSpec("mul", lambda x, y, w: chainrule.lerp(x, y, w), lambda x, y, w: torch.lerp(x, y, w),
           shapes=[(3, 4), (3, 4), (4,)], variant="lerp"),
    OpSpec("maximum", lambda x, y: chainrule.logaddexp(x, y), lambda x, y: torch.logaddexp(x, y),
           make_inputs=_distinct_pair, variant="logaddexp"),
    OpSpec("log", lambda x, y: chainrule.xlogy(x, y), lambda x, y: torch.xlogy(x, y),
           make_inputs=lambda r: [r.uniform(0.5, 2, (3, 4)), r.uniform(0.5, 2, (3, 4))],
           variant="xlogy"),
    OpSpec("sqrt", lambda x, y: chainrule.hypot(x, y), lambda x, y: torch.hypot(x, y),
           make_inputs=lambda r: _pos(r, (3, 4), (3, 4)), variant="hypot"),
    OpSpec("atan", lambda y, x: chainrule.atan2(y, x), lambda y, x: torch.atan2(y, x),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.choice([-1.0, 1.0], (3, 4))
                                  * r.uniform(0.3, 2, (3, 4))], variant="atan2"),
    OpSpec("mul", lambda x, a, b: chainrule.addcmul(x, a, b, value=0.5),
           lambda x, a, b: torch.addcmul(x, a, b, value=0.5), shapes=[(3, 4)] * 3,
           variant="addcmul"),
    OpSpec("div", lambda x, a, b: chainrule.addcdiv(x, a, b, value=0.5),
           lambda x, a, b: torch.addcdiv(x, a, b, value=0.5),
           make_inputs=lambda r: [r.uniform(-1, 1, (3, 4)), r.uniform(-1, 1, (3, 4)),
                                  r.uniform(0.5, 2, (3, 4))], variant="addcdiv"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


ZERO_DIM_SPECS = [dataclasses.replace(s, shapes=[()] * len(s.shapes), variant=f"{s.variant}0d")
                  for s in SPECS if s.make_inputs is None]


@pytest.mark.parametrize("spec", ZERO_DIM_SPECS, ids=lambda s: s.id)
def test_zero_dim_against_torch(spec: OpSpec) -> None:
    # NumPy returns scalars rather than arrays for 0-d operands, which in-place kernels must
    # not be handed: every element-wise op, forward and backward, on 0-d tensors.
    check_against_torch(spec)


# -- type promotion -----------------------------------------------------------------------

_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("a", _DTYPES)
@pytest.mark.parametrize("b", _DTYPES)
def test_promotion_matches_torch(a: str, b: str) -> None:
    x = chainrule.ones(2, dtype=getattr(chainrule, a if a != "bool" else "bool"))
    y = chainrule.ones(2, dtype=getattr(chainrule, b if b != "bool" else "bool"))
    tx = torch.ones(2, dtype=getattr(torch, a))
    ty = torch.ones(2, dtype=getattr(torch, b))
    assert (x * y).dtype.name == str((tx * ty).dtype).replace("torch.", "")
    assert chainrule.result_type(x, y).name == str(torch.result_type(tx, ty)).replace("torch.", "")


@pytest.mark.parametrize("a", _DTYPES)
@pytest.mark.parametrize("scalar", [True, 2, 2.5])
def test_scalar_promotion_matches_torch(a: str, scalar: object) -> None:
    x = chainrule.ones(2, dtype=getattr(chainrule, a))
    tx = torch.ones(2, dtype=getattr(torch, a))
    expected = str(torch.result_type(tx, scalar)).replace("torch.", "")
    assert chainrule.result_type(x, scalar).name == expected


@pytest.mark.parametrize("a", ["int32", "int64", "float16", "float32"])
@pytest.mark.parametrize("b", ["int64", "float32", "float64"])
def test_zero_dim_promotion_matches_torch(a: str, b: str) -> None:
    x = chainrule.ones(2, dtype=getattr(chainrule, a))
    z = chainrule.tensor(1, dtype=getattr(chainrule, b))
    tx, tz = torch.ones(2, dtype=getattr(torch, a)), torch.tensor(1, dtype=getattr(torch, b))
    assert (x + z).dtype.name == str((tx + tz).dtype).replace("torch.", "")


def test_int_true_division_gives_default_float() -> None:
    assert (chainrule.tensor([1, 2]) / 2).dtype is chainrule.float32
    assert chainrule.tensor([1, 2]).exp().dtype is chainrule.float32


def test_mixed_dtype_gradient_is_cast_back() -> None:
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    y = chainrule.tensor([3.0, 4.0], dtype=chainrule.float64, requires_grad=True)
    (x * y).sum().backward()
    assert x.grad.dtype is chainrule.float32 and y.grad.dtype is chainrule.float64
    assert_close(x.grad, chainrule.tensor([3.0, 4.0]))


# -- broadcasting (property-based) --------------------------------------------------------

_dims = st.lists(st.integers(1, 3), min_size=0, max_size=3)


@st.composite
def _broadcast_pair(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = draw(_dims)
    other = [d if draw(st.booleans()) else 1 for d in shape]
    cut = draw(st.integers(0, len(other)))
    return tuple(shape), tuple(other[cut:])


@settings(max_examples=40, deadline=None)
@given(_broadcast_pair(), st.sampled_from(["add", "mul", "sub", "maximum"]))
def test_broadcasting_gradients_match_torch(shapes: tuple, op: str) -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes)
    if rng.random() < 0.5:
        a, b = b, a
    x, y = chainrule.tensor(a, requires_grad=True), chainrule.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = getattr(chainrule, op)(x, y)
    tout = getattr(torch, op)(tx, ty)
    cot = rng.standard_normal(tuple(tout.shape))
    out.backward(chainrule.tensor(cot))
    tout.backward(torch.tensor(cot))
    assert_close(out, tout)
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


@settings(max_examples=30, deadline=None)
@given(_broadcast_pair())
def test_sum_to_size_is_adjoint_of_expand(shapes: tuple) -> None:
    big, small = shapes
    full = np.broadcast_shapes(big, small)
    rng = np.random.default_rng(1)
    g = rng.standard_normal(full)
    v = rng.standard_normal(small)
    summed = chainrule.tensor(g).sum_to_size(*small) if small else chainrule.tensor(g).sum()
    lhs = float((summed * chainrule.tensor(v)).sum())
    rhs = float((chainrule.tensor(g) * chainrule.tensor(v).expand(*full)).sum())
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(rhs))


def test_non_contiguous_inputs() -> None:
    a = np.random.default_rng(2).standard_normal((4, 3))
    x = chainrule.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    out = (x.transpose(0, 1) * 2).exp()
    tout = (tx.t() * 2).exp()
    cot = np.random.default_rng(3).standard_normal((3, 4))
    out.backward(chainrule.tensor(cot))
    tout.backward(torch.tensor(cot))
    assert_close(x.grad, tx.grad)


# -- in-place ops and errors ---------------------------------------------------------------

def test_inplace_bumps_version_and_matches() -> None:
    x = chainrule.tensor([1.0, 2.0])
    v = x._version
    x.add_(1).mul_(2)
    assert x._version == v + 2
    assert x.tolist() == [4.0, 6.0]
    x += 1
    assert x.tolist() == [5.0, 7.0]


def test_inplace_on_leaf_requiring_grad_raises() -> None:
    x = chainrule.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with torch.no_grad():
        pass
    with chainrule.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0]


def test_inplace_records_history() -> None:
    a = np.array([0.5, 1.5, -1.0])
    x = chainrule.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    y = x * 2
    y.mul_(x).exp_()
    ty = tx * 2
    ty.mul_(tx).exp_()
    y.sum().backward()
    ty.sum().backward()
    assert y.grad_fn.name() == ty.grad_fn.name()
    assert_close(x.grad, tx.grad)


def test_inplace_cast_error_matches_torch() -> None:
    x = chainrule.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(1.5)


def test_bool_sub_and_neg_raise() -> None:
    b = chainrule.tensor([True, False])
    with pytest.raises(RuntimeError):
        _ = b - b
    with pytest.raises(RuntimeError):
        _ = -b


def test_comparisons_and_logical_ops() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([3.0, 2.0, 1.0])
    x, y = chainrule.tensor(a), chainrule.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        assert getattr(x, op)(y).tolist() == getattr(tx, op)(ty).tolist()
    assert ((x > 1) & (y > 1)).tolist() == ((tx > 1) & (ty > 1)).tolist()
    assert ((x > 1) | (y > 2)).tolist() == ((tx > 1) | (ty > 2)).tolist()
    assert (~(x > 1)).tolist() == (~(tx > 1)).tolist()
    assert chainrule.logical_xor(x > 1, y > 1).tolist() == torch.logical_xor(tx > 1, ty > 1).tolist()
    assert chainrule.isfinite(chainrule.tensor([1.0, float("inf"), float("nan")])).tolist() == [
        True, False, False]
    assert chainrule.isinf(chainrule.tensor([1.0, float("-inf")])).tolist() == [False, True]
    assert not (x > 1).requires_grad


def test_integer_division_modes_match_torch() -> None:
    a, b = np.array([-7, 7, 5]), np.array([2, -2, 3])
    for mode in [None, "trunc", "floor"]:
        ours = chainrule.div(chainrule.tensor(a), chainrule.tensor(b), rounding_mode=mode)
        theirs = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
        assert_close(ours, theirs)
    assert_close(chainrule.tensor(a) // chainrule.tensor(b), torch.tensor(a) // torch.tensor(b))
    assert_close(chainrule.tensor(a) % chainrule.tensor(b), torch.tensor(a) % torch.tensor(b))


def test_isclose_and_allclose_match_torch() -> None:
    a = np.array([1.0, 2.0, float("nan"), 1e-9])
    b = np.array([1.0 + 1e-6, 2.1, float("nan"), 0.0])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.1, "atol": 0.0}):
        ours = chainrule.isclose(chainrule.tensor(a), chainrule.tensor(b), **kwargs)
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs)
        assert ours.tolist() == theirs.tolist()
        assert chainrule.allclose(chainrule.tensor(a), chainrule.tensor(b), **kwargs) == \
            torch.allclose(torch.tensor(a), torch.tensor(b), **kwargs)
    assert chainrule.tensor([1.0]).allclose(chainrule.tensor([1.0]))


def test_relu_backward_zeroes_nonfinite_gradients_at_dead_units() -> None:
    g = np.array([1.0, np.nan, -2.0, np.inf], dtype=np.float32)
    y = np.array([0.0, 0.0, 1.0, 0.0], dtype=np.float32)
    ours = ReluBackward.apply(chainrule.tensor(g), chainrule.tensor(y))
    theirs = torch.ops.aten.threshold_backward(torch.tensor(g), torch.tensor(y), 0.0)
    assert ours.tolist() == theirs.tolist()


def test_relu_split_over_threads_matches_torch(monkeypatch) -> None:
    # Large ReLUs run in parts, one per thread (chainrule/_backend/threads.py); forced here on
    # a small one, whose second half holds non-finite gradients at dead units.
    from chainrule._backend import threads
    from chainrule.ops import elementwise

    monkeypatch.setattr(elementwise, "_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    g = rng.standard_normal((4, 6)).astype(np.float32)
    g[3, :3] = [np.nan, np.inf, -np.inf]
    x[3, :3] = -1.0
    ours = chainrule.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, tout = ours.relu(), theirs.relu()
    assert out.tolist() == tout.tolist()
    out.backward(chainrule.tensor(g))
    tout.backward(torch.tensor(g))
    assert ours.grad.tolist() == theirs.grad.tolist()


def test_float_errors_are_silent_as_in_torch_but_user_numpy_still_warns():
    # Run as a program with warnings as errors (pytest resets the filter list chainrule
    # installs on import): chainrule's inf and nan come silently, as torch's do; NumPy code of
    # the user's own still warns.
    import subprocess
    import sys

    code = (
        "import chainrule, numpy as np\n"
        "print(chainrule.log(chainrule.tensor([0.0, -1.0])).tolist(),\n"
        "      chainrule.exp(chainrule.tensor([1000.0])).tolist(),\n"
        "      (chainrule.tensor([1.0]) / 0).tolist())\n"
        "try:\n"
        "    np.log(np.zeros(1))\n"
        "except RuntimeWarning as w:\n"
        "    print('user warning:', w)\n")
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, check=True)
    assert res.stdout.splitlines() == ["[-inf, nan] [inf] [inf]",
                                       "user warning: divide by zero encountered in log"]
