"""PyTorch-style printing of tensors: ``tensor([1.0000, 2.5000], requires_grad=True)``.

The algorithm is torch's (``torch/_tensor_str.py``), on NumPy arrays: one formatter per tensor
decides integer, fixed or scientific notation and a common width from the finite non-zero
values; rows wrap at ``linewidth``; tensors over ``threshold`` elements show ``edgeitems`` at
each end of every dimension.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._backend import dtypes

__all__ = ["tensor_repr", "set_printoptions", "get_printoptions"]

_OPTS: dict[str, Any] = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
                         "sci_mode": None}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, as ``torch.set_printoptions``.

    Example:
        >>> import chainrule
        >>> chainrule.set_printoptions(precision=2)
        >>> chainrule.tensor([1.234])
        tensor([1.23])
        >>> chainrule.set_printoptions(profile="default")
    """
    if profile == "default":
        _OPTS.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        _OPTS.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        _OPTS.update(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)
    for key, val in (("precision", precision), ("threshold", threshold),
                     ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if val is not None:
            _OPTS[key] = val
    _OPTS["sci_mode"] = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current print options, as keyword arguments for :func:`set_printoptions`.

    Example:
        >>> import chainrule
        >>> chainrule._tensor_str.get_printoptions()["precision"]
        4
    """
    return dict(_OPTS)


class _Formatter:
    """One number format for every element of a tensor, chosen from its finite non-zero
    values: integers print as ``3.``, else fixed ``precision`` decimals, switching to
    scientific when the values span more than 1000x, exceed 1e8 or go below 1e-4."""

    def __init__(self, arr: np.ndarray) -> None:
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        prec = _OPTS["precision"]
        flat = arr.reshape(-1)
        if not self.floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(str(value)))
        else:
            vals = flat.astype(np.float64)
            vals = vals[np.isfinite(vals) & (vals != 0)]
            if vals.size == 0:
                return  # all zero or non-finite: plain format, even with sci_mode set (torch)
            absv = np.abs(vals)
            vmin, vmax = absv.min(), absv.max()
            self.int_mode = bool(np.all(vals == np.ceil(vals)))
            sci = _OPTS["sci_mode"]
            if sci is None:
                sci = bool(vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4)
            self.sci_mode = sci
            if sci:
                widths = [len(f"{v:.{prec}e}") for v in vals.tolist()]
            elif self.int_mode:
                widths = [len(f"{v:.0f}") + 1 for v in vals.tolist()]  # + 1 for the '.'
            else:
                widths = [len(f"{v:.{prec}f}") for v in vals.tolist()]
            self.max_width = max(self.max_width, max(widths))

    def width(self) -> int:
        return self.max_width

    def format(self, value: Any) -> str:
        prec = _OPTS["precision"]
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{prec}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{prec}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _summarized_data(arr: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows: ``edgeitems`` at both ends of each dim."""
    edge = _OPTS["edgeitems"]
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        if arr.shape[0] > 2 * edge:
            return np.concatenate((arr[:edge], arr[-edge:]))
        return arr
    if not edge:
        return np.empty((0,) * arr.ndim, dtype=arr.dtype)
    if arr.shape[0] > 2 * edge:
        rows = list(range(edge)) + list(range(arr.shape[0] - edge, arr.shape[0]))
    else:
        rows = list(range(arr.shape[0]))
    return np.stack([_summarized_data(arr[i]) for i in rows])


def _vector_str(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    edge = _OPTS["edgeitems"]
    element_length = fmt.width() + 2  # the element, a comma and a space
    per_line = max(1, int(math.floor((_OPTS["linewidth"] - indent) / element_length)))
    if summarize and not edge:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * edge:
        data = ([fmt.format(v) for v in arr[:edge].tolist()] + [" ..."]
                + [fmt.format(v) for v in arr[-edge:].tolist()])
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(arr: np.ndarray, indent: int, summarize: bool,
                               fmt: _Formatter) -> str:
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, fmt)
    edge = _OPTS["edgeitems"]
    n = arr.shape[0]
    if summarize and n > 2 * edge:
        slices = ([_tensor_str_with_formatter(arr[i], indent + 1, summarize, fmt)
                   for i in range(edge)] + ["..."]
                  + [_tensor_str_with_formatter(arr[i], indent + 1, summarize, fmt)
                     for i in range(n - edge, n)])
    else:
        slices = [_tensor_str_with_formatter(arr[i], indent + 1, summarize, fmt)
                  for i in range(n)]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _tensor_str(arr: np.ndarray, indent: int) -> str:
    if arr.size == 0:
        return "[]"
    summarize = arr.size > _OPTS["threshold"]
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # torch prints half tensors through float
    fmt = _Formatter(_summarized_data(arr) if summarize else arr)
    return _tensor_str_with_formatter(arr, indent, summarize, fmt)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int) -> str:
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > _OPTS["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t: Any, prefix: str = "tensor(") -> str:
    """The PyTorch-style ``repr`` of tensor ``t``.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1.5, -2.0], [3.0, 4.0]], requires_grad=True)
        tensor([[ 1.5000, -2.0000],
                [ 3.0000,  4.0000]], requires_grad=True)
    """
    arr = t._data
    indent = len(prefix)
    suffixes = []
    d = t.dtype
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        # No elements show whether it holds integers: the dtype is always explicit.
        if d is not dtypes.get_default_dtype():
            suffixes.append(f"dtype={d!r}")
        body = "[]"
    else:
        if not _OPTS["edgeitems"]:
            suffixes.append(f"size={tuple(arr.shape)}")
        if d not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={d!r}")
        body = _tensor_str(arr, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    if t._fw_grad is not None:
        suffixes.append(f"tangent={tensor_repr(t._fw_grad)}")
    return _add_suffixes(prefix + body, suffixes, indent)
