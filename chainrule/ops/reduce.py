"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumsum, cumprod, all, any.

``dim`` is an int, a tuple of ints, or None (all dims); ``keepdim`` keeps reduced dims as 1.
Primitives exist where a composite would be unstable (logsumexp, norm at 0), wrong (prod and
cumprod with zeros) or slow; var, std and the rest are composites with no derivative code.

Derivative rules of most reductions have the form ``dx = g * dout/dx`` with ``dout/dx`` a
tensor of the input's shape (``_partials`` below), so the vjp broadcasts ``g`` back over the
reduced dims and the jvp sums ``x_dot * dout/dx`` over them.
"""

from __future__ import annotations

import builtins
import math
import types
import warnings
from collections import namedtuple
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule._backend import threads as _threads
from chainrule.autograd.op import Op
from chainrule.ops._util import cast, dims_tuple, float_input, inplace_method, is_tensor, wrap_dim
from chainrule.ops.elementwise import maximum, minimum, where

xp = _backend.xp

# Floating sums over the leading dimension (a batch: bias gradients, losses) of arrays this
# large are split over the threads by that dimension, the parts' sums then added
# (chainrule/_backend/threads.py). Measured: a conv bias gradient over 64x64x24x24, 0.33 ms
# on one core.
_PARALLEL_ELEMENTS = 1 << 20

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
           "std", "var_mean", "std_mean", "norm", "logsumexp", "cumsum", "cumprod", "all", "any",
           "count_nonzero", "return_types"]


# ---------------------------------------------------------------------------------------------
# Result types: tuples with named fields, as torch.return_types


def _return_type(name: str, fields: list[str]) -> type:
    base = namedtuple(name, fields)  # type: ignore[misc]

    def __repr__(self: Any) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"chainrule.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                               "__module__": "chainrule.return_types"})
    return cls


return_types = types.ModuleType("chainrule.return_types",
                                "Named-tuple results of reductions (``values``, ``indices``).")
return_types.max = _return_type("max", ["values", "indices"])
return_types.min = _return_type("min", ["values", "indices"])


# ---------------------------------------------------------------------------------------------
# Shape helpers


def _kept_shape(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> tuple[int, ...]:
    if dim is None:
        return (1,) * len(shape)
    return tuple(1 if i in dim else n for i, n in enumerate(shape))


def _count(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dim is None or i in dim:
            n *= s
    return n


def _keep(t: Any, shape: tuple[int, ...], dim: tuple[int, ...] | None, keepdim: bool) -> Any:
    """``t`` (a reduction result) with its reduced dims restored as size 1."""
    return t if keepdim else t.reshape(_kept_shape(shape, dim))


def _dims(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """Wrapped dims for a reduction; a 0-d tensor reduces over 'all' of its (no) dims."""
    dims = dims_tuple(dim, ndim)
    return None if ndim == 0 else dims


def _vjp(g: Any, x: Any, dim: Any, keepdim: bool, partials: Any) -> tuple[Any]:
    return (_keep(g, x.shape, dim, keepdim) * partials,)


def _jvp(x_dot: Any, dim: Any, keepdim: bool, partials: Any) -> Any:
    return (x_dot * partials).sum(dim=dim, keepdim=keepdim)


def _nondiff(arr: Any) -> Any:
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    return _backend._tensor_class._make(arr)


_TORCH_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                     "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                     "bool": "Bool"}


def _dtype_name(t: Any) -> str:
    """torch's scalar-type name of ``t``'s dtype, as its error messages spell it (``Long``)."""
    return _TORCH_TYPE_NAMES.get(t.dtype.name, t.dtype.name)


# ---------------------------------------------------------------------------------------------
# Primitives


class Sum(Op):
    """out = x.sum(dim, keepdim);  the derivative copies g back over the reduced dims."""

    @staticmethod
    def forward(x, *, dim, keepdim):
        if (x.size >= _PARALLEL_ELEMENTS and x.dtype.kind == "f"
                and (dim is None or 0 in dim) and _threads.num_threads() > 1):
            parts = _threads.over_range(
                x.shape[0], lambda a, b: xp.sum(x[a:b], axis=dim, keepdims=keepdim))
            return builtins.sum(parts[1:], parts[0])
        return xp.sum(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        return (_keep(g, x.shape, dim, keepdim).expand(x.shape),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return x_dot.sum(dim=dim, keepdim=keepdim)


class Mean(Op):
    """out = x.mean(dim, keepdim);  d out = mean of dx; the vjp spreads g / n over the dims."""

    @staticmethod
    def forward(x, *, dim, keepdim):
        if x.size == 0:
            return xp.full(xp.sum(x, axis=dim, keepdims=keepdim).shape, xp.nan, dtype=x.dtype)
        return xp.mean(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        n = _count(x.shape, dim)
        return (_keep(g, x.shape, dim, keepdim).expand(x.shape) / n,)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return x_dot.mean(dim=dim, keepdim=keepdim)


class Prod(Op):
    """out = prod of x over dim;  d out = sum_i (prod_{j != i} x_j) dx_i (exact with zeros)."""

    needs_output = True

    @staticmethod
    def forward(x, *, dim, keepdim):
        return xp.prod(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        return _vjp(g, x, dim, keepdim, _prod_others(x, _keep(out, x.shape, dim, keepdim),
                                                          dim))

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return _jvp(x_dot, dim, keepdim, _prod_others(x, _keep(out, x.shape, dim, keepdim), dim))


def _prod_others(x: Any, out: Any, dim: tuple[int, ...] | None) -> Any:
    """``prod_{j != i} x_j`` for each i along the reduced dim(s) of a product."""
    if not xp.any(x._data == 0):
        return out / x
    # With a zero, out / x is 0/0: multiply exclusive products from the left and the right
    # instead (as torch's prod_safe_zeros_backward), which also keeps double backward exact.
    if dim is None:
        return _exclusive_prod(x.reshape(-1), 0).reshape(x.shape)
    return _exclusive_prod(x, dim[0])


def _exclusive_prod(x: Any, d: int) -> Any:
    from chainrule.ops.movement import cat

    n = x.shape[d]
    one = x.new_zeros(_kept_shape(x.shape, (d,))) + 1
    left = cat([one, x.narrow(d, 0, n - 1)], d).cumprod(d)
    right = cat([one, x.narrow(d, 1, n - 1).flip(d)], d).cumprod(d).flip(d)
    return left * right


class Amax(Op):
    """out = max of x over dims;  d out = mean of dx over the maximal elements (ties share)."""

    needs_output = True

    @staticmethod
    def forward(x, *, dim, keepdim):
        return xp.amax(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        return _vjp(g, x, dim, keepdim, _tie_share(x, _keep(out, x.shape, dim, keepdim), dim))

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return _jvp(x_dot, dim, keepdim, _tie_share(x, _keep(out, x.shape, dim, keepdim), dim))


class Amin(Amax):
    """out = min of x over dims;  d out = mean of dx over the minimal elements (ties share)."""

    @staticmethod
    def forward(x, *, dim, keepdim):
        return xp.amin(x, axis=dim, keepdims=keepdim)


class MaxAll(Amax):
    """out = max of all of x (``torch.max(x)``);  d out = mean of dx over the maximal elements."""

    backward_name = "MaxBackward1"


class MinAll(Amin):
    """out = min of all of x (``torch.min(x)``);  d out = mean of dx over the minimal elements."""

    backward_name = "MinBackward1"


def _tie_share(x: Any, out: Any, dim: tuple[int, ...] | None) -> Any:
    # torch splits the gradient evenly among tied extrema for amax/amin and full max/min
    mask = cast(x == out, x.dtype)
    return mask / mask.sum(dim=dim, keepdim=True)


class IndexedValues(Op):
    """out = x at ``idx`` along ``dim`` (the values of max/min with dim);  d out = dx at idx."""

    @staticmethod
    def forward(x, idx, *, dim, keepdim):
        if not keepdim:
            idx = xp.expand_dims(idx, dim)
        out = xp.take_along_axis(x, idx, axis=dim)
        return out if keepdim else xp.squeeze(out, axis=dim)

    @staticmethod
    def vjp(g, out, x, idx, *, dim, keepdim):
        return IndexedValuesBackward.apply(g, idx, dim=dim, keepdim=keepdim,
                                           size=x.shape[dim]), None

    @staticmethod
    def jvp(x_dot, idx_dot, out, x, idx, *, dim, keepdim):
        return IndexedValues.apply(x_dot, idx, dim=dim, keepdim=keepdim)


class MaxDim(IndexedValues):
    """out = max of x along dim, taken at its argmax;  d out = dx at the argmax."""

    backward_name = "MaxBackward0"


class MinDim(IndexedValues):
    """out = min of x along dim, taken at its argmin;  d out = dx at the argmin."""

    backward_name = "MinBackward0"


class IndexedValuesBackward(Op):
    """out = zeros with g placed at ``idx`` along ``dim`` (``size`` long);  the adjoint of
    IndexedValues."""

    @staticmethod
    def forward(g, idx, *, dim, keepdim, size):
        if not keepdim:
            g = xp.expand_dims(g, dim)
            idx = xp.expand_dims(idx, dim)
        shape = list(g.shape)
        shape[dim] = size
        out = xp.zeros(shape, dtype=g.dtype)
        xp.put_along_axis(out, idx, g, axis=dim)
        return out

    @staticmethod
    def vjp(gg, out, g, idx, *, dim, keepdim, size):
        return IndexedValues.apply(gg, idx, dim=dim, keepdim=keepdim), None

    @staticmethod
    def jvp(g_dot, idx_dot, out, g, idx, *, dim, keepdim, size):
        return IndexedValuesBackward.apply(g_dot, idx, dim=dim, keepdim=keepdim, size=size)


class Norm(Op):
    """out = (sum |x|^p)^(1/p) over dims (p may be inf, -inf, 0);  d out = dout/dx . dx with
    the gradient 0 where out == 0, as torch."""

    needs_output = True
    backward_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(x, *, p, dim, keepdim):
        if p == 2:
            return xp.sqrt(xp.sum(x * x, axis=dim, keepdims=keepdim))
        a = xp.abs(x)
        if p == 1:
            return xp.sum(a, axis=dim, keepdims=keepdim)
        if p == math.inf:
            return xp.amax(a, axis=dim, keepdims=keepdim)
        if p == -math.inf:
            return xp.amin(a, axis=dim, keepdims=keepdim)
        if p == 0:
            return xp.sum(x != 0, axis=dim, keepdims=keepdim).astype(x.dtype)
        return xp.sum(a**p, axis=dim, keepdims=keepdim) ** (1.0 / p)

    @staticmethod
    def vjp(g, out, x, *, p, dim, keepdim):
        return _vjp(g, x, dim, keepdim, _norm_partials(x, _keep(out, x.shape, dim, keepdim),
                                                            p, dim))

    @staticmethod
    def jvp(x_dot, out, x, *, p, dim, keepdim):
        return _jvp(x_dot, dim, keepdim,
                    _norm_partials(x, _keep(out, x.shape, dim, keepdim), p, dim))


def _norm_partials(x: Any, norm: Any, p: float, dim: tuple[int, ...] | None) -> Any:
    """d norm / dx, following torch's norm_backward (0 where the norm is 0)."""
    if p == 0:
        return x * 0
    if p == 1:
        return x.sign()
    if p in (math.inf, -math.inf):
        return x.sign() * _tie_share(x.abs(), norm, dim)
    # Safe denominators rather than masking afterwards: a masked inf would poison the
    # derivative of this rule (double backward) with 0 * inf.
    nonzero = cast(norm != 0, x.dtype)
    safe = where(norm == 0, 1.0, norm)
    if p == 2:
        return x / safe * nonzero
    if p < 1:
        x_nonzero = cast(x != 0, x.dtype)
        a = where(x == 0, 1.0, x.abs())
        return x.sign() * a ** (p - 1) * x_nonzero * norm ** (1 - p)
    if p < 2:
        return x.sign() * x.abs() ** (p - 1) / safe ** (p - 1) * nonzero
    return x * x.abs() ** (p - 2) / safe ** (p - 1) * nonzero


class Logsumexp(Op):
    """out = log(sum(exp(x))) over dims, via max-shift;  d out = softmax(x) . dx."""

    needs_output = True

    @staticmethod
    def forward(x, *, dim, keepdim):
        if x.size == 0:
            return xp.full(xp.sum(x, axis=dim, keepdims=keepdim).shape, -xp.inf, dtype=x.dtype)
        m = xp.amax(x, axis=dim, keepdims=True)
        # an all -inf (or +inf) slice: shift by 0, so the result is -inf (inf), not nan
        m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
        total = xp.sum(xp.exp(x - m), axis=dim, keepdims=True)
        # log(0) = -inf for all -inf slices, without NumPy's divide-by-zero warning
        out = xp.where(total > 0, xp.log(xp.where(total > 0, total, 1)), -xp.inf) + m
        if keepdim:
            return out
        return out.reshape(()) if dim is None else xp.squeeze(out, axis=dim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        return _vjp(g, x, dim, keepdim, (x - _keep(out, x.shape, dim, keepdim)).exp())

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return _jvp(x_dot, dim, keepdim, (x - _keep(out, x.shape, dim, keepdim)).exp())


class Cumsum(Op):
    """out_i = sum_{j<=i} x_j along dim;  the vjp is the reversed cumulative sum of g."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dim):
        return xp.cumsum(x, axis=dim)

    @staticmethod
    def vjp(g, out, x, *, dim):
        return (_reverse_cumsum(g, dim),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim):
        return Cumsum.apply(x_dot, dim=dim)


def _reverse_cumsum(t: Any, dim: int) -> Any:
    return Cumsum.apply(t.flip(dim), dim=dim).flip(dim)


class Cumprod(Op):
    """out_i = prod_{j<=i} x_j along dim;  d out_i = sum_{j<=i} (prod_{k<=i, k!=j} x_k) dx_j."""

    needs_output = True

    @staticmethod
    def forward(x, *, dim):
        return xp.cumprod(x, axis=dim)

    @staticmethod
    def vjp(g, out, x, *, dim):
        if not xp.any(x._data == 0):
            return (_reverse_cumsum(g * out, dim) / x,)
        # With zeros (as torch's cumprod_backward): before the first zero z the zero-free
        # formula holds; at z, d out_j/dx_z = out_{z-1} prod_{z<k<=j} x_k, the cumprod of x
        # with x_z set to 1; after z every derivative contains the factor x_z = 0.
        before, first = _zero_masks(x, dim)
        head = _reverse_cumsum(g * out, dim) / where(before, x, 1.0)
        at_zero = _reverse_cumsum(g * Cumprod.apply(where(first, 1.0, x), dim=dim), dim)
        return (where(before, head, where(first, at_zero, 0.0)),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim):
        if not xp.any(x._data == 0):
            return out * Cumsum.apply(x_dot / x, dim=dim)
        before, first = _zero_masks(x, dim)
        head = out * Cumsum.apply(x_dot / where(before, x, 1.0), dim=dim)
        x_dot_at_zero = (x_dot * cast(first, x.dtype)).sum(dim=dim, keepdim=True)
        return where(before, head, x_dot_at_zero * Cumprod.apply(where(first, 1.0, x), dim=dim))


def _zero_masks(x: Any, dim: int) -> tuple[Any, Any]:
    """(positions before the first zero along dim, the first zero itself), as bool tensors."""
    zero = x._data == 0
    seen = xp.cumsum(zero, axis=dim)
    T = _backend._tensor_class
    return T._make(seen == 0), T._make(zero & (seen == 1))


# ---------------------------------------------------------------------------------------------
# Public functions


# torch's reductions over given dims are other overloads than those over everything: the same
# primitive here, named apart (see Op.variant)
_SUM_DIM = Sum.variant("SumBackward1")
_MEAN_DIM = Mean.variant("MeanBackward1")
_PROD_DIM = Prod.variant("ProdBackward1")


def _sum_input(input: Any, dtype: Any) -> Any:
    if dtype is not None:
        return cast(input, dtypes.to_dtype(dtype))
    if input._data.dtype.kind in "biu":
        return cast(input, dtypes.int64)  # integer and bool sums accumulate in int64, as torch
    return input


def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """``sum_i input_i`` over ``dim`` (all dims by default); integer and bool sum as int64.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 2.], [3., 4.]])
        >>> chainrule.sum(x), x.sum(dim=0), x.sum(1, keepdim=True).shape
        (tensor(10.), tensor([4., 6.]), chainrule.Size([2, 1]))
    """
    input = _sum_input(input, dtype)
    op = Sum if dim is None and not keepdim else _SUM_DIM
    return op.apply(input, dim=_dims(dim, input._data.ndim), keepdim=keepdim)


def mean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """``sum_i input_i / n`` over ``dim`` (all dims by default); needs a floating dtype.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1., 2.], [3., 4.]]).mean(dim=1)
        tensor([1.5000, 3.5000])
    """
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype))
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_dtype_name(input)}")
    op = Mean if dim is None and not keepdim else _MEAN_DIM
    return op.apply(input, dim=_dims(dim, input._data.ndim), keepdim=keepdim)


def prod(input: Any, dim: int | None = None, keepdim: bool = False, *,
         dtype: Any = None) -> Any:
    """``prod_i input_i`` over one ``dim`` (all elements by default); exact gradients with zeros.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 2.], [0., 4.]], requires_grad=True)
        >>> x.prod(1)
        tensor([2., 0.], grad_fn=<ProdBackward1>)
        >>> x.prod().backward()
        >>> x.grad
        tensor([[0., 0.],
                [8., 0.]])
    """
    input = _sum_input(input, dtype)
    nd = input._data.ndim
    if dim is None:
        return Prod.apply(input, dim=None, keepdim=False)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    d = wrap_dim(int(dim), nd)
    return _PROD_DIM.apply(input, dim=None if nd == 0 else (d,), keepdim=keepdim)


def _empty_check(name: str, input: Any, dims: tuple[int, ...] | None, exc: type) -> None:
    shape = input._data.shape
    if input._data.size:
        return
    if dims is None:
        raise exc(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                  f"Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _extreme(name: str, input: Any, dim: Any, keepdim: bool, other: Any) -> Any:
    is_max = name == "max"
    if other is not None or is_tensor(dim):
        other = dim if other is None else other
        return maximum(input, other) if is_max else minimum(input, other)
    if dim is None:
        _empty_check(name, input, None, RuntimeError)
        return (MaxAll if is_max else MinAll).apply(input, dim=None, keepdim=False)
    nd = input._data.ndim
    d = wrap_dim(dim, nd)
    x = input.reshape(1) if nd == 0 else input
    keep = keepdim and nd > 0
    _empty_check(name, x, (d,), IndexError)
    find = xp.argmax if is_max else xp.argmin
    # The indices returned are the tensor the backward saves: modifying them in place is caught
    # by the version check instead of silently moving the gradient.
    indices = _nondiff(find(x._data, axis=d, keepdims=keep))
    values = (MaxDim if is_max else MinDim).apply(x, indices, dim=d, keepdim=keep)
    return (return_types.max if is_max else return_types.min)(values, indices)


def max(input: Any, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """The largest element; with ``dim``, ``(values, indices)`` along it; with a tensor, the
    element-wise :func:`maximum`.

    Without ``dim`` the gradient is shared evenly among tied maxima; with ``dim`` it goes to the
    element at ``indices`` (the first maximum), as torch.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 5.], [4., 2.]])
        >>> chainrule.max(x)
        tensor(5.)
        >>> x.max(dim=1)
        chainrule.return_types.max(
        values=tensor([5., 4.]),
        indices=tensor([1, 0]))
        >>> chainrule.max(x, chainrule.tensor([3., 3.]))
        tensor([[3., 5.],
                [4., 3.]])
    """
    return _extreme("max", input, dim, keepdim, other)


def min(input: Any, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """The smallest element; with ``dim``, ``(values, indices)`` along it; with a tensor, the
    element-wise :func:`minimum`. Gradients as :func:`max`.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 5.], [4., 2.]])
        >>> chainrule.min(x), x.min(0).indices
        (tensor(1.), tensor([0, 1]))
    """
    return _extreme("min", input, dim, keepdim, other)


def _amax_amin(name: str, op: type[Op], input: Any, dim: Any, keepdim: bool) -> Any:
    dims = _dims(dim, input._data.ndim)
    _empty_check(name, input, dims, RuntimeError)
    return op.apply(input, dim=dims, keepdim=keepdim)


def amax(input: Any, dim: Any = (), keepdim: bool = False) -> Any:
    """``max`` over ``dim`` (an int or tuple; all dims by default); ties share the gradient.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 3.], [3., 2.]], requires_grad=True)
        >>> x.amax()
        tensor(3., grad_fn=<AmaxBackward0>)
        >>> x.amax().backward()
        >>> x.grad
        tensor([[0.0000, 0.5000],
                [0.5000, 0.0000]])
    """
    return _amax_amin("amax", Amax, input, dim, keepdim)


def amin(input: Any, dim: Any = (), keepdim: bool = False) -> Any:
    """``min`` over ``dim`` (an int or tuple; all dims by default); ties share the gradient.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1., 3.], [3., 2.]]).amin(dim=1)
        tensor([1., 2.])
    """
    return _amax_amin("amin", Amin, input, dim, keepdim)


def _arg_extreme(name: str, input: Any, dim: Any, keepdim: bool) -> Any:
    if input._data.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    find = xp.argmax if name == "argmax" else xp.argmin
    nd = input._data.ndim
    if dim is None:
        _empty_check(name, input, None, IndexError)
        idx = find(input._data, axis=None, keepdims=keepdim and nd > 0)
        return _nondiff(xp.asarray(idx, dtype=xp.int64))
    d = wrap_dim(dim, nd)
    if nd == 0:
        return _nondiff(xp.zeros((), dtype=xp.int64))
    _empty_check(name, input, (d,), IndexError)
    return _nondiff(find(input._data, axis=d, keepdims=keepdim).astype(xp.int64, copy=False))


def argmax(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """Index of the largest element (of the flattened input, or along ``dim``); the first of
    ties, and of NaNs, as torch.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 5.], [4., 2.]])
        >>> chainrule.argmax(x), x.argmax(dim=1, keepdim=True).tolist()
        (tensor(1), [[1], [0]])
    """
    return _arg_extreme("argmax", input, dim, keepdim)


def argmin(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """Index of the smallest element (of the flattened input, or along ``dim``).

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1., 5.], [4., 2.]]).argmin(0)
        tensor([0, 1])
    """
    return _arg_extreme("argmin", input, dim, keepdim)


def _correction(dim: Any, unbiased: Any, correction: Any) -> tuple[Any, float]:
    # torch's legacy overloads: var(x, unbiased) and var(x, dim, unbiased, keepdim)
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError("var(): got multiple values for argument 'unbiased'")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError("var(): cannot specify both 'unbiased' and 'correction'")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, float(correction)


def _centered(name: str, input: Any, dim: Any, unbiased: Any, keepdim: bool,
              correction: Any) -> tuple[Any, Any, tuple[int, ...] | None, float]:
    """(input - mean, mean, dims, degrees of freedom) for var and std."""
    dim, corr = _correction(dim, unbiased, correction)
    if input._data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = _dims(dim, input._data.ndim)
    m = Mean.apply(input, dim=dims, keepdim=True)
    dof = _count(input._data.shape, dims) - corr
    if dof <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      f"than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return input - m, m, dims, builtins.max(dof, 0.0)


def _divide(t: Any, d: float) -> Any:
    # dof == 0 gives inf or nan, as torch; numpy's divide-by-zero warning would be noise
    with np.errstate(divide="ignore", invalid="ignore"):
        return t / d


def var(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Any:
    """``sum_i (x_i - mean)^2 / (n - correction)`` over ``dim``; ``correction=1`` by default
    (Bessel's), ``unbiased=False`` is ``correction=0``.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 2., 3.], [2., 4., 6.]])
        >>> x.var(dim=1), x.var(1, correction=0)
        (tensor([1., 4.]), tensor([0.6667, 2.6667]))
    """
    c, _, dims, dof = _centered("var", input, dim, unbiased, keepdim, correction)
    return _divide((c * c).sum(dim=dims, keepdim=keepdim), dof)


def std(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Any:
    """``sqrt(var(input, dim, correction))``; the gradient is 0 where std is 0, as torch.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1., 2., 3.], [2., 4., 6.]]).std(dim=1)
        tensor([1., 2.])
    """
    c, _, dims, dof = _centered("std", input, dim, unbiased, keepdim, correction)
    # ||x - mean|| / sqrt(dof): Norm's gradient is 0 at a zero norm, torch's std convention
    return _divide(Norm.apply(c, p=2.0, dim=dims, keepdim=keepdim), math.sqrt(dof))


def var_mean(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple[Any, Any]:
    """``(var(input, dim), mean(input, dim))`` in one pass.

    Example:
        >>> import chainrule
        >>> chainrule.var_mean(chainrule.tensor([1., 2., 3.]))
        (tensor(1.), tensor(2.))
    """
    c, m, dims, dof = _centered("var_mean", input, dim, unbiased, keepdim, correction)
    v = _divide((c * c).sum(dim=dims, keepdim=keepdim), dof)
    return v, _keep_or_squeeze(m, dims, keepdim)


def std_mean(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple[Any, Any]:
    """``(std(input, dim), mean(input, dim))`` in one pass.

    Example:
        >>> import chainrule
        >>> chainrule.std_mean(chainrule.tensor([1., 2., 3.]))
        (tensor(1.), tensor(2.))
    """
    c, m, dims, dof = _centered("std_mean", input, dim, unbiased, keepdim, correction)
    s = _divide(Norm.apply(c, p=2.0, dim=dims, keepdim=keepdim), math.sqrt(dof))
    return s, _keep_or_squeeze(m, dims, keepdim)


def _keep_or_squeeze(m: Any, dims: tuple[int, ...] | None, keepdim: bool) -> Any:
    if keepdim:
        return m
    shape = m._data.shape
    return m.reshape(tuple(n for i, n in enumerate(shape) if dims is not None and i not in dims))


def _vector_norm(input: Any, p: float, dim: Any, keepdim: bool, dtype: Any) -> Any:
    """``linalg.vector_norm``: the p-norm of ``input`` flattened over ``dim``."""
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype))
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_dtype_name(input)}")
    dims = _dims(dim, input._data.ndim)
    if input._data.size == 0 and (p == math.inf or p < 0):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor "
                           f"because the operation does not have an identity")
    return Norm.apply(input, p=float(p), dim=dims, keepdim=keepdim)


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, out: Any = None,
         dtype: Any = None) -> Any:
    """The vector p-norm ``(sum_i |x_i|^p)^(1/p)`` over ``dim`` (all elements by default).

    ``p`` may be any number, ``inf`` (max |x|), ``-inf`` (min |x|), 0 (count of non-zeros) or
    ``'fro'`` (the 2-norm over at most two dims). The gradient is 0 at the zero vector, as torch.

    Note: ``p='nuc'`` (the nuclear norm) needs singular values: use
    ``chainrule.linalg.matrix_norm``.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[3., -4.], [0., 1.]])
        >>> chainrule.norm(x), x.norm(p=1, dim=1), x.norm(float('inf'))
        (tensor(5.0990), tensor([7., 1.]), tensor(4.))
    """
    if out is not None:
        raise TypeError("norm(): the out= argument is not supported")
    if isinstance(p, str):
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if dim is not None and not isinstance(dim, (int, np.integer)) and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                               f"{' '.join(str(d) for d in dim)}")
        p = 2.0
    if p is None:
        p = 2.0
    return _vector_norm(input, float(p), dim, keepdim, dtype)


def logsumexp(input: Any, dim: Any, keepdim: bool = False) -> Any:
    """``log(sum_i exp(input_i))`` over ``dim``, computed stably (max-shifted).

    Example:
        >>> import chainrule
        >>> chainrule.logsumexp(chainrule.tensor([[0., 1000.], [0., 0.]]), dim=1)
        tensor([1.0000e+03, 6.9315e-01])
    """
    x = float_input(input)
    return Logsumexp.apply(x, dim=_dims(dim, x._data.ndim), keepdim=keepdim)


def _scan(op: type[Op], input: Any, dim: int, dtype: Any) -> Any:
    x = _sum_input(input, dtype)
    nd = x._data.ndim
    d = wrap_dim(dim, nd)
    if nd == 0:
        return op.apply(x.reshape(1), dim=0).reshape(())
    return op.apply(x, dim=d)


def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Any:
    """``out_i = sum_{j<=i} input_j`` along ``dim``; integer and bool inputs sum as int64.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1., 2., 3.], [4., 5., 6.]]).cumsum(dim=1)
        tensor([[ 1.,  3.,  6.],
                [ 4.,  9., 15.]])
    """
    return _scan(Cumsum, input, dim, dtype)


def cumprod(input: Any, dim: int, *, dtype: Any = None) -> Any:
    """``out_i = prod_{j<=i} input_j`` along ``dim``; gradients are exact with zeros.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([2., 0., 3.], requires_grad=True)
        >>> y = x.cumprod(0)
        >>> y
        tensor([2., 0., 0.], grad_fn=<CumprodBackward0>)
        >>> y.backward(chainrule.tensor([1., 1., 1.]))
        >>> x.grad
        tensor([1., 8., 0.])
    """
    return _scan(Cumprod, input, dim, dtype)


def _logical_reduce(fn: Any, input: Any, dim: Any, keepdim: bool) -> Any:
    arr = input._data
    dims = _dims(dim, arr.ndim)
    out = fn(arr, axis=dims, keepdims=keepdim)
    if arr.dtype == np.uint8:
        out = xp.asarray(out, dtype=xp.uint8)  # torch keeps uint8 for all/any of uint8
    return _nondiff(out)


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """Whether every element over ``dim`` is non-zero (a bool tensor).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 0.], [2., 3.]])
        >>> chainrule.all(x), x.all(dim=1)
        (tensor(False), tensor([False,  True]))
    """
    return _logical_reduce(xp.all, input, dim, keepdim)


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """Whether some element over ``dim`` is non-zero (a bool tensor).

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1., 0.], [0., 0.]]).any(dim=1)
        tensor([ True, False])
    """
    return _logical_reduce(xp.any, input, dim, keepdim)


def count_nonzero(input: Any, dim: Any = None) -> Any:
    """The number of non-zero elements over ``dim`` (int64).

    Example:
        >>> import chainrule
        >>> chainrule.count_nonzero(chainrule.tensor([[1., 0.], [2., 3.]]), dim=0)
        tensor([2, 1])
    """
    arr = input._data
    dims = _dims(dim, arr.ndim)
    return _nondiff(xp.asarray(xp.count_nonzero(arr, axis=dims), dtype=xp.int64))


# ---------------------------------------------------------------------------------------------
# Tensor methods

cumsum_ = inplace_method(cumsum)
cumprod_ = inplace_method(cumprod)

TENSOR_METHODS: dict[str, Any] = {
    n: n for n in __all__ if n not in ("var_mean", "std_mean", "return_types")}
TENSOR_METHODS.update({"cumsum_": cumsum_, "cumprod_": cumprod_})
