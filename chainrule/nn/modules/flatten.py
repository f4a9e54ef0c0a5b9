"""Flatten and Unflatten: reshape a range of dimensions into one, and one back into several."""

from __future__ import annotations

from typing import Any

from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one (a view when possible).

    Args:
        start_dim: first dim to flatten. Default: ``1`` (keeps the batch dimension).
        end_dim: last dim to flatten. Default: ``-1``.

    Shape:
        - Input: ``(*, S_start, ..., S_end, *)``
        - Output: ``(*, prod(S_start..S_end), *)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> tuple(nn.Flatten()(chainrule.zeros(32, 1, 5, 5)).shape)
        (32, 25)
        >>> nn.Flatten(0, 2)
        Flatten(start_dim=0, end_dim=2)
    """

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (one entry may be ``-1``).

    Args:
        dim: the dimension to split.
        unflattened_size: the new sizes, a tuple or list of ints.

    Shape:
        - Input: ``(*, S_dim, *)`` with ``S_dim = prod(unflattened_size)``
        - Output: ``(*, U_1, ..., U_n, *)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> tuple(nn.Unflatten(1, (2, 5, 5))(chainrule.zeros(2, 50)).shape)
        (2, 2, 5, 5)
    """

    __constants__ = ["dim", "unflattened_size"]

    def __init__(self, dim: int | str, unflattened_size: Any) -> None:
        super().__init__()
        if isinstance(dim, int):
            self._require_tuple_int(unflattened_size)
        else:
            raise TypeError("invalid argument type for dim parameter")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def _require_tuple_int(self, input: Any) -> None:
        if isinstance(input, (tuple, list)):
            for idx, elem in enumerate(input):
                if not isinstance(elem, int):
                    raise TypeError(f"unflattened_size must be tuple of ints, but found element "
                                    f"of type {type(elem).__name__} at pos {idx}")
            return
        raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                        f"{type(input).__name__}")

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
