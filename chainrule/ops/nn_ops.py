"""Softmax family: softmax, log_softmax, softmin.

softmax and log_softmax are fused primitives for numerical stability: the forward subtracts
the row maximum before exponentiating, so inputs of 1000 neither overflow nor lose the
answer. Their derivative rules are Tensor expressions in the output, so they are twice
differentiable. They sit under cross-entropy on every training step.
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.op import Op
from chainrule.ops._util import cast, wrap_dim
from chainrule.ops.indexing import _dtype_name

xp = _backend.xp

__all__ = ["softmax", "log_softmax", "softmin"]


class Softmax(Op):
    """out = exp(x - max) / sum exp(x - max) along dim;  d out = out * (dx - sum(dx * out))."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x, *, dim):
        if x.ndim == 0:
            return xp.ones_like(x)
        if x.size == 0:
            return x.copy()
        e = x - x.max(axis=dim, keepdims=True)
        xp.exp(e, out=e)
        e /= e.sum(axis=dim, keepdims=True)
        return e

    @staticmethod
    def vjp(g, out, x, *, dim):
        if out._data.ndim == 0:
            return (g * 0,)
        if not STATE.enabled:
            # No graph is being built: the same formula in one pass over arrays, two fewer
            # temporaries and no per-op overhead (the Tensor form below serves create_graph).
            o = out._data
            gd = g._data * o
            s = gd.sum(axis=dim, keepdims=True)
            xp.subtract(g._data, s, out=gd)
            gd *= o
            return (_backend.wrap(gd),)
        return (out * (g - (g * out).sum(dim, keepdim=True)),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim):
        if out._data.ndim == 0:
            return x_dot * 0
        return out * (x_dot - (x_dot * out).sum(dim, keepdim=True))


class LogSoftmax(Op):
    """out = x - max - log sum exp(x - max) along dim;  d out = dx - sum(exp(out) * dx)."""

    needs_inputs = False
    needs_output = True

    @staticmethod
    def forward(x, *, dim):
        if x.ndim == 0:
            return xp.zeros_like(x)
        if x.size == 0:
            return x.copy()
        shifted = x - x.max(axis=dim, keepdims=True)
        lse = xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        shifted -= lse
        return shifted

    @staticmethod
    def vjp(g, out, x, *, dim):
        if out._data.ndim == 0:
            return (g * 0,)
        if not STATE.enabled:
            # No graph is being built: one pass over arrays (see Softmax.vjp).
            p = xp.exp(out._data)
            p *= g._data.sum(axis=dim, keepdims=True)
            xp.subtract(g._data, p, out=p)
            return (_backend.wrap(p),)
        return (g - out.exp() * g.sum(dim, keepdim=True),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim):
        if out._data.ndim == 0:
            return x_dot * 0
        return x_dot - (out.exp() * x_dot).sum(dim, keepdim=True)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(name: str, input: Any, dim: Any, stacklevel: Any, dtype: Any) -> tuple[Any, int]:
    if isinstance(stacklevel, dtypes.dtype):
        # torch.softmax(x, dim, dtype) passes dtype third; F.softmax has _stacklevel there
        dtype, stacklevel = stacklevel, 3
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype))
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                                  f"'{_dtype_name(input)}'")
    nd = input._data.ndim
    if dim is None:
        dim = _softmax_dim(name, nd, int(stacklevel) + 1)
    return input, wrap_dim(dim, nd)


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Any:
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``, computed stably (max subtracted first).

    Args:
        input: a floating tensor.
        dim: the dim whose entries sum to 1. Omitting it picks one with a deprecation
            warning, as torch.
        dtype: cast the input to this dtype first.

    Example:
        >>> import chainrule
        >>> chainrule.softmax(chainrule.tensor([1000., 1000., 1000. + 0.69314718]), dim=0)
        tensor([0.2500, 0.2500, 0.5000])
    """
    x, d = _prepare("softmax", input, dim, _stacklevel, dtype)
    return Softmax.apply(x, dim=d)


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Any:
    """``x_i - log sum_j exp(x_j)`` along ``dim``, computed stably (max subtracted first).

    Args:
        input: a floating tensor.
        dim: the dim to normalize over. Omitting it picks one with a deprecation warning.
        dtype: cast the input to this dtype first.

    Example:
        >>> import chainrule
        >>> chainrule.log_softmax(chainrule.tensor([[0., 0.], [1000., 0.]]), dim=1)
        tensor([[-0.6931, -0.6931],
                [ 0.0000, -1000.0000]])
    """
    x, d = _prepare("log_softmax", input, dim, _stacklevel, dtype)
    return LogSoftmax.apply(x, dim=d)


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Any:
    """``softmax(-x)`` along ``dim``: weights that favour the smallest entries.

    Example:
        >>> import chainrule
        >>> chainrule.softmin(chainrule.tensor([0., 0.69314718]), dim=0)
        tensor([0.6667, 0.3333])
    """
    if isinstance(_stacklevel, dtypes.dtype):
        dtype, _stacklevel = _stacklevel, 3
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype))
    if dim is None:
        dim = _softmax_dim("softmin", input._data.ndim, int(_stacklevel) + 1)
    x, d = _prepare("softmax", -input, dim, _stacklevel, None)
    return Softmax.apply(x, dim=d)


def _softmax_method(self: Any, dim: int | None = None, dtype: Any = None) -> Any:
    return softmax(self, dim, dtype=dtype)


def _log_softmax_method(self: Any, dim: int | None = None, dtype: Any = None) -> Any:
    return log_softmax(self, dim, dtype=dtype)


TENSOR_METHODS: dict[str, Any] = {"softmax": "_softmax_method",
                                  "log_softmax": "_log_softmax_method"}
