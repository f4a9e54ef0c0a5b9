"""Shape and movement ops: views (reshape, permute, expand, ...) and copies (cat, flip, pad, ...).

View ops return tensors sharing memory with their input and its version counter, as torch:
reshape (when possible), view, flatten, unflatten, squeeze, unsqueeze, permute, transpose,
movedim, t/T/mT, expand, narrow, select, split, chunk and unbind. cat, stack, flip, roll,
repeat, tile, tril, triu and pad copy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.op import Op
from chainrule.ops._util import cast, inplace_method, is_tensor, result_type, wrap_dim

xp = _backend.xp

__all__ = ["reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose",
           "swapaxes", "swapdims", "movedim", "moveaxis", "t", "broadcast_to",
           "broadcast_tensors", "broadcast_shapes", "tile", "split", "chunk", "unbind",
           "narrow", "select", "flip", "fliplr", "flipud", "roll", "tril", "triu", "cat",
           "concat", "concatenate", "stack", "hstack", "vstack", "atleast_1d", "atleast_2d",
           "constant_pad_nd"]


def _as_view(result: Any, base: Any) -> Any:
    """Mark ``result`` as a view of ``base``: shared version counter, base recorded."""
    result._vbox = base._shared_vbox()
    result._base = base._base if base._base is not None else base
    if base._extra is not None and base.is_inference():  # views of inference tensors are too
        result._extra = {"inference": True}
    return result


def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _dims_arg(dims: Sequence[Any], ndim: int) -> tuple[int, ...]:
    """Wrapped dims from ``f(x, 0, 1)`` or ``f(x, (0, 1))``; duplicates raise as torch."""
    dims = tuple(wrap_dim(d, ndim) for d in _shape_arg(dims))
    for d in dims:
        if dims.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return dims


def _size_list(shape: Sequence[int]) -> str:
    return str(list(shape))


# ---------------------------------------------------------------------------------------------
# Primitives


class Reshape(Op):
    """out = x viewed with a new shape;  d out = dx reshaped."""

    needs_inputs = False
    backward_name = "ViewBackward0"

    @staticmethod
    def forward(x, *, shape, src):
        return x.reshape(shape)

    @staticmethod
    def vjp(g, out, x, *, shape, src):
        return (g.reshape(src),)

    @staticmethod
    def jvp(x_dot, out, x, *, shape, src):
        return x_dot.reshape(shape)


class Permute(Op):
    """out = x with dims reordered;  the vjp applies the inverse permutation."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dims):
        return x.transpose(dims)

    @staticmethod
    def vjp(g, out, x, *, dims):
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        return (g.permute(inverse),)

    @staticmethod
    def jvp(x_dot, out, x, *, dims):
        return x_dot.permute(dims)


class Expand(Op):
    """out = x broadcast to ``shape`` (a view);  the vjp sums g back to x's shape."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, shape, src):
        return xp.broadcast_to(x, shape)

    @staticmethod
    def vjp(g, out, x, *, shape, src):
        return (g.sum_to_size(src),)

    @staticmethod
    def jvp(x_dot, out, x, *, shape, src):
        return x_dot.expand(shape)


class SumToSize(Op):
    """out = x summed down to a broadcast-compatible ``shape``;  the vjp expands g back."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, shape, src):
        return _backend.sum_to(x, shape)

    @staticmethod
    def vjp(g, out, x, *, shape, src):
        return (g.expand(src),)

    @staticmethod
    def jvp(x_dot, out, x, *, shape, src):
        return x_dot.sum_to_size(shape)


class Select(Op):
    """out = x[..., i, ...] at ``index`` along ``dim`` (a view);  d out = dx at that index."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dim, index, src):
        return x[(slice(None),) * dim + (index,)]

    @staticmethod
    def vjp(g, out, x, *, dim, index, src):
        return (SelectBackward.apply(g, dim=dim, index=index, src=src),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, index, src):
        return Select.apply(x_dot, dim=dim, index=index, src=src)


class SelectBackward(Op):
    """out = zeros(src) with g placed at index ``i`` of ``dim``;  the adjoint of Select."""

    needs_inputs = False

    @staticmethod
    def forward(g, *, dim, index, src):
        out = xp.zeros(src, dtype=g.dtype)
        out[(slice(None),) * dim + (index,)] = g
        return out

    @staticmethod
    def vjp(gg, out, g, *, dim, index, src):
        return (Select.apply(gg, dim=dim, index=index, src=src),)

    @staticmethod
    def jvp(g_dot, out, g, *, dim, index, src):
        return SelectBackward.apply(g_dot, dim=dim, index=index, src=src)


class Narrow(Op):
    """out = x[start:start+length] along ``dim`` (a view);  d out = dx narrowed."""

    needs_inputs = False
    backward_name = "SliceBackward0"

    @staticmethod
    def forward(x, *, dim, start, length, src):
        return x[(slice(None),) * dim + (slice(start, start + length),)]

    @staticmethod
    def vjp(g, out, x, *, dim, start, length, src):
        return (NarrowBackward.apply(g, dim=dim, start=start, length=length, src=src),)

    @staticmethod
    def jvp(x_dot, out, x, *, dim, start, length, src):
        return Narrow.apply(x_dot, dim=dim, start=start, length=length, src=src)


class NarrowBackward(Op):
    """out = zeros(src) with g placed at ``start:start+length`` of ``dim``;  adjoint of Narrow."""

    needs_inputs = False

    @staticmethod
    def forward(g, *, dim, start, length, src):
        out = xp.zeros(src, dtype=g.dtype)
        out[(slice(None),) * dim + (slice(start, start + length),)] = g
        return out

    @staticmethod
    def vjp(gg, out, g, *, dim, start, length, src):
        return (Narrow.apply(gg, dim=dim, start=start, length=length, src=src),)

    @staticmethod
    def jvp(g_dot, out, g, *, dim, start, length, src):
        return NarrowBackward.apply(g_dot, dim=dim, start=start, length=length, src=src)


class Cat(Op):
    """out = the inputs joined along ``dim``;  the vjp narrows g back into one piece per input."""

    needs_inputs = False

    @staticmethod
    def forward(*xs, dim, sizes):
        return xp.concatenate(xs, axis=dim)

    @staticmethod
    def vjp(g, out, *xs, dim, sizes):
        pieces = []
        start = 0
        for n in sizes:
            pieces.append(Narrow.apply(g, dim=dim, start=start, length=n, src=g.shape))
            start += n
        return tuple(pieces)

    @staticmethod
    def jvp(*args, dim, sizes):
        return Cat.apply(*args[:len(sizes)], dim=dim, sizes=sizes)


class Stack(Op):
    """out = the inputs joined along a new dim ``dim``;  the vjp selects g apart again."""

    needs_inputs = False

    @staticmethod
    def forward(*xs, dim):
        return xp.stack(xs, axis=dim)

    @staticmethod
    def vjp(g, out, *xs, dim):
        return tuple(Select.apply(g, dim=dim, index=i, src=g.shape) for i in range(len(xs)))

    @staticmethod
    def jvp(*args, dim):
        # args: one tangent per input, the output, then one (unsaved) value per input
        return Stack.apply(*args[:(len(args) - 1) // 2], dim=dim)


class Flip(Op):
    """out = x reversed along ``dims`` (a copy, as torch);  d out = dx flipped."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dims):
        return xp.flip(x, axis=dims).copy()

    @staticmethod
    def vjp(g, out, x, *, dims):
        return (Flip.apply(g, dims=dims),)

    @staticmethod
    def jvp(x_dot, out, x, *, dims):
        return Flip.apply(x_dot, dims=dims)


class Roll(Op):
    """out = x rotated by ``shifts`` along ``dims`` (flattened if None);  the vjp rolls back."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, shifts, dims):
        if dims is None:
            return xp.roll(x, shifts[0])
        return xp.roll(x, shifts, axis=dims)

    @staticmethod
    def vjp(g, out, x, *, shifts, dims):
        return (Roll.apply(g, shifts=tuple(-s for s in shifts), dims=dims),)

    @staticmethod
    def jvp(x_dot, out, x, *, shifts, dims):
        return Roll.apply(x_dot, shifts=shifts, dims=dims)


class Tril(Op):
    """out = x with elements above the ``diagonal`` zeroed;  d out = tril(dx)."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, diagonal):
        return xp.tril(x, k=diagonal)

    @staticmethod
    def vjp(g, out, x, *, diagonal):
        return (Tril.apply(g, diagonal=diagonal),)

    @staticmethod
    def jvp(x_dot, out, x, *, diagonal):
        return Tril.apply(x_dot, diagonal=diagonal)


class Triu(Op):
    """out = x with elements below the ``diagonal`` zeroed;  d out = triu(dx)."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, diagonal):
        return xp.triu(x, k=diagonal)

    @staticmethod
    def vjp(g, out, x, *, diagonal):
        return (Triu.apply(g, diagonal=diagonal),)

    @staticmethod
    def jvp(x_dot, out, x, *, diagonal):
        return Triu.apply(x_dot, diagonal=diagonal)


class Repeat(Op):
    """out = x tiled ``repeats`` times per dim;  the vjp sums the tiles of g."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, repeats, src):
        return xp.tile(x, repeats)

    @staticmethod
    def vjp(g, out, x, *, repeats, src):
        # Split every dim of g into (repeat, size) and sum out the repeat axes.
        padded = (1,) * (len(repeats) - len(src)) + tuple(src)
        split = []
        for r, n in zip(repeats, padded):
            split += [r, n]
        tiles = g.reshape(split).sum(dim=tuple(range(0, len(split), 2)))
        return (tiles.reshape(src),)

    @staticmethod
    def jvp(x_dot, out, x, *, repeats, src):
        return Repeat.apply(x_dot, repeats=repeats, src=src)


class ConstantPadNd(Op):
    """out = x padded with ``value`` (negative pads crop), pad pairs from the last dim;
    d out = dx padded with zeros."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, pad, value):
        take = [slice(None)] * x.ndim
        put = [slice(None)] * x.ndim
        shape = list(x.shape)
        for i in range(len(pad) // 2):
            d = x.ndim - 1 - i
            lo, hi = pad[2 * i], pad[2 * i + 1]
            n = x.shape[d]
            kept = n - max(-lo, 0) - max(-hi, 0)
            take[d] = slice(max(-lo, 0), max(-lo, 0) + kept)
            put[d] = slice(max(lo, 0), max(lo, 0) + kept)
            shape[d] = n + lo + hi
        out = xp.full(shape, value, dtype=x.dtype)
        out[tuple(put)] = x[tuple(take)]
        return out

    @staticmethod
    def vjp(g, out, x, *, pad, value):
        # the adjoint crops what was padded and zero-pads what was cropped
        return (ConstantPadNd.apply(g, pad=tuple(-p for p in pad), value=0),)

    @staticmethod
    def jvp(x_dot, out, x, *, pad, value):
        return ConstantPadNd.apply(x_dot, pad=pad, value=0)


# torch names overloads apart where chainrule has one primitive (see Op.variant)
_SQUEEZE_ALL = Reshape.variant("SqueezeBackward0")
_SQUEEZE_DIM = Reshape.variant("SqueezeBackward1")
_SQUEEZE_DIMS = Reshape.variant("SqueezeBackward2")
_UNSQUEEZE = Reshape.variant("UnsqueezeBackward0")
_TRANSPOSE = Permute.variant("TransposeBackward0")
_TRANSPOSE_2D = Permute.variant("TBackward0")
_SPLIT = Narrow.variant("SplitBackward0")
_SPLIT_WITH_SIZES = Narrow.variant("SplitWithSizesBackward0")
_UNBIND = Select.variant("UnbindBackward0")


# ---------------------------------------------------------------------------------------------
# Views


def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    if -1 in shape:
        if shape.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred")
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        n *= s
    if n != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _viewable(arr: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``arr`` can take ``shape`` without a copy (torch's view stride rule)."""
    try:
        arr.reshape(shape, copy=False)
    except ValueError:
        return False
    except TypeError:  # NumPy < 2.1 has no copy=; assigning a shape fails exactly when a copy
        view = arr.view()  # would be needed
        try:
            view.shape = shape
        except AttributeError:
            return False
    return True


def reshape(input: Any, *shape: Any) -> Any:
    """The same elements in a new shape (one dim may be -1); a view when the strides allow,
    otherwise a copy.

    Example:
        >>> import chainrule
        >>> chainrule.arange(6).reshape(2, -1)
        tensor([[0, 1, 2],
                [3, 4, 5]])
    """
    src = input._data.shape
    new = _infer_shape(_shape_arg(shape), input._data.size)
    out = Reshape.apply(input, shape=new, src=src)
    if xp.may_share_memory(out._data, input._data) or input._data.size == 0:
        _as_view(out, input)
    return out


def view(input: Any, *shape: Any) -> Any:
    """A view with a new shape (one dim may be -1), or with a dtype of the same size.

    Unlike :func:`reshape`, never copies: raises when the strides cannot express the shape
    (e.g. flattening a transposed matrix).

    Example:
        >>> import chainrule
        >>> x = chainrule.arange(6.)
        >>> x.view(3, 2).shape
        chainrule.Size([3, 2])
        >>> x.view(2, 3).t().view(6)
        Traceback (most recent call last):
        ...
        RuntimeError: view size is not compatible with input tensor's size and stride ...
    """
    if len(shape) == 1 and isinstance(shape[0], dtypes.dtype):
        return _view_dtype(input, dtypes.to_dtype(shape[0]))
    src = input._data.shape
    new = _infer_shape(_shape_arg(shape), input._data.size)
    if not _viewable(input._data, new):
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return _as_view(Reshape.apply(input, shape=new, src=src), input)


def _view_dtype(input: Any, dtype: dtypes.dtype) -> Any:
    # Reinterpreting bits is not differentiable (the result has no grad_fn), as torch.
    arr = input._data
    try:
        out = arr.view(dtype.np)
    except ValueError as exc:
        raise RuntimeError(f"view(): cannot view a tensor of dtype {input.dtype} and shape "
                           f"{list(arr.shape)} as {dtype}: {exc}") from None
    return _as_view(_backend._tensor_class._make(out), input)


def view_as(input: Any, other: Any) -> Any:
    """``input.view(other.shape)``.

    Example:
        >>> import chainrule
        >>> chainrule.arange(6).view_as(chainrule.zeros(3, 2)).shape
        chainrule.Size([3, 2])
    """
    return view(input, other._data.shape)


def reshape_as(input: Any, other: Any) -> Any:
    """``input.reshape(other.shape)``.

    Example:
        >>> import chainrule
        >>> chainrule.arange(6).reshape_as(chainrule.zeros(2, 3)).shape
        chainrule.Size([2, 3])
    """
    return reshape(input, other._data.shape)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Dims ``start_dim..end_dim`` merged into one (a view when possible).

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3, 4).flatten(1).shape
        chainrule.Size([2, 12])
    """
    src = input._data.shape
    nd = len(src)
    if nd == 0:
        return reshape(input, 1)
    s, e = wrap_dim(start_dim, nd), wrap_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    return reshape(input, src[:s] + (math.prod(src[s:e + 1]),) + src[e + 1:])


def unflatten(input: Any, dim: int, sizes: Sequence[int]) -> Any:
    """Dim ``dim`` split into ``sizes`` (one may be -1).

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 12).unflatten(1, (3, -1)).shape
        chainrule.Size([2, 3, 4])
    """
    src = input._data.shape
    d = wrap_dim(dim, len(src))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = src[d] if src else 1
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in sizes and known != 0 and n % known == 0:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    if -1 in sizes or math.prod(sizes) != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return reshape(input, src[:d] + sizes + src[d + 1:])


def unsqueeze(input: Any, dim: int) -> Any:
    """A view with a size-1 dim inserted at ``dim``.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(3).unsqueeze(0).shape
        chainrule.Size([1, 3])
    """
    src = input._data.shape
    d = wrap_dim(dim, len(src) + 1)
    return _as_view(_UNSQUEEZE.apply(input, shape=src[:d] + (1,) + src[d:], src=src), input)


def squeeze(input: Any, dim: Any = None) -> Any:
    """A view without size-1 dims (only those among ``dim``, an int or tuple, when given).

    Example:
        >>> import chainrule
        >>> x = chainrule.zeros(1, 3, 1)
        >>> x.squeeze().shape, x.squeeze(0).shape, x.squeeze((0, 1)).shape
        (chainrule.Size([3]), chainrule.Size([3, 1]), chainrule.Size([3, 1]))
    """
    src = input._data.shape
    if dim is None:
        drop = {i for i, s in enumerate(src) if s == 1}
        op = _SQUEEZE_ALL
    else:
        drop = {d for d in _dims_arg((dim,), len(src)) if d < len(src) and src[d] == 1}
        op = _SQUEEZE_DIMS if isinstance(dim, (tuple, list)) else _SQUEEZE_DIM
    shape = tuple(s for i, s in enumerate(src) if i not in drop)
    return _as_view(op.apply(input, shape=shape, src=src), input)


def permute(input: Any, *dims: Any) -> Any:
    """A view with dimensions reordered: ``out.shape[i] = input.shape[dims[i]]``.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3, 4).permute(2, 0, 1).shape
        chainrule.Size([4, 2, 3])
    """
    nd = input._data.ndim
    dims = _shape_arg(dims)
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _as_view(Permute.apply(input, dims=dims), input)


def transpose(input: Any, dim0: int, dim1: int) -> Any:
    """A view with ``dim0`` and ``dim1`` swapped.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3).transpose(0, 1).shape
        chainrule.Size([3, 2])
    """
    nd = input._data.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    dims = list(range(nd))
    if nd:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return _as_view(_TRANSPOSE.apply(input, dims=tuple(dims)), input)


def swapaxes(input: Any, axis0: int, axis1: int) -> Any:
    """Alias of :func:`transpose` (NumPy's name).

    Example:
        >>> import chainrule
        >>> chainrule.swapaxes(chainrule.zeros(2, 3), 0, 1).shape
        chainrule.Size([3, 2])
    """
    return transpose(input, axis0, axis1)


def swapdims(input: Any, dim0: int, dim1: int) -> Any:
    """Alias of :func:`transpose`.

    Example:
        >>> import chainrule
        >>> chainrule.swapdims(chainrule.zeros(2, 3), 0, 1).shape
        chainrule.Size([3, 2])
    """
    return transpose(input, dim0, dim1)


def movedim(input: Any, source: Any, destination: Any) -> Any:
    """A view with dims ``source`` moved to positions ``destination``; the rest keep order.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3, 4).movedim(0, -1).shape
        chainrule.Size([3, 4, 2])
    """
    nd = input._data.ndim
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    src = tuple(wrap_dim(d, nd) for d in src)
    dst = tuple(wrap_dim(d, nd) for d in dst)
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(ds)})")
    order: list[int | None] = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(nd) if i not in src)
    dims = tuple(o if o is not None else next(rest) for o in order)
    return _as_view(Permute.apply(input, dims=dims), input)


def moveaxis(input: Any, source: Any, destination: Any) -> Any:
    """Alias of :func:`movedim` (NumPy's name).

    Example:
        >>> import chainrule
        >>> chainrule.moveaxis(chainrule.zeros(2, 3, 4), (0, 1), (1, 2)).shape
        chainrule.Size([4, 2, 3])
    """
    return movedim(input, source, destination)


def t(input: Any) -> Any:
    """The transpose of a matrix (a view); 0-d and 1-d tensors are returned as they are.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1, 2, 3]]).t()
        tensor([[1],
                [2],
                [3]])
    """
    nd = input._data.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return _as_view(_TRANSPOSE_2D.apply(input, dims=tuple(range(nd))[::-1]), input)


def _T(self: Any) -> Any:
    """Dims reversed (the matrix transpose of a 2-D tensor); a view."""
    nd = self._data.ndim
    if nd == 0:
        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                      "these cases.", UserWarning, stacklevel=2)
    elif nd != 2:
        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                      "shape is deprecated and it will throw an error in a future release. "
                      "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                      "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                      UserWarning, stacklevel=2)
    return _as_view(Permute.apply(self, dims=tuple(range(nd))[::-1]), self)


def _mT(self: Any, name: str = "mT") -> Any:
    """The last two dims swapped (a batch of matrices transposed); a view."""
    nd = self._data.ndim
    if nd < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. "
                           f"Got {nd}-D tensor.")
    return transpose(self, -2, -1)


def _H(self: Any) -> Any:
    """The conjugate transpose of a matrix; for real tensors, its transpose."""
    nd = self._data.ndim
    if nd == 0:
        warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                      UserWarning, stacklevel=2)
        return _as_view(Permute.apply(self, dims=()), self)
    if nd != 2:
        hint = " For batches of matrices, consider using tensor.mH" if nd > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {nd}-D "
                           f"tensor.{hint}")
    return transpose(self, 0, 1)


def _mH(self: Any) -> Any:
    """The last two dims swapped and conjugated; for real tensors, ``mT``."""
    return _mT(self, "mH")


def expand(input: Any, *sizes: Any) -> Any:
    """A broadcast view to ``sizes`` (-1 keeps a dim); no memory is copied.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1], [2]]).expand(2, 3)
        tensor([[1, 1, 1],
                [2, 2, 2]])
    """
    sizes = _shape_arg(sizes)
    src = input._data.shape
    lead = len(sizes) - len(src)
    if lead < 0:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(src)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(src)})")
    for i in range(lead):
        if sizes[i] < 0:
            raise RuntimeError(f"The expanded size of the tensor ({sizes[i]}) isn't allowed in a "
                               f"leading, non-existing dimension {i}")
    shape = tuple(src[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == src:
        return input
    for i, s in enumerate(src):
        if s != 1 and s != shape[i + lead]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[i + lead]}) must match "
                               f"the existing size ({s}) at non-singleton dimension {i + lead}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: {list(src)}")
    return _as_view(Expand.apply(input, shape=shape, src=src), input)


def expand_as(input: Any, other: Any) -> Any:
    """``input.expand(other.shape)``.

    Example:
        >>> import chainrule
        >>> chainrule.ones(3, 1).expand_as(chainrule.zeros(3, 4)).shape
        chainrule.Size([3, 4])
    """
    return expand(input, other._data.shape)


def broadcast_to(input: Any, size: Sequence[int]) -> Any:
    """``input`` broadcast to ``size`` (a view), as :meth:`Tensor.expand`.

    Example:
        >>> import chainrule
        >>> chainrule.broadcast_to(chainrule.tensor([1, 2]), (2, 2))
        tensor([[1, 2],
                [1, 2]])
    """
    return expand(input, tuple(size))


def broadcast_shapes(*shapes: Any) -> Any:
    """The shape that tensors of ``shapes`` broadcast to.

    Example:
        >>> import chainrule
        >>> chainrule.broadcast_shapes((3, 1), (1, 4), (4,))
        chainrule.Size([3, 4])
    """
    from chainrule.tensor import Size

    shapes = [(int(s),) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for k, shape in enumerate(shapes):
        for i, n in enumerate(shape):
            j = nd - len(shape) + i
            if n != 1 and out[j] != 1 and n != out[j]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {n} at {i - len(shape)}! "
                    f"Mismatching argument at index {k} had {shape}; but expected shape should "
                    f"be broadcastable to {out}")
            if n != 1:
                out[j] = n
    return Size(out)


def broadcast_tensors(*tensors: Any) -> tuple[Any, ...]:
    """The tensors broadcast to their common shape (views).

    Example:
        >>> import chainrule
        >>> a, b = chainrule.broadcast_tensors(chainrule.zeros(3, 1), chainrule.zeros(4))
        >>> a.shape, b.shape
        (chainrule.Size([3, 4]), chainrule.Size([3, 4]))
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape: tuple[int, ...] = ()
    for t_ in tensors:
        other = t_._data.shape
        nd = max(len(shape), len(other))
        a = (1,) * (nd - len(shape)) + shape
        b = (1,) * (nd - len(other)) + other
        for i, (m, n) in enumerate(zip(a, b)):
            if m != n and m != 1 and n != 1:
                raise RuntimeError(f"The size of tensor a ({m}) must match the size of tensor b "
                                   f"({n}) at non-singleton dimension {i}")
        shape = tuple(n if m == 1 else m for m, n in zip(a, b))
    return tuple(expand(t_, shape) for t_ in tensors)


def _check_dim_tensor(name: str, input: Any) -> None:
    if input._data.ndim == 0:
        raise RuntimeError(f"{name} expects at least a 1-dimensional tensor")


def narrow(input: Any, dim: int, start: Any, length: int) -> Any:
    """``length`` elements of ``dim`` from ``start`` (negative counts from the end); a view.

    Example:
        >>> import chainrule
        >>> chainrule.arange(6).reshape(2, 3).narrow(1, 1, 2)
        tensor([[1, 2],
                [4, 5]])
    """
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    start, length = int(start), int(length)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _as_view(Narrow.apply(input, dim=d, start=start, length=length, src=shape), input)


def select(input: Any, dim: int, index: Any) -> Any:
    """The slice at ``index`` along ``dim``, with that dim removed; a view.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1, 2], [3, 4]]).select(1, 0)
        tensor([1, 3])
    """
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    size = shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(shape)} at dimension {d}")
    return _as_view(Select.apply(input, dim=d, index=index % size, src=shape), input)


def _split_sizes(input: Any, sizes: Sequence[int], dim: int,
                 op: type[Op] = _SPLIT_WITH_SIZES) -> tuple[Any, ...]:
    shape = input._data.shape
    out = []
    start = 0
    for n in sizes:
        out.append(_as_view(op.apply(input, dim=dim, start=start, length=n, src=shape),
                            input))
        start += n
    return tuple(out)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
    """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be
    smaller), or of the given list of sizes.

    Example:
        >>> import chainrule
        >>> [p.tolist() for p in chainrule.arange(5).split(2)]
        [[0, 1], [2, 3], [4]]
        >>> [p.tolist() for p in chainrule.arange(5).split([1, 4])]
        [[0], [1, 2, 3, 4]]
    """
    _check_dim_tensor("split", tensor)
    d = wrap_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)) or is_tensor(
            split_size_or_sections):
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        if n == 0:
            return _split_sizes(tensor, [0], d, _SPLIT)
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        return _split_sizes(tensor, sizes, d, _SPLIT)
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                           f"tensor's size at dimension {d}), but got split_sizes={sizes}")
    return _split_sizes(tensor, sizes, d)


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Any, ...]:
    """At most ``chunks`` views along ``dim``, each ``ceil(size / chunks)`` long (the last may
    be shorter, so fewer chunks may come back), as torch.

    Example:
        >>> import chainrule
        >>> [p.tolist() for p in chainrule.arange(5).chunk(3)]
        [[0, 1], [2, 3], [4]]
    """
    _check_dim_tensor("chunk", input)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if n == 0:
        return _split_sizes(input, [0] * chunks, d)
    return split(input, -(-n // chunks), d)


def unbind(input: Any, dim: int = 0) -> tuple[Any, ...]:
    """The slices along ``dim``, as a tuple of views.

    Example:
        >>> import chainrule
        >>> [t.tolist() for t in chainrule.tensor([[1, 2], [3, 4]]).unbind(1)]
        [[1, 3], [2, 4]]
    """
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, input._data.ndim)
    shape = input._data.shape
    return tuple(_as_view(_UNBIND.apply(input, dim=d, index=i, src=shape), input)
                 for i in range(shape[d]))


def sum_to_size(input: Any, *size: Any) -> Any:
    """Sum ``input`` down to ``size``, which it must broadcast from (the adjoint of expand).

    Example:
        >>> import chainrule
        >>> chainrule.ones(2, 3).sum_to_size(1, 3)
        tensor([[2., 2., 2.]])
    """
    shape = _shape_arg(size)
    if input._data.shape == shape:
        return input
    return SumToSize.apply(input, shape=shape, src=input._data.shape)


# ---------------------------------------------------------------------------------------------
# Copies


def contiguous(input: Any, memory_format: Any = None) -> Any:
    """``input`` itself if its memory is row-major without gaps, else a row-major copy.

    Example:
        >>> import chainrule
        >>> x = chainrule.zeros(2, 3)
        >>> x.contiguous() is x, x.t().is_contiguous(), x.t().contiguous().is_contiguous()
        (True, False, True)
    """
    if input._data.flags.c_contiguous:
        return input
    from chainrule.ops.elementwise import Clone

    return Clone.apply(input)


def repeat(input: Any, *sizes: Any) -> Any:
    """``input`` tiled ``sizes[i]`` times along each dim (leading sizes add new dims); a copy.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    repeats = _shape_arg(sizes)
    src = input._data.shape
    if len(repeats) < len(src):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    padded = (1,) * (len(repeats) - len(src)) + src
    shape = [r * n for r, n in zip(repeats, padded)]
    for r, n in zip(repeats, shape):
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {shape}")
    return Repeat.apply(input, repeats=repeats, src=src)


def tile(input: Any, *dims: Any) -> Any:
    """``input`` tiled ``dims[i]`` times along each dim; a short ``dims`` is padded with 1s in
    front (NumPy's tile).

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1, 2]]).tile((2,))
        tensor([[1, 2, 1, 2]])
    """
    dims = _shape_arg(dims)
    nd = input._data.ndim
    return repeat(input, (1,) * (nd - len(dims)) + dims)


def flip(input: Any, *dims: Any) -> Any:
    """``input`` reversed along ``dims`` (a copy).

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1, 2], [3, 4]]).flip(0, 1)
        tensor([[4, 3],
                [2, 1]])
    """
    nd = input._data.ndim
    d = _dims_arg(dims, nd)
    return Flip.apply(input, dims=d if nd else ())


def fliplr(input: Any) -> Any:
    """``input`` reversed left to right (along dim 1); needs >= 2 dims.

    Example:
        >>> import chainrule
        >>> chainrule.fliplr(chainrule.tensor([[1, 2], [3, 4]]))
        tensor([[2, 1],
                [4, 3]])
    """
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return Flip.apply(input, dims=(1,))


def flipud(input: Any) -> Any:
    """``input`` reversed up to down (along dim 0); needs >= 1 dim.

    Example:
        >>> import chainrule
        >>> chainrule.flipud(chainrule.tensor([[1, 2], [3, 4]]))
        tensor([[3, 4],
                [1, 2]])
    """
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return Flip.apply(input, dims=(0,))


def roll(input: Any, shifts: Any, dims: Any = None) -> Any:
    """Elements rotated by ``shifts`` along ``dims`` (of the flattened tensor if None).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1, 2, 3], [4, 5, 6]])
        >>> x.roll(1)
        tensor([[6, 1, 2],
                [3, 4, 5]])
        >>> x.roll((1, -1), (0, 1))
        tensor([[5, 6, 4],
                [2, 3, 1]])
    """
    shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(
        int(s) for s in shifts)
    nd = input._data.ndim
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, shifts=shifts, dims=None)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    if nd == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return Roll.apply(input, shifts=shifts, dims=tuple(wrap_dim(d, nd) for d in dims))


def _triangle(name: str, op: type[Op], input: Any, diagonal: int) -> Any:
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return op.apply(input, diagonal=int(diagonal))


def tril(input: Any, diagonal: int = 0) -> Any:
    """The lower triangle of the last two dims (elements with ``j - i <= diagonal``); the rest
    zero.

    Example:
        >>> import chainrule
        >>> chainrule.ones(3, 3).tril()
        tensor([[1., 0., 0.],
                [1., 1., 0.],
                [1., 1., 1.]])
    """
    return _triangle("tril", Tril, input, diagonal)


def triu(input: Any, diagonal: int = 0) -> Any:
    """The upper triangle of the last two dims (elements with ``j - i >= diagonal``); the rest
    zero.

    Example:
        >>> import chainrule
        >>> chainrule.ones(3, 3).triu(1)
        tensor([[0., 1., 1.],
                [0., 0., 1.],
                [0., 0., 0.]])
    """
    return _triangle("triu", Triu, input, diagonal)


def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """The tensors joined along ``dim`` (promoted to a common dtype); other dims must match.

    As torch, 1-d empty tensors are skipped whatever their shape.

    Example:
        >>> import chainrule
        >>> a, b = chainrule.tensor([[1, 2]]), chainrule.tensor([[3., 4.]])
        >>> chainrule.cat([a, b]), chainrule.cat((a, b), dim=1)
        (tensor([[1., 2.],
                [3., 4.]]), tensor([[1., 2., 3., 4.]]))
    """
    if is_tensor(tensors):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        "Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t_ in enumerate(tensors):
        if t_._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    dtype = result_type(*tensors) if len(tensors) > 1 else tensors[0].dtype
    parts = [(i, t_) for i, t_ in enumerate(tensors) if t_._data.shape != (0,)]
    if not parts:
        return _backend._tensor_class._make(xp.zeros((0,), dtype=dtype.np))
    ref = parts[0][1]._data.shape
    d = wrap_dim(dim, len(ref))
    for i, t_ in parts:
        shape = t_._data.shape
        if len(shape) != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} "
                               f"and {len(shape)}")
        for ax, (m, n) in enumerate(zip(ref, shape)):
            if ax != d and m != n:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {m} but got size {n} for tensor number {i} "
                                   f"in the list.")
    xs = [cast(t_, dtype) for _, t_ in parts]
    return Cat.apply(*xs, dim=d, sizes=tuple(x._data.shape[d] for x in xs))


def concat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Alias of :func:`cat`.

    Example:
        >>> import chainrule
        >>> chainrule.concat([chainrule.zeros(2), chainrule.ones(1)])
        tensor([0., 0., 1.])
    """
    return cat(tensors, dim)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Any:
    """Alias of :func:`cat` (NumPy's name and ``axis`` argument).

    Example:
        >>> import chainrule
        >>> chainrule.concatenate([chainrule.zeros(1, 2), chainrule.ones(1, 2)], axis=1)
        tensor([[0., 0., 1., 1.]])
    """
    return cat(tensors, axis)


def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    """The tensors (all of one shape) joined along a new dim ``dim``.

    Example:
        >>> import chainrule
        >>> chainrule.stack([chainrule.tensor([1, 2]), chainrule.tensor([3, 4])], dim=1)
        tensor([[1, 3],
                [2, 4]])
    """
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = tensors[0]._data.shape
    for i, t_ in enumerate(tensors):
        if t_._data.shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first)} at entry 0 and {list(t_._data.shape)} at entry "
                               f"{i}")
    d = wrap_dim(dim, len(first) + 1)
    dtype = result_type(*tensors) if len(tensors) > 1 else tensors[0].dtype
    return Stack.apply(*[cast(t_, dtype) for t_ in tensors], dim=d)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least one dim (0-d becomes shape ``(1,)``); a tuple for several.

    Example:
        >>> import chainrule
        >>> chainrule.atleast_1d(chainrule.tensor(5))
        tensor([5])
    """
    return _atleast(tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least two dims (new dims in front); a tuple for several.

    Example:
        >>> import chainrule
        >>> chainrule.atleast_2d(chainrule.tensor([1, 2])).shape
        chainrule.Size([1, 2])
    """
    return _atleast(tensors, 2)


def _atleast(tensors: tuple, n: int) -> Any:
    many = len(tensors) != 1 or isinstance(tensors[0], (list, tuple))
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for t_ in tensors:
        shape = t_._data.shape
        out.append(t_ if len(shape) >= n else reshape(t_, (1,) * (n - len(shape)) + shape))
    return tuple(out) if many else out[0]


def hstack(tensors: Sequence[Any]) -> Any:
    """Tensors joined column-wise: along dim 1, or dim 0 for 1-d tensors.

    Example:
        >>> import chainrule
        >>> chainrule.hstack([chainrule.tensor([1, 2]), chainrule.tensor([3])])
        tensor([1, 2, 3])
    """
    tensors = _atleast(tuple(tensors), 1) if tensors else ()
    if not tensors:
        raise RuntimeError("hstack expects a non-empty TensorList")
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Any:
    """Tensors joined row-wise (along dim 0), 0-d and 1-d ones first made rows.

    Example:
        >>> import chainrule
        >>> chainrule.vstack([chainrule.tensor([1, 2]), chainrule.tensor([3, 4])])
        tensor([[1, 2],
                [3, 4]])
    """
    tensors = _atleast(tuple(tensors), 2) if tensors else ()
    if not tensors:
        raise RuntimeError("vstack expects a non-empty TensorList")
    return cat(tensors, 0)


# ---------------------------------------------------------------------------------------------
# Padding

_NONCONSTANT_HELP = ("Supported combinations for non-constant padding:\n"
                     "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                     "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                     "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _pad_arg(pad: Sequence[Any]) -> tuple[int, ...]:
    out = []
    for i, p in enumerate(pad):
        if not isinstance(p, (int, np.integer)) and not (is_tensor(p) and p.numel() == 1):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {type(p).__name__} at pos {i}")
        out.append(int(p))
    return tuple(out)


def constant_pad_nd(input: Any, pad: Sequence[int], value: Any = 0) -> Any:
    """``input`` padded with ``value``: ``pad = (left, right, top, bottom, ...)`` from the last
    dim backwards; negative amounts crop.

    Example:
        >>> import chainrule
        >>> chainrule.constant_pad_nd(chainrule.tensor([[1, 2]]), (1, 0, 0, 1), 9)
        tensor([[9, 1, 2],
                [9, 9, 9]])
    """
    pad = _pad_arg(pad)
    shape = input._data.shape
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > len(shape):
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{len(shape)}")
    for i in range(len(pad) // 2):
        if shape[-1 - i] + pad[2 * i] + pad[2 * i + 1] < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
    return ConstantPadNd.apply(input, pad=pad, value=0 if value is None else value)


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Any:
    """``torch.nn.functional.pad``: pad the last ``len(pad) // 2`` dims, the last dim first.

    ``pad = (left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two, and
    so on; negative amounts crop. Modes: ``'constant'`` (fill with ``value``, any number of
    dims), and for 2-5-d inputs (1-3 padded dims, an optional batch dim) ``'reflect'`` (mirror
    without repeating the edge), ``'replicate'`` (repeat the edge) and ``'circular'`` (wrap).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[[1., 2., 3.]]])
        >>> pad(x, (2, 1), mode='reflect')
        tensor([[[3., 2., 1., 2., 3., 2.]]])
        >>> pad(x, (1, 1), value=-1.)
        tensor([[[-1.,  1.,  2.,  3., -1.]]])
    """
    if mode == "constant":
        return constant_pad_nd(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    pad = _pad_arg(pad)
    shape = input._data.shape
    nd, k = len(shape), len(pad) // 2
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {nd}D input "
                                  f"tensor.\n{_NONCONSTANT_HELP}")
    if mode != "circular" and 0 in shape[nd - k - 1:]:
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{list(shape)}")
    if mode == "circular":
        return _pad_circular(input, pad)
    if input._data.dtype.kind == "b":
        kernel = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f'"{kernel}_pad{k}d" not implemented for \'Bool\'')
    out = input
    for i in range(k):
        d = nd - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        n = shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) at "
                               f"dimension {d} of input {list(shape)}")
        if n + lo + hi < 1:
            raise RuntimeError(f"input (W: {n}) is too small. Calculated output W: {n + lo + hi}")
        out = _pad_edges(out, d, lo, hi, mode)
    return out


def _pad_edges(x: Any, d: int, lo: int, hi: int, mode: str) -> Any:
    """Reflect or replicate pad along ``d`` with the positive amounts, then crop the negative
    ones (torch indexes the output against the uncropped input)."""
    n = x._data.shape[d]
    parts = []
    if lo > 0:
        parts.append(narrow(x, d, 1, lo).flip(d) if mode == "reflect"
                     else narrow(x, d, 0, 1).expand(_with(x._data.shape, d, lo)))
    parts.append(x)
    if hi > 0:
        parts.append(narrow(x, d, n - 1 - hi, hi).flip(d) if mode == "reflect"
                     else narrow(x, d, n - 1, 1).expand(_with(x._data.shape, d, hi)))
    out = cat(parts, d) if len(parts) > 1 else x
    if lo < 0 or hi < 0:
        out = narrow(out, d, max(-lo, 0), n + lo + hi)
    return out


def _with(shape: tuple[int, ...], d: int, n: int) -> tuple[int, ...]:
    return shape[:d] + (n,) + shape[d + 1:]


def _pad_circular(x: Any, pad: tuple[int, ...]) -> Any:
    """Circular pad: crop the negative amounts first, then wrap the cropped tensor, as torch."""
    shape = x._data.shape
    nd = len(shape)
    for i in range(len(pad) // 2):
        d = nd - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if lo > shape[d] or hi > shape[d]:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if shape[d] + lo + hi < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
        if lo < 0 or hi < 0:
            x = narrow(x, d, max(-lo, 0), shape[d] - max(-lo, 0) - max(-hi, 0))
        if max(lo, 0) > x._data.shape[d] or max(hi, 0) > x._data.shape[d]:
            # torch reads uninitialized memory here; wrapping the cropped tensor twice is an error
            raise RuntimeError("Padding value causes wrapping around more than once.")
    for i in range(len(pad) // 2):
        d = nd - 1 - i
        lo, hi = max(pad[2 * i], 0), max(pad[2 * i + 1], 0)
        n = x._data.shape[d]
        parts = ([narrow(x, d, n - lo, lo)] if lo else []) + [x] + \
            ([narrow(x, d, 0, hi)] if hi else [])
        if len(parts) > 1:
            x = cat(parts, d)
    return x



# ---------------------------------------------------------------------------------------------
# Tensor methods


def _metadata_inplace(fn: Any) -> Any:
    """``<fn>_`` for shape-only ops (unsqueeze_, t_, ...): ``self`` becomes the view ``fn``
    returns, taking its history; the version counter is bumped, so a backward that saved the
    old shape fails loudly instead of silently using the new one."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if STATE.enabled and self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        result = fn(self, *args, **kwargs)
        self._data = result._data
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._out_idx = result._out_idx
        if self._fw_grad is not None:
            self._fw_grad = result._fw_grad
        self._bump()
        return self

    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    method.__doc__ = f"In-place :func:`{fn.__name__}` (changes the shape of ``self``)."
    return method


tril_ = inplace_method(tril)
triu_ = inplace_method(triu)

TENSOR_METHODS: dict[str, Any] = {
    n: n for n in __all__ if n not in (
        "broadcast_tensors", "broadcast_shapes", "cat", "concat", "concatenate", "stack",
        "hstack", "vstack", "atleast_1d", "atleast_2d", "constant_pad_nd")}
TENSOR_METHODS.update({
    "view": "view", "view_as": "view_as", "reshape_as": "reshape_as", "expand": "expand",
    "expand_as": "expand_as", "repeat": "repeat", "contiguous": "contiguous",
    "sum_to_size": "sum_to_size",
    "T": property(_T), "mT": property(_mT), "H": property(_H), "mH": property(_mH),
    "tril_": tril_, "triu_": triu_,
    "squeeze_": _metadata_inplace(squeeze), "unsqueeze_": _metadata_inplace(unsqueeze),
    "t_": _metadata_inplace(t), "transpose_": _metadata_inplace(transpose),
    "swapaxes_": _metadata_inplace(swapaxes), "swapdims_": _metadata_inplace(swapdims),
})

