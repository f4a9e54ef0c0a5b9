"""Dropout (torch.nn.functional's): element-wise, channel-wise (1d/2d/3d) and alpha dropout.

Masks are drawn from chainrule's default generator, so ``chainrule.manual_seed`` makes them
reproducible (the streams are not torch's: the same seed gives different masks in torch).
The output is ``input * noise`` (plus a shift for alpha dropout) with a constant ``noise``, so
gradients and double backward need no rule of their own. As in torch, evaluation mode,
``p = 0`` and empty inputs return ``input`` itself, and ``p = 1`` multiplies by zero.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import random as _random
from chainrule.nn.functional._activation import _maybe_inplace

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

Tensor = Any

xp = _backend.xp

# SELU's negative saturation value -scale * alpha, negated: alpha dropout sets dropped units
# to it so that SELU's self-normalizing mean and variance are kept (torch's constant).
_ALPHA = 1.7580993408473766


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape: tuple[int, ...], p: float, dtype: Any) -> np.ndarray:
    """A float mask of ``shape``: 1 with probability ``1 - p``, else 0 (bernoulli(1 - p))."""
    rdtype = dtype if dtype in (np.float32, np.float64) else np.float32
    draw = _random.rng(None).random(shape, dtype=rdtype)
    return (draw < _backend.scalar(1.0 - p, rdtype)).astype(dtype)


def _dropout_impl(input: Tensor, p: float, training: bool, inplace: bool, noise_shape: Any,
                  alpha: bool) -> Tensor:
    """torch's ``_dropout_impl``: the shared body of every dropout variant. ``noise_shape``
    is a callable, so that its checks only run when dropout is applied (as torch)."""
    if p == 0 or not training or input.numel() == 0:
        return input
    dtype = input._data.dtype
    if p == 1:
        zero = _backend.wrap(xp.zeros((), dtype=dtype))
        return _maybe_inplace(input, inplace, lambda x: x * zero)
    noise = _keep_mask(tuple(noise_shape()), p, dtype)
    if not alpha:
        noise /= _backend.scalar(1.0 - p, dtype)
        noise_t = _backend.wrap(noise)
        return _maybe_inplace(input, inplace, lambda x: x * noise_t)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    # b = (noise - 1) * alpha * a + alpha * a * p: the shift that restores the mean
    b = (noise - _backend.scalar(1, dtype)) * _backend.scalar(_ALPHA * a, dtype)
    b += _backend.scalar(_ALPHA * a * p, dtype)
    noise *= _backend.scalar(a, dtype)
    noise_t, b_t = _backend.wrap(noise), _backend.wrap(b)
    return _maybe_inplace(input, inplace, lambda x: x * noise_t + b_t)


def _feature_shape(input: Tensor, batched: bool = True) -> tuple[int, ...]:
    """The noise shape of channel-wise dropout: one draw per (sample, channel)."""
    shape = tuple(input.shape)
    lead = 2 if batched else 1
    if len(shape) < lead:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return shape[:lead] + (1,) * (len(shape) - lead)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``, so the
    expected value is unchanged; the identity when not ``training``.

    Args:
        input: any shape.
        p: the probability of zeroing an element. Default: 0.5.
        training: apply dropout (``False`` returns ``input`` itself).
        inplace: write the result into ``input``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> _ = chainrule.manual_seed(0)
        >>> y = F.dropout(chainrule.ones(1000), p=0.2)
        >>> sorted(set(y.tolist()))
        [0.0, 1.25]
        >>> F.dropout(chainrule.ones(3), p=0.2, training=False)
        tensor([1., 1., 1.])
    """
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, lambda: input.shape, alpha=False)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` inputs with probability ``p``, scaling
    the rest by ``1 / (1 - p)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> y = F.dropout1d(chainrule.ones(4, 3, 5), p=0.5)
        >>> bool(((y == 0) | (y == 2)).all()) and bool((y.std(dim=2) == 0).all())
        True
    """
    _check_p(p)
    nd = input.ndim
    if nd not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. "
                           f"Note that dropout1d exists to provide channel-wise dropout on inputs "
                           f"with 1 spatial dimension, a channel dimension, and an optional batch "
                           f"dimension (i.e. 2D or 3D inputs).")
    return _dropout_impl(input, p, training, inplace,
                         lambda: _feature_shape(input, batched=nd == 3), alpha=False)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (2-D feature maps ``input[n, c]``) with probability ``p``, scaling
    the rest by ``1 / (1 - p)``.

    As torch, a 3-D input is read as ``(N, C, L)`` (with a warning), and inputs of other
    ranks warn and drop along their first two dims.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> y = F.dropout2d(chainrule.ones(2, 8, 3, 3), p=0.5)
        >>> bool((y.amax(dim=(2, 3)) == y.amin(dim=(2, 3))).all())
        True
    """
    _check_p(p)
    nd = input.ndim
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and "
                      f"will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that dropout2d "
                      f"exists to provide channel-wise dropout on inputs with 2 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      f"3D or 4D inputs).", UserWarning, stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=2)
    return _dropout_impl(input, p, training, inplace, lambda: _feature_shape(input),
                         alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (3-D feature maps) of ``(N, C, D, H, W)`` or ``(C, D, H, W)``
    inputs with probability ``p``, scaling the rest by ``1 / (1 - p)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.dropout3d(chainrule.ones(2, 3, 2, 2, 2), p=0.5).shape
        chainrule.Size([2, 3, 2, 2, 2])
    """
    _check_p(p)
    nd = input.ndim
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and "
                      f"will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that dropout3d "
                      f"exists to provide channel-wise dropout on inputs with 3 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      f"4D or 5D inputs).", UserWarning, stacklevel=2)
    return _dropout_impl(input, p, training, inplace,
                         lambda: _feature_shape(input, batched=nd == 5), alpha=False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped units take SELU's saturation value and an affine map
    ``a * x + b`` restores zero mean and unit variance (torch's formula:
    ``a = ((alpha^2 p + 1)(1 - p))^(-1/2)``, ``alpha = 1.7581``).

    Note: ``training`` defaults to ``False`` here, as in torch.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> _ = chainrule.manual_seed(0)
        >>> y = F.alpha_dropout(chainrule.randn(100000), p=0.3, training=True)
        >>> round(y.mean().item(), 1), round(y.std().item(), 1)
        (0.0, 1.0)
    """
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, lambda: input.shape, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """:func:`alpha_dropout` over whole channels (one draw per sample and channel).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.feature_alpha_dropout(chainrule.ones(2, 3), training=False)
        tensor([[1., 1., 1.],
                [1., 1., 1.]])
    """
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, lambda: _feature_shape(input),
                         alpha=True)
