"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _add, _addcmul_, _new_step, _scalar
from chainrule.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad: ``p <- p - clr * g / (sqrt(sum g^2) + eps)``.

    Per parameter p with gradient g, at step t (counted from 1)::

        g <- -g                                   if maximize
        g <- g + weight_decay * p
        clr <- lr / (1 + (t - 1) * lr_decay)
        s <- s + g^2                              (s starts at initial_accumulator_value)
        p <- p - clr * g / (sqrt(s) + eps)

    State: ``step`` (0-dim float32 tensor) and ``sum`` (s). As in torch, the state is created
    by the constructor, not at the first step.

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``1e-2``.
        lr_decay: learning rate decay. Default: ``0``.
        weight_decay: L2 penalty. Default: ``0``.
        initial_accumulator_value: starting value of s. Default: ``0``.
        eps: added to the denominator for stability. Default: ``1e-10``.
        foreach: accepted for compatibility, ignored.
        maximize: ascend the objective instead of descending. Default: ``False``.
        differentiable: accepted for compatibility, ignored.
        fused: accepted for compatibility, ignored.

    Note:
        ``foreach``, ``fused`` and ``differentiable`` are kept in the groups for compatibility
        only; chainrule runs torch's single-tensor update on NumPy arrays.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": Tensor._make(_new_step()),
                                 "sum": Tensor._make(self._initial_sum(p._data))}

    def _initial_sum(self, p: np.ndarray) -> np.ndarray:
        # torch reads the optimizer's default here, not the group's value.
        return np.full_like(p, self.defaults["initial_accumulator_value"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        if not state:
            state["step"] = _new_step()
            state["sum"] = self._initial_sum(p)
        state_sum = state["sum"]
        state["step"] += 1
        step = float(state["step"])
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = _add(g, group["weight_decay"], p)
        clr = _scalar(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        _addcmul_(state_sum, 1, g, g)
        std = np.sqrt(state_sum) + group["eps"]
        p += (-clr * g) / std
