"""Helpers shared by the op families: operand conversion, type promotion, dim handling.

These run on every public call, so they keep a fast path for the common case (tensors of one
dtype) and only fall back to full promotion when dtypes differ or Python scalars appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes

__all__ = ["is_tensor", "to_tensor", "binary_operands", "result_type", "cast", "float_input",
           "wrap_dim", "dims_tuple", "scalar_value", "inplace_method"]

xp = _backend.xp
_SCALARS = (int, float, bool, np.number, np.bool_)


def is_tensor(x: Any) -> bool:
    return isinstance(x, _backend._tensor_class)


def to_tensor(x: Any, dtype: dtypes.dtype | None = None) -> Any:
    """``x`` as a Tensor (scalars, lists and arrays are wrapped, never differentiable)."""
    T = _backend._tensor_class
    if isinstance(x, T):
        return x if dtype is None or x.dtype is dtype else cast(x, dtype)
    if dtype is None:
        if isinstance(x, _SCALARS):
            dtype = dtypes.scalar_dtype(x)
        else:
            arr = np.asarray(x)
            if arr.dtype.kind == "f" and not isinstance(x, np.ndarray):
                arr = arr.astype(dtypes.get_default_dtype().np)
            return T._make(arr)
    return T._make(xp.asarray(x, dtype=dtype.np))


def result_type(*operands: Any) -> dtypes.dtype:
    """The dtype of an op over ``operands`` under torch's promotion rules.

    Example:
        >>> import chainrule
        >>> chainrule.result_type(chainrule.tensor([1, 2]), 1.0)
        chainrule.float32
    """
    dims, zero, scalars = [], [], []
    T = _backend._tensor_class
    for o in operands:
        if isinstance(o, T):
            (dims if o._data.ndim else zero).append(dtypes._FROM_NP[o._data.dtype])
        else:
            scalars.append(dtypes.scalar_dtype(o))
    return dtypes.result_type_of(dims, zero, scalars)


def cast(t: Any, dtype: dtypes.dtype) -> Any:
    """Differentiable dtype conversion (``t.to(dtype)``); returns ``t`` if already ``dtype``."""
    if t._data.dtype is dtype.np:
        return t
    from chainrule.ops.elementwise import ToCopy

    return ToCopy.apply(t, dtype=dtype)


_constants: dict[tuple[Any, Any], Any] = {}


def constant(value: Any, npdtype: Any) -> Any:
    """A cached 0-d Tensor for a Python number: built once, shared, never differentiable.

    NumPy computes ``array * 0-d array`` as fast as ``array * array`` but a Python float costs
    twice as much, and building the wrapper costs as much again; training loops reuse a few
    constants (``1 - out``, ``x * 0.5``), so caching them saves both. Zero and NaN are not
    cached (-0.0 == 0.0 and nan != nan would confuse the dict).
    """
    key = (value, npdtype)
    t = _constants.get(key)
    if t is None:
        try:
            arr = xp.asarray(value, dtype=npdtype)
        except OverflowError:  # torch wraps out-of-range ints (uint8 * -3), NumPy 2 refuses
            arr = xp.asarray(value).astype(npdtype)
        t = _backend.make_tensor(arr)
        t._extra = None  # shared beyond an inference_mode block: never an inference tensor
        if value and value == value and value.__class__ is not bool:
            if len(_constants) > 4096:
                _constants.clear()
            t._data.flags.writeable = False
            _constants[key] = t
    return t


def binary_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Tensors of one promoted dtype for a binary op (Python scalars become 0-d tensors)."""
    T = _backend._tensor_class
    if isinstance(a, T):
        if isinstance(b, T):
            if a._data.dtype is b._data.dtype:
                return a, b
            d = result_type(a, b)
            return cast(a, d), cast(b, d)
        cls = b.__class__
        if (cls is float or cls is int) and a._data.dtype.kind == "f":
            c = _constants.get((b, a._data.dtype))  # constant()'s cache, looked up inline
            return a, constant(b, a._data.dtype) if c is None else c
        d = result_type(a, b)
        return cast(a, d), constant(b, d.np)
    if isinstance(b, T):
        cls = a.__class__
        if (cls is float or cls is int) and b._data.dtype.kind == "f":
            return constant(a, b._data.dtype), b
        d = result_type(a, b)
        return constant(a, d.np), cast(b, d)
    d = result_type(a, b)
    return constant(a, d.np), constant(b, d.np)


def float_input(x: Any) -> Any:
    """``x`` as a floating Tensor: integer and bool inputs go to the default float dtype, as
    torch does for exp, log, sin, sqrt and the other transcendental ops."""
    if isinstance(x, _backend._tensor_class):
        if x._data.dtype.kind == "f":
            return x
    else:
        x = to_tensor(x)
    if x._data.dtype.kind != "f":
        return cast(x, dtypes.get_default_dtype())
    return x


def wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` in ``[0, ndim)``; negative dims count from the end; IndexError as torch."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def dims_tuple(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    """A sorted tuple of wrapped dims, or None for 'all dims'."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (wrap_dim(int(dim), ndim),)
    dims = tuple(sorted(wrap_dim(int(d), ndim) for d in dim))
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return dims if dims or ndim == 0 else None


def scalar_value(x: Any) -> Any:
    """A Python number from a number or a one-element tensor."""
    return x.item() if is_tensor(x) else x


def inplace_method(fn: Any) -> Any:
    """The in-place method ``<fn>_``: computes ``fn`` out of place, then ``Tensor._inplace``
    writes the result into ``self`` (recording history when autograd needs it)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        src = self._old() if self._inplace_recording(*args, *kwargs.values()) else self
        return self._inplace(fn(src, *args, **kwargs))

    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    method.__doc__ = f"In-place :func:`{fn.__name__}`; bumps the version counter."
    return method
