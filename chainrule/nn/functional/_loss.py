"""Loss functions (torch.nn.functional's): regression, classification, ranking and embedding.

Every loss takes torch's arguments in torch's order, including the deprecated
``size_average`` / ``reduce`` pair, and ``reduction`` in ``'none' | 'mean' | 'sum'``.
Cross-entropy over class indices, nll_loss and binary_cross_entropy are fused primitives
(``chainrule/ops/losses.py``); the rest are composites of differentiable ops, so every loss is
twice differentiable.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from chainrule._backend import dtypes
from chainrule.ops._util import is_tensor
from chainrule.ops.elementwise import abs as _abs
from chainrule.ops.elementwise import clamp, exp, log, minimum, softplus, where
from chainrule.ops.losses import BinaryCrossEntropy, NllLoss, cross_entropy_indices
from chainrule.ops.movement import broadcast_tensors
from chainrule.ops.nn_ops import log_softmax
from chainrule.ops.reduce import Mean, Sum, norm

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "cosine_embedding_loss", "margin_ranking_loss",
           "triplet_margin_loss", "soft_margin_loss", "hinge_embedding_loss",
           "gaussian_nll_loss"]

Tensor = Any


# -- reduction helpers -------------------------------------------------------------------------
def _legacy_get_string(size_average: bool | None, reduce: bool | None,
                       emit_warning: bool = True) -> str:
    """The ``reduction`` named by the deprecated ``size_average`` / ``reduce`` flags."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", UserWarning, stacklevel=3)
    return ret


def _get_reduction(reduction: str) -> str:
    """``reduction`` validated as torch's ``_Reduction.get_enum`` does."""
    if reduction in ("none", "mean", "sum"):
        return reduction
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", UserWarning, stacklevel=3)
        return "mean"
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_get_string(size_average, reduce)
    return _get_reduction(reduction)


def _reduce(loss: Tensor, reduction: str, backward_name: str | None = None) -> Tensor:
    """``loss`` reduced; with ``backward_name`` the reducing node takes torch's name for the
    fused loss (``loss.grad_fn`` prints ``MseLossBackward0``, as torch's, not ``MeanBackward0``:
    tutorials print it)."""
    if reduction == "none":
        return loss
    if backward_name is None:
        return loss.sum() if reduction == "sum" else loss.mean()
    op = (Sum if reduction == "sum" else Mean).variant(backward_name)
    return op.apply(loss, dim=None, keepdim=False)


def _size_warning(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due "
                      f"to broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)


def _broadcast(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if input.shape == target.shape:
        return input, target
    a, b = broadcast_tensors(input, target)
    return a, b


def _weighted(loss: Tensor, weight: Tensor, input: Tensor, reduction: str,
              weight_mean: bool) -> Tensor:
    """torch's per-element ``weight`` option of mse / l1 / huber."""
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if weight_mean else loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', "
                     f"'sum'.")


# -- regression --------------------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``reduce((input - target)^2)``, optionally weighted per element.

    Args:
        input: predictions, any shape.
        target: same shape as ``input`` (broadcasting works but warns, as torch).
        size_average, reduce: deprecated, see ``reduction``.
        reduction: ``'none' | 'mean' | 'sum'``.
        weight: per-element weights of ``input``'s shape; ``'mean'`` then divides by their
            sum.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.mse_loss(chainrule.tensor([1., 2.]), chainrule.tensor([0., 0.]))
        tensor(2.5000)
    """
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_get_string(size_average, reduce)
    x, y = _broadcast(input, target)
    diff = x - y
    loss = diff * diff
    if weight is not None:
        return _weighted(loss, weight, input, reduction, weight_mean=True)
    return _reduce(loss, _get_reduction(reduction), "MseLossBackward0")


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``reduce(|input - target|)``; the derivative at 0 is 0, as torch.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.l1_loss(chainrule.tensor([1., -3.]), chainrule.tensor([0., 0.]), reduction='sum')
        tensor(4.)
    """
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_get_string(size_average, reduce)
    x, y = _broadcast(input, target)
    loss = _abs(x - y)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, weight_mean=True)
    return _reduce(loss, _get_reduction(reduction))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``, for ``d = input -
    target``; ``beta = 0`` is the L1 loss.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.smooth_l1_loss(chainrule.tensor([0.5, 3.]), chainrule.tensor([0., 0.]),
        ...                  reduction='none')
        tensor([0.1250, 2.5000])
    """
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, y = _broadcast(input, target)
    diff = x - y
    ad = _abs(diff)
    if beta == 0.0:
        return _reduce(ad, reduction)
    loss = where(ad < beta, diff * diff * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction, "SmoothL1LossBackward0")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``, for ``d = input -
    target``: smooth_l1_loss scaled by ``delta``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.huber_loss(chainrule.tensor([0.5, 3.]), chainrule.tensor([0., 0.]), delta=2.0,
        ...              reduction='none')
        tensor([0.1250, 4.0000])
    """
    _size_warning(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    x, y = _broadcast(input, target)
    diff = x - y
    ad = _abs(diff)
    loss = where(ad < delta, diff * diff * 0.5, (ad - 0.5 * delta) * delta)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, weight_mean=False)
    return _reduce(loss, _get_reduction(reduction), "HuberLossBackward0")


# -- classification ----------------------------------------------------------------------------
def _shape_list(shape: Any) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_nll_shapes(input: Tensor, target: Tensor) -> None:
    """torch's ``nll_loss_nd`` checks, in its order, with its exception types."""
    nd, td = input.ndim, target.ndim
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and td >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if nd <= 2:
        if td > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if not (nd == 1 and td == 0) and (td == 0 or input.shape[0] != target.shape[0]):
            if not (nd == 1 and td == 1 and target.shape[0] == 1):
                raise RuntimeError(f"size mismatch (got input: {_shape_list(input.shape)}, "
                                   f"target: {_shape_list(target.shape)})")
    elif nd == 4:
        if td != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {td}")
        if input.shape[0] != target.shape[0] or input.shape[2:] != target.shape[1:]:
            raise RuntimeError(f"size mismatch (got input: {_shape_list(input.shape)} , "
                               f"target: {_shape_list(target.shape)}")
    elif target.shape[1:] != input.shape[2:]:
        want = (input.shape[0],) + tuple(input.shape[2:])
        raise RuntimeError(f"Expected target size {_shape_list(want)}, got "
                           f"{_shape_list(target.shape)}")


def _check_class_target(target: Tensor) -> None:
    if target._data.dtype.kind not in "iu" or target._data.dtype.itemsize not in (8, 1) or (
            target._data.dtype.itemsize == 1 and target._data.dtype.kind == "i"):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{dtypes.scalar_type_name(target.dtype)}")


def _class_weight(weight: Tensor | None, input: Tensor, prefix: str = "") -> Tensor | None:
    if weight is None:
        return None
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    if weight.ndim != 1 or weight.numel() != n_classes:
        raise RuntimeError(f"{prefix}weight tensor should be defined either for all "
                           f"{n_classes} classes or no classes but got weight tensor of shape: "
                           f"{_shape_list(weight.shape)}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {dtypes.scalar_type_name(input.dtype)} but "
                           f"found {dtypes.scalar_type_name(weight.dtype)}")
    return weight.detach() if weight.requires_grad else weight


def _unbatched_single(input: Tensor, target: Tensor) -> bool:
    # torch accepts a (C,) input with a (1,) target as one sample
    return input.ndim == 1 and target.ndim == 1


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood ``-w[y] input[y]`` per position, of log-probabilities.

    ``'mean'`` divides by the summed weight of the counted targets (torch's weighted mean);
    targets equal to ``ignore_index`` contribute nothing.

    Args:
        input: log-probabilities ``(N, C)``, ``(C,)`` or ``(N, C, d1, d2, ...)``.
        target: class indices (int64 or uint8) of shape ``(N)``, ``()`` or ``(N, d1, ...)``.
        weight: a weight per class, shape ``(C,)``.
        ignore_index: a target value to skip.
        reduction: ``'none' | 'mean' | 'sum'``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> logp = chainrule.log(chainrule.tensor([[0.5, 0.5], [0.25, 0.75]]))
        >>> F.nll_loss(logp, chainrule.tensor([0, 1]), reduction='none')
        tensor([0.6931, 0.2877])
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_nll_shapes(input, target)
    _check_class_target(target)
    w = _class_weight(weight, input)
    if _unbatched_single(input, target):
        out = nll_loss(input.unsqueeze(0), target, w, ignore_index=ignore_index,
                       reduction=reduction)
        return out
    args = (input, target) if w is None else (input, target, w)
    return NllLoss.apply(*args, ignore_index=int(ignore_index), reduction=reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    r"""Cross-entropy of softmax(``input``) against a target: ``-sum_c q_c log softmax(x)_c``.

    The target is either class indices (int64 / uint8, the input's shape without the class
    dim 1) or class probabilities (a float tensor of the input's shape). With label smoothing
    ``eps``, the target becomes ``(1 - eps) onehot(y) + eps / C``. Class weights ``w`` scale
    each term; with class indices ``'mean'`` divides by the summed weight of the counted
    targets, with probabilities by the number of positions, as torch.

    Computed as one fused primitive from the raw logits (stable: the row maximum is
    subtracted first), with the backward ``softmax(x) - q`` in one pass; it stays twice
    differentiable.

    Args:
        input: logits ``(N, C)``, ``(C,)`` or ``(N, C, d1, d2, ...)``.
        target: class indices ``(N)``, ``()``, ``(N, d1, ...)``, or probabilities of
            ``input``'s shape.
        weight: a weight per class, shape ``(C,)``.
        ignore_index: a class index to skip (class-index targets only).
        reduction: ``'none' | 'mean' | 'sum'``.
        label_smoothing: ``eps`` in ``[0, 1]``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> logits = chainrule.tensor([[2., 0., 0.], [0., 0., 0.]])
        >>> F.cross_entropy(logits, chainrule.tensor([0, 2]), reduction='none')
        tensor([0.2395, 1.0986])
    """
    reduction = _reduction(size_average, reduce, reduction)
    if input.shape == target.shape:
        if target._data.dtype.kind != "f":
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {dtypes.scalar_type_name(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    if label_smoothing > 0.0 and label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    _check_nll_shapes(input, target)
    _check_class_target(target)
    w = _class_weight(weight, input)
    if _unbatched_single(input, target):
        return cross_entropy(input.unsqueeze(0), target, w, ignore_index=ignore_index,
                             reduction=reduction, label_smoothing=label_smoothing)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for "
                                  f"'{dtypes.scalar_type_name(input.dtype)}'")
    return cross_entropy_indices(input, target, w, ignore_index=int(ignore_index),
                                 reduction=reduction,
                                 label_smoothing=float(max(label_smoothing, 0.0)))


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float) -> Tensor:
    cd = 0 if input.ndim == 1 else 1
    n_classes = input.shape[cd]
    if weight is not None and (weight.ndim != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                           f"{n_classes} classes or no classes but got weight tensor of shape: "
                           f"{_shape_list(weight.shape)}")
    logp = log_softmax(input, cd)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing}")
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        if input.ndim > 1:
            weight = weight.view((-1,) + (1,) * (input.ndim - 2))
        prod = prod * weight
    if reduction == "none":
        return -prod.sum(cd)
    if reduction == "sum":
        return -prod.sum()
    if input.numel() == 0:
        return -prod.sum() * math.nan
    return -prod.sum() / (input.numel() // n_classes)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: ``-w (t log x + (1 - t) log(1 - x))``.

    Each log is clamped to ``>= -100`` as torch does, so saturated probabilities give a large
    finite loss; the derivative is torch's ``(x - t) / max(x (1 - x), 1e-12)``, finite at 0
    and 1.

    Args:
        input: probabilities in ``[0, 1]``, any shape.
        target: the same shape, values in ``[0, 1]``.
        weight: rescaling weight broadcast to the target's shape.
        reduction: ``'none' | 'mean' | 'sum'``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.binary_cross_entropy(chainrule.tensor([0.5, 1.0]), chainrule.tensor([1., 0.]),
        ...                        reduction='none')
        tensor([  0.6931, 100.0000])
    """
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have "
                         f"the same size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {dtypes.scalar_type_name(target.dtype)} but expected "
                           f"{dtypes.scalar_type_name(input.dtype)}")
    xd = input._data
    if xd.size and not ((xd >= 0) & (xd <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight.expand(tuple(target.shape)) if weight.shape != target.shape \
            else loss * weight
    return _reduce(loss, reduction, "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of logits, stably: ``w ((1 - t) x + (1 + (p - 1) t) softplus(-x))``.

    That is ``-w (p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))`` without computing the
    sigmoid, so it never overflows; ``p`` is ``pos_weight`` (broadcast against the target,
    e.g. one per class).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.binary_cross_entropy_with_logits(chainrule.tensor([0., 100.]),
        ...                                    chainrule.tensor([1., 0.]), reduction='none')
        tensor([  0.6931, 100.0000])
    """
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    neg_part = softplus(-input, 1.0, math.inf)  # -log sigmoid(x), exact for every x
    if pos_weight is not None:
        neg_part = neg_part * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + neg_part
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "BinaryCrossEntropyWithLogitsBackward0")


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``t (log t - input)`` per element, ``input`` in log space.

    With ``log_target`` the target is a log-probability too: ``exp(t) (t - input)``. Use
    ``reduction='batchmean'`` for the true KL divergence (sum over all, divided by the batch
    size); ``'mean'`` divides by the number of elements and warns, as torch.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> p = chainrule.tensor([[0.5, 0.5]])
        >>> F.kl_div(chainrule.log(chainrule.tensor([[0.25, 0.75]])), p, reduction='batchmean')
        tensor(0.1438)
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns "
                      "with the KL div math definition.'mean' will be changed to behave the "
                      "same as 'batchmean' in the next major release.", UserWarning,
                      stacklevel=2)
    inner = "sum" if reduction == "batchmean" else _get_reduction(reduction)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        # t (log t - x), with 0 where t == 0 (no 0 * -inf, and no nan gradient for t)
        zero = target == 0
        safe = where(zero, 1.0, target)
        loss = where(zero, 0.0, target * (log(safe) - input))
    out = _reduce(loss, inner)
    if reduction == "batchmean" and input.ndim != 0:
        out = out / input.shape[0]
    return out


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood: ``exp(input) - target input`` for log-rates, or
    ``input - target log(input + eps)`` for rates; ``full`` adds the Stirling term
    ``t log t - t + 0.5 log(2 pi t)`` where ``t > 1``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.poisson_nll_loss(chainrule.tensor([0., 1.]), chainrule.tensor([1., 2.]))
        tensor(0.8591)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        big = target > 1
        safe = where(big, target, 2.0)
        stirling = safe * log(safe) - safe + 0.5 * log(2 * math.pi * safe)
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log-likelihood ``0.5 (log max(var, eps) + (input - target)^2 /
    max(var, eps))`` (+ ``0.5 log 2 pi`` with ``full``).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.gaussian_nll_loss(chainrule.tensor([1.]), chainrule.tensor([0.]),
        ...                     chainrule.tensor([1.]))
        tensor(0.5000)
    """
    if not is_tensor(var):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.detach() * 0 + float(var)
    elif (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim
                  and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    # torch clamps a clone under no_grad: the value is clamped, the gradient passes straight
    # through to var even where it was clamped.
    var = var + (clamp(var, min=eps) - var).detach()
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# -- ranking and embedding ---------------------------------------------------------------------
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where
    ``target == -1``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> a = chainrule.tensor([[1., 0.], [1., 0.]])
        >>> b = chainrule.tensor([[0., 1.], [1., 0.]])
        >>> F.cosine_embedding_loss(a, b, chainrule.tensor([1, -1]), reduction='none')
        tensor([1., 1.])
    """
    reduction = _reduction(size_average, reduce, reduction)
    td = target.ndim
    if td not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if td == 1 and (input1.ndim != 2 or input2.ndim != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {_shape_list(input1.shape)} and "
                           f"{_shape_list(input2.shape)}.")
    if td == 0 and (input1.ndim != 1 or input2.ndim != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {_shape_list(input1.shape)} and "
                           f"{_shape_list(input2.shape)}.")
    eps = 1e-12
    prod_sum = (input1 * input2).sum(td)
    mag1 = (input1 * input1).sum(td) + eps
    mag2 = (input2 * input2).sum(td) + eps
    cos = prod_sum / (mag1 * mag2).sqrt()
    zero = cos.detach() * 0
    pos = where(target == 1, 1 - cos, zero)
    neg = where(target == -1, clamp(cos - margin, min=0), zero)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target (input1 - input2) + margin)``: ``target = 1`` asks ``input1`` to
    rank higher.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.margin_ranking_loss(chainrule.tensor([1., 0.]), chainrule.tensor([0., 1.]),
        ...                       chainrule.tensor([1., 1.]), margin=0.5, reduction='none')
        tensor([0.0000, 1.5000])
    """
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0), reduction)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    dim = max(x1.ndim, x2.ndim) - 1
    return norm(x1 - x2 + eps, p, dim)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the pairwise ``p``-norm distance
    (``eps`` added to the difference); ``swap`` uses ``min(d(a, n), d(p, n))``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> a, pos, neg = chainrule.tensor([[0., 0.]]), chainrule.tensor([[3., 4.]]), \\
        ...     chainrule.tensor([[6., 8.]])
        >>> F.triplet_margin_loss(a, pos, neg, margin=6.0, eps=0.0)
        tensor(1.)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a_dim, p_dim, n_dim = anchor.ndim, positive.ndim, negative.ndim
    if not (a_dim == p_dim == n_dim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a_dim}D, positive "
                           f"{p_dim}D, and negative {n_dim}D inputs")
    dist_pos = _pairwise_distance(anchor, positive, p, eps)
    dist_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = minimum(dist_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(margin + dist_pos - dist_neg, min=0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target input))`` (targets are 1 or -1).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.soft_margin_loss(chainrule.tensor([0.]), chainrule.tensor([1.]))
        tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input, threshold=math.inf), reduction,
                   "SoftMarginLossBackward0")


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.hinge_embedding_loss(chainrule.tensor([0.3, 0.3]), chainrule.tensor([1., -1.]),
        ...                        reduction='none')
        tensor([0.3000, 0.7000])
    """
    reduction = _reduction(size_average, reduce, reduction)
    zero = input.detach() * 0
    margin_clamp = clamp(margin - input, min=0)
    output_margin = where(target != 1, margin_clamp, zero)
    output_self = where(target != -1, input, zero)
    return _reduce(output_margin + output_self, reduction)

