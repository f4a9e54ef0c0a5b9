"""Upsample, UpsamplingNearest2d, UpsamplingBilinear2d: thin wrappers over F.interpolate."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Resample the spatial dims to ``size`` or by ``scale_factor`` (see
    :func:`chainrule.nn.functional.interpolate` for the modes).

    Args:
        size: output spatial size.
        scale_factor: multiplier for each spatial size.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``,
            ``'trilinear'`` or ``'area'``. Default: ``'nearest'``.
        align_corners: for the linear modes, map corner pixels onto each other.
        recompute_scale_factor: derive the coordinate scale from the sizes.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Upsample(scale_factor=2)(chainrule.tensor([[[[1., 2.]]]]))
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """

    __constants__ = ["size", "scale_factor", "mode", "align_corners", "name",
                     "recompute_scale_factor"]

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-d upsampling (``Upsample(mode='nearest')``).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.UpsamplingNearest2d(scale_factor=2)(chainrule.ones(1, 1, 2, 2)).shape
        chainrule.Size([1, 1, 4, 4])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-d upsampling with ``align_corners=True``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.UpsamplingBilinear2d(size=3)(chainrule.tensor([[[[0., 2.], [4., 6.]]]]))
        tensor([[[[0., 1., 2.],
                  [2., 3., 4.],
                  [4., 5., 6.]]]])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
