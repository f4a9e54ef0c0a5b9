"""Flatten parameters into one vector and back (for second-order methods, line searches)."""

from __future__ import annotations

from collections.abc import Iterable

from chainrule.nn.modules.module import _typename
from chainrule.ops.movement import cat
from chainrule.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.Linear(3, 2)
        >>> nn.utils.parameters_to_vector(m.parameters()).shape
        chainrule.Size([8])
    """
    return cat([p.view(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the parameters' data to consecutive slices of ``vec`` (each becomes a view of it).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.Linear(2, 1)
        >>> nn.utils.vector_to_parameters(chainrule.tensor([1., 2., 3.]), m.parameters())
        >>> m.weight, m.bias
        (Parameter containing:
        tensor([[1., 2.]], requires_grad=True), Parameter containing:
        tensor([3.], requires_grad=True))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
