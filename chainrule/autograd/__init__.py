"""Automatic differentiation: ``backward``, ``grad``, grad modes, custom Functions, forward mode.

The engine lives in :mod:`chainrule.autograd.graph`; this module holds the public entry points
with torch's signatures.
"""

from __future__ import annotations

import warnings
from typing import Any
from collections.abc import Sequence

from chainrule import _backend
from chainrule.autograd import forward_ad
from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                          is_inference_mode_enabled, no_grad,
                                          set_grad_enabled)
from chainrule.autograd.graph import Node, run_backward

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "forward_ad", "Node"]


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _make_grads(outputs: list[Any], grad_outputs: list[Any]) -> list[Any]:
    T = _backend._tensor_class
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if i < len(grad_outputs) else None
        if g is None:
            if out._requires_grad and out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind != "f":
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {out.dtype}")
            g = T._make(_backend.xp.ones_like(out._data))
        else:
            if not isinstance(g, T):
                g = T._make(_backend.xp.asarray(g, dtype=out._data.dtype))
            if g._data.shape != out._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of "
                    f"chainrule.Size({list(g._data.shape)}) and output[{i}] has a shape of "
                    f"chainrule.Size({list(out._data.shape)}).")
        grads.append(g)
    return grads


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, grad_variables: Any = None, inputs: Any = None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the graph's leaves.

    Args:
        tensors: outputs to differentiate (a tensor or a sequence).
        grad_tensors: their cotangents; may be omitted for one-element outputs.
        retain_graph: keep saved values for another backward. Default: ``create_graph``.
        create_graph: record the backward pass (for higher-order derivatives).
        inputs: accumulate only into these tensors.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor(3.0, requires_grad=True)
        >>> chainrule.autograd.backward(x * x)
        >>> x.grad
        tensor(6.)
    """
    ins = _as_list(inputs) if inputs is not None else None
    if ins is not None and len(ins) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    outputs = _as_list(tensors)
    grads = _make_grads(outputs, _as_list(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    global _warned_create_graph_cycle
    if create_graph and not _warned_create_graph_cycle:
        _warned_create_graph_cycle = True  # once per process, as torch
        warnings.warn(_CREATE_GRAPH_CYCLE, UserWarning, stacklevel=3)
    run_backward(outputs, grads, retain_graph, create_graph, inputs=ins, accumulate=True)


# torch's words: a recorded gradient in a leaf's .grad refers back to the leaf (param ->
# .grad -> its graph -> param), which only the cycle collector can free.
_CREATE_GRAPH_CYCLE = (
    "Using backward() with create_graph=True will create a reference cycle between the "
    "parameter and its gradient which can cause a memory leak. We recommend using "
    "autograd.grad when creating the graph to avoid this. If you have to use this function, "
    "make sure to reset the .grad fields of your parameters to None after use to break the "
    "cycle and avoid the leak.")
_warned_create_graph_cycle = False


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor(2.0, requires_grad=True)
        >>> (dx,) = chainrule.autograd.grad(x ** 3, x, create_graph=True)
        >>> dx, chainrule.autograd.grad(dx, x)[0]
        (tensor(12., grad_fn=<MulBackward0>), tensor(12.))
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    grads = _make_grads(outs, _as_list(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads="
                         "True, but got: allow_unused=False.")
    for t in ins:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    result = run_backward(outs, grads, retain_graph, create_graph, inputs=ins, accumulate=False)
    assert result is not None
    final = []
    for i, (t, g) in enumerate(zip(ins, result)):
        if g is None:
            if materialize_grads:
                g = _backend._tensor_class._make(_backend.xp.zeros_like(t._data))
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   f"been used in the graph. Set allow_unused=True if this is the "
                                   f"desired behavior.")
        final.append(g)
    return tuple(final)

from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ += ["gradcheck", "gradgradcheck", "GradcheckError"]

from chainrule.autograd import function, functional  # noqa: E402
from chainrule.autograd.function import Function, once_differentiable  # noqa: E402

__all__ += ["Function", "once_differentiable", "function", "functional", "Variable"]


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:  # noqa: N802
    """torch's deprecated ``Variable(tensor, requires_grad=False)``: since torch 0.4 a Variable
    is a Tensor, so this returns a tensor sharing ``data``'s memory, a leaf that requires grad
    if asked.

    Example:
        >>> import chainrule
        >>> v = chainrule.autograd.Variable(chainrule.ones(2), requires_grad=True)
        >>> v.requires_grad, v.is_leaf
        (True, True)
    """
    t = data.detach()
    if requires_grad:
        t.requires_grad_(True)
    return t
