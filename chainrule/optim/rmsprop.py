"""RMSprop: gradients scaled by a running root mean square."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _add,
    _add_,
    _addcmul_,
    _lerp_,
    _new_step,
    _scalar,
)
from chainrule.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop: ``p <- p - lr * g / (sqrt(E[g^2]) + eps)``.

    Per parameter p with gradient g::

        g <- -g                                   if maximize
        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g^2
        a <- alpha * a + (1 - alpha) * g;  d <- sqrt(v - a^2) + eps    if centered
        d <- sqrt(v) + eps                                              otherwise
        b <- momentum * b + g / d;  p <- p - lr * b                     if momentum > 0
        p <- p - lr * g / d                                             otherwise

    State: ``step`` (0-dim float32 tensor), ``square_avg`` (v), ``momentum_buffer`` (b, when
    ``momentum > 0``) and ``grad_avg`` (a, when centered).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``1e-2``.
        alpha: smoothing constant of the averages. Default: ``0.99``.
        eps: added to the denominator for stability. Default: ``1e-8``.
        weight_decay: L2 penalty. Default: ``0``.
        momentum: momentum factor. Default: ``0``.
        centered: normalize by the gradient's estimated variance instead of its second
            moment. Default: ``False``.
        capturable: accepted for compatibility, ignored.
        foreach: accepted for compatibility, ignored.
        maximize: ascend the objective instead of descending. Default: ``False``.
        differentiable: accepted for compatibility, ignored.

    Note:
        ``capturable``, ``foreach`` and ``differentiable`` are kept in the groups for
        compatibility only; chainrule runs torch's single-tensor update on NumPy arrays.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.RMSprop([w], lr=0.01, alpha=0.75)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9800, -1.9800], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        if not state:
            state["step"] = _new_step()
            state["square_avg"] = np.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        if group["maximize"]:
            g = -g
        square_avg = state["square_avg"]
        alpha = group["alpha"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = _add(g, group["weight_decay"], p)
        square_avg *= alpha
        _addcmul_(square_avg, 1 - alpha, g, g)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            _lerp_(grad_avg, g, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg = avg + group["eps"]
        lr = _scalar(group["lr"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            _add_(p, -lr, buf)
        else:
            p += (-lr * g) / avg
