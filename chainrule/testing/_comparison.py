"""assert_close with torch.testing's semantics, and the tolerance table used by every test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule import _backend

__all__ = ["assert_close", "default_tolerances"]

# torch.testing.assert_close's defaults per dtype: (rtol, atol)
_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


def default_tolerances(dtype: Any, *, kind: str = "forward") -> tuple[float, float]:
    """``(rtol, atol)`` for comparing values of ``dtype``; the one place tolerances live.

    ``kind='grad'`` loosens float32 a little: gradients sum many products, so rounding
    differs from PyTorch's accumulation order.

    Example:
        >>> import numpy as np
        >>> default_tolerances(np.float32)
        (1.3e-06, 1e-05)
    """
    d = np.dtype(getattr(dtype, "np", dtype))
    rtol, atol = _TOLERANCES.get(d, (0.0, 0.0))
    if kind == "grad" and d == np.float32:
        return 1e-5, 1e-5
    if kind == "grad" and d == np.float64:
        return 1e-6, 1e-7
    return rtol, atol


def _to_array(x: Any) -> np.ndarray:
    if isinstance(x, _backend._tensor_class):
        return x._data
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _dtype_name(x: Any) -> str:
    if isinstance(x, _backend._tensor_class):
        return x.dtype.name
    if hasattr(x, "dtype") and hasattr(x, "detach"):
        return str(x.dtype).replace("torch.", "")
    return type(x).__name__


def assert_close(actual: Any, expected: Any, *, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: str | None = None) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` element-wise, as torch.testing.

    Works on tensors (chainrule's, or torch's), NumPy arrays, numbers, and nested sequences
    and mappings of them. Shapes must match and, with ``check_dtype``, dtypes too. Default
    tolerances depend on the dtype (:func:`default_tolerances`); give both or neither.

    Raises:
        AssertionError: naming the mismatched elements and the greatest differences.

    Example:
        >>> import chainrule
        >>> from chainrule.testing import assert_close
        >>> assert_close(chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 2.0 + 1e-7]))
        >>> assert_close(chainrule.tensor([1.0]), chainrule.tensor([2.0]))
        Traceback (most recent call last):
          ...
        AssertionError: Tensor-likes are not close!
        <BLANKLINE>
        Mismatched elements: 1 / 1 (100.0%)
        Greatest absolute difference: 1.0 at index (0,) (up to 1e-05 allowed)
        Greatest relative difference: 0.5 at index (0,) (up to 1.3e-06 allowed)
    """
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(actual) != set(expected):
            raise AssertionError(msg or f"The keys of the mappings do not match: "
                                        f"{sorted(map(str, actual))} != "
                                        f"{sorted(map(str, expected))}")
        for key in expected:
            assert_close(actual[key], expected[key], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(actual, Sequence) or len(actual) != len(expected):
            raise AssertionError(msg or "The length of the sequences mismatch")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    a, e = _to_array(actual), _to_array(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                                    f"{a.shape} != {e.shape}.")
    if check_dtype and _dtype_name(actual) != _dtype_name(expected):
        both_numbers = not hasattr(actual, "dtype") and not hasattr(expected, "dtype")
        if not both_numbers:
            raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                        f"{_dtype_name(actual)} != {_dtype_name(expected)}.")
    if rtol is None:
        rtol, atol = default_tolerances(e.dtype if e.dtype.kind == "f" else a.dtype)
    if a.dtype.kind == "b" or e.dtype.kind == "b":
        bad = a != e
    else:
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(a64 - e64)
            bad = ~(diff <= atol + rtol * np.abs(e64))
        both_inf = np.isinf(a64) & np.isinf(e64) & (np.sign(a64) == np.sign(e64))
        bad &= ~both_inf
        if equal_nan:
            bad &= ~(np.isnan(a64) & np.isnan(e64))
    if not np.any(bad):
        return
    n_bad, total = int(np.count_nonzero(bad)), bad.size
    lines = ["Tensor-likes are not close!" if a.ndim else "Scalars are not close!", "",
             f"Mismatched elements: {n_bad} / {total} ({100.0 * n_bad / total:.1f}%)"]
    if a.dtype.kind != "b":
        with np.errstate(invalid="ignore", divide="ignore"):
            absd = np.where(bad, np.abs(a64 - e64), -1.0)
            reld = np.where(bad, np.abs(a64 - e64) / np.abs(e64), -1.0)
        ia = np.unravel_index(int(np.nanargmax(absd)), a.shape) if a.ndim else ()
        ir = np.unravel_index(int(np.nanargmax(reld)), a.shape) if a.ndim else ()
        ia = tuple(int(i) for i in ia)
        ir = tuple(int(i) for i in ir)
        lines.append(f"Greatest absolute difference: {absd[ia]} at index {ia} (up to {atol} "
                     f"allowed)")
        lines.append(f"Greatest relative difference: {reld[ir]} at index {ir} (up to {rtol} "
                     f"allowed)")
    text = "\n".join(lines)
    raise AssertionError(f"{msg}\n\n{text}" if msg else text)
