"""dtypes and PyTorch's type-promotion rules.

A :class:`dtype` wraps the NumPy dtype that stores it. Promotion follows PyTorch, not NumPy:
ints and floats promote to the float (``int64 + float16 -> float16``), and Python scalars and
zero-dimensional tensors only decide the *category* of the result, never widen it
(``float32 tensor * 2.0 -> float32``; ``int32 tensor * 2.5 -> float32``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "bool_", "half", "float", "double", "short", "int", "long", "promote_types",
    "get_default_dtype", "set_default_dtype", "to_dtype", "result_type_of",
]


class dtype:
    """A tensor element type, e.g. ``chainrule.float32``; wraps the NumPy dtype that stores it.

    Example:
        >>> import chainrule
        >>> chainrule.float32.is_floating_point, chainrule.float32.itemsize
        (True, 4)
    """

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_rank", "_kind")

    def __init__(self, name: str, np_dtype: type, kind: int, rank: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self._kind = kind  # 0 bool, 1 integer, 2 floating
        self._rank = rank
        self.is_floating_point = kind == 2
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self) -> str:
        return self.name


bool_ = dtype("bool", np.bool_, 0, 0)
uint8 = dtype("uint8", np.uint8, 1, 1)
int8 = dtype("int8", np.int8, 1, 1)
int16 = dtype("int16", np.int16, 1, 2)
int32 = dtype("int32", np.int32, 1, 3)
int64 = dtype("int64", np.int64, 1, 4)
float16 = dtype("float16", np.float16, 2, 1)
float32 = dtype("float32", np.float32, 2, 2)
float64 = dtype("float64", np.float64, 2, 3)
half, float, double = float16, float32, float64  # noqa: A001  (torch's aliases)
short, int, long = int16, int32, int64  # noqa: A001

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_FROM_NP = {d.np: d for d in ALL}

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of new floating tensors (``float32`` unless changed).

    Example:
        >>> import chainrule
        >>> chainrule.get_default_dtype()
        chainrule.float32
    """
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the dtype of new floating tensors; only floating dtypes are allowed, as in torch."""
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def to_dtype(d: object) -> dtype:
    """Convert a chainrule dtype, NumPy dtype, Python type or name to a chainrule ``dtype``."""
    if isinstance(d, dtype):
        return d
    if d is None:
        return _default_float
    if d is builtins_float:
        return _default_float
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        found = _FROM_NP.get(np.dtype(d))  # type: ignore[call-overload]
    except TypeError:
        found = None
    if found is None:
        raise TypeError(f"chainrule does not support dtype {d!r}")
    return found


def from_numpy_dtype(npd: np.dtype) -> dtype:
    """The chainrule dtype that stores arrays of NumPy dtype ``npd``."""
    found = _FROM_NP.get(npd)
    if found is None:
        raise TypeError(
            f"can't convert np.ndarray of type {npd}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        )
    return found


import builtins as _builtins  # noqa: E402  (after the aliases above shadow float/int/bool)

builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"half": float16, "float": float32, "double": float64, "short": int16,
                 "int": int32, "long": int64})


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to, with torch's rules.

    Example:
        >>> import chainrule
        >>> chainrule.promote_types(chainrule.int64, chainrule.float16)
        chainrule.float16
        >>> chainrule.promote_types(chainrule.uint8, chainrule.int8)
        chainrule.int16
    """
    if a is b:
        return a
    if a._kind != b._kind:
        return a if a._kind > b._kind else b
    if a._kind == 2:
        return a if a._rank >= b._rank else b
    return _FROM_NP[np.promote_types(a.np, b.np)]


def _combine_categories(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # torch's c10 combine_categories: a lower-priority operand (0-dim tensor or Python
    # scalar) only raises the category; within the same category the higher priority wins.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type_of(dims: list[dtype], zero_dims: list[dtype], scalars: list[dtype]) -> dtype:
    """Promote three priority tiers as torch does: dimensioned tensors, 0-dim tensors, scalars."""
    tiers: list[dtype | None] = []
    for group in (dims, zero_dims, scalars):
        acc: dtype | None = None
        for d in group:
            acc = d if acc is None else promote_types(acc, d)
        tiers.append(acc)
    result = _combine_categories(tiers[0], _combine_categories(tiers[1], tiers[2]))
    assert result is not None
    return result


def scalar_dtype(value: object) -> dtype:
    """The dtype a Python scalar takes in promotion: bool, int64, or the default float."""
    if isinstance(value, builtins_bool):
        return bool_
    if isinstance(value, builtins_int):
        return int64
    if isinstance(value, (builtins_float, np.floating)):
        return _default_float
    if isinstance(value, np.integer):
        return int64
    if isinstance(value, np.bool_):
        return bool_
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


_SCALAR_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                      "int32": "Int", "int64": "Long", "float16": "Half", "float32": "Float",
                      "float64": "Double"}


def scalar_type_name(d: dtype) -> str:
    """torch's ScalarType name, as its error messages print it (``Float``, ``Long``)."""
    return _SCALAR_TYPE_NAMES[d.name]
