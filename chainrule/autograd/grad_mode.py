"""Gradient-recording switches: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager and as a decorator, as in torch. The state lives in one
module-level object so the hot path (``Op.apply``) reads it with one attribute lookup.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "STATE"]

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    """The process-wide switches. ``special`` is true while any of forward AD, anomaly
    detection, recording for drawings or tracing (``chainrule.jit``) is on, so the hot path
    tests one attribute."""

    __slots__ = ("enabled", "inference", "anomaly_check_nan", "special", "_fw_level",
                 "_anomaly", "_record", "_tracer")

    def __init__(self) -> None:
        self.enabled = True
        self.inference = False
        self.anomaly_check_nan = True
        self.special = False
        self._fw_level = -1  # current forward-AD dual level; -1 when none is open
        self._anomaly = False
        self._record = False  # nodes keep their output values (chainrule.viz.record)
        self._tracer: Any = None  # chainrule.jit's tracer: sees every op Op.apply runs

    def _update(self) -> None:
        self.special = (self._fw_level >= 0 or self._anomaly or self._record
                        or self._tracer is not None)

    @property
    def fw_level(self) -> int:
        return self._fw_level

    @fw_level.setter
    def fw_level(self, value: int) -> None:
        self._fw_level = value
        self._update()

    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, value: bool) -> None:
        self._anomaly = value
        self._update()

    @property
    def record(self) -> bool:
        return self._record

    @record.setter
    def record(self, value: bool) -> None:
        self._record = value
        self._update()

    @property
    def tracer(self) -> Any:
        return self._tracer

    @tracer.setter
    def tracer(self, value: Any) -> None:
        self._tracer = value
        self._update()


STATE = _State()


def is_grad_enabled() -> bool:
    """Whether operations are being recorded for backward.

    Example:
        >>> import chainrule
        >>> with chainrule.no_grad():
        ...     chainrule.is_grad_enabled()
        False
    """
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    """Whether an :class:`inference_mode` block is active."""
    return STATE.inference


class _DecoratorContextManager:
    """Base for switches usable both as ``with`` blocks and as decorators."""

    def __call__(self, func: F) -> F:
        if inspect.isclass(func):
            raise RuntimeError("grad-mode switches cannot decorate classes")
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                gen = func(*args, **kwargs)
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        gen.close()
                        raise
                    with self.clone():
                        try:
                            response = gen.send(request)
                        except StopIteration as stop:
                            return stop.value
            return gen_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def clone(self) -> _DecoratorContextManager:
        return self.__class__()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also usable as a bare decorator (``@no_grad`` without parentheses), as torch."""

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Disable gradient recording inside the block or decorated function.

    Example:
        >>> import chainrule
        >>> x = chainrule.ones(2, requires_grad=True)
        >>> with chainrule.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self) -> None:
        self.prev = STATE.enabled
        STATE.enabled = False

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self.prev


class enable_grad(_NoParamDecoratorContextManager):
    """Enable gradient recording inside the block, even within ``no_grad``.

    Example:
        >>> import chainrule
        >>> x = chainrule.ones(2, requires_grad=True)
        >>> with chainrule.no_grad(), chainrule.enable_grad():
        ...     (x * 2).requires_grad
        True
    """

    def __enter__(self) -> None:
        self.prev = STATE.enabled
        STATE.enabled = True

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Set gradient recording on or off; takes effect at once and as a context manager.

    Example:
        >>> import chainrule
        >>> with chainrule.set_grad_enabled(False):
        ...     chainrule.is_grad_enabled()
        False
        >>> chainrule.is_grad_enabled()
        True
    """

    def __init__(self, mode: bool) -> None:
        self.prev = STATE.enabled
        self.mode = bool(mode)
        STATE.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self.prev

    def clone(self) -> set_grad_enabled:
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad``, for pure inference. Tensors made inside are marked as inference tensors.

    Example:
        >>> import chainrule
        >>> with chainrule.inference_mode():
        ...     y = chainrule.ones(2, requires_grad=True) * 2
        >>> y.requires_grad, y.is_inference()
        (False, True)
    """

    def __new__(cls, mode_or_orig_func: Any = True) -> Any:
        if mode_or_orig_func is None or isinstance(mode_or_orig_func, bool):
            return super().__new__(cls)
        return cls()(mode_or_orig_func)  # bare @inference_mode

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.prev = (STATE.enabled, STATE.inference)
        if self.mode:
            STATE.enabled = False
            STATE.inference = True
        else:
            STATE.inference = False

    def __exit__(self, *exc: object) -> None:
        STATE.enabled, STATE.inference = self.prev

    def clone(self) -> inference_mode:
        return self.__class__(self.mode)
