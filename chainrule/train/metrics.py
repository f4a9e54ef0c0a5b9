"""Metrics for :func:`~chainrule.train.fit` and :func:`~chainrule.train.evaluate`.

A metric is a function ``(output, target) -> float``: the mean over the batch. fit and
evaluate weight each batch's value by its size, so the epoch's figure is the mean over samples.
Give metrics by name (``"accuracy"``, ``"top5_accuracy"``, ``"mse"``, ``"mae"``), as callables
(named by ``__name__``), or as a dict ``{name: callable}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import chainrule
from chainrule.tensor import Tensor

__all__ = ["accuracy", "topk_accuracy", "mse", "mae", "resolve_metrics", "METRICS"]

MetricFn = Callable[[Tensor, Tensor], float]


def accuracy(output: Tensor, target: Tensor) -> float:
    """Fraction of correct predictions: ``mean(argmax(output, -1) == target)``; for one logit
    per sample (``(N,)`` or ``(N, 1)``), ``mean((output > 0) == target)``.

    Example:
        >>> accuracy(chainrule.tensor([[2., 1.], [0., 3.]]), chainrule.tensor([0, 0]))
        0.5
    """
    with chainrule.no_grad():
        if output.dim() >= 2 and output.shape[-1] > 1:
            pred = output.argmax(-1)
        else:
            pred = (output.reshape(target.shape) > 0).to(target.dtype)
        return float((pred == target).float().mean().item())


def topk_accuracy(k: int) -> MetricFn:
    """A metric: the fraction of samples whose target is among the ``k`` largest outputs.

    Example:
        >>> top2 = topk_accuracy(2)
        >>> top2(chainrule.tensor([[3., 2., 1.], [3., 2., 1.]]), chainrule.tensor([1, 2]))
        0.5
    """
    def topk(output: Tensor, target: Tensor) -> float:
        with chainrule.no_grad():
            idx = output.topk(k, dim=-1).indices
            return float((idx == target.unsqueeze(-1)).any(-1).float().mean().item())

    topk.__name__ = f"top{k}_accuracy"
    return topk


def mse(output: Tensor, target: Tensor) -> float:
    """Mean squared error, ``mean((output - target)^2)``.

    Example:
        >>> mse(chainrule.tensor([1., 3.]), chainrule.tensor([1., 1.]))
        2.0
    """
    with chainrule.no_grad():
        return float(((output - target.reshape(output.shape)) ** 2).mean().item())


def mae(output: Tensor, target: Tensor) -> float:
    """Mean absolute error, ``mean(|output - target|)``.

    Example:
        >>> mae(chainrule.tensor([1., 3.]), chainrule.tensor([1., 1.]))
        1.0
    """
    with chainrule.no_grad():
        return float((output - target.reshape(output.shape)).abs().mean().item())


METRICS: dict[str, MetricFn] = {"accuracy": accuracy, "acc": accuracy, "mse": mse, "mae": mae}


def resolve_metrics(metrics: Iterable[str | MetricFn] | Mapping[str, MetricFn] | None,
                    ) -> dict[str, MetricFn]:
    """``{name: function}`` from names, callables or a dict; unknown names raise ValueError.

    Example:
        >>> list(resolve_metrics(["accuracy", "top3_accuracy"]))
        ['accuracy', 'top3_accuracy']
    """
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = [metrics]
    out: dict[str, MetricFn] = {}
    for m in metrics:
        if callable(m):
            out[getattr(m, "__name__", f"metric{len(out)}")] = m
            continue
        if not isinstance(m, str):
            raise TypeError(f"a metric is a name or a callable, got {type(m).__name__}")
        top = re.fullmatch(r"top(\d+)_acc(uracy)?", m)
        if top:
            out[m] = topk_accuracy(int(top.group(1)))
        elif m in METRICS:
            out[m] = METRICS[m]
        else:
            raise ValueError(f"unknown metric {m!r}: choose from {sorted(METRICS)}, "
                             "'top<k>_accuracy', or pass a function (output, target) -> float")
    return out


def batch_size(batch: Any) -> int:
    """The number of samples in a batch's target (or input)."""
    x = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else batch
    if isinstance(x, (tuple, list)):
        x = x[0]
    return int(x.shape[0]) if getattr(x, "shape", ()) else len(x)
