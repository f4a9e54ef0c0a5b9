"""Indexing: ``x[key]``, ``x[key] = v``, gather/scatter, index_select/index_add, masks, take.

Basic indexing (ints, slices, None, Ellipsis) returns a view that shares memory and the
version counter with its input, as torch; advanced indexing (integer or bool tensors, lists,
arrays) copies. Every backward that scatters adds at duplicate indices, and each scatter's own
vjp is the matching gather, so double backward works. Index arrays are static parameters of
the primitives (never differentiable inputs).
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.op import Op
from chainrule.ops._util import cast, inplace_method, is_tensor, to_tensor, wrap_dim
from chainrule.ops.elementwise import Where
from chainrule.ops.movement import Select, _as_view

xp = _backend.xp

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "index_fill",
           "index_put", "masked_fill", "masked_select", "masked_scatter", "nonzero", "argwhere",
           "take", "take_along_dim"]


# ---------------------------------------------------------------------------------------------
# Array helpers (forward bodies only)


def _add_at(out: Any, index: tuple, values: Any) -> None:
    """``out[index] += values`` with duplicate indices accumulating (unbuffered)."""
    first = index[0] if index else None
    if (len(index) == 1 and _is_array(first) and first.ndim == 1
            and out.ndim > 1):
        _add_rows(out, first, xp.broadcast_to(values, first.shape + out.shape[1:]))
    else:
        xp.add.at(out, index, values)


def _add_rows(out: Any, index: Any, values: Any) -> None:
    """``out[index[i]] += values[i]`` along dim 0, duplicates accumulating."""
    n = index.shape[0]
    if n < 2 or values.size < 16 * n:
        xp.add.at(out, index, values)
        return
    # Measured: sort + reduceat is ~8x faster than ufunc.at for row scatters (embedding grads).
    if index.min() < 0:
        index = xp.where(index < 0, index + out.shape[0], index)
    order = xp.argsort(index, kind="stable")
    ordered = index[order]
    new_run = xp.concatenate([xp.ones(1, dtype=bool), ordered[1:] != ordered[:-1]])
    starts = xp.flatnonzero(new_run)
    out[ordered[starts]] += xp.add.reduceat(values[order], starts, axis=0)


def _along(index: Any, dim: int) -> tuple:
    """The advanced index that picks ``x[i0, .., index[i0, .., ik], .., ik]`` for every position
    of ``index`` (gather's addressing): ``index`` at ``dim``, broadcast aranges elsewhere."""
    nd = index.ndim
    out = []
    for d in range(nd):
        if d == dim:
            out.append(index)
        else:
            shape = [1] * nd
            shape[d] = index.shape[d]
            out.append(xp.arange(index.shape[d]).reshape(shape))
    return tuple(out)


def _leading(shape: tuple[int, ...]) -> tuple:
    """The basic index of the leading ``shape`` block of a larger array."""
    return tuple(slice(0, n) for n in shape)


def _is_array(k: Any) -> bool:
    # normalized indices hold Python ints, slices, None, Ellipsis and backend arrays
    return hasattr(k, "ndim")


# ---------------------------------------------------------------------------------------------
# Primitives


class Slice(Op):
    """out = x[index] for a basic index (ints, slices, None, ...), a view;  d out = dx[index]."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, index, src):
        return x[index]

    @staticmethod
    def vjp(g, out, x, *, index, src):
        return (SliceBackward.apply(g, index=index, src=src),)

    @staticmethod
    def jvp(x_dot, out, x, *, index, src):
        return Slice.apply(x_dot, index=index, src=src)


class SliceBackward(Op):
    """out = zeros(src) with out[index] = g (the adjoint of Slice);  d out = that of dg."""

    needs_inputs = False

    @staticmethod
    def forward(g, *, index, src):
        out = xp.zeros(src, dtype=g.dtype)
        out[index] = g
        return out

    @staticmethod
    def vjp(gg, out, g, *, index, src):
        return (Slice.apply(gg, index=index, src=src),)

    @staticmethod
    def jvp(g_dot, out, g, *, index, src):
        return SliceBackward.apply(g_dot, index=index, src=src)


class Index(Op):
    """out = x[basic][index]: a basic index (a view), then integer arrays (a copy), which is
    torch's order;  the vjp scatter-adds g."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, basic, index, src):
        return x[basic][index]

    @staticmethod
    def vjp(g, out, x, *, basic, index, src):
        return (IndexBackward.apply(g, basic=basic, index=index, src=src),)

    @staticmethod
    def jvp(x_dot, out, x, *, basic, index, src):
        return Index.apply(x_dot, basic=basic, index=index, src=src)


class IndexBackward(Op):
    """out = zeros(src) with out[basic][index] += g, duplicates accumulating;  its vjp
    gathers."""

    needs_inputs = False

    @staticmethod
    def forward(g, *, basic, index, src):
        out = xp.zeros(src, dtype=g.dtype)
        _add_at(out[basic], index, g)
        return out

    @staticmethod
    def vjp(gg, out, g, *, basic, index, src):
        return (Index.apply(gg, basic=basic, index=index, src=src),)

    @staticmethod
    def jvp(g_dot, out, g, *, basic, index, src):
        return IndexBackward.apply(g_dot, basic=basic, index=index, src=src)


class IndexPut(Op):
    """out = x with out[basic][index] = v (``+=`` with ``accumulate``; ``index`` None: only
    the basic part);  d out = dx off the index (everywhere when accumulating) plus dv placed
    at the index."""

    needs_inputs = False

    @staticmethod
    def forward(x, v, *, basic, index, accumulate, v_shape):
        out = x.copy()
        target = out[basic]
        if index is None:
            if accumulate:
                target += v
            else:
                target[...] = v
        elif accumulate:
            _add_at(target, index, v)
        else:
            target[index] = v
        return out

    @staticmethod
    def vjp(g, out, x, v, *, basic, index, accumulate, v_shape):
        gx = g if accumulate else IndexPut.apply(g, _zero(g), basic=basic, index=index,
                                                 accumulate=False, v_shape=())
        return gx, _unbroadcast(_take(g, basic, index), v_shape)

    @staticmethod
    def jvp(x_dot, v_dot, out, x, v, *, basic, index, accumulate, v_shape):
        return IndexPut.apply(x_dot, v_dot, basic=basic, index=index, accumulate=accumulate,
                              v_shape=v_shape)


class Gather(Op):
    """out[.., j, ..] = x[.., index[.., j, ..], ..] along ``dim``;  the vjp scatter-adds g."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dim, index, src):
        return x[_along(index, dim)]

    @staticmethod
    def vjp(g, out, x, *, dim, index, src):
        return (ScatterAdd.apply(_zeros(src, g), g, dim=dim, index=index, src_shape=index.shape),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, index, src):
        return Gather.apply(x_dot, dim=dim, index=index, src=src)


class ScatterAdd(Op):
    """out = x; out[.., index[.., j, ..], ..] += s[.., j, ..] along ``dim``;  d out = dx plus
    ds scattered (the vjp of s is g gathered back)."""

    needs_inputs = False

    @staticmethod
    def forward(x, s, *, dim, index, src_shape):
        out = x.copy()
        xp.add.at(out, _along(index, dim), s[_leading(index.shape)])
        return out

    @staticmethod
    def vjp(g, out, x, s, *, dim, index, src_shape):
        gs = Gather.apply(g, dim=dim, index=index, src=g._data.shape)
        return g, _pad(gs, src_shape)

    @staticmethod
    def jvp(x_dot, s_dot, out, x, s, *, dim, index, src_shape):
        return ScatterAdd.apply(x_dot, s_dot, dim=dim, index=index, src_shape=src_shape)


class Scatter(Op):
    """out = x; out[.., index[.., j, ..], ..] = s[.., j, ..] along ``dim`` (s may be 0-dim);
    d out = dx off the written places plus ds scattered."""

    needs_inputs = False

    @staticmethod
    def forward(x, s, *, dim, index, src_shape):
        out = x.copy()
        out[_along(index, dim)] = s if s.ndim == 0 else s[_leading(index.shape)]
        return out

    @staticmethod
    def vjp(g, out, x, s, *, dim, index, src_shape):
        gx = Scatter.apply(g, _zero(g), dim=dim, index=index, src_shape=())
        gs = Gather.apply(g, dim=dim, index=index, src=g._data.shape)
        gs = gs.sum() if src_shape == () else _pad(gs, src_shape)
        return gx, gs

    @staticmethod
    def jvp(x_dot, s_dot, out, x, s, *, dim, index, src_shape):
        return Scatter.apply(x_dot, s_dot, dim=dim, index=index, src_shape=src_shape)


class IndexSelect(Op):
    """out = x.index_select(dim, index) (slices of x along dim, a copy);  the vjp index-adds g."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dim, index, src):
        return xp.take(x, index, axis=dim)

    @staticmethod
    def vjp(g, out, x, *, dim, index, src):
        return (IndexAdd.apply(_zeros(src, g), g, dim=dim, index=index),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, index, src):
        return IndexSelect.apply(x_dot, dim=dim, index=index, src=src)


class IndexAdd(Op):
    """out = x; out[.., index[i], ..] += s[.., i, ..] along ``dim``;  d out = dx + ds moved;
    the vjp of s selects g at the index."""

    needs_inputs = False

    @staticmethod
    def forward(x, s, *, dim, index):
        out = x.copy()
        if index.size:
            _add_rows(xp.moveaxis(out, dim, 0), index, xp.moveaxis(s, dim, 0))
        return out

    @staticmethod
    def vjp(g, out, x, s, *, dim, index):
        return g, IndexSelect.apply(g, dim=dim, index=index, src=g._data.shape)

    @staticmethod
    def jvp(x_dot, s_dot, out, x, s, *, dim, index):
        return IndexAdd.apply(x_dot, s_dot, dim=dim, index=index)


# ---------------------------------------------------------------------------------------------
# Tensor-level helpers used by the rules


def _zero(like: Any) -> Any:
    return _backend.wrap(xp.zeros((), dtype=like._data.dtype))


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    return _backend.wrap(xp.zeros(shape, dtype=like._data.dtype))


def _take(t: Any, basic: tuple, index: tuple | None) -> Any:
    """``t[basic][index]`` for a normalized index, differentiably."""
    if index is None:
        return Slice.apply(t, index=basic, src=t._data.shape)
    return Index.apply(t, basic=basic, index=index, src=t._data.shape)


def _pad(t: Any, shape: tuple[int, ...]) -> Any:
    """``t`` placed in the leading block of zeros of ``shape`` (adjoint of a leading slice)."""
    if t._data.shape == tuple(shape):
        return t
    return SliceBackward.apply(t, index=_leading(t._data.shape), src=tuple(shape))


def _unbroadcast(t: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``t`` down to ``shape``, which broadcast to it in an assignment (numpy also lets a
    value carry extra leading size-1 dims there)."""
    if t._data.shape == shape:
        return t
    if t._data.ndim < len(shape):
        t = t.reshape((1,) * (len(shape) - t._data.ndim) + t._data.shape)
    return t.sum_to_size(shape)


# ---------------------------------------------------------------------------------------------
# Index normalization


_BAD_INDEX = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
              "are valid indices (got {})")


def _slice(k: slice) -> slice:
    step = k.step
    if step is not None:
        step = operator.index(step)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        if step < 0:
            raise ValueError("step must be greater than zero")
    start = None if k.start is None else operator.index(k.start)
    stop = None if k.stop is None else operator.index(k.stop)
    return slice(start, stop, step)


def _index_array(k: Any) -> Any:
    """An index array from a tensor, sequence (list, tuple, range) or ndarray: int64, or bool
    for masks. As torch, a sequence of numbers that are not all bools becomes int64 (floats
    truncate: ``x[[1.0]]`` is ``x[[1]]``)."""
    if is_tensor(k):
        arr = k._data
    else:  # torch reads an ndarray key as a sequence too
        arr = np.asarray(k)
        if arr.dtype.kind != "b" and not (arr.dtype.kind == "u" and arr.dtype.itemsize == 1):
            arr = arr.astype(np.int64)  # torch's indexing_tensor_from_data: Bool/Byte or Long
    kind = arr.dtype.kind
    if kind == "u" and arr.dtype.itemsize == 1:
        return arr.astype(bool)  # torch still reads uint8 index tensors as masks
    if kind not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return arr


_SEQUENCES = (list, tuple, range)


def _sequence_as_tuple(key: Any) -> bool:
    # torch's (and NumPy's legacy) rule for a non-tuple sequence key: one shorter than 32 that
    # holds a sequence, slice, Ellipsis, None or tensor indexes like a tuple (x[[[0, 1], [1, 2]]]
    # is x[[0, 1], [1, 2]]); otherwise (a list of ints, a range) it is one index.
    if len(key) >= 32:
        return False
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, (*_SEQUENCES, slice, np.ndarray)):
            return True
        if is_tensor(k):
            return True
    return False


def _normalize_index(key: Any, shape: tuple[int, ...]) -> tuple[tuple, tuple | None]:
    """``key`` split as torch applies it: a basic index of ints, slices, None and Ellipsis
    (a view), then, if any, the advanced index of integer arrays into that view (bool masks
    become their nonzero positions). Ints are applied first, so unlike NumPy they never count
    as advanced indices (``x[0, :, [1, 2]]`` has shape ``(n, 2)``, as in torch)."""
    if isinstance(key, (list, range)) and _sequence_as_tuple(key):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated "
                      "and will be changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq].",
                      UserWarning, stacklevel=3)
        key = tuple(key)
    elif not isinstance(key, tuple):
        key = (key,)
    items: list[Any] = []
    advanced = False
    for k in key:
        if k is None or k is Ellipsis:
            items.append(k)
        elif isinstance(k, slice):
            items.append(_slice(k))
        elif isinstance(k, (bool, np.bool_)):
            items.append(np.asarray(bool(k)))
            advanced = True
        elif isinstance(k, (int, np.integer)):
            items.append(int(k))
        elif is_tensor(k) and k._data.ndim == 0 and k._data.dtype.kind in "iu":
            items.append(int(k._data))  # torch reads a 0-dim integer tensor as an int
        elif is_tensor(k) or isinstance(k, (*_SEQUENCES, np.ndarray)):
            items.append(_index_array(k))
            advanced = True
        else:
            raise IndexError(_BAD_INDEX.format(type(k).__name__))
    if sum(k is Ellipsis for k in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    ndim = len(shape)
    used = 0
    for k in items:
        if k is None or k is Ellipsis:
            continue
        used += k.ndim if _is_array(k) and k.dtype.kind == "b" else 1
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if not advanced:
        if Ellipsis not in items:
            items.append(Ellipsis)  # keeps an all-int index a 0-dim view, not a NumPy scalar
        return tuple(items), None
    basic: list[Any] = []
    index: list[Any] = []
    dim = 0  # position in the input
    for k in items:
        if k is None:
            basic.append(k)
            index.append(slice(None))
        elif k is Ellipsis:
            basic.append(k)
            index.extend([slice(None)] * (ndim - used))
            dim += ndim - used
        elif isinstance(k, int):
            basic.append(k)
            dim += 1
        elif isinstance(k, slice):
            basic.append(k)
            index.append(slice(None))
            dim += 1
        elif k.dtype.kind == "b" and k.ndim > 0:
            for i, n in enumerate(k.shape):
                if shape[dim + i] != n:
                    raise IndexError(
                        f"The shape of the mask {list(k.shape)} at index {i} does not match the "
                        f"shape of the indexed tensor {list(shape)} at index {dim + i}")
            basic.extend([slice(None)] * k.ndim)
            index.extend(xp.nonzero(k))
            dim += k.ndim
        elif k.dtype.kind == "b":
            index.append(k)  # a 0-dim bool adds a dim of size 1 (True) or 0 (False)
        else:
            basic.append(slice(None))
            index.append(k)
            dim += 1
    if Ellipsis not in basic:
        basic.append(Ellipsis)
    while index and isinstance(index[-1], slice):
        index.pop()
    return tuple(basic), tuple(index)


def _torch_index_error(e: Exception) -> IndexError:
    msg = str(e).replace("axis", "dimension").replace("indexing arrays", "indexing tensors")
    if "could not be broadcast together with shapes" in msg:
        # NumPy prints "(2,) (3,) "; torch prints "[2], [3]"
        head, shapes = msg.split("shapes", 1)
        dims = [[int(n) for n in part.split(",") if n.strip()]
                for part in shapes.replace(")", "(").split("(") if part.strip()]
        msg = head + "shapes " + ", ".join(str(d) for d in dims)
    return IndexError(msg)


# ---------------------------------------------------------------------------------------------
# x[key] and x[key] = value


def _getitem(self: Any, key: Any) -> Any:
    """``self[key]``: basic indexing gives a view, integer/bool tensors gather a copy.

    Example:
        >>> import chainrule
        >>> x = chainrule.arange(12).reshape(3, 4)
        >>> x[1, 1:3], x[:, -1], x[[0, 2], 0], x[x > 9]
        (tensor([5, 6]), tensor([ 3,  7, 11]), tensor([0, 8]), tensor([10, 11]))
    """
    shape = self._data.shape
    if key.__class__ is int:
        # The common x[i]: torch's SelectBackward0, with torch's bounds message.
        if not shape:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        n = shape[0]
        if not -n <= key < n:
            raise IndexError(f"index {key} is out of bounds for dimension 0 with size {n}")
        return _as_view(Select.apply(self, dim=0, index=key % n, src=shape), self)
    basic, index = _normalize_index(key, shape)
    try:
        if index is not None:
            return Index.apply(self, basic=basic, index=index, src=shape)
        return _as_view(Slice.apply(self, index=basic, src=shape), self)
    except IndexError as e:
        raise _torch_index_error(e) from None


def _setitem(self: Any, key: Any, value: Any) -> None:
    """``self[key] = value``: ``value`` (a number or tensor) is cast to ``self``'s dtype and
    broadcast to the indexed shape. Recorded, it is an :class:`IndexPut` written into ``self``
    in place, so gradients reach both the old ``self`` (zero where overwritten) and ``value``.

    Example:
        >>> import chainrule
        >>> x = chainrule.zeros(2, 3)
        >>> x[0, 1:] = 5.
        >>> x[1] = chainrule.tensor([1., 2., 3.])
        >>> x
        tensor([[0., 5., 5.],
                [1., 2., 3.]])
    """
    if isinstance(value, (list, tuple, range)):
        raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")
    if (is_tensor(key) and key._data.dtype == np.uint8 and key._data.ndim
            and not is_tensor(value)):
        # torch's x[mask] = number is masked_fill_, which takes no byte mask
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           "unsigned char")
    basic, index = _normalize_index(key, self._data.shape)
    advanced = index is not None
    dtype = dtypes._FROM_NP[self._data.dtype]
    v = to_tensor(value, dtype) if is_tensor(value) else _backend.wrap(
        xp.asarray(value, dtype=self._data.dtype))
    if not (self._inplace_recording(v) or (STATE.fw_level >= 0 and (
            self._fw_grad is not None or v._fw_grad is not None))):
        try:
            if advanced:
                self._data[basic][index] = v._data
            else:
                self._data[basic] = v._data
        except IndexError as e:
            raise _torch_index_error(e) from None
        except ValueError:
            raise _assign_error(_indexed_shape(self, basic, index), v._data.shape,
                                advanced) from None
        self._bump()
        return
    try:
        result = IndexPut.apply(self._old(), v, basic=basic, index=index, accumulate=False,
                                v_shape=v._data.shape)
    except IndexError as e:
        raise _torch_index_error(e) from None
    except ValueError:
        raise _assign_error(_indexed_shape(self, basic, index), v._data.shape,
                            advanced) from None
    self._inplace(result)


def _indexed_shape(t: Any, basic: tuple, index: tuple | None) -> tuple[int, ...]:
    view = t._data[basic]
    return view.shape if index is None else view[index].shape


def _shape_mismatch(target: tuple[int, ...], value: tuple[int, ...]) -> RuntimeError:
    return RuntimeError(f"shape mismatch: value tensor of shape {list(value)} cannot be "
                        f"broadcast to indexing result of shape {list(target)}")


def _assign_error(target: tuple[int, ...], value: tuple[int, ...], advanced: bool) -> Exception:
    """torch's text: index_put's for advanced keys, expand's for views."""
    if advanced or len(value) > len(target):
        return _shape_mismatch(target, value)
    lead = len(target) - len(value)
    for i, n in enumerate(value):
        if n != 1 and n != target[i + lead]:
            return RuntimeError(
                f"The expanded size of the tensor ({target[i + lead]}) must match the existing "
                f"size ({n}) at non-singleton dimension {i + lead}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(value)}")
    return _shape_mismatch(target, value)


# ---------------------------------------------------------------------------------------------
# Public functions


def _int_index(index: Any, op: str, expected: str = "int64") -> Any:
    arr = index._data if is_tensor(index) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype {expected} for index")
    return arr


def _check_bounds(index: Any, dim: int, size: int) -> None:
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size "
                               f"{size}")


def _dim_index_checks(op: str, input: Any, dim: int, index: Any) -> tuple[int, Any]:
    x = input._data
    idx = _int_index(index, op)
    d = wrap_dim(dim, x.ndim)
    if idx.ndim != x.ndim and not (idx.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    return d, idx


def gather(input: Any, dim: int, index: Any, *, sparse_grad: bool = False, out: Any = None) -> Any:
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1`` (likewise for any dim).

    ``index`` has ``input``'s number of dims and is no larger than it outside ``dim``.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1., 2.], [3., 4.]])
        >>> chainrule.gather(x, 1, chainrule.tensor([[1], [0]]))
        tensor([[2.],
                [3.]])
    """
    d, idx = _dim_index_checks("gather", input, dim, index)
    shape = input._data.shape
    for i, n in enumerate(idx.shape):
        if idx.ndim == len(shape) and i != d and n > shape[i]:
            raise RuntimeError(f"Size does not match at dimension {i} expected index "
                               f"{list(idx.shape)} to be no larger than self {list(shape)} "
                               f"apart from dimension {d}")
    _check_bounds(idx, d, shape[d] if shape else 1)
    if idx.ndim != len(shape):
        # 0-dim and 1-D operands mix freely, as in torch
        flat = gather(input.reshape(-1), 0, idx.reshape(-1))
        return _out(flat.reshape(idx.shape), out)
    result = Gather.apply(input, dim=d, index=idx, src=shape)
    return _out(result, out)


def _scatter_checks(op: str, input: Any, dim: int, index: Any, src_shape: tuple) -> tuple:
    d, idx = _dim_index_checks(op, input, dim, index)
    shape = input._data.shape
    for i, n in enumerate(idx.shape if idx.ndim == len(shape) else ()):
        if (i != d and n > shape[i]) or (src_shape and n > src_shape[i]):
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(shape)} apart from dimension {d} and to be no larger "
                               f"size than src {list(src_shape)}")
    _check_bounds(idx, d, shape[d] if shape else 1)
    return d, idx


def _same_dtype(op: str, input: Any, src: Any) -> None:
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Any:
    """A copy of ``input`` with ``out[i][index[i][j]] = src[i][j]`` for ``dim=1`` (any dim).

    ``src`` may be a tensor or a number (torch's ``value``). ``reduce='add'`` or
    ``'multiply'`` combines instead of overwriting; with duplicate indices and no reduce, which
    write wins is unspecified, as in torch.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3).scatter(1, chainrule.tensor([[2], [0]]), 7.)
        tensor([[0., 0., 7.],
                [7., 0., 0.]])
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing 1 required argument: 'src' or 'value'")
    if is_tensor(src):
        _same_dtype("scatter", input, src)
        if reduce is not None:
            warnings.warn("The reduce argument of torch.scatter with Tensor src is deprecated "
                          "and will be removed in a future PyTorch release. Use "
                          "torch.scatter_reduce instead for more reduction options.",
                          UserWarning, stacklevel=2)
        s = src
    else:
        s = _backend.wrap(xp.asarray(src, dtype=input._data.dtype))
    d, idx = _scatter_checks("scatter", input, dim, index, s._data.shape)
    if idx.ndim != input._data.ndim:
        s1 = s if not s._data.shape else s.reshape(-1)
        out = scatter(input.reshape(-1), 0, idx.reshape(-1), s1, reduce=reduce)
        return out.reshape(input._data.shape)
    if reduce is None:
        return Scatter.apply(input, s, dim=d, index=idx, src_shape=s._data.shape)
    if reduce == "add":
        if not s._data.shape:
            s = s.expand(idx.shape)
        return ScatterAdd.apply(input, s, dim=d, index=idx, src_shape=s._data.shape)
    if reduce == "multiply":
        if STATE.enabled and (input._requires_grad or s._requires_grad):
            raise RuntimeError("scatter(): the derivative for reduce='multiply' is not "
                               "implemented (as in torch); use scatter_reduce-free math or "
                               "detach the inputs")
        out = input._data.copy()
        sv = s._data if s._data.ndim == 0 else s._data[_leading(idx.shape)]
        xp.multiply.at(out, _along(idx, d), sv)
        return _backend.wrap(out)
    raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Any:
    """A copy of ``input`` with ``out[i][index[i][j]] += src[i][j]`` for ``dim=1`` (any dim);
    duplicate indices accumulate.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(4).scatter_add(0, chainrule.tensor([1, 1, 3]), chainrule.ones(3))
        tensor([0., 2., 0., 1.])
    """
    _same_dtype("scatter_add", input, src)
    d, idx = _scatter_checks("scatter_add", input, dim, index, src._data.shape)
    if idx.ndim != input._data.ndim:
        out = scatter_add(input.reshape(-1), 0, idx.reshape(-1), src.reshape(-1))
        return out.reshape(input._data.shape)
    return ScatterAdd.apply(input, src, dim=d, index=idx, src_shape=src._data.shape)


def _vector_index(op: str, index: Any, dim: int, size: int) -> Any:
    """A 1-D index for ``op``; torch rejects negative entries here, except in index_fill."""
    arr = _int_index(index, op, "int32 or int64")
    if arr.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    arr = arr.reshape(-1)
    if not arr.size:
        return arr
    lo, hi = int(arr.min()), int(arr.max())
    if op == "index_fill":
        if lo < -size or hi >= size:
            bad = lo if lo < -size else hi
            raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
    elif lo < 0 or hi >= size:
        raise IndexError("index out of range in self")
    return arr


def index_select(input: Any, dim: int, index: Any) -> Any:
    """The slices of ``input`` at positions ``index`` (a vector) along ``dim``.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1, 2, 3], [4, 5, 6]])
        >>> chainrule.index_select(x, 1, chainrule.tensor([2, 0, 2]))
        tensor([[3, 1, 3],
                [6, 4, 6]])
    """
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    if not shape:
        input = input.reshape(1)
    idx = _vector_index("index_select", index, d, input._data.shape[d])
    result = IndexSelect.apply(input, dim=d, index=idx, src=input._data.shape)
    return result.reshape(()) if not shape else result


def index_add(input: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
    """A copy of ``input`` with ``alpha * source[.., i, ..]`` added at ``index[i]`` along
    ``dim``; duplicate indices accumulate.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(3).index_add(0, chainrule.tensor([0, 0, 2]), chainrule.ones(3))
        tensor([2., 0., 1.])
    """
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add_(): self ({_dtype_name(input)}) and source "
                           f"({_dtype_name(source)}) must have the same scalar type")
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    if not shape:
        return index_add(input.reshape(1), 0, index, source.reshape(-1), alpha=alpha).reshape(())
    idx = _vector_index("index_add", index, d, shape[d])
    sshape = source._data.shape
    expected = shape[:d] + (idx.size,) + shape[d + 1:]
    if sshape != expected:
        if len(sshape) != len(shape) or sshape[:d] + sshape[d + 1:] != shape[:d] + shape[d + 1:]:
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding "
                               f"the specified dimension. Got self.shape = {list(shape)} "
                               f"source.shape = {list(sshape)}")
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim) ({sshape[d]})")
    if alpha != 1:
        source = source * alpha
    return IndexAdd.apply(input, source, dim=d, index=idx)


_SCALAR_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _dtype_name(t: Any) -> str:
    """torch's ScalarType name of ``t``'s dtype, as its error messages print it."""
    return _SCALAR_TYPE.get(t.dtype.name, t.dtype.name)


def _fill_value(op: str, input: Any, value: Any) -> Any:
    if is_tensor(value):
        if value._data.ndim != 0:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        return cast(value, input.dtype)
    return _backend.wrap(xp.asarray(value, dtype=input._data.dtype))


def index_fill(input: Any, dim: int, index: Any, value: Any) -> Any:
    """A copy of ``input`` with ``value`` written at positions ``index`` along ``dim``.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3).index_fill(1, chainrule.tensor([0, 2]), -1.)
        tensor([[-1.,  0., -1.],
                [-1.,  0., -1.]])
    """
    v = _fill_value("index_fill_", input, value)
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    idx = _vector_index("index_fill", index, d, shape[d] if shape else 1)
    if not shape:
        return index_fill(input.reshape(1), 0, idx, v).reshape(())
    key = (slice(None),) * d + (idx,)
    return IndexPut.apply(input, v, basic=(Ellipsis,), index=key, accumulate=False, v_shape=())


def index_put(input: Any, indices: Any, values: Any, accumulate: bool = False) -> Any:
    """A copy of ``input`` with ``out[indices] = values`` (``+=`` with ``accumulate``, where
    duplicate indices add up). ``indices`` is a tuple of integer or bool tensors.

    Example:
        >>> import chainrule
        >>> i = (chainrule.tensor([0, 0, 2]),)
        >>> chainrule.zeros(3).index_put(i, chainrule.ones(3), accumulate=True)
        tensor([2., 0., 1.])
    """
    key = tuple(slice(None) if k is None else k for k in indices)
    basic, index = _normalize_index(key, input._data.shape)
    v = to_tensor(values)
    if v._data.dtype != input._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_dtype_name(input)} for the destination and {_dtype_name(v)} "
                           f"for the source.")
    try:
        return IndexPut.apply(input, v, basic=basic, index=index, accumulate=bool(accumulate),
                              v_shape=v._data.shape)
    except IndexError as e:
        raise _torch_index_error(e) from None
    except ValueError:
        raise _shape_mismatch(_indexed_shape(input, basic, index), v._data.shape) from None


def _bool_mask(op: str, mask: Any) -> Any:
    m = to_tensor(mask)
    if m._data.dtype.kind != "b":
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{_long_name(m)}")
    return m


def _long_name(t: Any) -> str:
    names = {"int64": "long int", "int32": "int", "float32": "float", "float64": "double",
             "uint8": "unsigned char", "int16": "short int", "int8": "signed char",
             "float16": "c10::Half"}
    return names.get(t.dtype.name, t.dtype.name)


# torch's masked_fill with a number (0) and with a tensor value (1); here Where (see Op.variant)
_MASKED_FILL = Where.variant("MaskedFillBackward0")
_MASKED_FILL_TENSOR = Where.variant("MaskedFillBackward1")


def masked_fill(input: Any, mask: Any, value: Any) -> Any:
    """``value`` where ``mask`` is True, ``input`` elsewhere (mask broadcasts).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([1., 2., 3.])
        >>> x.masked_fill(x > 1, 0.)
        tensor([1., 0., 0.])
    """
    m = _bool_mask("masked_fill_", mask)
    v = _fill_value("masked_fill_", input, value)
    if is_tensor(value):
        # the mask inverted, so the edges come in torch's order: input, then value
        return _MASKED_FILL_TENSOR.apply(_backend.wrap(~m._data), input, v)
    return _MASKED_FILL.apply(m, v, input)


def masked_select(input: Any, mask: Any) -> Any:
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (both broadcast).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1, 2], [3, 4]])
        >>> chainrule.masked_select(x, chainrule.tensor([True, False]))
        tensor([1, 3])
    """
    m = _bool_mask("masked_select", mask)
    shape = np.broadcast_shapes(input._data.shape, m._data.shape)
    x = input.expand(shape) if input._data.shape != shape else input
    index = xp.nonzero(xp.broadcast_to(m._data, shape))
    if not shape:
        x, index = x.reshape(1), (xp.nonzero(m._data.reshape(1))[0],)
    return Index.apply(x, basic=(Ellipsis,), index=index, src=x._data.shape)


def masked_scatter(input: Any, mask: Any, source: Any) -> Any:
    """A copy of ``input`` whose positions where ``mask`` is True take consecutive elements of
    ``source`` (row-major order).

    Example:
        >>> import chainrule
        >>> x = chainrule.zeros(2, 2)
        >>> x.masked_scatter(chainrule.tensor([[True, False], [True, True]]),
        ...                  chainrule.tensor([1., 2., 3., 4.]))
        tensor([[1., 0.],
                [2., 3.]])
    """
    m = _bool_mask("masked_scatter_", mask)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but "
                           f"got {_dtype_name(input)} and {_dtype_name(source)}")
    shape = np.broadcast_shapes(input._data.shape, m._data.shape)
    x = input.expand(shape) if input._data.shape != shape else input
    if not shape:
        return masked_scatter(x.reshape(1), m.reshape(1), source).reshape(())
    index = xp.nonzero(xp.broadcast_to(m._data, shape))
    n = index[0].size
    if source._data.size < n:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    flat = source.reshape(-1)
    values = Slice.apply(flat, index=(slice(0, n),), src=flat._data.shape)
    return IndexPut.apply(x, values, basic=(Ellipsis,), index=index, accumulate=False,
                          v_shape=(n,))


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:
    """Indices of the nonzero elements: an ``(n, ndim)`` int64 tensor, or a tuple of ``ndim``
    index vectors with ``as_tuple=True`` (usable as an index).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[0, 1], [2, 0]])
        >>> x.nonzero()
        tensor([[0, 1],
                [1, 0]])
        >>> x.nonzero(as_tuple=True)
        (tensor([0, 1]), tensor([1, 0]))
    """
    arr = input._data
    wrap = _backend.wrap
    if as_tuple:
        if arr.ndim == 0:
            return (wrap(xp.arange(int(bool(arr)), dtype=np.int64)),)
        return tuple(wrap(i.astype(np.int64, copy=False)) for i in xp.nonzero(arr))
    return wrap(xp.argwhere(arr).astype(np.int64, copy=False))


def argwhere(input: Any) -> Any:
    """``nonzero(input)``: the ``(n, ndim)`` indices of nonzero elements.

    Example:
        >>> import chainrule
        >>> chainrule.argwhere(chainrule.tensor([0., 3., 5.]))
        tensor([[1],
                [2]])
    """
    return nonzero(input)


def take(input: Any, index: Any) -> Any:
    """``input.flatten()[index]``: elements at flat positions, in ``index``'s shape.

    Example:
        >>> import chainrule
        >>> chainrule.take(chainrule.tensor([[4, 3], [5, 6]]), chainrule.tensor([0, 3, -1]))
        tensor([4, 6, 6])
    """
    idx = _int_index(index, "take", "int64")
    n = input._data.size
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < -n else int(idx.max())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         f"elements.")
    flat = input.reshape(-1)
    return Index.apply(flat, basic=(Ellipsis,), index=(idx,), src=(n,))


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Any:
    """Values of ``input`` at ``indices`` along ``dim`` (other dims broadcast), or at flat
    positions when ``dim`` is None; ``argmax``/``argsort`` results index it directly.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[10., 30., 20.], [60., 40., 50.]])
        >>> chainrule.take_along_dim(x, chainrule.tensor([[1], [0]]), dim=1)
        tensor([[30.],
                [60.]])
    """
    idx = _int_index(indices, "take_along_dim", "int64")
    if dim is None:
        return gather(input.reshape(-1), 0, idx.reshape(-1))
    shape = input._data.shape
    if idx.ndim != len(shape):
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same "
                           "number of dimensions, but got " + f"{len(shape)} dimensions for "
                           f"input, and {idx.ndim} dimensions for indices")
    d = wrap_dim(dim, len(shape))
    xs = list(shape)
    ix = list(idx.shape)
    xs[d] = ix[d] = 1
    for i, (a, b) in enumerate(zip(xs, ix)):
        if a != b and a != 1 and b != 1:
            raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                               f"({b}) at non-singleton dimension {i}")
    common = list(np.broadcast_shapes(tuple(xs), tuple(ix)))
    x_shape = tuple(common[:d] + [shape[d]] + common[d + 1:])
    i_shape = tuple(common[:d] + [idx.shape[d]] + common[d + 1:])
    x = input.expand(x_shape) if x_shape != shape else input
    return gather(x, d, xp.broadcast_to(idx, i_shape))


def _out(result: Any, out: Any) -> Any:
    if out is None:
        return result
    out._inplace(result)
    return out


TENSOR_METHODS: dict[str, Any] = {n: n for n in __all__}
TENSOR_METHODS.update({"__getitem__": "_getitem", "__setitem__": "_setitem"})

_INPLACE = ["scatter", "scatter_add", "index_add", "index_fill", "index_put", "masked_fill",
            "masked_scatter"]
for _name in _INPLACE:
    _fn = inplace_method(globals()[_name])
    globals()[_name + "_"] = _fn
    TENSOR_METHODS[_name + "_"] = _fn
del _name, _fn
