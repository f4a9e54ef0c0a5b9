"""Graph-only operations (:class:`~chainrule.jit._ir.Kernel`s) the tracer records.

- :class:`Call`: a call into an eager function recorded as one node, for functions that
  compute on raw arrays between primitives (max-pooling's window search, the statistics of
  batch/layer/group norm, dropout's random mask). At run time the node calls the function
  itself, so whatever it computes is recomputed from the node's inputs at every call; its
  gradient comes from the autograd graph the call records (see :mod:`chainrule.jit._autodiff`).
- :class:`UpdateRunning`: batch norm's in-place update of a running statistic (an effect).
- :class:`Assign`: any other in-place update of a buffer (an effect).
- :class:`Empty`: scratch memory an op writes into (cross-entropy keeps its softmax there).
- :class:`Detach`: a tensor that shares another's data with no gradient (``x.detach()``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.jit import _tree
from chainrule.jit._ir import Kernel, _format_value

__all__ = ["Call", "UpdateRunning", "Assign", "Empty", "Detach"]


class Call(Kernel):
    """``fn(*args, **kwargs)`` with the tensors of the call as the node's inputs.

    ``spec`` rebuilds the call's arguments from the input tensors (non-tensor arguments are
    kept in it); the function's tensor results are the node's outputs, in order.
    """

    def __init__(self, fn: Any, name: str, spec: Any, out_spec: Any, n_outputs: int,
                 shown: dict[str, Any], *, pure: bool = True, effect: bool = False) -> None:
        self.fn = fn
        self.name = name
        self.spec = spec
        self.out_spec = out_spec
        self.n_outputs = n_outputs
        self.shown = shown  # the non-tensor arguments, for printing and ONNX export
        self.pure = pure
        self.effect = effect

    def _call(self, tensors: list[Any]) -> list[Any]:
        args, kwargs = _tree.unflatten(self.spec, tensors)
        outs, _ = _tree.flatten(self.fn(*args, **kwargs))
        return outs

    def forward(self, *arrays: Any) -> Any:
        with no_grad():
            outs = self._call([_backend.wrap(a) for a in arrays])
        if self.n_outputs == 1:
            return outs[0]._data
        return tuple(o._data for o in outs)

    def apply(self, *tensors: Any) -> Any:
        outs = self._call(list(tensors))
        return outs[0] if self.n_outputs == 1 else tuple(outs)

    def forward_saving(self, needs_grad: tuple[bool, ...], *arrays: Any) -> tuple[Any, ...]:
        """Run recording autograd: the outputs' arrays, then the residual the backward needs
        (the input tensors that take a gradient and the output tensors)."""
        ins = [_backend.wrap(a, bool(r)) for a, r in zip(arrays, needs_grad)]
        with enable_grad():
            outs = self._call(ins)
        residual = ([t for t, r in zip(ins, needs_grad) if r], outs)
        return tuple(o._data for o in outs) + (residual,)

    def describe(self, params: dict[str, Any]) -> str:
        return " ".join(f"{k}={_format_value(v)}" for k, v in self.shown.items())


class UpdateRunning(Kernel):
    """``running <- (1 - momentum) running + momentum value``, in place (batch norm)."""

    name = "update_running"
    n_outputs = 0
    pure = False
    effect = True

    def forward(self, running: Any, value: Any, *, momentum: float) -> tuple[()]:
        running *= 1 - momentum
        running += (momentum * value).astype(running.dtype, copy=False)
        return ()

    def apply(self, running: Any, value: Any, *, momentum: float) -> tuple[()]:
        with no_grad():
            self.forward(running._data, value._data, momentum=momentum)
        running._bump()
        return ()


class Assign(Kernel):
    """``target[...] = value``: an in-place update of a buffer (``num_batches_tracked += 1``)."""

    name = "assign"
    n_outputs = 0
    pure = False
    effect = True

    def forward(self, target: Any, value: Any) -> tuple[()]:
        np.copyto(target, value, casting="unsafe")
        return ()

    def apply(self, target: Any, value: Any) -> tuple[()]:
        np.copyto(target._data, value._data, casting="unsafe")
        target._bump()
        return ()


class Empty(Kernel):
    """Uninitialized memory of a static shape: scratch space an op writes into."""

    name = "empty"
    pure = False  # two scratch buffers must stay two

    def forward(self, *, shape: tuple[int, ...], dtype: Any) -> Any:
        return np.empty(shape, dtype=dtype)


class Detach(Kernel):
    """The input's data with no gradient (``x.detach()``, ``x.data``)."""

    name = "detach"

    def forward(self, x: Any) -> Any:
        return x

    def apply(self, x: Any) -> Any:
        return x.detach()


EMPTY = Empty()
DETACH = Detach()
UPDATE_RUNNING = UpdateRunning()
ASSIGN = Assign()
