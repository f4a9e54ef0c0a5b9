"""Tensor creation: from data, filled, ranges, and random sampling.

Every function takes torch's keyword arguments (``dtype``, ``device``, ``requires_grad``,
``generator`` for random ones). Floating results default to ``get_default_dtype()``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule._backend.random import rng
from chainrule.tensor import Tensor

xp = _backend.xp

__all__ = [
    "tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty",
    "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
    "randint_like", "arange", "linspace", "logspace", "eye", "rand", "randn", "randint",
    "randperm", "normal", "bernoulli", "multinomial", "scalar_tensor", "is_tensor",
    "is_floating_point", "numel", "get_default_device", "set_default_device", "FloatTensor",
    "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor",
]


def _size(size: Sequence[Any], name: str = "") -> tuple[int, ...]:
    """A creation function's ``*size`` (or one sequence) as ints; floats and other
    non-integers raise torch's TypeError naming the function (``name``)."""
    packed = len(size) == 1 and isinstance(size[0], (tuple, list))
    if packed:
        size = size[0]
    try:
        out = tuple(operator.index(s) for s in size)
    except TypeError:
        pos, bad = next((i, s) for i, s in enumerate(size) if not _is_index(s))
        where = (f"but found element of type {type(bad).__name__} at pos {pos}"
                 if packed or len(size) > 1 else f"not {type(bad).__name__}")
        raise TypeError(f"{name or 'tensor'}(): argument 'size' (position 1) must be tuple of "
                        f"ints, {where}") from None
    for s in out:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(out)}")
    return out


def _is_index(s: Any) -> bool:
    try:
        operator.index(s)
    except TypeError:
        return False
    return True


def _finish(arr: np.ndarray, requires_grad: bool, device: Any) -> Tensor:
    if device is not None:
        _backend.check_device(device)
    t = Tensor._make(arr)
    if requires_grad:
        if arr.dtype.kind != "f":  # the factory functions' words (requires_grad_ has others)
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t.requires_grad = True
    return t


def _infer_dtype(data: Any) -> dtypes.dtype:
    """torch.tensor's inference: bools -> bool, ints -> int64, any float -> default float."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, np.ndarray):
        return dtypes.from_numpy_dtype(data.dtype)
    if isinstance(data, (np.generic,)):
        return dtypes.from_numpy_dtype(np.asarray(data).dtype)
    arr = np.asarray(_unwrap(data))
    if arr.dtype.kind == "b":
        return dtypes.bool_
    if arr.dtype.kind in "iu":
        return dtypes.int64
    if arr.dtype.kind == "f":
        return dtypes.get_default_dtype()
    if arr.dtype.kind == "O" or arr.dtype.kind in "US":
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    raise TypeError(f"can't convert data of dtype {arr.dtype}")


def _unwrap(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(d) for d in data]
    return data


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors).

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1, 2], [3, 4]])
        tensor([[1, 2],
                [3, 4]])
        >>> chainrule.tensor([1.5], dtype=chainrule.float64, requires_grad=True)
        tensor([1.5000], dtype=chainrule.float64, requires_grad=True)
    """
    d = dtypes.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    arr = np.array(_unwrap(data), dtype=d.np)
    return _finish(arr, requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory with a NumPy array or tensor when possible.

    Example:
        >>> import chainrule, numpy as np
        >>> a = np.zeros(2, dtype=np.float32)
        >>> t = chainrule.as_tensor(a); a[0] = 5
        >>> t
        tensor([5., 0.])
    """
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtypes.to_dtype(dtype))
    if isinstance(data, np.ndarray):
        d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.from_numpy_dtype(data.dtype)
        return _finish(data if data.dtype == d.np else data.astype(d.np), False, device)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (changes to one show in the other).

    Example:
        >>> import chainrule, numpy as np
        >>> chainrule.from_numpy(np.arange(3))
        tensor([0, 1, 2])
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dtypes.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray)


def _filled(fill: Any, size: tuple[int, ...], dtype: Any) -> np.ndarray:
    d = dtypes.to_dtype(dtype)
    return xp.full(size, fill, dtype=d.np)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          out: Any = None, layout: Any = None) -> Tensor:
    """A tensor of zeros of the given size.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3).shape
        chainrule.Size([2, 3])
    """
    return _finish(xp.zeros(_size(size, "zeros"), dtype=dtypes.to_dtype(dtype).np), requires_grad,
                   device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         out: Any = None, layout: Any = None) -> Tensor:
    """A tensor of ones of the given size.

    Example:
        >>> import chainrule
        >>> chainrule.ones(2)
        tensor([1., 1.])
    """
    return _finish(xp.ones(_size(size, "ones"), dtype=dtypes.to_dtype(dtype).np), requires_grad,
                   device)


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it, as torch).

    Example:
        >>> import chainrule
        >>> chainrule.full((2,), 7)
        tensor([7, 7])
    """
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    return _finish(_filled(fill_value, _size((size,), "full"), dtype), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          memory_format: Any = None) -> Tensor:
    """An uninitialised tensor of the given size (NumPy's ``empty``)."""
    return _finish(xp.empty(_size(size, "empty"), dtype=dtypes.to_dtype(dtype).np), requires_grad,
                   device)


def _like_dtype(input: Tensor, dtype: Any) -> Any:
    return dtype if dtype is not None else input.dtype


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """Zeros with ``input``'s shape and dtype."""
    return zeros(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """Ones with ``input``'s shape and dtype."""
    return ones(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """``fill_value`` with ``input``'s shape and dtype."""
    return full(input.shape, fill_value, dtype=_like_dtype(input, dtype),
                requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """Uninitialised with ``input``'s shape and dtype."""
    return empty(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float.

    Example:
        >>> import chainrule
        >>> chainrule.arange(5)
        tensor([0, 1, 2, 3, 4])
        >>> chainrule.arange(0, 1, 0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in vals)
        d = dtypes.get_default_dtype() if is_float else dtypes.int64
    else:
        d = dtypes.to_dtype(dtype)
    n = max(0, math.ceil((vals[1] - vals[0]) / vals[2]))
    arr = (vals[0] + np.arange(n, dtype=np.float64) * vals[2]).astype(d.np) if d.is_floating_point \
        else np.arange(vals[0], vals[1], vals[2]).astype(d.np)
    return _finish(arr, requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Example:
        >>> import chainrule
        >>> chainrule.linspace(0, 1, 5)
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    arr = np.linspace(float(start), float(end), int(steps)).astype(dtypes.to_dtype(dtype).np)
    return _finish(arr, requires_grad, device)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``.

    Example:
        >>> import chainrule
        >>> chainrule.logspace(0, 2, 3)
        tensor([  1.,  10., 100.])
    """
    arr = np.logspace(float(start), float(end), int(steps), base=base)
    return _finish(arr.astype(dtypes.to_dtype(dtype).np), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity matrix.

    Example:
        >>> import chainrule
        >>> chainrule.eye(2)
        tensor([[1., 0.],
                [0., 1.]])
    """
    return _finish(np.eye(n, m, dtype=dtypes.to_dtype(dtype).np), requires_grad, device)


def _float_dtype(dtype: Any, kernel: str) -> dtypes.dtype:
    d = dtypes.to_dtype(dtype)
    if not d.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{dtypes.scalar_type_name(d)}'")
    return d


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on ``[0, 1)``.

    Example:
        >>> import chainrule
        >>> x = chainrule.rand(1000)
        >>> bool((x >= 0).all() and (x < 1).all())
        True
    """
    d = _float_dtype(dtype, "check_uniform_bounds")
    arr = rng(generator).random(_size(size, "rand"), dtype=np.float64).astype(d.np)
    return _finish(arr, requires_grad, device)


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples.

    Example:
        >>> import chainrule
        >>> _ = chainrule.manual_seed(0)
        >>> abs(chainrule.randn(100000).mean().item()) < 0.02
        True
    """
    d = _float_dtype(dtype, "normal_kernel_cpu")
    gen = rng(generator)
    if d.np == np.float32:
        arr = gen.standard_normal(_size(size, "randn"), dtype=np.float32)
    else:
        arr = gen.standard_normal(_size(size, "randn")).astype(d.np)
    return _finish(arr, requires_grad, device)


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, generator: Any = None) -> Tensor:
    """``rand`` with ``input``'s shape and dtype."""
    return rand(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad,
                generator=generator)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, generator: Any = None) -> Tensor:
    """``randn`` with ``input``'s shape and dtype."""
    return randn(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad,
                 generator=generator)


def randint(low: int, high: Any = None, size: Any = None, *, generator: Any = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform on ``[low, high)``; ``randint(high, size)`` uses ``low = 0``.

    Example:
        >>> import chainrule
        >>> x = chainrule.randint(0, 10, (100,))
        >>> x.dtype, bool((x >= 0).all() and (x < 10).all())
        (chainrule.int64, True)
    """
    if high is None:  # randint(high, size=...)
        low, high = 0, low
    elif size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing 1 required positional argument: 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    arr = rng(generator).integers(low, high, size=_size((size,), "randint")).astype(d.np)
    return _finish(arr, requires_grad, device)


def randint_like(input: Tensor, low: int = 0, high: Any = None, *, dtype: Any = None,
                 generator: Any = None) -> Tensor:
    """``randint`` with ``input``'s shape and dtype."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=_like_dtype(input, dtype),
                   generator=generator)


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``.

    Example:
        >>> import chainrule
        >>> sorted(chainrule.randperm(5).tolist())
        [0, 1, 2, 3, 4]
    """
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    return _finish(rng(generator).permutation(n).astype(d.np), requires_grad, device)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal samples with the given mean and std (numbers or tensors, broadcast).

    Example:
        >>> import chainrule
        >>> chainrule.normal(chainrule.zeros(3), 1.0).shape
        chainrule.Size([3])
    """
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if isinstance(s, (int, float)) and s < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {s}")
    if size is not None:
        shape = _size((size,), "normal")
    else:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    if dtype is None:
        dtype = next((t.dtype for t in (mean, std) if isinstance(t, Tensor)), None)
    d = _float_dtype(dtype, "normal_kernel_cpu")
    z = rng(generator).standard_normal(shape)
    return _finish((m + s * z).astype(d.np), requires_grad, None)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Any = None) -> Tensor:
    """0/1 samples with probabilities ``input`` (or the number ``p``), in input's dtype.

    Example:
        >>> import chainrule
        >>> chainrule.bernoulli(chainrule.tensor([0., 1.]))
        tensor([0., 1.])
    """
    probs = input._data if p is None else np.full(input._data.shape, p)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    draw = rng(generator).random(input._data.shape)
    return Tensor._make((draw < probs).astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """Indices sampled from the rows of ``input`` (non-negative weights, need not sum to 1).

    Example:
        >>> import chainrule
        >>> chainrule.multinomial(chainrule.tensor([0., 1., 0.]), 2, replacement=True)
        tensor([1, 1])
    """
    w = input._data.astype(np.float64)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = w.reshape(-1, w.shape[-1])
    gen = rng(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, row in enumerate(rows):
        total = row.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        nz = int(np.count_nonzero(row))
        if not replacement and num_samples > nz:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        out[i] = gen.choice(row.size, size=num_samples, replace=replacement, p=row / total)
    return Tensor._make(out.reshape(w.shape[:-1] + (num_samples,)))


def scalar_tensor(s: Any, *, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
    """A 0-dim tensor holding the number ``s`` (default float dtype)."""
    return _finish(np.asarray(s, dtype=dtypes.to_dtype(dtype).np), requires_grad, device)


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a chainrule Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input`` has a floating dtype."""
    return input.is_floating_point()


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


# -- Tensor.new_*: creation with ``self``'s dtype as the default --------------------------------
def _new_tensor(self: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
                requires_grad: bool = False) -> Tensor:
    """``tensor(data)`` with ``self``'s dtype unless ``dtype`` is given."""
    return tensor(data, dtype=dtype if dtype is not None else self.dtype, device=device,
                  requires_grad=requires_grad)


def _new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``ones(*size)`` with ``self``'s dtype unless ``dtype`` is given."""
    return ones(*size, dtype=dtype if dtype is not None else self.dtype, device=device,
                requires_grad=requires_grad)


def _new_full(self: Tensor, size: Sequence[int], fill_value: Any, *, dtype: Any = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """``full(size, fill_value)`` with ``self``'s dtype unless ``dtype`` is given."""
    return full(size, fill_value, dtype=dtype if dtype is not None else self.dtype,
                device=device, requires_grad=requires_grad)


def _new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """``empty(*size)`` with ``self``'s dtype unless ``dtype`` is given."""
    return empty(*size, dtype=dtype if dtype is not None else self.dtype, device=device,
                 requires_grad=requires_grad)


TENSOR_METHODS = {"new_tensor": _new_tensor, "new_ones": _new_ones, "new_full": _new_full,
                  "new_empty": _new_empty}
for _name, _fn in TENSOR_METHODS.items():
    setattr(Tensor, _name, _fn)  # creation is not an ops module: it binds its methods itself
del _name, _fn


def get_default_device() -> _backend.device:
    """The device new tensors are created on: always the CPU in this build.

    Example:
        >>> import chainrule
        >>> chainrule.get_default_device()
        device(type='cpu')
    """
    return _backend.CPU


def set_default_device(device: Any) -> None:
    """Set the device new tensors are created on: only ``'cpu'`` (or None) in this build;
    another device raises as torch without that backend does."""
    if device is not None:
        _backend.check_device(device)


def _legacy(name: str, dtype: dtypes.dtype) -> Any:
    def constructor(*args: Any, **kwargs: Any) -> Tensor:
        return Tensor(*args, dtype=dtype, **kwargs)

    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = (f"torch's legacy ``{name}(data)`` or ``{name}(*sizes)``: a "
                           f"{dtype} tensor from data, or uninitialized of that shape.\n\n"
                           f"Note: a function here, not a class (no isinstance checks).")
    return constructor


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
