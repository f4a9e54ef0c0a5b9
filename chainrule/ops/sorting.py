"""Sorting, selection and a few shape helpers, as composites of existing primitives.

sort, argsort, topk, unique, meshgrid, diag, diagonal, repeat_interleave. Values are gathered
with the ``gather`` primitive from indices computed on arrays, so gradients flow to the
selected elements (as torch's) and no new derivative code is needed.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.ops._util import wrap_dim

__all__ = ["sort", "argsort", "topk", "unique", "meshgrid", "diag", "diagonal",
           "repeat_interleave"]

xp = _backend.xp
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _gather(input: Any, dim: int, idx: np.ndarray) -> Any:
    from chainrule.ops.indexing import gather

    return gather(input, dim, _backend.make_tensor(idx))


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """Indices that sort ``input`` along ``dim`` (ties keep their order).

    Example:
        >>> import chainrule
        >>> chainrule.argsort(chainrule.tensor([3.0, 1.0, 2.0]))
        tensor([1, 2, 0])
    """
    arr = input._data
    if arr.ndim == 0:
        return _backend.make_tensor(np.zeros((), dtype=np.int64))
    d = wrap_dim(dim, arr.ndim)
    if descending:
        # a stable descending order: sort the negated keys (booleans as ints)
        key = -arr.astype(np.float64) if arr.dtype.kind != "f" else -arr
        idx = np.argsort(key, axis=d, kind="stable")
    else:
        idx = np.argsort(arr, axis=d, kind="stable")
    return _backend.make_tensor(idx.astype(np.int64))


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """``(values, indices)`` of ``input`` sorted along ``dim``; values are differentiable.

    Example:
        >>> import chainrule
        >>> chainrule.sort(chainrule.tensor([3.0, 1.0, 2.0]), descending=True)
        sort(values=tensor([3., 2., 1.]), indices=tensor([0, 2, 1]))
    """
    idx = argsort(input, dim, descending)
    if input._data.ndim == 0:
        return SortResult(input.clone(), idx)
    return SortResult(_gather(input, wrap_dim(dim, input._data.ndim), idx._data), idx)


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices.

    Example:
        >>> import chainrule
        >>> chainrule.topk(chainrule.tensor([1.0, 5.0, 3.0, 4.0]), 2)
        topk(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    arr = input._data
    d = wrap_dim(dim, arr.ndim)
    size = arr.shape[d] if arr.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    idx = argsort(input, d, descending=largest)._data
    idx = np.take(idx, np.arange(k), axis=d) if arr.ndim else idx
    if arr.ndim == 0:
        return TopkResult(input.clone(), _backend.make_tensor(idx))
    return TopkResult(_gather(input, d, idx), _backend.make_tensor(idx))


def unique(input: Any, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct elements, sorted (not differentiable), with optional inverse and counts.

    Example:
        >>> import chainrule
        >>> chainrule.unique(chainrule.tensor([3, 1, 3, 2]), return_counts=True)
        (tensor([1, 2, 3]), tensor([1, 1, 2]))
    """
    if dim is not None:
        values, inverse, counts = np.unique(input._data, axis=wrap_dim(dim, input._data.ndim),
                                            return_inverse=True, return_counts=True)
    else:
        values, inverse, counts = np.unique(input._data, return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(input._data.shape)
    out = [_backend.make_tensor(values)]
    if return_inverse:
        out.append(_backend.make_tensor(inverse.astype(np.int64)))
    if return_counts:
        out.append(_backend.make_tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Any, ...]:
    """Coordinate grids from 1-D tensors (``indexing='ij'`` matrix order or ``'xy'``).

    Example:
        >>> import chainrule
        >>> a, b = chainrule.meshgrid(chainrule.tensor([1, 2]), chainrule.tensor([3, 4, 5]))
        >>> a.shape, b[0].tolist()
        (chainrule.Size([2, 3]), [3, 4, 5])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    ts = list(tensors)
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        grids.append(t.reshape(view).expand(shape))
    if indexing == "xy" and len(grids) >= 2:  # the first two swapped back: x varies along columns
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _diag_index(rows: int, cols: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(max(0, -offset), min(rows, cols - offset))
    return r, r + offset


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    """The diagonal (``offset`` above it when positive) of the matrices in dims dim1, dim2.

    Example:
        >>> import chainrule
        >>> chainrule.diagonal(chainrule.arange(9).reshape(3, 3), 1)
        tensor([1, 5])
    """
    nd = input._data.ndim
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    rest = [d for d in range(nd) if d not in (d1, d2)]
    moved = input.permute(*rest, d1, d2)
    rows, cols = moved._data.shape[-2:]
    r, c = _diag_index(rows, cols, offset)
    return moved[(..., _backend.make_tensor(r), _backend.make_tensor(c))]


def diag(input: Any, diagonal: int = 0) -> Any:
    """A 1-D tensor's diagonal matrix, or a 2-D tensor's diagonal, ``diagonal`` places off.

    Example:
        >>> import chainrule
        >>> chainrule.diag(chainrule.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    nd = input._data.ndim
    if nd == 2:
        return globals()["diagonal"](input, diagonal)
    if nd != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")
    n = input._data.shape[0] + abs(diagonal)
    out = input.new_zeros((n, n))
    r, c = _diag_index(n, n, diagonal)
    out[_backend.make_tensor(r), _backend.make_tensor(c)] = input
    return out


def repeat_interleave(input: Any, repeats: Any, dim: int | None = None, *,
                      output_size: int | None = None) -> Any:
    """Repeat each element ``repeats`` times (an int or one count per element) along ``dim``.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([1, 2]).repeat_interleave(2)
        tensor([1, 1, 2, 2])
    """
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    d = wrap_dim(dim, input._data.ndim)
    counts = repeats._data if hasattr(repeats, "_data") else repeats
    idx = np.repeat(np.arange(input._data.shape[d]), counts)
    from chainrule.ops.indexing import index_select

    return index_select(input, d, _backend.make_tensor(idx.astype(np.int64)))


TENSOR_METHODS = {n: n for n in ["sort", "argsort", "topk", "unique", "diag", "diagonal",
                                 "repeat_interleave"]}
