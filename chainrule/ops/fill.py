"""In-place fillers: ``zero_``, ``fill_``, ``copy_`` and the random ``uniform_``, ``normal_``,
``random_``, ``bernoulli_``, ``exponential_`` Tensor methods.

Outside autograd (the usual case: initialisers under ``no_grad``, optimizer state) they write
straight into the tensor's memory and bump its version counter. When the write must be
recorded (the tensor is part of a graph), it goes through :class:`Fill` or :class:`Copy`, whose
derivative is zero for the overwritten values (and the identity for ``copy_``'s source).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule._backend.random import rng
from chainrule.autograd.op import Op
from chainrule.ops._util import cast, is_tensor, to_tensor

__all__: list[str] = []

xp = _backend.xp


class Fill(Op):
    """out = value (broadcast over x's shape);  d out = 0."""

    needs_inputs = False
    backward_name = "FillBackward2"  # torch's name for fill_ with a number

    @staticmethod
    def forward(x, *, value):
        out = xp.empty_like(x)
        out[...] = value
        return out

    @staticmethod
    def vjp(g, out, x, *, value):
        return (g.new_zeros(g.shape),)

    @staticmethod
    def jvp(x_dot, out, x, *, value):
        return x_dot.new_zeros(x_dot.shape)


class Zero(Fill):
    """out = 0;  d out = 0."""

    backward_name = "ZeroBackward0"

    @staticmethod
    def forward(x, *, value):
        return xp.zeros_like(x)


class Copy(Op):
    """out = src (broadcast to x's shape, cast to x's dtype);  d out = d src."""

    needs_inputs = False
    broadcasts = True
    backward_name = "CopyBackwards"

    @staticmethod
    def forward(x, src, *, src_dtype):
        out = xp.empty_like(x)
        out[...] = src
        return out

    @staticmethod
    def vjp(g, out, x, src, *, src_dtype):
        return g.new_zeros(g.shape), cast(g, src_dtype)

    @staticmethod
    def jvp(x_dot, src_dot, out, x, src, *, src_dtype):
        return cast(src_dot, out.dtype).expand(out.shape)


def _write(self: Any, value: Any, op: type[Op] = Fill) -> Any:
    """Write ``value`` (a number or an array broadcastable to ``self``) into ``self``."""
    # forward-mode tangents must be replaced too (by zeros), so a dual tensor takes the op path
    if self._inplace_recording() or self._fw_grad is not None:
        return self._inplace(op.apply(self._old(), value=value))
    self._data[...] = value
    self._bump()
    return self


def zero_(self: Any) -> Any:
    """Fill with zeros, in place.

    Example:
        >>> import chainrule
        >>> chainrule.ones(3).zero_()
        tensor([0., 0., 0.])
    """
    return _write(self, 0, Zero)


def fill_(self: Any, value: Any) -> Any:
    """Fill with ``value`` (a number, or a 0-d tensor whose gradient is the sum of ``g``).

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 2).fill_(7)
        tensor([[7., 7.],
                [7., 7.]])
    """
    if is_tensor(value):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        if self._inplace_recording(value) or self._fw_grad is not None \
                or value._fw_grad is not None:
            return self._inplace(
                Zero.apply(self._old(), value=0) + cast(value, self.dtype))
        value = value._data.item()
    return _write(self, value)


def copy_(self: Any, src: Any, non_blocking: bool = False) -> Any:
    """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor, in place;
    gradients flow to ``src``.

    Example:
        >>> import chainrule
        >>> t = chainrule.zeros(2, 3)
        >>> t.copy_(chainrule.tensor([1, 2, 3]))
        tensor([[1., 2., 3.],
                [1., 2., 3.]])
    """
    src = to_tensor(src)
    sshape, dshape = src._data.shape, self._data.shape
    if sshape != dshape:
        _check_broadcast(sshape, dshape)
    if self._inplace_recording(src) or self._fw_grad is not None or src._fw_grad is not None:
        return self._inplace(Copy.apply(self._old(), src, src_dtype=src.dtype))
    if src._data is not self._data:
        np.copyto(self._data, src._data, casting="unsafe")
    self._bump()
    return self


def _check_broadcast(src: tuple[int, ...], dst: tuple[int, ...]) -> None:
    """Raise torch's error unless ``src`` broadcasts to exactly ``dst``."""
    for i in range(1, min(len(src), len(dst)) + 1):
        a, b = dst[-i], src[-i]
        if a != b and a != 1 and b != 1:
            raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                               f"({b}) at non-singleton dimension {len(dst) - i}")
    full = np.broadcast_shapes(src, dst)
    if full != dst:
        raise RuntimeError(f"output with shape {list(dst)} doesn't match the broadcast shape "
                           f"{list(full)}")


def _float_only(self: Any, kernel: str) -> None:
    if not self.dtype.is_floating_point:
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{dtypes.scalar_type_name(self.dtype)}'")


def uniform_(self: Any, from_: float = 0.0, to: float = 1.0, *, generator: Any = None,
             **kwargs: Any) -> Any:
    """Fill with samples of ``U(from, to)``, in place (``from`` may be passed by keyword).

    Example:
        >>> import chainrule
        >>> g = chainrule.Generator().manual_seed(0)
        >>> t = chainrule.empty(1000).uniform_(-2, 2, generator=g)
        >>> bool(t.min() >= -2 and t.max() < 2)
        True
    """
    from_ = kwargs.pop("from", from_)
    if kwargs:
        raise TypeError(f"uniform_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    _float_only(self, "check_uniform_bounds")
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={from_} > to={to}")
    npd = self._data.dtype
    r = rng(generator)
    if npd in (np.float32, np.float64):
        arr = r.random(self._data.shape, dtype=npd)
    else:
        arr = r.random(self._data.shape).astype(npd)
    if from_ != 0.0 or to != 1.0:
        arr = arr * (to - from_) + from_
    return _write(self, arr)


def normal_(self: Any, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Any:
    """Fill with samples of ``N(mean, std^2)``, in place.

    Example:
        >>> import chainrule
        >>> g = chainrule.Generator().manual_seed(0)
        >>> t = chainrule.empty(10000).normal_(3.0, 0.5, generator=g)
        >>> round(t.mean().item(), 1), round(t.std().item(), 1)
        (3.0, 0.5)
    """
    _float_only(self, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    npd = self._data.dtype
    r = rng(generator)
    if npd in (np.float32, np.float64):
        arr = r.standard_normal(self._data.shape, dtype=npd)
    else:
        arr = r.standard_normal(self._data.shape).astype(npd)
    if std != 1.0 or mean != 0.0:
        arr = arr * std + mean
    return _write(self, arr)


def random_(self: Any, from_: int = 0, to: int | None = None, *, generator: Any = None,
            **kwargs: Any) -> Any:
    """Fill with integers drawn uniformly from ``[from, to - 1]``, in place; ``random_(to)``
    draws from ``[0, to - 1]``; without bounds, from ``[0, 2^mantissa]`` for floating dtypes
    and ``[0, max]`` for integer ones, as torch.

    Example:
        >>> import chainrule
        >>> t = chainrule.zeros(100, dtype=chainrule.int64).random_(3, 7)
        >>> bool(t.min() >= 3 and t.max() <= 6)
        True
    """
    by_keyword = "from" in kwargs
    from_ = kwargs.pop("from", from_)
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    npd = self._data.dtype
    if to is None and not by_keyword and from_ != 0:
        from_, to = 0, from_  # random_(to)
    if to is None:
        if npd.kind == "f":
            to = 2 ** (np.finfo(npd).nmant + 1) + 1
        elif npd.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(npd).max) + 1
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    arr = rng(generator).integers(from_, to, size=self._data.shape, dtype=np.int64
                                  if to <= 2 ** 63 else object)
    return _write(self, np.asarray(arr).astype(npd))


def bernoulli_(self: Any, p: Any = 0.5, *, generator: Any = None) -> Any:
    """Fill with independent 0/1 samples, 1 with probability ``p`` (a number or a tensor
    broadcastable to this one), in place.

    Example:
        >>> import chainrule
        >>> chainrule.empty(4).bernoulli_(1.0)
        tensor([1., 1., 1., 1.])
    """
    probs = p._data if is_tensor(p) else p
    if np.any((np.asarray(probs) < 0) | (np.asarray(probs) > 1)):
        raise RuntimeError("bernoulli_ expects p to be in [0, 1], but got p=" + str(
            p.item() if is_tensor(p) and p.numel() == 1 else p))
    draws = rng(generator).random(self._data.shape) < probs
    return _write(self, draws.astype(self._data.dtype))


def exponential_(self: Any, lambd: float = 1.0, *, generator: Any = None) -> Any:
    """Fill with samples of the exponential distribution with rate ``lambd``, in place.

    Example:
        >>> import chainrule
        >>> bool((chainrule.empty(50).exponential_(2.0) >= 0).all())
        True
    """
    _float_only(self, "exponential_cpu")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    arr = rng(generator).standard_exponential(self._data.shape) / lambd
    return _write(self, arr.astype(self._data.dtype))


TENSOR_METHODS = {"zero_": zero_, "fill_": fill_, "copy_": copy_, "uniform_": uniform_,
                  "normal_": normal_, "random_": random_, "bernoulli_": bernoulli_,
                  "exponential_": exponential_}
