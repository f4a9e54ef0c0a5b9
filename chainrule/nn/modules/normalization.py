"""LayerNorm, GroupNorm and LocalResponseNorm (thin wrappers over F)."""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.creation import empty
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = ["LayerNorm", "GroupNorm", "LocalResponseNorm"]



def _affine_parameters(module: Module, shape: tuple, affine: bool, bias: bool, device: Any,
                       dtype: Any) -> None:
    """Register ``weight`` (and ``bias``) of ``shape``, or None, then reset them to 1 and 0."""
    if affine:
        module.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            module.bias = Parameter(empty(shape, device=device, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    module.reset_parameters()


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)

class LayerNorm(Module):
    """Normalize each sample over its trailing ``normalized_shape`` dims:
    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` (weight, bias elementwise).

    Args:
        normalized_shape: the trailing shape to normalize over (int or tuple).
        eps: added to the variance. Default: ``1e-5``.
        elementwise_affine: learn ``weight`` (ones) and ``bias`` (zeros). Default: ``True``.
        bias: learn the bias (with elementwise_affine). Default: ``True``.

    Shape:
        - Input: ``(*, *normalized_shape)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.LayerNorm(2)(chainrule.tensor([[1., 3.]]))
        tensor([[-1.0000,  1.0000]], grad_fn=<NativeLayerNormBackward0>)
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalize each sample over groups of ``num_channels // num_groups`` channels (and the
    spatial dims), then ``* weight + bias`` per channel.

    Args:
        num_groups: number of channel groups (divides num_channels).
        num_channels: C of the input.
        eps: added to the variance. Default: ``1e-5``.
        affine: learn per-channel ``weight`` and ``bias``. Default: ``True``.

    Shape:
        - Input: ``(N, C, *)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.GroupNorm(2, 4)(chainrule.randn(3, 4, 5)).shape
        chainrule.Size([3, 4, 5])
    """

    __constants__ = ["num_groups", "num_channels", "eps", "affine"]

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (num_channels,), affine, bias, device, dtype)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """``y_c = x_c / (k + alpha / n * sum_{c' near c} x_{c'}^2) ** beta`` over ``size``
    neighbouring channels (AlexNet's normalization).

    Shape:
        - Input: ``(N, C, *)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.LocalResponseNorm(2)(chainrule.randn(1, 4, 3, 3)).shape
        chainrule.Size([1, 4, 3, 3])
    """

    __constants__ = ["size", "alpha", "beta", "k"]

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
