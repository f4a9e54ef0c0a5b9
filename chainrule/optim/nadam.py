"""NAdam: Adam with Nesterov momentum (and a momentum schedule)."""

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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam: Adam whose step looks ahead along the momentum (Dozat, 2016).

    Per parameter p with gradient g, at step t (counted from 1), with psi = momentum_decay::

        g <- -g                                   if maximize
        p <- p * (1 - lr * weight_decay)          if decoupled_weight_decay
        g <- g + weight_decay * p                 otherwise
        mu_t <- beta1 * (1 - 0.5 * 0.96^(t psi));   P_t <- P_{t-1} * mu_t   (P_0 = 1)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        d <- sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr (1 - mu_t) / (1 - P_t) * g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) * m / d

    State: ``step`` and ``mu_product`` (P, both 0-dim float32 tensors; P is multiplied in
    float32, as torch), ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``2e-3``.
        betas: decay rates of m and v. Default: ``(0.9, 0.999)``.
        eps: added to the denominator for stability. Default: ``1e-8``.
        weight_decay: weight decay (L2 penalty, or decoupled). Default: ``0``.
        momentum_decay: psi, the momentum schedule's decay. Default: ``4e-3``.
        decoupled_weight_decay: decay p directly, as AdamW (NAdamW). Default: ``False``.
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
        >>> opt = chainrule.optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        if not state:
            state["step"] = _new_step()
            state["mu_product"] = np.ones((), dtype=state["step"].dtype)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        if group["maximize"]:
            g = -g
        lr = _scalar(group["lr"])
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        mu_product = state["mu_product"]
        state["step"] += 1
        step = float(state["step"])

        bias_correction2 = 1 - beta2 ** step
        g = _weight_decay(p, g, lr, group)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product *= mu
        _adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2)
        denom = np.sqrt(exp_avg_sq / bias_correction2) + group["eps"]
        mu_product_next = float(mu_product) * mu_next
        p += ((-lr * (1.0 - mu) / (1.0 - float(mu_product))) * g) / denom
        p += (((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg) / denom
