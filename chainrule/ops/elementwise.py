"""Element-wise primitives and their public functions.

Each primitive states its forward and derivative in one line. Binary ops broadcast; the
engine sums cotangents back to each input's shape. Derivative rules use Tensor operations,
so they are themselves differentiable (double backward, Hessians).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule._backend import threads as _threads
from chainrule.autograd.op import Op
from chainrule.ops import _util
from chainrule.ops._util import (
    binary_operands,
    cast,
    float_input,
    inplace_method,
    is_tensor,
    result_type,
    to_tensor,
)

xp = _backend.xp
_Tensor = _backend._tensor_class  # chainrule.tensor registers it before any op module loads
_multiply, _add, _subtract, _tanh = xp.multiply, xp.add, xp.subtract, xp.tanh
_ZERO, _HALF, _ONE = (_backend.ScalarsByDtype(v) for v in (0, 0.5, 1))
# ReLU and its backward split arrays of at least this many elements over the threads
# (chainrule/_backend/threads.py): NumPy runs each pass on one core. ~0.3 ms per million
# elements, so the ~55 us wake-up of a second thread is paid back.
_PARALLEL_ELEMENTS = 1 << 20

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "neg", "negative", "pow", "square", "abs", "absolute", "sign", "sgn",
    "reciprocal", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "relu",
    "softplus", "erf", "floor", "ceil", "round", "trunc", "frac", "clamp", "clip", "clamp_min",
    "clamp_max", "maximum", "minimum", "fmax", "fmin", "where", "lerp", "eq", "ne", "lt", "le",
    "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
    "nan_to_num", "clone", "atan2", "hypot", "logaddexp", "xlogy", "addcmul", "addcdiv",
    "isclose", "allclose",
]


# ---------------------------------------------------------------------------------------------
# Arithmetic


class Add(Op):
    """out = x + y;  d out = dx + dy."""

    needs_inputs = False
    broadcasts = True

    @staticmethod
    def forward(x, y):
        return x + y

    @staticmethod
    def vjp(g, out, x, y):
        return g, g

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return x_dot + y_dot


class Sub(Op):
    """out = x - y;  d out = dx - dy."""

    needs_inputs = False
    broadcasts = True

    @staticmethod
    def forward(x, y):
        return x - y

    @staticmethod
    def vjp(g, out, x, y):
        return g, -g

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return x_dot - y_dot


class Mul(Op):
    """out = x * y;  d out = y dx + x dy."""

    broadcasts = True

    @staticmethod
    def forward(x, y):
        return x * y

    @staticmethod
    def vjp(g, out, x, y):
        # Skipping the product for an input that takes no gradient (a constant operand) saves
        # a whole op in the common `x * 0.5` case.
        return (g * y if x._requires_grad else None, g * x if y._requires_grad else None)

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return x_dot * y + x * y_dot


class Div(Op):
    """out = x / y;  d out = (dx - out dy) / y."""

    needs_output = True
    broadcasts = True

    @staticmethod
    def forward(x, y):
        return x / y

    @staticmethod
    def vjp(g, out, x, y):
        gx = g / y
        return gx, -gx * out

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return (x_dot - out * y_dot) / y


class Neg(Op):
    """out = -x;  d out = -dx."""

    needs_inputs = False

    @staticmethod
    def forward(x):
        return -x

    @staticmethod
    def vjp(g, out, x):
        return (-g,)

    @staticmethod
    def jvp(x_dot, out, x):
        return -x_dot


class Pow(Op):
    """out = x ** y;  d out = y x^(y-1) dx + out log(x) dy (0 where x == 0, as torch)."""

    needs_output = True
    broadcasts = True

    @staticmethod
    def forward(x, y):
        return x**y

    @staticmethod
    def vjp(g, out, x, y):
        gx = g * y * x ** (y - 1)
        # d/dy x^y = x^y log x; torch defines it as 0 where x == 0 (and y >= 0)
        gy = g * where((x == 0) & (y >= 0), 0.0, out * log(x))
        return gx, gy

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return x_dot * y * x ** (y - 1) + y_dot * where((x == 0) & (y >= 0), 0.0, out * log(x))


class PowScalar(Op):
    """out = x ** c for a Python number c;  d out = c x^(c-1) dx."""

    backward_name = "PowBackward0"

    @staticmethod
    def forward(x, *, exponent):
        if exponent == 2:
            return x * x  # measured: x * x is several times faster than x ** 2.0 in NumPy
        return x**exponent

    @staticmethod
    def vjp(g, out, x, *, exponent):
        if exponent == 0:
            return (g * 0,)
        if exponent == 2:
            return (g * x * 2.0,)
        return (g * exponent * x ** (exponent - 1),)

    @staticmethod
    def jvp(x_dot, out, x, *, exponent):
        if exponent == 0:
            return x_dot * 0
        return x_dot * exponent * x ** (exponent - 1)


class Remainder(Op):
    """out = x - floor(x / y) y (Python's sign convention);  d out = dx - floor(x / y) dy."""

    broadcasts = True

    @staticmethod
    def forward(x, y):
        return xp.remainder(x, y)

    @staticmethod
    def vjp(g, out, x, y):
        return g, -g * floor(x / y)

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return x_dot - y_dot * floor(x / y)


class Fmod(Op):
    """out = x - trunc(x / y) y (C's sign convention);  d out = dx - trunc(x / y) dy."""

    broadcasts = True

    @staticmethod
    def forward(x, y):
        return xp.fmod(x, y)

    @staticmethod
    def vjp(g, out, x, y):
        return g, -g * trunc(x / y)

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return x_dot - y_dot * trunc(x / y)


class ToCopy(Op):
    """out = x converted to ``dtype``;  d out = dx converted (the adjoint casts back)."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dtype, src=None):
        return x.astype(dtype.np)

    @staticmethod
    def vjp(g, out, x, *, dtype, src=None):
        return (cast(g, src),)

    @staticmethod
    def jvp(x_dot, out, x, *, dtype, src=None):
        return cast(x_dot, dtype)

    @classmethod
    def apply(cls, x, *, dtype, src=None):  # type: ignore[override]
        return super().apply(x, dtype=dtype, src=x.dtype)


class Clone(Op):
    """out = copy of x;  d out = dx."""

    needs_inputs = False

    @staticmethod
    def forward(x):
        return x.copy()

    @staticmethod
    def vjp(g, out, x):
        return (g,)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot


# ---------------------------------------------------------------------------------------------
# Unary transcendental


class Exp(Op):
    """out = exp(x);  d out = out dx."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        return xp.exp(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * out,)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * out


class Expm1(Op):
    """out = exp(x) - 1 (accurate near 0);  d out = (out + 1) dx."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        return xp.expm1(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * (out + 1),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * (out + 1)


class Log(Op):
    """out = log(x);  d out = dx / x."""

    @staticmethod
    def forward(x):
        return xp.log(x)

    @staticmethod
    def vjp(g, out, x):
        return (g / x,)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot / x


class Log1p(Op):
    """out = log(1 + x) (accurate near 0);  d out = dx / (1 + x)."""

    @staticmethod
    def forward(x):
        return xp.log1p(x)

    @staticmethod
    def vjp(g, out, x):
        return (g / (x + 1),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot / (x + 1)


class Sqrt(Op):
    """out = sqrt(x);  d out = dx / (2 out)."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        return xp.sqrt(x)

    @staticmethod
    def vjp(g, out, x):
        return (g / (out * 2),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot / (out * 2)


class Sin(Op):
    """out = sin(x);  d out = cos(x) dx."""

    @staticmethod
    def forward(x):
        return xp.sin(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * cos(x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * cos(x)


class Cos(Op):
    """out = cos(x);  d out = -sin(x) dx."""

    @staticmethod
    def forward(x):
        return xp.cos(x)

    @staticmethod
    def vjp(g, out, x):
        return (-g * sin(x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return -x_dot * sin(x)


class Tan(Op):
    """out = tan(x);  d out = (1 + out^2) dx."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        return xp.tan(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * (out * out + 1),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * (out * out + 1)


class Asin(Op):
    """out = asin(x);  d out = dx / sqrt(1 - x^2)."""

    @staticmethod
    def forward(x):
        return xp.arcsin(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * rsqrt(1 - x * x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * rsqrt(1 - x * x)


class Acos(Op):
    """out = acos(x);  d out = -dx / sqrt(1 - x^2)."""

    @staticmethod
    def forward(x):
        return xp.arccos(x)

    @staticmethod
    def vjp(g, out, x):
        return (-g * rsqrt(1 - x * x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return -x_dot * rsqrt(1 - x * x)


class Atan(Op):
    """out = atan(x);  d out = dx / (1 + x^2)."""

    @staticmethod
    def forward(x):
        return xp.arctan(x)

    @staticmethod
    def vjp(g, out, x):
        return (g / (x * x + 1),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot / (x * x + 1)


class Sinh(Op):
    """out = sinh(x);  d out = cosh(x) dx."""

    @staticmethod
    def forward(x):
        return xp.sinh(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * cosh(x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * cosh(x)


class Cosh(Op):
    """out = cosh(x);  d out = sinh(x) dx."""

    @staticmethod
    def forward(x):
        return xp.cosh(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * sinh(x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * sinh(x)


class Tanh(Op):
    """out = tanh(x);  d out = (1 - out^2) dx."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        return xp.tanh(x)

    @staticmethod
    def vjp(g, out, x):
        return (TanhBackward.apply(g, out),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * (1 - out * out)


class Sigmoid(Op):
    """out = 1 / (1 + exp(-x));  d out = out (1 - out) dx.

    A primitive rather than a composite for stability: the forward never overflows.
    """

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        # 0.5 * (1 + tanh(x / 2)) equals the logistic function and never overflows. Written
        # as in-place ufunc calls with positional outputs: on small tensors the call overhead
        # is the cost (this is 1.0 us against 1.5 us with keyword outputs on 16 elements).
        half = _HALF[x.dtype]
        out = _multiply(x, half)
        if not x.ndim:  # NumPy returns a scalar, not an array, for 0-d operands
            out = xp.asarray(out)
        _tanh(out, out)
        _multiply(out, half, out)
        _add(out, half, out)
        return out

    @staticmethod
    def vjp(g, out, x):
        return (SigmoidBackward.apply(g, out),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * out * (1 - out)


class Relu(Op):
    """out = max(x, 0);  d out = [x > 0] dx (relu'(0) = 0, as torch)."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x):
        zero = _ZERO[x.dtype]
        if x.size < _PARALLEL_ELEMENTS:
            return xp.maximum(x, zero)
        out = xp.empty_like(x)
        _threads.in_parts(lambda x, out: xp.maximum(x, zero, out=out), x, out,
                          min_size=_PARALLEL_ELEMENTS)
        return out

    @staticmethod
    def vjp(g, out, x):
        return (ReluBackward.apply(g, out),)

    @staticmethod
    def jvp(x_dot, out, x):
        return ReluBackward.apply(x_dot, out)


# The three backward helpers below are the vjps of tanh, sigmoid and relu fused into one
# primitive each (as torch's tanh_backward, sigmoid_backward, threshold_backward): one NumPy
# pass instead of three Tensor ops, measured ~3x faster on small tensors; being primitives with
# their own vjps, double backward still works.


class TanhBackward(Op):
    """out = g (1 - y^2) for y = tanh(x);  d out = (1 - y^2) dg - 2 g y dy."""

    @staticmethod
    def forward(g, y):
        out = _multiply(y, y)
        if not y.ndim:  # NumPy returns a scalar, not an array, for 0-d operands
            out = xp.asarray(out)
        _subtract(_ONE[y.dtype], out, out)
        _multiply(out, g, out)
        return out

    @staticmethod
    def vjp(gg, out, g, y):
        return gg * (1 - y * y), -2 * gg * g * y

    @staticmethod
    def jvp(g_dot, y_dot, out, g, y):
        return g_dot * (1 - y * y) - 2 * g * y * y_dot


class SigmoidBackward(Op):
    """out = g y (1 - y) for y = sigmoid(x);  d out = y (1 - y) dg + g (1 - 2y) dy."""

    @staticmethod
    def forward(g, y):
        out = _subtract(_ONE[y.dtype], y)
        if not y.ndim:  # NumPy returns a scalar, not an array, for 0-d operands
            out = xp.asarray(out)
        _multiply(out, y, out)
        _multiply(out, g, out)
        return out

    @staticmethod
    def vjp(gg, out, g, y):
        return gg * y * (1 - y), gg * g * (1 - 2 * y)

    @staticmethod
    def jvp(g_dot, y_dot, out, g, y):
        return g_dot * y * (1 - y) + g * (1 - 2 * y) * y_dot


def _relu_grad(g: Any, y: Any, out: Any) -> None:
    """out = g where y > 0, else 0 (also where g is NaN or infinite, as torch)."""
    zero = _ZERO[g.dtype]
    mask = y > zero
    if xp.isfinite(g).all():
        # Measured on 64x64x24x24: the mask as floats multiplied in place takes 0.7 ms,
        # multiplying by the bool mask 1.4 ms (a casting loop), where() 8.9 ms.
        xp.copyto(out, mask)
        _multiply(g, out, out)
    else:
        xp.copyto(out, xp.where(mask, g, zero))


class ReluBackward(Op):
    """out = g [y > 0] for y = relu(x);  d out = [y > 0] dg (no gradient to the mask)."""

    backward_name = "ThresholdBackwardBackward0"

    @staticmethod
    def forward(g, y):
        if not g.ndim:
            return xp.asarray(xp.where(y > 0, g, _ZERO[g.dtype]))
        out = xp.empty(xp.broadcast_shapes(g.shape, y.shape), dtype=g.dtype)
        if g.shape == y.shape:
            _threads.in_parts(_relu_grad, g, y, out, min_size=_PARALLEL_ELEMENTS)
        else:
            _relu_grad(g, y, out)
        return out

    @staticmethod
    def vjp(gg, out, g, y):
        return ReluBackward.apply(gg, y), None

    @staticmethod
    def jvp(g_dot, y_dot, out, g, y):
        return ReluBackward.apply(g_dot, y)


class Softplus(Op):
    """out = log(1 + exp(beta x)) / beta (x where beta x > threshold);
    d out = sigmoid(beta x) dx."""

    @staticmethod
    def forward(x, *, beta=1.0, threshold=20.0):
        bx = x * beta
        soft = xp.logaddexp(0, bx) / beta
        return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(g, out, x, *, beta=1.0, threshold=20.0):
        bx = x * beta
        return (g * where(bx > threshold, 1.0, sigmoid(bx)),)

    @staticmethod
    def jvp(x_dot, out, x, *, beta=1.0, threshold=20.0):
        bx = x * beta
        return x_dot * where(bx > threshold, 1.0, sigmoid(bx))


class Erf(Op):
    """out = erf(x);  d out = 2 / sqrt(pi) exp(-x^2) dx."""

    @staticmethod
    def forward(x):
        return _erf(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * exp(-x * x) * (2.0 / math.sqrt(math.pi)),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * exp(-x * x) * (2.0 / math.sqrt(math.pi))


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf as sp_erf  # exact to the last ulp when SciPy is present

        return sp_erf(x).astype(x.dtype, copy=False)
    except ImportError:
        pass
    # Abramowitz-Stegun 7.1.26 is only ~1e-7 accurate; use the erfc continued expansion of
    # W. J. Cody via math.erf element-wise for exactness instead (vectorised, float64).
    flat = np.fromiter((math.erf(v) for v in x.astype(np.float64).ravel()), dtype=np.float64,
                       count=x.size)
    return flat.reshape(x.shape).astype(x.dtype, copy=False)


class Abs(Op):
    """out = |x|;  d out = sign(x) dx (abs'(0) = 0, as torch)."""

    @staticmethod
    def forward(x):
        return xp.abs(x)

    @staticmethod
    def vjp(g, out, x):
        return (g * sign(x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * sign(x)


class _ZeroGrad(Op, register=False):
    """Piecewise-constant ops: their derivative is zero almost everywhere."""

    needs_inputs = False

    @staticmethod
    def vjp(g, out, x, **params):
        return (g * 0,)

    @staticmethod
    def jvp(x_dot, out, x, **params):
        return x_dot * 0


class Sign(_ZeroGrad):
    """out = sign(x);  d out = 0."""

    @staticmethod
    def forward(x):
        return xp.sign(x)


class Floor(_ZeroGrad):
    """out = floor(x);  d out = 0."""

    @staticmethod
    def forward(x):
        return xp.floor(x)


class Ceil(_ZeroGrad):
    """out = ceil(x);  d out = 0."""

    @staticmethod
    def forward(x):
        return xp.ceil(x)


class Round(_ZeroGrad):
    """out = x rounded half to even (to ``decimals`` places);  d out = 0."""

    @staticmethod
    def forward(x, *, decimals=0):
        return xp.round(x, decimals)


class Trunc(_ZeroGrad):
    """out = x rounded toward zero;  d out = 0."""

    @staticmethod
    def forward(x):
        return xp.trunc(x)


class Clamp(Op):
    """out = min(max(x, min), max) for scalar bounds;  d out = [min <= x <= max] dx."""

    @staticmethod
    def forward(x, *, min=None, max=None):
        if min is not None and max is not None and min > max:
            return xp.full_like(x, max)  # torch: every element becomes max when min > max
        return xp.clip(x, min, max)

    @staticmethod
    def vjp(g, out, x, *, min=None, max=None):
        return (g * _clamp_mask(x, min, max),)

    @staticmethod
    def jvp(x_dot, out, x, *, min=None, max=None):
        return x_dot * _clamp_mask(x, min, max)


def _clamp_mask(x: Any, lo: Any, hi: Any) -> Any:
    mask = None
    if lo is not None:
        mask = x >= lo
    if hi is not None:
        upper = x <= hi
        mask = upper if mask is None else mask & upper
    return mask


class Maximum(Op):
    """out = max(x, y);  d out = [x > y] dx + [y > x] dy, ties split the gradient in half."""

    broadcasts = True

    @staticmethod
    def forward(x, y):
        return xp.maximum(x, y)

    @staticmethod
    def vjp(g, out, x, y):
        w = _tie_weight(x > y, x == y, g)
        return g * w, g * (1 - w)

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        w = _tie_weight(x > y, x == y, x_dot)
        return x_dot * w + y_dot * (1 - w)


class Minimum(Op):
    """out = min(x, y);  d out = [x < y] dx + [y < x] dy, ties split the gradient in half."""

    broadcasts = True

    @staticmethod
    def forward(x, y):
        return xp.minimum(x, y)

    @staticmethod
    def vjp(g, out, x, y):
        w = _tie_weight(x < y, x == y, g)
        return g * w, g * (1 - w)

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        w = _tie_weight(x < y, x == y, x_dot)
        return x_dot * w + y_dot * (1 - w)


def _tie_weight(wins: Any, ties: Any, like: Any) -> Any:
    # 1 where x wins, 0.5 on ties (torch splits the gradient), 0 where y wins
    return cast(wins, like.dtype) + cast(ties, like.dtype) * 0.5


class Where(Op):
    """out = cond ? x : y;  d out = cond ? dx : dy (no gradient for cond)."""

    broadcasts = True

    @staticmethod
    def forward(cond, x, y):
        return xp.where(cond, x, y)

    @staticmethod
    def vjp(g, out, cond, x, y):
        zero = g.new_zeros(())
        return None, where(cond, g, zero), where(cond, zero, g)

    @staticmethod
    def jvp(cond_dot, x_dot, y_dot, out, cond, x, y):
        return where(cond, x_dot, y_dot)


class NanToNum(Op):
    """out = x with nan, +inf, -inf replaced;  d out = [x finite] dx."""

    @staticmethod
    def forward(x, *, nan=0.0, posinf=None, neginf=None):
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def vjp(g, out, x, **params):
        return (g * isfinite(x),)

    @staticmethod
    def jvp(x_dot, out, x, **params):
        return x_dot * isfinite(x)


# ---------------------------------------------------------------------------------------------
# Public functions


def add(input: Any, other: Any, *, alpha: Any = 1, out: Any = None) -> Any:
    """``input + alpha * other`` with broadcasting and type promotion.

    Example:
        >>> import chainrule
        >>> chainrule.add(chainrule.tensor([1., 2.]), chainrule.tensor([10., 20.]), alpha=2)
        tensor([21., 42.])
    """
    x, y = binary_operands(input, other)
    if alpha != 1:
        y = mul(y, alpha)
    result = Add.apply(x, y)
    return result if out is None else _out(result, out)


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Any = None) -> Any:
    """``input - alpha * other`` with broadcasting and type promotion.

    Example:
        >>> import chainrule
        >>> chainrule.sub(chainrule.tensor([1., 2.]), 1)
        tensor([0., 1.])
    """
    x, y = binary_operands(input, other)
    if x._data.dtype.kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        y = mul(y, alpha)
    result = Sub.apply(x, y)
    return result if out is None else _out(result, out)


subtract = sub


def mul(input: Any, other: Any, *, out: Any = None) -> Any:
    """``input * other`` element-wise, with broadcasting and type promotion.

    Example:
        >>> import chainrule
        >>> chainrule.mul(chainrule.tensor([1, 2]), 2.5)
        tensor([2.5000, 5.0000])
    """
    x, y = binary_operands(input, other)
    result = Mul.apply(x, y)
    return result if out is None else _out(result, out)


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: str | None = None, out: Any = None) -> Any:
    """``input / other``: true division (ints give floats), or ``'trunc'`` / ``'floor'`` rounding.

    Example:
        >>> import chainrule
        >>> chainrule.div(chainrule.tensor([3, 4]), 2)
        tensor([1.5000, 2.0000])
        >>> chainrule.div(chainrule.tensor([-3, 4]), 2, rounding_mode='floor')
        tensor([-2,  2])
    """
    x, y = binary_operands(input, other)
    if rounding_mode is None:
        if x._data.dtype.kind != "f":
            d = dtypes.get_default_dtype()
            x, y = cast(x, d), cast(y, d)
        result = Div.apply(x, y)
        return result if out is None else _out(result, out)
    if rounding_mode == "trunc":
        if x._data.dtype.kind == "f":
            return _out(trunc(Div.apply(x, y)), out)
        return _out(_nondiff(np.trunc(x._data / y._data).astype(x._data.dtype)), out)
    if rounding_mode == "floor":
        return _out(floor_divide(x, y), out)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


divide = div
true_divide = div


def floor_divide(input: Any, other: Any) -> Any:
    """``floor(input / other)``; not differentiable, as torch.

    Example:
        >>> import chainrule
        >>> chainrule.floor_divide(chainrule.tensor([7, -7]), 2)
        tensor([ 3, -4])
    """
    x, y = binary_operands(input, other)
    if x._data.dtype.kind == "f":
        return floor(Div.apply(x, y)).detach()
    if np.any(y._data == 0):
        raise RuntimeError("ZeroDivisionError")
    return _nondiff(np.floor_divide(x._data, y._data))


def remainder(input: Any, other: Any) -> Any:
    """``input - floor(input / other) * other``: the result has the divisor's sign (Python's %).

    Example:
        >>> import chainrule
        >>> chainrule.remainder(chainrule.tensor([-3., 3.]), 2)
        tensor([1., 1.])
    """
    x, y = binary_operands(input, other)
    return Remainder.apply(x, y)


def fmod(input: Any, other: Any) -> Any:
    """C's fmod: the result has the dividend's sign.

    Example:
        >>> import chainrule
        >>> chainrule.fmod(chainrule.tensor([-3., 3.]), 2)
        tensor([-1.,  1.])
    """
    x, y = binary_operands(input, other)
    return Fmod.apply(x, y)


def neg(input: Any) -> Any:
    """``-input``.

    Example:
        >>> import chainrule
        >>> chainrule.neg(chainrule.tensor([1., -2.]))
        tensor([-1.,  2.])
    """
    if input._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Neg.apply(input)


negative = neg


# torch's overloads of one primitive, named apart (see Op.variant)
_POW_TENSORS = Pow.variant("PowBackward1")  # pow(Tensor, Tensor)
_POW_NUMBER_BASE = Pow.variant("PowBackward2")  # pow(Scalar, Tensor): 2 ** x


def pow(input: Any, exponent: Any) -> Any:
    """``input ** exponent`` element-wise (either may be a number).

    Example:
        >>> import chainrule
        >>> chainrule.pow(chainrule.tensor([1., 2., 3.]), 2)
        tensor([1., 4., 9.])
    """
    if is_tensor(input) and isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        if input._data.dtype.kind != "f":
            if isinstance(exponent, float):
                input = cast(input, dtypes.get_default_dtype())
            elif exponent < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
        return PowScalar.apply(input, exponent=exponent)
    x, y = binary_operands(input, exponent)
    return (_POW_TENSORS if is_tensor(input) else _POW_NUMBER_BASE).apply(x, y)


def _rpow(self: Any, other: Any) -> Any:
    return pow(other, self)


def square(input: Any) -> Any:
    """``input * input``.

    Example:
        >>> import chainrule
        >>> chainrule.square(chainrule.tensor([3.]))
        tensor([9.])
    """
    return PowScalar.apply(input, exponent=2)


def abs(input: Any) -> Any:
    """``|input|``; the derivative at 0 is 0, as torch.

    Example:
        >>> import chainrule
        >>> chainrule.abs(chainrule.tensor([-1., 2.]))
        tensor([1., 2.])
    """
    return Abs.apply(input)


absolute = abs


def sign(input: Any) -> Any:
    """-1, 0 or 1 by the sign of each element.

    Example:
        >>> import chainrule
        >>> chainrule.sign(chainrule.tensor([-2., 0., 3.]))
        tensor([-1.,  0.,  1.])
    """
    return Sign.apply(input)


sgn = sign


def reciprocal(input: Any) -> Any:
    """``1 / input``.

    Example:
        >>> import chainrule
        >>> chainrule.reciprocal(chainrule.tensor([2., 4.]))
        tensor([0.5000, 0.2500])
    """
    x = float_input(input)
    return Div.apply(to_tensor(1.0, x.dtype), x)


def _unary(op: type[Op], doc: str) -> Any:
    apply = op.apply

    def fn(input: Any) -> Any:
        # float_input's common case inlined: a floating Tensor goes straight to the op.
        if input.__class__ is _Tensor and input._data.dtype.kind == "f":
            return apply(input)
        return apply(float_input(input))

    fn.__name__ = op.name
    fn.__qualname__ = op.name
    fn.__doc__ = doc
    return fn


exp = _unary(Exp, """``e ** input``; integer inputs give floats.

    Example:
        >>> import chainrule
        >>> chainrule.exp(chainrule.tensor([0., 1.]))
        tensor([1.0000, 2.7183])
    """)
expm1 = _unary(Expm1, """``exp(input) - 1``, accurate for small inputs.""")
log = _unary(Log, """Natural logarithm.

    Example:
        >>> import chainrule
        >>> chainrule.log(chainrule.tensor([1., 2.7182817]))
        tensor([0., 1.])
    """)
log1p = _unary(Log1p, """``log(1 + input)``, accurate for small inputs.""")
sqrt = _unary(Sqrt, """Square root.

    Example:
        >>> import chainrule
        >>> chainrule.sqrt(chainrule.tensor([4., 9.]))
        tensor([2., 3.])
    """)
sin = _unary(Sin, """Sine (radians).""")
cos = _unary(Cos, """Cosine (radians).""")
tan = _unary(Tan, """Tangent (radians).""")
asin = _unary(Asin, """Inverse sine.""")
acos = _unary(Acos, """Inverse cosine.""")
atan = _unary(Atan, """Inverse tangent.""")
sinh = _unary(Sinh, """Hyperbolic sine.""")
cosh = _unary(Cosh, """Hyperbolic cosine.""")
tanh = _unary(Tanh, """Hyperbolic tangent.

    Example:
        >>> import chainrule
        >>> chainrule.tanh(chainrule.tensor([0.]))
        tensor([0.])
    """)
sigmoid = _unary(Sigmoid, """Logistic function ``1 / (1 + exp(-input))``, overflow-free.

    Example:
        >>> import chainrule
        >>> chainrule.sigmoid(chainrule.tensor([0.]))
        tensor([0.5000])
    """)
erf = _unary(Erf, """Gauss error function.""")


def exp2(input: Any) -> Any:
    """``2 ** input`` (composite: ``exp(input * ln 2)``)."""
    return exp(float_input(input) * math.log(2.0))


def log2(input: Any) -> Any:
    """Base-2 logarithm (composite: ``log(input) / ln 2``)."""
    return log(input) * (1.0 / math.log(2.0))


def log10(input: Any) -> Any:
    """Base-10 logarithm (composite: ``log(input) / ln 10``)."""
    return log(input) * (1.0 / math.log(10.0))


def rsqrt(input: Any) -> Any:
    """``1 / sqrt(input)`` (composite).

    Example:
        >>> import chainrule
        >>> chainrule.rsqrt(chainrule.tensor([4.]))
        tensor([0.5000])
    """
    return reciprocal(sqrt(input))


def relu(input: Any) -> Any:
    """``max(input, 0)``; the derivative at 0 is 0, as torch.

    Example:
        >>> import chainrule
        >>> chainrule.relu(chainrule.tensor([-1., 2.]))
        tensor([0., 2.])
    """
    return Relu.apply(input)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta * input)) / beta``, linear above ``threshold`` for stability.

    Example:
        >>> import chainrule
        >>> chainrule.softplus(chainrule.tensor([0.]))
        tensor([0.6931])
    """
    return Softplus.apply(float_input(input), beta=beta, threshold=threshold)


def floor(input: Any) -> Any:
    """Largest integer not above each element (integers pass through)."""
    return input.clone() if input._data.dtype.kind != "f" else Floor.apply(input)


def ceil(input: Any) -> Any:
    """Smallest integer not below each element."""
    return input.clone() if input._data.dtype.kind != "f" else Ceil.apply(input)


def round(input: Any, *, decimals: int = 0) -> Any:
    """Round half to even, to ``decimals`` decimal places.

    Example:
        >>> import chainrule
        >>> chainrule.round(chainrule.tensor([0.5, 1.5, 2.567]), decimals=0)
        tensor([0., 2., 3.])
    """
    return input.clone() if input._data.dtype.kind != "f" else Round.apply(input,
                                                                           decimals=decimals)


def trunc(input: Any) -> Any:
    """Round toward zero."""
    return input.clone() if input._data.dtype.kind != "f" else Trunc.apply(input)


def frac(input: Any) -> Any:
    """``input - trunc(input)``."""
    return input - trunc(input)


_CLAMP = Clamp.variant("ClampBackward1")  # torch's clamp with number bounds
_CLAMP_MIN = Clamp.variant("ClampMinBackward0")
_CLAMP_MAX = Clamp.variant("ClampMaxBackward0")


def clamp(input: Any, min: Any = None, max: Any = None) -> Any:
    """Limit each element to ``[min, max]``; bounds may be numbers or tensors.

    The gradient flows to ``input`` where ``min <= input <= max``, and to a tensor bound where
    it is the one selected.

    Example:
        >>> import chainrule
        >>> chainrule.clamp(chainrule.tensor([-2., 0.5, 3.]), min=-1, max=1)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return _clamp(input, min, max, _CLAMP)


def _clamp(input: Any, min: Any, max: Any, op: type[Op]) -> Any:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if is_tensor(min) or is_tensor(max):
        out = input
        if min is not None:
            lo = min if is_tensor(min) else to_tensor(min, result_type(input, min))
            out = where(out < lo, lo, out)
        if max is not None:
            hi = max if is_tensor(max) else to_tensor(max, result_type(input, max))
            out = where(out > hi, hi, out)
        return out
    x = input
    for bound in (min, max):
        if isinstance(bound, float) and x._data.dtype.kind != "f":
            x = cast(x, dtypes.get_default_dtype())
    return op.apply(x, min=min, max=max)


clip = clamp


def clamp_min(input: Any, min: Any) -> Any:
    """``clamp(input, min=min)``."""
    return _clamp(input, min, None, _CLAMP_MIN)


def clamp_max(input: Any, max: Any) -> Any:
    """``clamp(input, max=max)``."""
    return _clamp(input, None, max, _CLAMP_MAX)


def maximum(input: Any, other: Any) -> Any:
    """Element-wise maximum; ties split the gradient equally, as torch.

    Example:
        >>> import chainrule
        >>> chainrule.maximum(chainrule.tensor([1., 5.]), chainrule.tensor([3., 2.]))
        tensor([3., 5.])
    """
    x, y = binary_operands(input, other)
    return Maximum.apply(x, y)


def minimum(input: Any, other: Any) -> Any:
    """Element-wise minimum; ties split the gradient equally, as torch.

    Example:
        >>> import chainrule
        >>> chainrule.minimum(chainrule.tensor([1., 5.]), chainrule.tensor([3., 2.]))
        tensor([1., 2.])
    """
    x, y = binary_operands(input, other)
    return Minimum.apply(x, y)


def fmax(input: Any, other: Any) -> Any:
    """Element-wise maximum that ignores NaN (composite)."""
    x, y = binary_operands(input, other)
    return where(isnan(y), x, where(isnan(x), y, maximum(x, y)))


def fmin(input: Any, other: Any) -> Any:
    """Element-wise minimum that ignores NaN (composite)."""
    x, y = binary_operands(input, other)
    return where(isnan(y), x, where(isnan(x), y, minimum(x, y)))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` holds, else ``other`` (broadcast); one argument gives
    the indices of nonzero elements, as ``nonzero(as_tuple=True)``.

    Example:
        >>> import chainrule
        >>> c = chainrule.tensor([True, False])
        >>> chainrule.where(c, chainrule.tensor([1., 2.]), 0.)
        tensor([1., 0.])
    """
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    cond = to_tensor(condition)
    if cond._data.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {dtypes.scalar_type_name(cond.dtype)}")
    x, y = binary_operands(input, other)
    return Where.apply(cond, x, y)


def lerp(input: Any, end: Any, weight: Any) -> Any:
    """``input + weight * (end - input)`` (composite).

    Example:
        >>> import chainrule
        >>> chainrule.lerp(chainrule.tensor([0.]), chainrule.tensor([10.]), 0.25)
        tensor([2.5000])
    """
    return input + weight * (end - input)


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: dtype extremes).

    Example:
        >>> import chainrule
        >>> chainrule.nan_to_num(chainrule.tensor([float('nan'), 1.]))
        tensor([0., 1.])
    """
    if input._data.dtype.kind != "f":
        return input.clone()
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


def clone(input: Any, *, memory_format: Any = None) -> Any:
    """A copy of ``input`` that stays in the graph (gradients flow through).

    Example:
        >>> import chainrule
        >>> x = chainrule.ones(2, requires_grad=True)
        >>> x.clone().grad_fn.name()
        'CloneBackward0'
    """
    return Clone.apply(input)


def atan2(input: Any, other: Any) -> Any:
    """Angle of ``(other, input)`` in radians (composite with a quadrant fix-up)."""
    y, x = binary_operands(float_input(input), float_input(other))
    base = atan(y / x)
    pi = math.pi
    fix = where(x < 0, where(y >= 0, pi, -pi), 0.0)
    return where((x == 0) & (y == 0), y * 0, base + fix)


def hypot(input: Any, other: Any) -> Any:
    """``sqrt(input**2 + other**2)`` (composite)."""
    return sqrt(input * input + other * other)


def logaddexp(input: Any, other: Any) -> Any:
    """``log(exp(input) + exp(other))`` computed stably (composite)."""
    m = maximum(input, other).detach()
    return m + log(exp(input - m) + exp(other - m))


def xlogy(input: Any, other: Any) -> Any:
    """``input * log(other)``, 0 where ``input == 0`` (composite)."""
    x, y = binary_operands(float_input(input), float_input(other))
    # log of a safe y where x == 0: masking log(0) = -inf after the fact would still send
    # 0 * -inf = nan into x's gradient.
    safe_y = where(x == 0, 1.0, y)
    return where(x == 0, x * 0, x * log(safe_y))


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """``input + value * tensor1 * tensor2``."""
    return input + value * tensor1 * tensor2


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """``input + value * tensor1 / tensor2``."""
    return input + value * tensor1 / tensor2


# ---------------------------------------------------------------------------------------------
# Comparisons and logical ops: not differentiable, so no Op and no graph.


def _nondiff(arr: Any) -> Any:
    if arr.__class__ is not np.ndarray:
        arr = np.asarray(arr)
    return _backend._tensor_class._make(arr)


def _compare(ufunc: Any, name: str) -> Any:
    def fn(input: Any, other: Any) -> Any:
        x, y = binary_operands(input, other)
        return _nondiff(ufunc(x._data, y._data))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Element-wise ``{name}`` comparison; a bool tensor, not differentiable."
    return fn


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(ufunc: Any, name: str) -> Any:
    def fn(input: Any, other: Any) -> Any:
        return _nondiff(ufunc(to_tensor(input)._data, to_tensor(other)._data))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Element-wise ``{name}``; a bool tensor."
    return fn


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")


def logical_not(input: Any) -> Any:
    """Element-wise logical not; a bool tensor."""
    return _nondiff(np.logical_not(input._data))


def _bitwise(ufunc: Any, name: str) -> Any:
    def fn(input: Any, other: Any) -> Any:
        x, y = binary_operands(input, other)
        if x._data.dtype.kind == "f":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Float'")
        return _nondiff(ufunc(x._data, y._data))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Element-wise ``{name}`` of integer or bool tensors (``&``, ``|``, ``^``)."
    return fn


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def bitwise_not(input: Any) -> Any:
    """Bitwise not of an integer tensor, logical not of a bool tensor (``~``)."""
    if input._data.dtype.kind == "f":
        raise NotImplementedError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return _nondiff(np.invert(input._data))


def _invert(input: Any) -> Any:
    if input._data.dtype.kind == "f":  # torch: the operator's own TypeError
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return _nondiff(np.invert(input._data))


def isnan(input: Any) -> Any:
    """Where elements are NaN.

    Example:
        >>> import chainrule
        >>> chainrule.isnan(chainrule.tensor([1., float('nan')]))
        tensor([False,  True])
    """
    return _nondiff(np.isnan(input._data))


def isinf(input: Any) -> Any:
    """Where elements are +inf or -inf."""
    return _nondiff(np.isinf(input._data))


def isposinf(input: Any) -> Any:
    """Where elements are +inf."""
    return _nondiff(np.isposinf(input._data))


def isneginf(input: Any) -> Any:
    """Where elements are -inf."""
    return _nondiff(np.isneginf(input._data))


def isfinite(input: Any) -> Any:
    """Where elements are finite."""
    return _nondiff(np.isfinite(input._data))


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """Where ``|input - other| <= atol + rtol * |other|``; a bool tensor.

    Example:
        >>> import chainrule
        >>> chainrule.isclose(chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 2.1]))
        tensor([ True, False])
    """
    x, y = binary_operands(input, other)
    return _nondiff(np.isclose(x._data, y._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if every element satisfies :func:`isclose`.

    Example:
        >>> import chainrule
        >>> chainrule.allclose(chainrule.tensor([1.0]), chainrule.tensor([1.0 + 1e-9]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Any, other: Any) -> bool:
    """True if both tensors have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.all(input._data == other._data))


def _out(result: Any, out: Any) -> Any:
    if out is None:
        return result
    out._inplace(result)
    return out


# ---------------------------------------------------------------------------------------------
# Tensor methods and operators (attached by chainrule.tensor.attach_methods)


def _fast_dunder(op: type[Op], slow: Any, reflected: bool = False) -> Any:
    """An operator method (``__add__`` ...) that sends the common case straight to ``op``: a
    floating tensor with a tensor of its dtype or with a Python number. Everything else
    (promotion, bool rules, alpha) goes through ``slow``, the public function."""
    apply = op.apply
    constants = _util._constants

    def method(self: Any, other: Any) -> Any:
        dt = self._data.dtype
        if dt.kind == "f":
            cls = other.__class__
            if cls is float or cls is int:
                c = constants.get((other, dt))
                if c is not None:
                    return apply(c, self) if reflected else apply(self, c)
            elif isinstance(other, _Tensor):
                if other._data.dtype is dt:
                    return apply(other, self) if reflected else apply(self, other)
        return slow(other, self) if reflected else slow(self, other)

    method.__name__ = slow.__name__
    method.__doc__ = f"Operator form of :func:`{slow.__name__}`."
    return method


def _radd(self: Any, other: Any) -> Any:
    return add(other, self)


_RSUB = Sub.variant("RsubBackward1")


def _rsub(input: Any, other: Any) -> Any:
    """``input - other`` reached through ``other.__rsub__`` (``1 - x``): torch's rsub, the
    same math as :func:`sub` under the grad_fn name ``RsubBackward1``."""
    x, y = binary_operands(input, other)
    if x._data.dtype.kind == "b":
        return sub(input, other)  # torch's error for bool operands
    return _RSUB.apply(x, y)


def _rmul(self: Any, other: Any) -> Any:
    return mul(other, self)


def _rtruediv(self: Any, other: Any) -> Any:
    return div(other, self)


def _rfloordiv(self: Any, other: Any) -> Any:
    return floor_divide(other, self)


def _rmod(self: Any, other: Any) -> Any:
    return remainder(other, self)


def _eq(self: Any, other: Any) -> Any:
    if other is None:
        return False
    return eq(self, other)


def _ne(self: Any, other: Any) -> Any:
    if other is None:
        return True
    return ne(self, other)


def _to(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``to(dtype)``, ``to(device)``, ``to(other)`` or ``to(device, dtype)``; returns self when
    nothing changes, as torch."""
    target = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    for a in args:
        if isinstance(a, dtypes.dtype):
            target = a
        elif is_tensor(a):
            target = a.dtype
        elif a is not None:
            device = a
    if device is not None:
        _backend.check_device(device)
    if target is None:
        return self.clone() if copy else self
    target = dtypes.to_dtype(target)
    if self._data.dtype is target.np:
        return self.clone() if copy else self
    return ToCopy.apply(self, dtype=target)


def _type_conv(d: dtypes.dtype) -> Any:
    def fn(self: Any, memory_format: Any = None) -> Any:
        return _to(self, d)

    fn.__name__ = d.name
    fn.__doc__ = f"This tensor as ``{d.name}`` (differentiable for float targets)."
    return fn


def _type(self: Any, dtype: Any = None) -> Any:
    if dtype is None:
        names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                 "bool": "Bool"}
        return f"torch.{names[self.dtype.name]}Tensor"
    return _to(self, dtypes.to_dtype(dtype))


def _type_as(self: Any, other: Any) -> Any:
    return _to(self, other.dtype)


def _new_zeros(self: Any, *size: Any, dtype: Any = None, requires_grad: bool = False,
               **kw: Any) -> Any:
    shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    d = dtypes.to_dtype(dtype) if dtype is not None else self.dtype
    return _backend._tensor_class._make(xp.zeros(tuple(shape), dtype=d.np), requires_grad)


TENSOR_METHODS = {
    "__add__": _fast_dunder(Add, add), "__radd__": _fast_dunder(Add, add, reflected=True),
    "__iadd__": "add_",
    "__sub__": _fast_dunder(Sub, sub), "__rsub__": _fast_dunder(_RSUB, _rsub, reflected=True),
    "__isub__": "sub_",
    "__mul__": _fast_dunder(Mul, mul), "__rmul__": _fast_dunder(Mul, mul, reflected=True),
    "__imul__": "mul_",
    "__truediv__": _fast_dunder(Div, div),
    "__rtruediv__": _fast_dunder(Div, div, reflected=True), "__itruediv__": "div_",
    "__floordiv__": "floor_divide", "__rfloordiv__": "_rfloordiv",
    "__mod__": "remainder", "__rmod__": "_rmod",
    "__pow__": "pow", "__rpow__": "_rpow", "__ipow__": "pow_",
    "__neg__": "neg", "__abs__": "abs", "__pos__": "clone",
    "__eq__": "_eq", "__ne__": "_ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt",
    "__ge__": "ge", "__and__": "bitwise_and", "__or__": "bitwise_or", "__xor__": "bitwise_xor",
    "__invert__": _invert, "__rand__": "bitwise_and", "__ror__": "bitwise_or",
    "__rxor__": "bitwise_xor",
    "to": "_to", "float": None, "double": None, "half": None, "long": None, "int": None,
    "short": None, "bool": None, "byte": None, "char": None, "type": "_type",
    "type_as": "_type_as", "new_zeros": "_new_zeros",
}
for _name, _d in (("float", dtypes.float32), ("double", dtypes.float64),
                  ("half", dtypes.float16), ("long", dtypes.int64), ("int", dtypes.int32),
                  ("short", dtypes.int16), ("bool", dtypes.bool_), ("byte", dtypes.uint8),
                  ("char", dtypes.int8)):
    TENSOR_METHODS[_name] = _type_conv(_d)

_METHOD_FUNCS = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "fmod", "neg", "negative", "pow", "square", "abs", "absolute",
    "sign", "sgn", "reciprocal", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
    "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "sigmoid", "relu", "erf", "floor", "ceil", "round", "trunc", "frac", "clamp", "clip",
    "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin", "lerp", "eq", "ne", "lt",
    "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
    "nan_to_num", "clone", "atan2", "hypot", "logaddexp", "xlogy", "addcmul", "addcdiv",
    "isclose", "allclose",
]
TENSOR_METHODS.update({n: n for n in _METHOD_FUNCS})
TENSOR_METHODS["where"] = lambda self, condition, other: where(condition, self, other)

# In-place variants: computed out of place, then written into self (see Tensor._inplace).
_INPLACE = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
    "remainder", "fmod", "neg", "negative", "abs", "sign", "reciprocal", "exp", "expm1", "log",
    "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
    "erf", "floor", "ceil", "round", "trunc", "frac", "clamp", "clip", "clamp_min",
    "clamp_max", "lerp", "nan_to_num", "square", "addcmul", "addcdiv", "floor_divide",
    "logical_not", "bitwise_not",
]
for _name in _INPLACE:
    _fn = inplace_method(globals()[_name])
    globals()[_name + "_"] = _fn
    TENSOR_METHODS[_name + "_"] = _fn
_IOPS = {"__ifloordiv__": "floor_divide_", "__imod__": "remainder_"}
TENSOR_METHODS.update(_IOPS)
