"""Batch and instance normalization: BatchNorm1d/2d, InstanceNorm1d/2d.

State is torch's, name for name (``weight``, ``bias``, buffers ``running_mean``,
``running_var``, ``num_batches_tracked``), so a torch ``state_dict`` loads as is. In training
the batch statistics normalize and the running ones move towards them (``momentum``, or a
cumulative average when ``momentum=None``); in eval the running statistics normalize.
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule._backend import dtypes
from chainrule.creation import empty, ones, tensor, zeros
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d"]


class _NormBase(Module):
    """Parameters, buffers, reset and repr shared by batch and instance norm."""

    __constants__ = ["track_running_stats", "momentum", "eps", "num_features", "affine"]

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            # momentum=None: the running statistics are the plain average of every batch
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)
        if self.training:
            bn_training = True
        else:
            bn_training = self.running_mean is None and self.running_var is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            bn_training, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Normalize each feature over the batch (and length):
    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias``.

    Args:
        num_features: C of an ``(N, C)`` or ``(N, C, L)`` input.
        eps: added to the variance. Default: ``1e-5``.
        momentum: running-average factor, or ``None`` for a cumulative average.
        affine: learn ``weight`` and ``bias``. Default: ``True``.
        track_running_stats: keep running statistics for eval. Default: ``True``.

    Shape:
        - Input: ``(N, C)`` or ``(N, C, L)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> bn = nn.BatchNorm1d(2)
        >>> y = bn(chainrule.tensor([[1., 10.], [3., 30.]]))
        >>> bn.running_mean
        tensor([0.2000, 2.0000])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Normalize each channel over the batch and both spatial dims:
    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias``; see :class:`BatchNorm1d`.

    Shape:
        - Input: ``(N, C, H, W)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.BatchNorm2d(16)(chainrule.randn(8, 16, 4, 4)).shape
        chainrule.Size([8, 16, 4, 4])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class _InstanceNorm(_NormBase):
    _no_batch_dim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _apply_instance_norm(self, input: Tensor) -> Tensor:
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        feature_dim = input.dim() - self._no_batch_dim
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          f"can silence this warning by not passing in num_features, which is "
                          f"not used because affine=False", stacklevel=2)
        if input.dim() == self._no_batch_dim:
            return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    """Normalize each (sample, channel) sequence over its length; optional per-channel
    ``weight``/``bias`` (``affine=True``) and running statistics (``track_running_stats``).

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.InstanceNorm1d(1)(chainrule.tensor([[[1., 3.]]]))
        tensor([[[-1.0000,  1.0000]]])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class InstanceNorm2d(_InstanceNorm):
    """Normalize each (sample, channel) image over its spatial dims (style transfer's
    normalization); see :class:`InstanceNorm1d`.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``; output the same.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.InstanceNorm2d(3, affine=True)(chainrule.randn(2, 3, 5, 5)).shape
        chainrule.Size([2, 3, 5, 5])
    """

    _no_batch_dim = 3

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.dim()}D input)")
