"""Unfold (im2col) and Fold (col2im): sliding blocks to columns and back."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["Unfold", "Fold"]


class Unfold(Module):
    """Extract sliding ``kernel_size`` blocks as columns: ``(N, C, H, W) -> (N, C*kH*kW, L)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Unfold(kernel_size=(2, 3))(chainrule.randn(2, 5, 3, 4)).shape
        chainrule.Size([2, 30, 4])
    """

    __constants__ = ["kernel_size", "dilation", "padding", "stride"]

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Sum columns of sliding blocks back into an image of ``output_size`` (the adjoint of
    :class:`Unfold`; overlapping entries add).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(chainrule.randn(1, 12, 12)).shape
        chainrule.Size([1, 3, 4, 5])
    """

    __constants__ = ["output_size", "kernel_size", "dilation", "padding", "stride"]

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
