"""Adadelta: steps sized by the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _add, _add_, _addcmul_, _new_step, _scalar
from chainrule.tensor import Tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta: ``p <- p - lr * sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g``.

    Per parameter p with gradient g::

        g <- -g                                   if maximize
        g <- g + weight_decay * p
        v <- rho * v + (1 - rho) * g^2
        dx <- sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * dx^2
        p <- p - lr * dx

    State: ``step`` (0-dim float32 tensor), ``square_avg`` (v) and ``acc_delta`` (u).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: coefficient that scales delta before it is applied. Default: ``1.0``.
        rho: decay rate of the running averages. Default: ``0.9``.
        eps: added inside the square roots for stability. Default: ``1e-6``.
        weight_decay: L2 penalty. Default: ``0``.
        foreach: accepted for compatibility, ignored.
        capturable: accepted for compatibility, ignored.
        maximize: ascend the objective instead of descending. Default: ``False``.
        differentiable: accepted for compatibility, ignored.

    Note:
        ``foreach``, ``capturable`` and ``differentiable`` are kept in the groups for
        compatibility only; chainrule runs torch's single-tensor update on NumPy arrays.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.Adadelta([w], lr=1.0, eps=1e-2)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.6877, -1.6848], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        if not state:
            state["step"] = _new_step()
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)
        square_avg = state["square_avg"]
        acc_delta = state["acc_delta"]
        rho = group["rho"]
        eps = group["eps"]
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = _add(g, group["weight_decay"], p)
        square_avg *= rho
        _addcmul_(square_avg, 1 - rho, g, g)
        std = np.sqrt(square_avg + eps)
        delta = np.sqrt(acc_delta + eps) / std * g
        acc_delta *= rho
        _addcmul_(acc_delta, 1 - rho, delta, delta)
        _add_(p, -_scalar(group["lr"]), delta)
