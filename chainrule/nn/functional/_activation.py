"""Activation functions (torch.nn.functional's), with torch's signatures and derivative
conventions at the kinks (``relu'(0) = 0``, ``hardtanh'`` is 0 on its boundary, ...).

Most are composites of differentiable ops; the piecewise ones whose composite would get a
boundary derivative or an overflow wrong are fused primitives in ``chainrule/ops/activations.py``.
``inplace=True`` computes out of place and writes the result into ``input``, recording the
history as torch's in-place variants do (so a leaf that requires grad raises).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule._backend import random as _random
from chainrule.ops._util import float_input
from chainrule.ops.activations import (
    Elu,
    Hardshrink,
    Hardswish,
    Hardtanh,
    LeakyRelu,
    Softshrink,
    Threshold,
)
from chainrule.ops.elementwise import Relu, erf, sigmoid, softplus, tanh, where
from chainrule.ops.elementwise import abs as _abs
from chainrule.ops.nn_ops import log_softmax, softmax, softmin

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_",
           "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish", "hardtanh",
           "hardtanh_", "hardsigmoid", "hardswish", "softplus", "softsign", "softmax",
           "log_softmax", "softmin", "tanhshrink", "threshold", "threshold_", "logsigmoid",
           "hardshrink", "softshrink", "glu", "sigmoid", "tanh"]

Tensor = Any

# SELU's fixed point constants (Klambauer et al., 2017), to torch's precision.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _maybe_inplace(input: Tensor, inplace: bool, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """``fn(input)``, or with ``inplace`` that result written into ``input`` (returned)."""
    if not inplace:
        return fn(input)
    src = input._old() if input._inplace_recording() else input
    return input._inplace(fn(src))


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)``; the derivative at 0 is 0, as torch.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.relu(chainrule.tensor([-1., 0., 2.]))
        tensor([0., 0., 2.])
    """
    return _maybe_inplace(input, inplace, Relu.apply)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`."""
    return relu(input, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``clamp(input, min_val, max_val)``; no gradient flows on the boundary, as torch.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.hardtanh(chainrule.tensor([-2., 0.5, 3.]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, lambda x: Hardtanh.apply(
        float_input(x), min_val=min_val, max_val=max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(input, 0), 6)`` (hardtanh on ``[0, 6]``).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.relu6(chainrule.tensor([-1., 3., 9.]))
        tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``negative_slope * input`` (slope at 0, as torch).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.leaky_relu(chainrule.tensor([-10., 2.]), 0.1)
        tensor([-1.,  2.])
    """
    return _maybe_inplace(input, inplace, lambda x: LeakyRelu.apply(
        float_input(x), negative_slope=float(negative_slope)))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``input`` where positive, else ``weight * input``, one learned slope per channel (dim 1)
    or one shared slope.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.prelu(chainrule.tensor([[-1., 1.], [-2., 2.]]), chainrule.tensor([0.5, 0.1]))
        tensor([[-0.5000,  1.0000],
                [-1.0000,  2.0000]])
    """
    if input.dtype != weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{dtypes.scalar_type_name(input.dtype)} and "
                           f"{dtypes.scalar_type_name(weight.dtype)}")
    nd = input.ndim
    if weight.numel() != 1:
        if nd == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if nd > 1 else 1
        if channels != weight.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {weight.numel()} and channel size = "
                               f"{channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if weight.ndim == 1 and nd >= 2:
        weight = weight.view((1, -1) + (1,) * (nd - 2))
    elif weight.ndim == 1 and nd < 1:
        weight = weight.view(())
    return where(input > 0, input, weight * input)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: negative inputs are scaled by ``a ~ U(lower, upper)`` drawn per
    element in training, by ``(lower + upper) / 2`` in evaluation.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.rrelu(chainrule.tensor([-3., 1.]), 0.25, 0.75)
        tensor([-1.5000,  1.0000])
    """
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)

    def fn(x: Tensor) -> Tensor:
        xd = x._data
        r = _random.rng(None).uniform(lower, upper, size=xd.shape).astype(xd.dtype)
        noise = _backend.xp.where(xd <= 0, r, _backend.scalar(1, xd.dtype))
        return x * _backend.wrap(noise)

    return _maybe_inplace(input, inplace, fn)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place :func:`rrelu`."""
    return rrelu(input, lower, upper, training, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``alpha (exp(input) - 1)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.elu(chainrule.tensor([-1000., 0., 2.]))
        tensor([-1.,  0.,  2.])
    """
    return _maybe_inplace(input, inplace, lambda x: Elu.apply(
        float_input(x), alpha=float(alpha), scale=1.0, input_scale=1.0))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`."""
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(input, alpha)`` with SELU's constants (``alpha ~ 1.6733``, ``scale ~
    1.0507``), which keep activations near zero mean and unit variance.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.selu(chainrule.tensor([0., 1.]))
        tensor([0.0000, 1.0507])
    """
    return _maybe_inplace(input, inplace, lambda x: Elu.apply(
        float_input(x), alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0))


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu`."""
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha (exp(x / alpha) - 1))``: ELU continuously differentiable in
    ``alpha``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.celu(chainrule.tensor([-1000., 2.]), alpha=2.0)
        tensor([-2.,  2.])
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _maybe_inplace(input, inplace, lambda x: Elu.apply(
        float_input(x), alpha=float(alpha), scale=1.0, input_scale=1.0 / alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu`."""
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x Phi(x)`` with ``Phi`` the standard normal CDF: ``0.5 x (1 + erf(x / sqrt 2))``;
    ``approximate='tanh'`` uses ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.gelu(chainrule.tensor([-1., 0., 1.]))
        tensor([-0.1587,  0.0000,  0.8413])
    """
    x = float_input(input)
    if approximate == "none":
        return x * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (tanh(inner) + 1.0) * 0.5
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.silu(chainrule.tensor([0., 1.]))
        tensor([0.0000, 0.7311])
    """
    return _maybe_inplace(input, inplace, lambda x: x * sigmoid(x))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.mish(chainrule.tensor([0., 1.]))
        tensor([0.0000, 0.8651])
    """
    # threshold=inf: the exact softplus (and its exact derivative) at every input
    return _maybe_inplace(input, inplace, lambda x: x * tanh(softplus(x, 1.0, math.inf)))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid (no gradient at -3 and 3, as torch).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.hardsigmoid(chainrule.tensor([-4., 0., 1.5, 4.]))
        tensor([0.0000, 0.5000, 0.7500, 1.0000])
    """
    return _maybe_inplace(input, inplace, lambda x: Hardtanh.apply(
        float_input(x) + 3.0, min_val=0.0, max_val=6.0) * (1.0 / 6.0))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``, torch's derivative conventions at -3 and 3.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.hardswish(chainrule.tensor([-4., 0., 1.5, 4.]))
        tensor([-0.0000,  0.0000,  1.1250,  4.0000])
    """
    return _maybe_inplace(input, inplace, lambda x: Hardswish.apply(float_input(x)))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.softsign(chainrule.tensor([-3., 1.]))
        tensor([-0.7500,  0.5000])
    """
    return input / (_abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.tanhshrink(chainrule.tensor([0., 1.]))
        tensor([0.0000, 0.2384])
    """
    return input - tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``input`` where ``input > threshold``, else ``value``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.threshold(chainrule.tensor([0.5, 2.]), 1.0, -7.0)
        tensor([-7.,  2.])
    """
    return _maybe_inplace(input, inplace, lambda x: Threshold.apply(
        x, threshold=float(threshold), value=float(value)))


_threshold = threshold  # threshold_'s argument shadows the function's name


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`threshold`."""
    return _threshold(input, threshold, value, inplace=True)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, computed without overflow.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.logsigmoid(chainrule.tensor([-1000., 0.]))
        tensor([-1000.0000,    -0.6931])
    """
    return -softplus(-input, 1.0, math.inf)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.hardshrink(chainrule.tensor([-1., 0.2, 0.7]))
        tensor([-1.0000,  0.0000,  0.7000])
    """
    return Hardshrink.apply(float_input(input), lambd=float(lambd))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.softshrink(chainrule.tensor([-1., 0.2, 0.75]))
        tensor([-0.5000,  0.0000,  0.2500])
    """
    if lambd < 0:
        big = float(np.finfo(input._data.dtype).max) if input._data.dtype.kind == "f" else 0
        raise RuntimeError(f"lambda must be in range [0, {big:g}] for input dtype "
                           f"{dtypes.scalar_type_name(input.dtype)}, but found {lambd:g}")
    return Softshrink.apply(float_input(input), lambd=float(lambd))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` for ``a, b`` the two halves of ``input`` along
    ``dim``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.glu(chainrule.tensor([2., 0.]))
        tensor([1.])
    """
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim % input.ndim if -input.ndim <= dim < input.ndim else dim
    n = input.size(d)
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.chunk(2, d)
    return a * sigmoid(b)


# softmax, log_softmax, softmin, sigmoid, tanh and softplus are the core ops themselves:
# their signatures are F's already.
softmax = softmax
log_softmax = log_softmax
softmin = softmin
sigmoid = sigmoid
tanh = tanh
softplus = softplus
