"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from typing import Any

from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import ParamsT
from chainrule.tensor import Tensor

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW: Adam whose weight decay shrinks p directly, ``p <- p * (1 - lr * wd)``.

    Per parameter p with gradient g, at step t (counted from 1)::

        g <- -g                                   if maximize
        p <- p * (1 - lr * weight_decay)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v);  v <- v_max       if amsgrad
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The decay does not pass through m and v (Loshchilov & Hutter, "Decoupled Weight Decay
    Regularization"). It is :class:`Adam` with ``decoupled_weight_decay=True``, as in torch;
    state keys are Adam's.

    Args:
        params: iterable of Tensors or of dicts defining parameter groups.
        lr: learning rate. Default: ``1e-3``.
        betas: decay rates of the first and second moment averages. Default: ``(0.9, 0.999)``.
        eps: added to the denominator for stability. Default: ``1e-8``.
        weight_decay: decoupled weight decay coefficient. Default: ``1e-2``.
        amsgrad: use the running maximum of v (AMSGrad). Default: ``False``.
        maximize: ascend the objective instead of descending. Default: ``False``.
        foreach: accepted for compatibility, ignored.
        capturable: accepted for compatibility, ignored.
        differentiable: accepted for compatibility, ignored.
        fused: accepted for compatibility, ignored.

    Note:
        ``foreach``, ``fused``, ``capturable`` and ``differentiable`` are kept in the groups for
        compatibility only (see :class:`Adam`).

    Example:
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = chainrule.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
