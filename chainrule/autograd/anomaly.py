"""detect_anomaly: name the first op whose output (forward) or gradient (backward) is NaN/Inf.

While it is on, every op checks its floating output and every vjp result is checked, and each
Node remembers the user's source line that created it, so the error points at user code.
The cost is one ``isfinite`` reduction per op plus a stack walk per recorded node.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import STATE, _DecoratorContextManager

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# How many backward passes are running: ops inside vjp rules are not checked as forward ops
# (a NaN they make is reported by check_backward, which names the backward node).
in_backward = [0]


def is_anomaly_enabled() -> bool:
    """Whether :class:`detect_anomaly` is active."""
    return STATE.anomaly


def creation_trace() -> str:
    """``file:line`` of the innermost frame outside the chainrule package (the user's line)."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_PKG_DIR):
            return (f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
                    f'    {frame.line}')
    return "<unknown>"


def _bad(arr: np.ndarray) -> str | None:
    if arr.dtype.kind != "f":
        return None
    if np.isfinite(arr).all():
        return None
    return "nan" if np.isnan(arr).any() else "inf"


def check_forward(op_name: str, result: Any) -> None:
    """Raise if an op just produced a NaN or Inf (only while anomaly mode is on)."""
    if not STATE.anomaly_check_nan or in_backward[0]:
        return
    kind = _bad(result._data)
    if kind is not None:
        raise RuntimeError(
            f"Function '{op_name}' produced {kind} values in its output (forward).\n"
            f"The op was called from:\n  {creation_trace()}")


def check_backward(node: Any, index: int, grad: Any) -> None:
    """Raise if a node's vjp returned a NaN or Inf gradient for input ``index``."""
    if not STATE.anomaly_check_nan:
        return
    kind = _bad(grad._data)
    if kind is not None:
        where = node.trace or "<created before anomaly detection was enabled>"
        raise RuntimeError(
            f"Function '{node.name()}' returned {kind} values in its {index}th output.\n"
            f"The forward call that created it:\n  {where}")


class detect_anomaly(_DecoratorContextManager):
    """Context manager / decorator that finds the op producing a NaN or Inf.

    Args:
        check_nan: check outputs and gradients for NaN/Inf. Default: ``True``.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([0.0], requires_grad=True)
        >>> with chainrule.autograd.detect_anomaly():
        ...     try:
        ...         y = x.log() * 0
        ...     except RuntimeError as e:
        ...         print(str(e).splitlines()[0])
        Function 'log' produced inf values in its output (forward).
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        STATE.anomaly = True
        STATE.anomaly_check_nan = self.check_nan

    def __exit__(self, *exc: object) -> None:
        STATE.anomaly, STATE.anomaly_check_nan = self.prev

    def clone(self) -> detect_anomaly:
        return self.__class__(self.check_nan)


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off; takes effect at once and as a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.mode = mode
        self.check_nan = check_nan
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        STATE.anomaly = bool(mode)
        STATE.anomaly_check_nan = check_nan

    def __enter__(self) -> None:
        pass

    def clone(self) -> set_detect_anomaly:
        return self.__class__(self.mode, self.check_nan)
