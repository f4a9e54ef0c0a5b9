"""Adam: adaptive moment estimation (with AMSGrad and decoupled weight decay options)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _add,
    _addcmul_,
    _in_parts,
    _lerp_,
    _new_step,
    _scalar,
)
from chainrule.tensor import Tensor

__all__ = ["Adam"]


def _check_adam_args(lr: Any, betas: Any, eps: float, weight_decay: float) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    r"""Adam: ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)``.

    Per parameter p with gradient g, at step t (counted from 1)::

        g <- -g                                   if maximize
        p <- p * (1 - lr * weight_decay)          if decoupled_weight_decay (AdamW)
        g <- g + weight_decay * p                 otherwise
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v);  v <- v_max       if amsgrad
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State: ``step`` (0-dim float32 tensor), ``exp_avg`` (m), ``exp_avg_sq`` (v) and
    ``max_exp_avg_sq`` (with amsgrad).

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``1e-3``.
        betas: decay rates of the first and second moment averages. Default: ``(0.9, 0.999)``.
        eps: added to the denominator for stability. Default: ``1e-8``.
        weight_decay: L2 penalty (decoupled when ``decoupled_weight_decay``). Default: ``0``.
        amsgrad: use the running maximum of v (AMSGrad). Default: ``False``.
        foreach: accepted for compatibility, ignored.
        maximize: ascend the objective instead of descending. Default: ``False``.
        capturable: accepted for compatibility, ignored.
        differentiable: accepted for compatibility, ignored.
        fused: accepted for compatibility, ignored.
        decoupled_weight_decay: AdamW's decay, applied to p before the update. Default:
            ``False``.

    Note:
        ``foreach``, ``fused``, ``capturable`` and ``differentiable`` select torch's kernels
        (CUDA graphs, a recorded step); chainrule always runs the plain per-parameter update
        (torch's single-tensor path, same float32 operations) and keeps the flags only so that
        code and state_dicts carry over.

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
        >>> sorted(opt.state[w])
        ['exp_avg', 'exp_avg_sq', 'step']
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor) and beta.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict[str, Any]) -> None:
        if not state:
            state["step"] = _new_step()
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        if group["maximize"]:
            g = -g
        lr = _scalar(group["lr"])
        beta1, beta2 = (_scalar(b) for b in group["betas"])
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        state["step"] += 1
        step = float(state["step"])

        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        amsgrad, eps = group["amsgrad"], group["eps"]

        def kernel(p: np.ndarray, g: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                   *max_sq: np.ndarray) -> None:
            g = _weight_decay(p, g, lr, group)
            _adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2)
            if amsgrad:
                np.maximum(max_sq[0], exp_avg_sq, out=max_sq[0])
                denom = np.sqrt(max_sq[0])
            else:
                denom = np.sqrt(exp_avg_sq)
            # denom = sqrt(v) / bias_correction2_sqrt + eps; p += (-step_size * m) / denom, in
            # place on two temporaries (an MNIST CNN's 1.2M-weight layer is memory-bound here)
            denom /= bias_correction2_sqrt
            denom += eps
            update = np.multiply(exp_avg, -step_size)
            update /= denom
            p += update

        arrays = [p, g, exp_avg, exp_avg_sq]
        if amsgrad:
            arrays.append(state["max_exp_avg_sq"])
        _in_parts(kernel, *arrays)


def _weight_decay(p: np.ndarray, g: np.ndarray, lr: float, group: dict[str, Any]) -> np.ndarray:
    """The Adam family's weight decay: decoupled (AdamW: ``p *= 1 - lr * wd``, in place) or
    L2 (returns ``g + wd * p``)."""
    weight_decay = group["weight_decay"]
    if weight_decay != 0:
        if group["decoupled_weight_decay"]:
            p *= 1 - lr * weight_decay
        else:
            g = _add(g, weight_decay, p)
    return g


def _adam_moments_(exp_avg: np.ndarray, exp_avg_sq: np.ndarray, g: np.ndarray, beta1: float,
                   beta2: float) -> None:
    """torch's moment updates, in place: ``m.lerp_(g, 1 - beta1)``,
    ``v.mul_(beta2).addcmul_(g, g, value=1 - beta2)``."""
    _lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    _addcmul_(exp_avg_sq, 1 - beta2, g, g)
