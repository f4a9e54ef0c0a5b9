"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.adam import _adam_moments_, _check_adam_args, _weight_decay
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _new_step,
    _scalar,
)
from chainrule.tensor import Tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam: Adam's step times a rectification r_t; plain momentum SGD while r_t is undefined.

    Per parameter p with gradient g, at step t (counted from 1)::

        g <- -g                                   if maximize
        p <- p * (1 - lr * weight_decay)          if decoupled_weight_decay
        g <- g + weight_decay * p                 otherwise
        m <- beta1 * m + (1 - beta1) * g;   m_hat <- m / (1 - beta1^t)
        v <- beta2 * v + (1 - beta2) * g^2
        rho_inf <- 2 / (1 - beta2) - 1;   rho_t <- rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r_t <- sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p <- p - lr * m_hat * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t
        else:
            p <- p - lr * m_hat

    State: ``step`` (0-dim float32 tensor), ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``1e-3``.
        betas: decay rates of m and v. Default: ``(0.9, 0.999)``.
        eps: added to the denominator for stability. Default: ``1e-8``.
        weight_decay: weight decay (L2 penalty, or decoupled). Default: ``0``.
        decoupled_weight_decay: decay p directly, as AdamW. Default: ``False``.
        foreach: accepted for compatibility, ignored.
        maximize: ascend the objective instead of descending. Default: ``False``.
        capturable: accepted for compatibility, ignored.
        differentiable: accepted for compatibility, ignored.

    Note:
        ``foreach``, ``capturable`` and ``differentiable`` are kept in the groups for
        compatibility only; chainrule runs torch's single-tensor update on NumPy arrays.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        if not state:
            state["step"] = _new_step()
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        if group["maximize"]:
            g = -g
        lr = _scalar(group["lr"])
        beta1, beta2 = group["betas"]
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        state["step"] += 1
        step = float(state["step"])

        g = _weight_decay(p, g, lr, group)
        _adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            # torch computes ``float / tensor`` as ``reciprocal(tensor) * float``.
            adaptive_lr = (1 / (np.sqrt(exp_avg_sq) + group["eps"])) * bias_correction2 ** 0.5
            p -= ((bias_corrected_exp_avg * lr) * adaptive_lr) * rect
        else:
            p -= bias_corrected_exp_avg * lr
