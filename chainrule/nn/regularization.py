r"""Weight penalties from the lectures: L1, L2 and elastic net over a module's weights.

Add the penalty to the data loss and backpropagate through both::

    loss = criterion(model(x), y) + l2_penalty(model, weight=1e-4)
    loss.backward()

For the penalized weights ``w`` (all of them, flattened) the penalties and their gradients are

    L1:           R(w) = lambda * sum_i |w_i|               dR/dw_i = lambda * sign(w_i)
    L2:           R(w) = lambda * sum_i w_i^2               dR/dw_i = 2 * lambda * w_i
    elastic net:  R(w) = l1 * sum_i |w_i| + l2 * sum_i w_i^2

(``sign(0) = 0``, the subgradient torch's ``abs`` uses). L1 drives weights to exactly zero
(sparse models); L2 shrinks all weights toward zero in proportion to their size; the elastic net
mixes both. Plain SGD on ``loss + l2_penalty(model, weight=lambda / 2)`` takes the same steps
as ``SGD(..., weight_decay=lambda)`` on those parameters.

By default only *weights* are penalized: biases and the parameters of normalization layers
(any module whose class name contains ``Norm``: BatchNorm, LayerNorm, GroupNorm, InstanceNorm)
are skipped, because shrinking a shift or a normalization scale toward zero does not reduce the
model's capacity, it only biases it. Pass ``include`` to choose differently.

Note: ours; torch has no such helper (it offers ``weight_decay`` in the optimizers, which is
L2 only and applies to every parameter of a group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chainrule.creation import tensor as _tensor

__all__ = ["default_include", "penalized_parameters", "l1_penalty", "l2_penalty",
           "elastic_net_penalty"]

Tensor = Any
Module = Any
IncludeFn = Callable[[str, Any, Any], bool]


def _is_normalization(module: Module) -> bool:
    return any("Norm" in cls.__name__ for cls in type(module).__mro__)


def default_include(name: str, param: Tensor, module: Module) -> bool:
    """The default rule: penalize a parameter unless it is a bias or belongs to a
    normalization layer.

    Args:
        name: the parameter's qualified name, as in ``module.named_parameters()``.
        param: the parameter.
        module: the module that owns it directly.

    Example:
        >>> from chainrule import nn
        >>> lin, bn = nn.Linear(2, 2), nn.BatchNorm1d(2)
        >>> default_include("0.weight", lin.weight, lin), default_include("0.bias", lin.bias, lin)
        (True, False)
        >>> default_include("1.weight", bn.weight, bn)
        False
    """
    local = name.rsplit(".", 1)[-1]
    if local == "bias" or local.startswith("bias") or local.endswith("_bias"):
        return False
    return not _is_normalization(module)


def penalized_parameters(module: Module,
                         include: IncludeFn | None = None) -> Iterator[tuple[str, Tensor]]:
    """The ``(name, parameter)`` pairs a penalty covers, each shared parameter once.

    Args:
        module: the model.
        include: ``include(name, param, owner_module) -> bool`` selects the parameters;
            default :func:`default_include` (weights only, no biases, no normalization
            parameters).

    Example:
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
        >>> [name for name, _ in penalized_parameters(model)]
        ['0.weight', '2.weight']
        >>> [name for name, _ in penalized_parameters(model, lambda n, p, m: True)][:3]
        ['0.weight', '0.bias', '1.weight']
    """
    rule = default_include if include is None else include
    seen: set[int] = set()
    for mod_name, mod in module.named_modules():
        for p_name, param in mod.named_parameters(recurse=False):
            if param is None or id(param) in seen:
                continue
            seen.add(id(param))
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if rule(full, param, mod):
                yield full, param


def _total(terms: list[Tensor]) -> Tensor:
    if not terms:
        return _tensor(0.0)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def l1_penalty(module: Module, weight: float = 1.0, *,
               include: IncludeFn | None = None) -> Tensor:
    """``weight * sum |w|`` over the module's weights (a differentiable scalar).

    The gradient is ``weight * sign(w)`` for each penalized weight (0 at 0), nothing for
    the others.

    Args:
        module: the model.
        weight: the penalty strength ``lambda``. Default: 1.
        include: selects the parameters; default :func:`default_include`.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Linear(2, 1)
        >>> model.weight = nn.Parameter(chainrule.tensor([[1., -2.]]))
        >>> l1_penalty(model, weight=0.1)
        tensor(0.3000, grad_fn=<MulBackward0>)
    """
    terms = [p.abs().sum() for _, p in penalized_parameters(module, include)]
    return _total(terms) * weight


def l2_penalty(module: Module, weight: float = 1.0, *,
               include: IncludeFn | None = None) -> Tensor:
    """``weight * sum w^2`` over the module's weights (a differentiable scalar).

    The gradient is ``2 * weight * w``: SGD on it with ``weight = lambda / 2`` is
    ``weight_decay = lambda``.

    Args:
        module: the model.
        weight: the penalty strength ``lambda``. Default: 1.
        include: selects the parameters; default :func:`default_include`.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(2, 1), nn.BatchNorm1d(1))
        >>> model[0].weight = nn.Parameter(chainrule.tensor([[1., -2.]]))
        >>> l2_penalty(model, weight=0.5)
        tensor(2.5000, grad_fn=<MulBackward0>)
    """
    terms = [(p * p).sum() for _, p in penalized_parameters(module, include)]
    return _total(terms) * weight


def elastic_net_penalty(module: Module, l1: float = 1.0, l2: float = 1.0, *,
                        include: IncludeFn | None = None) -> Tensor:
    """``l1 * sum |w| + l2 * sum w^2`` over the module's weights (Zou and Hastie, 2005).

    Args:
        module: the model.
        l1: the L1 strength. Default: 1.
        l2: the L2 strength. Default: 1.
        include: selects the parameters; default :func:`default_include`.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Linear(2, 1)
        >>> model.weight = nn.Parameter(chainrule.tensor([[1., -2.]]))
        >>> elastic_net_penalty(model, l1=0.1, l2=0.5)
        tensor(2.8000, grad_fn=<AddBackward0>)
    """
    params = [p for _, p in penalized_parameters(module, include)]
    l1_term = _total([p.abs().sum() for p in params])
    l2_term = _total([(p * p).sum() for p in params])
    return l1_term * l1 + l2_term * l2
