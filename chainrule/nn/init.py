"""Weight initialisation (torch.nn.init): fill a tensor in place, without recording history.

The variance-preserving schemes scale by a layer's fans: for a weight of shape
``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
Xavier/Glorot keeps ``Var(w) = gain^2 * 2 / (fan_in + fan_out)`` (forward and backward signals
both stay at unit scale for linear/tanh units); Kaiming/He keeps ``Var(w) = gain^2 / fan``
(``gain = sqrt(2)`` for ReLU, which zeroes half of its inputs). Every function takes a
``generator=`` as torch does.

Note:
    The random streams are chainrule's (NumPy's PCG64), not torch's: the same seed gives the
    same numbers within chainrule and the same *distributions* as torch.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from chainrule import _backend
from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import as_tensor, empty_like, eye
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_", "uniform", "normal", "constant",
           "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal",
           "sparse"]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 (linear, conv, sigmoid), 5/3 (tanh),
    sqrt(2) (relu), sqrt(2 / (1 + slope^2)) (leaky_relu), 3/4 (selu).

    Example:
        >>> from chainrule import nn
        >>> nn.init.calculate_gain('relu'), nn.init.calculate_gain('leaky_relu', 0.2)
        (1.4142135623730951, 1.3867504905630728)
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        # SELU keeps unit variance by itself; 3/4 is torch's empirical choice
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with ``U(a, b)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.uniform_(chainrule.empty(1000), -1, 1)
        >>> bool(w.min() >= -1 and w.max() <= 1)
        True
    """
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with ``N(mean, std^2)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.normal_(chainrule.empty(10000), 0.0, 0.1)
        >>> round(w.std().item(), 2)
        0.1
    """
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Any = None) -> Tensor:
    """Fill with ``N(mean, std^2)`` truncated to ``[a, b]`` (exact, by rejection sampling).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.trunc_normal_(chainrule.empty(1000), std=1.0, a=-0.5, b=0.5)
        >>> bool(w.abs().max() <= 0.5)
        True
    """

    def norm_cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    with no_grad():
        p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
        if p > 0.3:
            # most normal draws land inside: redraw only the ones that fell out
            result = tensor.normal_(mean, std, generator=generator)
            while True:
                mask = (result < a) | (result > b)
                if not mask.any():
                    break
                result = where(mask, empty_like(result).normal_(mean, std, generator=generator),
                               result)
            if result is not tensor:
                tensor.copy_(result)
        else:
            # a narrow window: propose uniformly on [a, b], accept with the normal density
            # relative to its peak inside the window
            mode = max(a, min(mean, b))
            log_peak = -0.5 * ((mode - mean) / std) ** 2

            def log_accept(x: Tensor) -> Tensor:
                return ((x - mean) / std) ** 2 * -0.5 - log_peak

            result = tensor.uniform_(a, b, generator=generator).clone()
            pending = empty_like(tensor).uniform_(generator=generator).log() > log_accept(result)
            while pending.any():
                cand = empty_like(tensor).uniform_(a, b, generator=generator)
                result = where(pending, cand, result)
                u = empty_like(tensor).uniform_(generator=generator).log()
                pending = pending & (u > log_accept(cand))
            tensor.copy_(result)
        return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.init.constant_(chainrule.empty(3), 0.5)
        tensor([0.5000, 0.5000, 0.5000])
    """
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.init.ones_(chainrule.empty(2))
        tensor([1., 1.])
    """
    with no_grad():
        return tensor.fill_(1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.init.zeros_(chainrule.empty(2))
        tensor([0., 0.])
    """
    with no_grad():
        return tensor.zero_()


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal), preserving the identity
    of the inputs in Linear layers.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.init.eye_(chainrule.empty(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with no_grad():
        tensor.copy_(eye(*tensor.shape, dtype=tensor.dtype))
    return tensor


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: the convolution passes
    its inputs through (per group: output channel ``d`` copies input channel ``d``).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.dirac_(chainrule.empty(2, 2, 3))
        >>> w[0]
        tensor([[0., 1., 0.],
                [0., 0., 0.]])
    """
    dims = tensor.ndimension()
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = sizes[0] // groups
    min_dim = min(per_group, sizes[1])
    centre = tuple(s // 2 for s in sizes[2:])
    with no_grad():
        tensor.zero_()
        for g in range(groups):
            for d in range(min_dim):
                tensor[(g * per_group + d, d) + centre] = 1
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out) = (size(1) * receptive field, size(0) * receptive field)``."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return tensor.size(1) * receptive_field_size, tensor.size(0) * receptive_field_size


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio).

    Example:
        >>> import chainrule, math
        >>> from chainrule import nn
        >>> w = nn.init.xavier_uniform_(chainrule.empty(30, 20))
        >>> bool(w.abs().max() <= math.sqrt(6 / 50))
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # a uniform on [-a, a] has std a / sqrt(3)
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.xavier_normal_(chainrule.empty(200, 200))
        >>> round(w.std().item(), 2)
        0.07
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """Fill with ``U(-bound, bound)``, ``bound = gain * sqrt(3 / fan)`` (He et al.), ``gain``
    from :func:`calculate_gain` (``a`` is leaky_relu's negative slope).

    Example:
        >>> import chainrule, math
        >>> from chainrule import nn
        >>> w = nn.init.kaiming_uniform_(chainrule.empty(64, 50), nonlinearity='relu')
        >>> bool(w.abs().max() <= math.sqrt(6 / 50))
        True
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """Fill with ``N(0, std^2)``, ``std = gain / sqrt(fan)`` (He et al.).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.kaiming_normal_(chainrule.empty(400, 200), nonlinearity='relu')
        >>> round(w.std().item(), 2)
        0.1
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Any = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix (Saxe et al.): the Q of the QR decomposition of a
    Gaussian matrix, signs fixed so Q is uniformly distributed; tensors with more than two
    dimensions are flattened after the first.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> q = nn.init.orthogonal_(chainrule.empty(3, 5))
        >>> bool(((q @ q.T) - chainrule.eye(3)).abs().max() < 1e-5)
        True
    """
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    xp = _backend.xp
    flat = tensor.new_zeros((rows, cols)).normal_(0, 1, generator=generator).numpy()
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    # multiplying each column by the sign of R's diagonal makes Q Haar-distributed
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    with no_grad():
        tensor.view(rows, cols).copy_(as_tensor(q))
        tensor.mul_(gain)
    return tensor


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """Fill a 2-D tensor with ``N(0, std^2)`` and zero a fraction ``sparsity`` of each column.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> w = nn.init.sparse_(chainrule.empty(10, 3), sparsity=0.3)
        >>> (w == 0).sum(0).tolist()
        [3, 3, 3]
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from chainrule.creation import randperm

    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    with no_grad():
        tensor.normal_(0, std, generator=generator)
        for col in range(cols):
            zero_rows = randperm(rows, generator=generator)[:num_zeros]
            tensor[zero_rows, col] = 0
    return tensor


def _make_deprecate(meth: Any) -> Any:
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return meth(*args, **kwargs)

    deprecated_init.__doc__ = f"Deprecated alias of :func:`{new_name}`."
    deprecated_init.__name__ = old_name
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
