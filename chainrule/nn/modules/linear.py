"""Linear layers: Identity, Linear (``y = x W^T + b``), Bilinear (``y_k = x1^T W_k x2 + b_k``)."""

from __future__ import annotations

import math
from typing import Any

from chainrule.creation import empty
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """``y = x``: a placeholder layer; any constructor arguments are ignored.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Identity(54, unused='x')(chainrule.tensor([1., 2.]))
        tensor([1., 2.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    r"""Affine map over the last dimension: ``y = x @ weight.T + bias``.

    ``weight`` is drawn from ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` (torch's
    ``kaiming_uniform_(a=sqrt(5))``) and ``bias`` from the same range, as torch, so initial loss
    scales match. An input of the wrong width raises a RuntimeError naming the layer.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: if ``False``, no additive bias is learned. Default: ``True``.

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> layer = nn.Linear(3, 2)
        >>> tuple(layer(chainrule.randn(4, 3)).shape)
        (4, 2)
        >>> try:
        ...     layer(chainrule.randn(4, 5))
        ... except RuntimeError as e:
        ...     print(str(e).replace(': ', ':\n'))
        Linear(in_features=3, out_features=2, bias=True):
        mat1 and mat2 shapes cannot be multiplied (4x5 and 3x2)
    """

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)  # keeps state_dict keys identical to torch
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from torch's default distributions."""
        # kaiming_uniform_ with a=sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch's default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        try:
            return F.linear(input, self.weight, self.bias)
        except RuntimeError as e:
            if "cannot be multiplied" in str(e):
                raise RuntimeError(f"{self!r}: {e}") from None
            raise

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    r"""Bilinear map: ``y_k = x1^T W_k x2 + b_k``; weight and bias drawn from
    ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))`` as torch.

    Args:
        in1_features: size of each first input sample.
        in2_features: size of each second input sample.
        out_features: size of each output sample.
        bias: if ``False``, no additive bias is learned. Default: ``True``.

    Shape:
        - Input1: ``(*, in1_features)``, Input2: ``(*, in2_features)``
        - Output: ``(*, out_features)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.Bilinear(3, 4, 2)
        >>> tuple(m(chainrule.randn(5, 3), chainrule.randn(5, 4)).shape)
        (5, 2)
    """

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features), device=device,
                                      dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from torch's default distributions."""
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
