"""PyTorch-style printing of tensors: ``tensor([1.0000, 2.5000], requires_grad=True)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._backend import dtypes

__all__ = ["tensor_repr", "set_printoptions"]

_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision: int | None = None, threshold: int | None = None,
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
        _OPTS.update(precision=4, threshold=2**63 - 1, edgeitems=3, linewidth=80)
    for key, val in (("precision", precision), ("threshold", threshold),
                     ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if val is not None:
            _OPTS[key] = val
    _OPTS["sci_mode"] = sci_mode


def _float_formatter(arr: np.ndarray) -> Any:
    finite = arr[np.isfinite(arr)]
    prec = _OPTS["precision"]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{prec}f}"
    absf = np.abs(finite.astype(np.float64))
    nonzero = absf[absf != 0]
    ints = bool(np.all(finite == np.round(finite)))
    sci = _OPTS["sci_mode"]
    if sci is None:
        sci = bool(nonzero.size) and (nonzero.max() / nonzero.min() > 1000.0
                                      or nonzero.max() > 1e8 or nonzero.min() < 1e-4)
    if sci:
        return lambda v: _special(v) or f"{v:.{prec}e}"
    if ints:
        return lambda v: _special(v) or f"{v:.0f}."
    return lambda v: _special(v) or f"{v:.{prec}f}"


def _special(v: float) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _format_array(arr: np.ndarray) -> str:
    if arr.dtype.kind == "f":
        fmt = _float_formatter(arr)
    elif arr.dtype.kind == "b":
        def fmt(v: Any) -> str:
            return "True" if v else "False"
    else:
        def fmt(v: Any) -> str:
            return str(int(v))
    summarize = arr.size > _OPTS["threshold"]
    edge = _OPTS["edgeitems"]
    flat = arr
    if summarize:
        flat = _summary_view(arr, edge)
    width = max((len(fmt(v)) for v in np.asarray(flat).ravel()), default=1)
    return np.array2string(
        arr, max_line_width=_OPTS["linewidth"], separator=", ", prefix="tensor(",
        formatter={"all": lambda v: fmt(v).rjust(width)},
        threshold=_OPTS["threshold"], edgeitems=edge)


def _summary_view(arr: np.ndarray, edge: int) -> np.ndarray:
    for axis in range(arr.ndim):
        if arr.shape[axis] > 2 * edge:
            idx = list(range(edge)) + list(range(arr.shape[axis] - edge, arr.shape[axis]))
            arr = np.take(arr, idx, axis=axis)
    return arr


def tensor_repr(t: Any, prefix: str = "tensor") -> str:
    """The PyTorch-style ``repr`` of tensor ``t``."""
    arr = t._data
    if arr.ndim == 0:
        body = _format_array(arr.reshape(1))[1:-1].strip()
    elif arr.size == 0:
        body = "[]"
    else:
        body = _format_array(arr)
    suffix = []
    if arr.size == 0 and arr.shape != (0,):
        suffix.append(f"size={tuple(arr.shape)}")
    d = t.dtype
    default_shown = (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_)
    if d not in default_shown:
        suffix.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    if t._fw_grad is not None:
        suffix.append("tangent=" + tensor_repr(t._fw_grad, prefix="").strip("()"))
    text = f"{prefix}({body}"
    for s in suffix:
        text += ", " + s
    return text + ")"
