"""Loss layers: Modules over the losses in ``chainrule.nn.functional``, with torch's arguments
and defaults. Class weights (``weight``, ``pos_weight``) are buffers, so they appear in
``state_dict()`` under torch's keys and move with ``.to()``."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.functional._loss import _legacy_get_string
from chainrule.nn.modules.module import Module

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss", "CrossEntropyLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss",
           "CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss", "SoftMarginLoss",
           "HingeEmbeddingLoss"]

Tensor = Any


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction: str = _legacy_get_string(size_average, reduce)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error ``reduce(|input - target|)``.

    Args:
        size_average, reduce: deprecated, see ``reduction``.
        reduction: ``'none' | 'mean' | 'sum'``. Default: ``'mean'``.

    Shape:
        - Input: ``(*)``; Target: the same shape; Output: scalar, or ``(*)`` for ``'none'``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.L1Loss()(chainrule.tensor([1., -3.]), chainrule.tensor([0., 0.]))
        tensor(2.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``reduce((input - target)^2)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.MSELoss()(chainrule.tensor([1., -3.]), chainrule.tensor([0., 0.]))
        tensor(5.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below ``beta`` (scaled by ``1 / (2 beta)``), absolute error above.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.SmoothL1Loss(reduction='sum')(chainrule.tensor([0.5, 3.]), chainrule.zeros(2))
        tensor(2.6250)
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, ``delta``-scaled absolute error above.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.HuberLoss(delta=2.0)(chainrule.tensor([3.]), chainrule.tensor([0.]))
        tensor(4.)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (pair it with :class:`LogSoftmax`).

    Args:
        weight: a weight per class, ``(C,)``.
        ignore_index: a target value to skip. Default: -100.
        reduction: ``'none' | 'mean' | 'sum'``; ``'mean'`` is weighted by ``weight``.

    Shape:
        - Input: ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``; Target: ``(N)``, ``()`` or
          ``(N, d1, ...)`` class indices.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> logp = chainrule.log(chainrule.tensor([[0.25, 0.75]]))
        >>> nn.NLLLoss()(logp, chainrule.tensor([1]))
        tensor(0.2877)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy between softmax(logits) and class indices or class probabilities.

    One fused op from the raw logits (stable for any scale; backward ``softmax - target`` in
    one pass). See :func:`chainrule.nn.functional.cross_entropy`.

    Args:
        weight: a weight per class, ``(C,)``.
        ignore_index: a class index to skip. Default: -100.
        reduction: ``'none' | 'mean' | 'sum'``.
        label_smoothing: mix the target with the uniform distribution. Default: 0.

    Shape:
        - Input: ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)`` logits.
        - Target: class indices ``(N)``, ``()``, ``(N, d1, ...)``, or probabilities of the
          input's shape.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> loss = nn.CrossEntropyLoss()
        >>> loss(chainrule.zeros(2, 4), chainrule.tensor([1, 3]))
        tensor(1.3863)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (logs clamped at -100, as torch).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.BCELoss()(chainrule.tensor([0.5]), chainrule.tensor([1.]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, computed stably; ``pos_weight`` weighs positives.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.BCEWithLogitsLoss()(chainrule.tensor([0.]), chainrule.tensor([1.]))
        tensor(0.6931)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """KL divergence ``t (log t - input)`` with ``input`` a log-probability; use
    ``reduction='batchmean'`` for the mathematical KL divergence.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> logq = chainrule.log(chainrule.tensor([[0.5, 0.5]]))
        >>> nn.KLDivLoss(reduction='batchmean')(logq, chainrule.tensor([[0.5, 0.5]]))
        tensor(0.)
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of (log-)rates.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.PoissonNLLLoss()(chainrule.tensor([0.]), chainrule.tensor([1.]))
        tensor(1.)
    """

    def __init__(self, log_input: bool = True, full: bool = False,
                 size_average: bool | None = None, eps: float = 1e-8,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood with a predicted variance.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.GaussianNLLLoss()(chainrule.tensor([1.]), chainrule.tensor([0.]),
        ...                      chainrule.tensor([1.]))
        tensor(0.5000)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6,
                 reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for ``y = 1``, ``max(0, cos(x1, x2) - margin)`` for ``y = -1``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.CosineEmbeddingLoss()(chainrule.tensor([[1., 0.]]), chainrule.tensor([[1., 0.]]),
        ...                          chainrule.tensor([1]))
        tensor(0.)
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.MarginRankingLoss(0.5)(chainrule.tensor([1.]), chainrule.tensor([0.]),
        ...                           chainrule.tensor([-1.]))
        tensor(1.5000)
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``max(0, margin + d(a, p) - d(a, n))`` with the pairwise ``p``-norm distance.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> a, pos, neg = chainrule.zeros(1, 2), chainrule.tensor([[3., 4.]]), \\
        ...     chainrule.tensor([[6., 8.]])
        >>> nn.TripletMarginLoss(margin=6.0, eps=0.0)(a, pos, neg)
        tensor(1.)
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-y x))``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.SoftMarginLoss()(chainrule.tensor([0.]), chainrule.tensor([1.]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``x`` for ``y = 1``, ``max(0, margin - x)`` for ``y = -1``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.HingeEmbeddingLoss()(chainrule.tensor([0.3]), chainrule.tensor([-1.]))
        tensor(0.7000)
    """

    def __init__(self, margin: float = 1.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)
