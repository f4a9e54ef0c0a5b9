"""Stochastic gradient descent, with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _add, _add_, _in_parts, _scalar
from chainrule.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent: ``p <- p - lr * g``, with optional momentum.

    Per parameter p with gradient g (torch's convention: the buffer starts at g, and lr scales
    the buffer, not the gradient)::

        g <- -g                                    if maximize
        g <- g + weight_decay * p
        b <- g on the first step, else momentum * b + (1 - dampening) * g
        g <- g + momentum * b if nesterov else b   (when momentum != 0)
        p <- p - lr * g

    State: ``momentum_buffer`` (only when ``momentum != 0``).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``1e-3``.
        momentum: momentum factor. Default: ``0``.
        dampening: dampening for momentum. Default: ``0``.
        weight_decay: L2 penalty. Default: ``0``.
        nesterov: use Nesterov momentum. Default: ``False``.
        maximize: ascend the objective instead of descending. Default: ``False``.
        foreach: accepted for compatibility, ignored.
        differentiable: accepted for compatibility, ignored.
        fused: accepted for compatibility, ignored.

    Note:
        ``foreach``, ``fused`` and ``differentiable`` select torch's kernels (or record the step
        in the graph); chainrule runs one NumPy update per parameter, never recorded, and keeps
        the flags only so that code and state_dicts carry over.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> w
        tensor([ 0.4600, -0.9200], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        maximize = group["maximize"]
        weight_decay = _scalar(group["weight_decay"])
        momentum = group["momentum"]
        dampening, nesterov = group["dampening"], group["nesterov"]
        lr = _scalar(group["lr"])
        buf = state.get("momentum_buffer")
        first = momentum != 0 and buf is None
        if first:
            state["momentum_buffer"] = buf = np.empty_like(p)

        def kernel(p: np.ndarray, g: np.ndarray, *bufs: np.ndarray) -> None:
            if maximize:
                g = -g
            if weight_decay != 0:
                g = _add(g, weight_decay, p)
            if momentum != 0:
                (buf,) = bufs
                if first:
                    buf[...] = g  # torch's buffer starts at the first gradient
                else:
                    buf *= momentum
                    _add_(buf, 1 - dampening, g)
                g = _add(g, momentum, buf) if nesterov else buf
            _add_(p, -lr, g)

        if momentum != 0:
            _in_parts(kernel, p, g, buf)
        else:
            _in_parts(kernel, p, g)
