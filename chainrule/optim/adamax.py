"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.adam import _check_adam_args
from chainrule.optim.optimizer import Optimizer, ParamsT, _add, _lerp_, _new_step, _scalar
from chainrule.tensor import Tensor

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax: ``p <- p - lr / (1 - beta1^t) * m / u``, u a decaying max of ``|g|``.

    Per parameter p with gradient g, at step t (counted from 1)::

        g <- -g                                   if maximize
        g <- g + weight_decay * p
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1^t) * m / u

    State: ``step`` (0-dim float32 tensor), ``exp_avg`` (m) and ``exp_inf`` (u).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``2e-3``.
        betas: decay rates of m and u. Default: ``(0.9, 0.999)``.
        eps: added to ``|g|`` for stability. Default: ``1e-8``.
        weight_decay: L2 penalty. Default: ``0``.
        foreach: accepted for compatibility, ignored.
        maximize: ascend the objective instead of descending. Default: ``False``.
        differentiable: accepted for compatibility, ignored.
        capturable: accepted for compatibility, ignored.

    Note:
        ``foreach``, ``capturable`` and ``differentiable`` are kept in the groups for
        compatibility only; chainrule runs torch's single-tensor update on NumPy arrays.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        if not state:
            state["step"] = _new_step()
            state["exp_avg"] = np.zeros_like(p)
            state["exp_inf"] = np.zeros_like(p)
        if group["maximize"]:
            g = -g
        beta1, beta2 = group["betas"]
        exp_avg = state["exp_avg"]
        exp_inf = state["exp_inf"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = _add(g, group["weight_decay"], p)
        _lerp_(exp_avg, g, 1 - beta1)
        exp_inf *= beta2
        np.maximum(exp_inf, np.abs(g) + group["eps"], out=exp_inf)
        clr = _scalar(group["lr"]) / (1 - beta1 ** float(state["step"]))
        p += (-clr * exp_avg) / exp_inf
