"""Pooling layers: max, average and adaptive pooling in 1-d and 2-d (thin wrappers over F)."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]


class _MaxPoolNd(Module):
    __constants__ = ["kernel_size", "stride", "padding", "dilation", "return_indices",
                     "ceil_mode"]

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The maximum of every window along L: ``out[n, c, l] = max_k x[n, c, l s + k d - p]``.

    Args:
        kernel_size: window length.
        stride: step between windows. Default: ``kernel_size``.
        padding: implicit -inf padding on both sides (at most half the window).
        dilation: spacing between window taps. Default: ``1``.
        return_indices: also return the argmax positions (for ``MaxUnpool``).
        ceil_mode: round the output length up (a last partial window).

    Shape:
        - Input: ``(N, C, L_in)`` or ``(C, L_in)``
        - Output: ``(N, C, L_out)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.MaxPool1d(2)(chainrule.tensor([[[1., 3., 2., 5.]]]))
        tensor([[[3., 5.]]])
    """

    def forward(self, input: Tensor) -> Any:
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """The maximum of every ``kH x kW`` window; the gradient goes to each window's first
    maximum (torch's tie rule).

    Args:
        kernel_size: window size (int or pair).
        stride: step between windows. Default: ``kernel_size``.
        padding: implicit -inf padding (at most half the window).
        dilation: spacing between window taps. Default: ``1``.
        return_indices: also return flat argmax indices ``h * W + w``.
        ceil_mode: round the output size up (last partial windows).

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``
        - Output: ``(N, C, H_out, W_out)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.MaxPool2d(2)(chainrule.arange(16.).reshape(1, 1, 4, 4))
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool1d(Module):
    """The mean of every window along L (zero padding counted unless
    ``count_include_pad=False``).

    Shape:
        - Input: ``(N, C, L_in)`` or ``(C, L_in)``
        - Output: ``(N, C, L_out)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AvgPool1d(2)(chainrule.tensor([[[1., 3., 2., 6.]]]))
        tensor([[[2., 4.]]])
    """

    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


def _single(v: Any) -> tuple:
    return tuple(v) if isinstance(v, (list, tuple)) else (v,)


class AvgPool2d(Module):
    """The mean of every ``kH x kW`` window: ``sum / divisor`` (the window area, clipped at
    the padded edge; the non-padding count if ``count_include_pad=False``; or
    ``divisor_override``).

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``
        - Output: ``(N, C, H_out, W_out)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AvgPool2d(2)(chainrule.arange(16.).reshape(1, 1, 4, 4))
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """

    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                     "divisor_override"]

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePool(Module):
    __constants__ = ["output_size"]

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average over ``output_size`` near-equal windows of L
    (``[floor(i L / out), ceil((i + 1) L / out))``).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AdaptiveAvgPool1d(1)(chainrule.tensor([[[1., 2., 6.]]]))
        tensor([[[3.]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average over an ``output_size`` grid of near-equal windows; ``AdaptiveAvgPool2d(1)``
    is global average pooling. ``None`` in ``output_size`` keeps that input size.

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``
        - Output: ``(N, C, *output_size)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AdaptiveAvgPool2d((1, 1))(chainrule.randn(8, 16, 7, 7)).shape
        chainrule.Size([8, 16, 1, 1])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    __constants__ = ["output_size", "return_indices"]

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """The maximum over ``output_size`` near-equal windows of L.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AdaptiveMaxPool1d(1)(chainrule.tensor([[[1., 7., 6.]]]))
        tensor([[[7.]]])
    """

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """The maximum over an ``output_size`` grid of near-equal windows.

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``
        - Output: ``(N, C, *output_size)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AdaptiveMaxPool2d(1)(chainrule.arange(4.).reshape(1, 1, 2, 2))
        tensor([[[[3.]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)
