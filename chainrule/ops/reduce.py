"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumsum, cumprod, all, any.

``dim`` is an int, a tuple of ints, or None (all dims); ``keepdim`` keeps reduced dims as 1.
"""

from __future__ import annotations

from typing import Any

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule.autograd.op import Op
from chainrule.ops._util import cast, dims_tuple

xp = _backend.xp

__all__ = ["sum", "mean"]


def _kept_shape(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> tuple[int, ...]:
    if dim is None:
        return (1,) * len(shape)
    return tuple(1 if i in dim else n for i, n in enumerate(shape))


class Sum(Op):
    """out = x.sum(dim, keepdim);  the derivative copies g back over the reduced dims."""

    @staticmethod
    def forward(x, *, dim, keepdim):
        return xp.sum(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        if not keepdim:
            g = g.reshape(_kept_shape(x.shape, dim))
        return (g.expand(x.shape),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return x_dot.sum(dim=dim, keepdim=keepdim)


class Mean(Op):
    """out = x.mean(dim, keepdim);  d out = mean of dx; the vjp spreads g / n over the dims."""

    @staticmethod
    def forward(x, *, dim, keepdim):
        return xp.mean(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def vjp(g, out, x, *, dim, keepdim):
        n = x.numel() // max(out.numel(), 1) if out is not None else _count(x.shape, dim)
        if not keepdim:
            g = g.reshape(_kept_shape(x.shape, dim))
        return (g.expand(x.shape) / n,)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, keepdim):
        return x_dot.mean(dim=dim, keepdim=keepdim)


def _count(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dim is None or i in dim:
            n *= s
    return n


def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Sum of elements over ``dim`` (all dims by default). Integer and bool inputs sum as int64.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 2.], [3., 4.]])
        >>> chainrule.sum(x), x.sum(dim=0), x.sum(1, keepdim=True).shape
        (tensor(10.), tensor([4., 6.]), chainrule.Size([2, 1]))
    """
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype))
    elif input._data.dtype.kind in "biu":
        input = cast(input, dtypes.int64)
    return Sum.apply(input, dim=dims_tuple(dim, input._data.ndim), keepdim=keepdim)


def mean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Mean of elements over ``dim`` (all dims by default); needs a floating dtype, as torch.

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
            f"or complex dtype. Got: {input.dtype.name.capitalize()}")
    return Mean.apply(input, dim=dims_tuple(dim, input._data.ndim), keepdim=keepdim)


TENSOR_METHODS = {n: n for n in __all__}
