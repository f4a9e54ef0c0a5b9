"""Shape and movement ops: views (reshape, permute, expand, ...) and copies (cat, flip, pad, ...).

View ops return tensors sharing memory with their input and its version counter, as torch.
"""

from __future__ import annotations

from typing import Any, Sequence

from chainrule import _backend
from chainrule.autograd.op import Op
from chainrule.ops._util import wrap_dim

xp = _backend.xp

__all__ = ["reshape", "permute", "transpose", "expand", "unsqueeze", "squeeze", "unbind",
           "sum_to_size", "view_as", "expand_as"]


def _as_view(result: Any, base: Any) -> Any:
    """Mark ``result`` as a view of ``base``: shared version counter, base recorded."""
    result._vbox = base._vbox
    result._base = base._base if base._base is not None else base
    return result


def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


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


def reshape(input: Any, *shape: Any) -> Any:
    """The same data with a new shape (one dim may be -1); a view when possible.

    Example:
        >>> import chainrule
        >>> chainrule.arange(6).reshape(2, -1).shape
        chainrule.Size([2, 3])
    """
    shape = _shape_arg(shape)
    src = input._data.shape
    new = _infer_shape(shape, input._data.size)
    if new == src:
        return _as_view(Reshape.apply(input, shape=new, src=src), input)
    out = Reshape.apply(input, shape=new, src=src)
    if out._data.base is not None:
        _as_view(out, input)
    return out


def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if shape.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def view_as(input: Any, other: Any) -> Any:
    """``input.reshape(other.shape)``."""
    return reshape(input, other._data.shape)


def permute(input: Any, *dims: Any) -> Any:
    """A view with dimensions reordered.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3, 4).permute(2, 0, 1).shape
        chainrule.Size([4, 2, 3])
    """
    nd = input._data.ndim
    dims = tuple(wrap_dim(d, nd) for d in _shape_arg(dims))
    if len(dims) != nd or len(set(dims)) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    return _as_view(Permute.apply(input, dims=dims), input)


def transpose(input: Any, dim0: int, dim1: int) -> Any:
    """A view with ``dim0`` and ``dim1`` swapped.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3).transpose(0, 1).shape
        chainrule.Size([3, 2])
    """
    nd = input._data.ndim
    if nd == 0:
        return input.view_as(input)
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _as_view(Permute.apply(input, dims=tuple(dims)), input)


def expand(input: Any, *sizes: Any) -> Any:
    """A broadcast view to ``sizes`` (-1 keeps a dim); no memory is copied.

    Example:
        >>> import chainrule
        >>> chainrule.ones(3, 1).expand(3, 4).shape
        chainrule.Size([3, 4])
    """
    sizes = _shape_arg(sizes)
    src = input._data.shape
    lead = len(sizes) - len(src)
    if lead < 0:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(src)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(src)})")
    shape = tuple(src[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    if shape == src:
        return input
    for i, s in enumerate(src):
        if s != 1 and s != shape[i + lead]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[i + lead]}) must match "
                               f"the existing size ({s}) at non-singleton dimension {i + lead}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: {list(src)}")
    return _as_view(Expand.apply(input, shape=shape, src=src), input)


def expand_as(input: Any, other: Any) -> Any:
    """``input.expand(other.shape)``."""
    return expand(input, other._data.shape)


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


def unsqueeze(input: Any, dim: int) -> Any:
    """A view with a size-1 dim inserted at ``dim``.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(3).unsqueeze(0).shape
        chainrule.Size([1, 3])
    """
    nd = input._data.ndim
    d = wrap_dim(dim, nd + 1)
    shape = input._data.shape[:d] + (1,) + input._data.shape[d:]
    return _as_view(Reshape.apply(input, shape=shape, src=input._data.shape), input)


def squeeze(input: Any, dim: Any = None) -> Any:
    """A view without size-1 dims (only those in ``dim`` when given).

    Example:
        >>> import chainrule
        >>> chainrule.zeros(1, 3, 1).squeeze().shape
        chainrule.Size([3])
    """
    src = input._data.shape
    if dim is None:
        drop = {i for i, s in enumerate(src) if s == 1}
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        drop = {wrap_dim(d, len(src)) for d in dims}
        drop = {d for d in drop if d < len(src) and src[d] == 1}
    shape = tuple(s for i, s in enumerate(src) if i not in drop)
    return _as_view(Reshape.apply(input, shape=shape, src=src), input)


class Select(Op):
    """out = x[..., i, ...] along ``dim``;  the vjp places g in a zero tensor at i."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, dim, index, src):
        return xp.take(x, index, axis=dim) if False else x[(slice(None),) * dim + (index,)]

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


def select(input: Any, dim: int, index: int) -> Any:
    """The slice at ``index`` along ``dim`` (that dim removed); a view.

    Example:
        >>> import chainrule
        >>> chainrule.tensor([[1, 2], [3, 4]]).select(1, 0)
        tensor([1, 3])
    """
    nd = input._data.ndim
    d = wrap_dim(dim, nd)
    size = input._data.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {d}")
    return _as_view(Select.apply(input, dim=d, index=index % size, src=input._data.shape),
                    input)


def unbind(input: Any, dim: int = 0) -> tuple[Any, ...]:
    """The slices along ``dim``, as a tuple of views.

    Example:
        >>> import chainrule
        >>> [t.tolist() for t in chainrule.tensor([[1, 2], [3, 4]]).unbind(1)]
        [[1, 3], [2, 4]]
    """
    d = wrap_dim(dim, input._data.ndim)
    return tuple(select(input, d, i) for i in range(input._data.shape[d]))


__all__ += ["select"]
TENSOR_METHODS = {n: n for n in __all__}
TENSOR_METHODS.update({"view": "reshape", "T": None, "mT": None})
del TENSOR_METHODS["T"], TENSOR_METHODS["mT"]
