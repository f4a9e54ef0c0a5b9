"""Dropout layers: active in training mode, the identity in evaluation mode (``model.eval()``).
Masks come from chainrule's default generator (``chainrule.manual_seed`` reproduces them)."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]

Tensor = Any


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training, scaling the kept ones by
    ``1 / (1 - p)`` so that expectations match evaluation mode (inverted dropout).

    Args:
        p: probability of zeroing an element. Default: 0.5.
        inplace: overwrite the input. Default: ``False``.

    Shape:
        - Input: ``(*)``; Output: the same shape.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.Dropout(p=0.5)
        >>> sorted(set(m(chainrule.ones(100)).tolist()))
        [0.0, 2.0]
        >>> m.eval()(chainrule.ones(2))
        tensor([1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` inputs with probability ``p``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Dropout1d()(chainrule.ones(2, 3, 4)).shape
        chainrule.Size([2, 3, 4])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps ``x[n, c]``) of ``(N, C, H, W)`` inputs with
    probability ``p``, scaling the kept ones by ``1 / (1 - p)``: neighbouring pixels are
    correlated, so element-wise dropout would barely regularize a conv layer.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> y = nn.Dropout2d(p=0.5)(chainrule.ones(4, 6, 2, 2))
        >>> bool((y.amax(dim=(2, 3)) == y.amin(dim=(2, 3))).all())
        True
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` inputs with probability
    ``p``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Dropout3d()(chainrule.ones(1, 2, 2, 2, 2)).shape
        chainrule.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's zero mean and unit variance (see
    :func:`chainrule.nn.functional.alpha_dropout`).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.AlphaDropout(0.2).eval()(chainrule.ones(2))
        tensor([1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout over whole channels.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.FeatureAlphaDropout(0.2).eval()(chainrule.ones(1, 2))
        tensor([[1., 1.]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
