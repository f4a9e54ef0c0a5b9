"""Writing through a view: the two primitives behind in-place ops on views of tensors.

A view shares its base's memory, so ``view.mul_(2)`` changes the base too. For autograd the
base must then get a new history: "the old base, with the view's region replaced by the new
values" (:class:`CopySlices`, torch's name), and the view becomes a view of that new base
(:class:`AsStrided`). A region is described the way NumPy lays it out in memory: the view's
shape, its strides and its offset, in elements, into the contiguous base.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd.op import Op

xp = _backend.xp

__all__ = ["geometry", "AsStrided", "CopySlices"]


def _region(base: np.ndarray, geo: tuple) -> np.ndarray:
    shape, strides, offset = geo
    item = base.itemsize
    return np.lib.stride_tricks.as_strided(base.reshape(-1)[offset:], shape=shape,
                                           strides=tuple(s * item for s in strides))


def geometry(view: np.ndarray, base: np.ndarray) -> tuple | None:
    """``(shape, strides, offset)`` of ``view`` inside C-contiguous ``base``, in elements; None
    if ``view`` does not lie in ``base``'s memory on an element grid."""
    if not base.flags.c_contiguous:
        return None
    item = base.itemsize
    start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if start < 0 or start % item or any(s % item for s in view.strides):
        return None
    return (view.shape, tuple(s // item for s in view.strides), start // item)


class AsStrided(Op):
    """out = the region ``geo`` of x (a copy);  d out = the region of dx."""

    needs_inputs = False

    @staticmethod
    def forward(x, *, geo, src):
        return _region(xp.ascontiguousarray(x), geo).copy()

    @staticmethod
    def vjp(g, out, x, *, geo, src):
        zeros = _backend.make_tensor(xp.zeros(src, dtype=g._data.dtype))
        return (CopySlices.apply(zeros, g, geo=geo),)

    @staticmethod
    def jvp(x_dot, out, x, *, geo, src):
        return AsStrided.apply(x_dot, geo=geo, src=src)


class CopySlices(Op):
    """out = base with region ``geo`` replaced by src;
    d out = d base outside the region + d src inside it."""

    needs_inputs = False
    backward_name = "torch::autograd::CopySlices"

    @staticmethod
    def forward(base, src, *, geo):
        out = xp.array(base, order="C")
        _region(out, geo)[...] = src
        return out

    @staticmethod
    def vjp(g, out, base, src, *, geo):
        zeros = _backend.make_tensor(xp.zeros(geo[0], dtype=g._data.dtype))
        g_base = CopySlices.apply(g, zeros, geo=geo)
        g_src = AsStrided.apply(g, geo=geo, src=g._data.shape)
        return g_base, g_src

    @staticmethod
    def jvp(base_dot, src_dot, out, base, src, *, geo):
        return CopySlices.apply(base_dot, src_dot, geo=geo)


def rebase_view(view: Any, result: Any) -> None:
    """Record ``view <- result`` (already computed) as a change of the view's base.

    Writes the values through the view into the shared memory, gives the base the history
    ``CopySlices(old base, result)``, and makes the view an ``AsStrided`` view of the new base.
    """
    base = view._base
    if base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    geo = geometry(view._data, base._data)
    if geo is None:
        raise RuntimeError("chainrule can only record in-place writes into views of "
                           "contiguous tensors; call .contiguous() on the base first")
    old_base = base._old()
    src = result
    if src._data.shape != view._data.shape:
        src = src.expand(view._data.shape)
    if src._data.dtype != view._data.dtype:
        src = src.to(view.dtype)
    new_base = CopySlices.apply(old_base, src, geo=geo)
    view._data[...] = src._data  # the memory both share now holds the new values
    base.grad_fn = new_base.grad_fn
    base._out_idx = 0
    base._requires_grad = True
    as_view = AsStrided.apply(new_base, geo=geo, src=base._data.shape)
    view.grad_fn = as_view.grad_fn
    view._out_idx = 0
    view._requires_grad = True
