"""Pooling primitives: max pooling (by index), average pooling, and their adjoints.

Max pooling is split in two: the public function finds the argmax of every window on raw
arrays (one strided compare per kernel tap, torch's tie rule: the first maximum in row-major
window order wins; a NaN wins over numbers), then ``MaxPool`` gathers the input at those
indices. The gather is linear in the input, its adjoint ``MaxPoolBackward`` scatters the
cotangent back to the argmax positions, and each is the other's vjp, so max pooling is twice
differentiable, as in torch. Adaptive max pooling reuses both with its own indices.

``AvgPool`` sums the kernel taps of the zero-padded input and divides by torch's divisor
(``count_include_pad``, ``ceil_mode`` windows clipped at the padded edge, ``divisor_override``);
``AvgPoolBackward`` spreads ``g / divisor`` back over each window; again each is the other's
vjp. With stride equal to the kernel, no padding and no dilation, windows tile the input and
both directions are a reshape plus one reduction or broadcast (DESIGN.md section 6).

1-d pooling runs as 2-d pooling over a height-1 image. Indices are torch's: flat positions
``h * W + w`` into each unpadded input plane.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import _backend
from chainrule._backend import threads as _threads
from chainrule.autograd.op import Op

xp = _backend.xp

# Max pooling's window search and its backward's scatter split the batch over the threads
# from this many input elements on (chainrule/_backend/threads.py): ~0.5 ms of work for a
# 2x2 pool, against ~55 us to wake a second thread.
_PARALLEL_ELEMENTS = 1 << 19

# torch's top-level pooling functions (the F-only ones are imported by nn.functional)
__all__ = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "avg_pool1d",
           "adaptive_avg_pool1d"]


# ---------------------------------------------------------------------------------------------
# Geometry


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output size: in ceil mode the last window must start inside the input
    or its left padding."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _padded(x: Any, out_hw: tuple, kernel: tuple, stride: tuple, padding: tuple,
            dilation: tuple, fill: Any) -> Any:
    """``x`` (N, C, H, W) placed in a ``fill``-valued buffer that covers every window tap
    (ceil mode windows may run past the padded edge)."""
    N, C, H, W = x.shape
    (Ho, Wo), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = out_hw, kernel, stride, padding, dilation
    Hn = max((Ho - 1) * sh + (kh - 1) * dh + 1, ph)
    Wn = max((Wo - 1) * sw + (kw - 1) * dw + 1, pw)
    if ph == pw == 0 and Hn <= H and Wn <= W:
        return x
    buf = xp.full((N, C, Hn, Wn), fill, dtype=x.dtype)
    h, w = min(H, Hn - ph), min(W, Wn - pw)
    buf[:, :, ph:ph + h, pw:pw + w] = x[:, :, :h, :w]
    return buf


def _tap(a: Any, i: int, j: int, out_hw: tuple, stride: tuple, dilation: tuple) -> Any:
    """The strided view of kernel tap (i, j) over every window of the padded array ``a``."""
    (Ho, Wo), (sh, sw), (dh, dw) = out_hw, stride, dilation
    return a[:, :, i * dh:i * dh + sh * (Ho - 1) + 1:sh, j * dw:j * dw + sw * (Wo - 1) + 1:sw]


def _tiles(x_shape: tuple, out_hw: tuple, kernel: tuple, stride: tuple, padding: tuple,
           dilation: tuple) -> bool:
    """Windows tile the input (stride == kernel, no padding or dilation): reshape tricks."""
    return (tuple(stride) == tuple(kernel) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1)
            and out_hw[0] * kernel[0] <= x_shape[2] and out_hw[1] * kernel[1] <= x_shape[3])


def _lift(a: Any) -> Any:
    return a[:, :, None, :] if a.ndim == 3 else a


def _hw(p: Sequence[int], fill: int) -> tuple:
    return tuple(p) if len(p) == 2 else (fill,) + tuple(p)


# ---------------------------------------------------------------------------------------------
# Max pooling: indices on raw arrays, then a gather/scatter pair of primitives


def _max_pool_indices(x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                      ceil_mode: bool) -> tuple[Any, Any]:
    """Flat argmax index (``h * W + w``) of every window of ``x`` (N, C, H, W), and the window
    maxima when they came for free (else None)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    Ho = _pool_out(H, kh, sh, ph, dh, ceil_mode)
    Wo = _pool_out(W, kw, sw, pw, dw, ceil_mode)
    out_hw = (Ho, Wo)
    if _tiles(x.shape, out_hw, kernel, stride, padding, dilation) and kh * kw <= 16:
        # Small tiling windows: compare the kh*kw strided taps in place (first maximum wins,
        # as torch) instead of copying every window out and calling argmax on a tiny axis.
        # The running maximum is the pooled output; `off` tracks the winner's offset in the
        # plane. Measured on 64x64x24x24, 2x2: 32 ms -> 4 ms.
        best = xp.empty((N, C, Ho, Wo), dtype=x.dtype)
        off = xp.empty(best.shape, dtype=xp.int32)

        def search(n0: int, n1: int) -> None:  # samples n0:n1, one part of the batch
            b, o = best[n0:n1], off[n0:n1]
            b[...] = x[n0:n1, :, 0:Ho * kh:kh, 0:Wo * kw:kw]
            o[...] = 0
            mask = xp.empty(b.shape, dtype=bool)
            for t in range(1, kh * kw):
                i, j = divmod(t, kw)
                tap = x[n0:n1, :, i:Ho * kh:kh, j:Wo * kw:kw]
                xp.greater(tap, b, out=mask)
                xp.maximum(b, tap, out=b)
                # o = where(mask, offset of tap t, o), as integer arithmetic (3x faster)
                o += mask.view(xp.int8) * (xp.int32(i * W + j) - o)

        _threads.over_range(N, search, worth_it=x.size >= _PARALLEL_ELEMENTS)
        # NumPy's maximum propagates NaN, so a window holding one shows it in `best`; those
        # take the general path, which follows torch's rule for NaN.
        if not (x.dtype.kind == "f" and xp.isnan(best).any()):
            base = (xp.arange(Ho) * (kh * W)).reshape(Ho, 1) + xp.arange(Wo) * kw
            return base + off, best
    if _tiles(x.shape, out_hw, kernel, stride, padding, dilation):
        win = x[:, :, :Ho * kh, :Wo * kw].reshape(N, C, Ho, kh, Wo, kw).transpose(0, 1, 2, 4, 3, 5)
        flat = win.reshape(N, C, Ho, Wo, kh * kw)
        code = flat.argmax(axis=-1)  # the first maximum, as torch
        # (checking the input for NaN first: one pass, where picking every window's value
        # with take_along_axis cost ~40% of the pooling forward, measured)
        if x.dtype.kind == "f" and xp.isnan(x).any():
            picked = xp.take_along_axis(flat, code[..., None], axis=-1)[..., 0]
            bad = xp.isnan(picked)
            if bad.any():  # torch keeps the last NaN of a window, argmax the first
                last = xp.isnan(flat[bad])[:, ::-1].argmax(axis=-1)
                code[bad] = kh * kw - 1 - last
        i, j = code // kw, code % kw
        rows = xp.arange(Ho).reshape(Ho, 1) * kh + i
        cols = xp.arange(Wo) * kw + j
        return rows * W + cols, None
    if x.dtype.kind == "f":
        low = -xp.inf
    elif x.dtype.kind == "b":
        low = False
    else:
        low = xp.iinfo(x.dtype).min
    xpad = _padded(x, out_hw, kernel, stride, padding, dilation, low)
    # torch starts each window at its first in-bounds tap with max = -inf, and moves only on
    # a strictly larger value or a NaN: ties keep the first, a later NaN replaces an earlier.
    hs = xp.arange(Ho) * sh - ph
    ws = xp.arange(Wo) * sw - pw
    i0 = xp.maximum(-(hs // dh), 0) * (hs < 0)
    j0 = xp.maximum(-(ws // dw), 0) * (ws < 0)
    best = xp.full((N, C, Ho, Wo), low, dtype=x.dtype)
    code = xp.broadcast_to((i0[:, None] * kw + j0[None, :]).astype(xp.int64),
                           (N, C, Ho, Wo)).copy()
    is_float = x.dtype.kind == "f"
    mask = xp.empty((N, C, Ho, Wo), dtype=bool)
    for i in range(kh):
        for j in range(kw):
            v = _tap(xpad, i, j, out_hw, stride, dilation)
            xp.greater(v, best, out=mask)
            if is_float:
                mask |= xp.isnan(v)
            xp.copyto(best, v, where=mask)
            xp.copyto(code, i * kw + j, where=mask)
    rows = hs.reshape(Ho, 1) + (code // kw) * dh
    cols = ws + (code % kw) * dw
    return rows * W + cols, None


def _adaptive_bounds(n: int, out: int) -> tuple[Any, Any]:
    i = xp.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive_max_indices(x: Any, out_hw: tuple) -> tuple[Any, bool]:
    """Flat argmax index of every adaptive window, and whether windows overlap."""
    N, C, H, W = x.shape
    Ho, Wo = out_hw
    hs, he = _adaptive_bounds(H, Ho)
    ws, we = _adaptive_bounds(W, Wo)
    kh, kw = int((he - hs).max()), int((we - ws).max())
    best = code_h = code_w = None
    is_float = x.dtype.kind == "f"
    for a in range(kh):
        rows = xp.minimum(hs + a, he - 1)  # repeating the last row never beats a strict max
        for b in range(kw):
            cols = xp.minimum(ws + b, we - 1)
            v = x[:, :, rows[:, None], cols[None, :]]
            if best is None:
                best = v.copy()
                code_h = xp.broadcast_to(rows[:, None], v.shape).copy()
                code_w = xp.broadcast_to(cols[None, :], v.shape).copy()
                continue
            mask = v > best
            if is_float:
                mask |= xp.isnan(v) & ~xp.isnan(best)
            xp.copyto(best, v, where=mask)
            xp.copyto(code_h, rows[:, None], where=mask)
            xp.copyto(code_w, cols[None, :], where=mask)
    overlap = bool((hs[1:] < he[:-1]).any() or (ws[1:] < we[:-1]).any())
    return code_h * W + code_w, overlap


def _plane_offsets(N: int, C: int, plane: int, shape: tuple) -> Any:
    """The flat offset of each (n, c) plane, shaped to broadcast against ``shape``."""
    return (xp.arange(N * C, dtype=xp.int64) * plane).reshape((N, C) + (1,) * (len(shape) - 2))


class MaxPool(Op):
    """out = x[indices] per plane (the window maxima);  d out = dx[indices]."""

    backward_name = "MaxPool2DWithIndicesBackward0"
    needs_inputs = False

    @staticmethod
    def forward(x, *, indices, input_shape, overlap, values=None):
        # `values`: x at `indices` when the index search produced them already (the pooled
        # maxima); the gather below gives the same array.
        if values is not None:
            return values
        N, C = x.shape[:2]
        flat = _plane_offsets(N, C, int(xp.prod(x.shape[2:])), indices.shape) + indices
        return x.reshape(-1)[flat]

    @staticmethod
    def vjp(g, out, x, *, indices, input_shape, overlap, values=None):
        return (MaxPoolBackward.apply(g, indices=indices, input_shape=input_shape,
                                      overlap=overlap),)

    @staticmethod
    def jvp(x_dot, out, x, *, indices, input_shape, overlap, values=None):
        return MaxPool.apply(x_dot, indices=indices, input_shape=input_shape, overlap=overlap)


class MaxPoolBackward(Op):
    """out = zeros(input_shape) with g added at ``indices`` (the adjoint of MaxPool);
    d out = dg scattered alike."""

    backward_name = "MaxPool2DWithIndicesBackwardBackward0"
    needs_inputs = False

    @staticmethod
    def forward(g, *, indices, input_shape, overlap):
        N, C = input_shape[:2]
        plane = int(xp.prod(input_shape[2:]))
        if overlap:  # windows share inputs: duplicates must accumulate (one ufunc.at pass)
            dx = xp.zeros(N * C * plane, dtype=g.dtype)
            flat = (_plane_offsets(N, C, plane, indices.shape) + indices).reshape(-1)
            xp.add.at(dx, flat, g.reshape(-1))
            return dx.reshape(input_shape)
        dx = xp.empty(N * C * plane, dtype=g.dtype)

        def scatter(n0: int, n1: int) -> None:  # samples n0:n1, one part of the batch
            part = dx[n0 * C * plane:n1 * C * plane]
            part[...] = 0
            flat = (_plane_offsets(n1 - n0, C, plane, indices.shape) + indices[n0:n1])
            # (a flat scatter: 3x faster than put_along_axis, measured on 64x64x24x24)
            part[flat.reshape(-1)] = g[n0:n1].reshape(-1)

        _threads.over_range(N, scatter, worth_it=dx.size >= _PARALLEL_ELEMENTS)
        return dx.reshape(input_shape)

    @staticmethod
    def vjp(gg, out, g, *, indices, input_shape, overlap):
        return (MaxPool.apply(gg, indices=indices, input_shape=input_shape, overlap=overlap),)

    @staticmethod
    def jvp(g_dot, out, g, *, indices, input_shape, overlap):
        return MaxPoolBackward.apply(g_dot, indices=indices, input_shape=input_shape,
                                     overlap=overlap)


# ---------------------------------------------------------------------------------------------
# Average pooling


def _avg_divisor(n: int, out: int, k: int, s: int, p: int, include_pad: bool) -> Any:
    """Per output position along one dim: window sizes with / without padding (torch's rule:
    the window is clipped to the padded edge, then to the input for the exclusive count)."""
    start = xp.arange(out) * s - p
    end = xp.minimum(start + k, n + p)
    size_pad = end - start
    size = xp.minimum(end, n) - xp.maximum(start, 0)
    return size_pad if include_pad else size


def _divisor(shape: tuple, out_hw: tuple, kernel: tuple, stride: tuple, padding: tuple,
             count_include_pad: bool, divisor_override: Any, dtype: Any) -> Any:
    if divisor_override is not None:
        return xp.asarray(divisor_override, dtype=dtype)
    dh = _avg_divisor(shape[2], out_hw[0], kernel[0], stride[0], padding[0], count_include_pad)
    dw = _avg_divisor(shape[3], out_hw[1], kernel[1], stride[1], padding[1], count_include_pad)
    div = (dh[:, None] * dw[None, :]).astype(dtype if dtype.kind == "f" else xp.float64)
    div[div <= 0] = 1  # windows entirely in the padding: their sum is 0, output 0 as torch
    return div


def _avg_geometry(shape: tuple, kernel_size: tuple, stride: tuple, padding: tuple,
                  ceil_mode: bool) -> tuple:
    k, s, p = _hw(kernel_size, 1), _hw(stride, 1), _hw(padding, 0)
    out_hw = tuple(_pool_out(n, kk, ss, pp, 1, ceil_mode)
                   for n, kk, ss, pp in zip(shape[2:], k, s, p))
    return k, s, p, out_hw


def _divide(total: Any, div: Any, dtype: Any) -> Any:
    if dtype.kind == "f":
        total /= div
        return total
    return (total / div).astype(dtype)  # integer pooling truncates, as torch


class AvgPool(Op):
    """out = (sum over each window of the zero-padded x) / divisor;  d out = the same of dx."""

    backward_name = "AvgPool2DBackward0"
    needs_inputs = False

    @staticmethod
    def forward(x, *, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        nd = x.ndim
        x4 = _lift(x)
        k, s, p, out_hw = _avg_geometry(x4.shape, kernel_size, stride, padding, ceil_mode)
        N, C = x4.shape[:2]
        Ho, Wo = out_hw
        div = _divisor(x4.shape, out_hw, k, s, p, count_include_pad, divisor_override, x.dtype)
        if _tiles(x4.shape, out_hw, k, s, p, (1, 1)):
            win = x4[:, :, :Ho * k[0], :Wo * k[1]].reshape(N, C, Ho, k[0], Wo, k[1])
            total = win.sum(axis=(3, 5))
        else:
            xpad = _padded(x4, out_hw, k, s, p, (1, 1), 0)
            total = _tap(xpad, 0, 0, out_hw, s, (1, 1)).copy()
            for i in range(k[0]):
                for j in range(k[1]):
                    if i or j:
                        total += _tap(xpad, i, j, out_hw, s, (1, 1))
        out = _divide(total, div, x.dtype)
        return out[:, :, 0, :] if nd == 3 else out

    @staticmethod
    def vjp(g, out, x, **params):
        return (AvgPoolBackward.apply(g, **params),)

    @staticmethod
    def jvp(x_dot, out, x, **params):
        return AvgPool.apply(x_dot, **params)


class AvgPoolBackward(Op):
    """out = g / divisor spread over every window, summed where windows overlap (the adjoint
    of AvgPool);  d out = the same of dg."""

    backward_name = "AvgPool2DBackwardBackward0"
    needs_inputs = False

    @staticmethod
    def forward(g, *, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        nd = g.ndim
        shape4 = tuple(input_shape) if nd == 4 else (input_shape[0], input_shape[1], 1,
                                                     input_shape[2])
        k, s, p, out_hw = _avg_geometry(shape4, kernel_size, stride, padding, ceil_mode)
        N, C, H, W = shape4
        Ho, Wo = out_hw
        div = _divisor(shape4, out_hw, k, s, p, count_include_pad, divisor_override, g.dtype)
        gd = _lift(g) / div
        if gd.dtype != g.dtype:
            gd = gd.astype(g.dtype)
        dx = xp.zeros(shape4, dtype=g.dtype)
        if _tiles(shape4, out_hw, k, s, p, (1, 1)):
            spread = xp.broadcast_to(gd[:, :, :, None, :, None], (N, C, Ho, k[0], Wo, k[1]))
            dx[:, :, :Ho * k[0], :Wo * k[1]] = spread.reshape(N, C, Ho * k[0], Wo * k[1])
        else:
            Hn = max((Ho - 1) * s[0] + k[0], p[0] + H)
            Wn = max((Wo - 1) * s[1] + k[1], p[1] + W)
            buf = xp.zeros((N, C, Hn, Wn), dtype=g.dtype)
            for i in range(k[0]):
                for j in range(k[1]):
                    _tap(buf, i, j, out_hw, s, (1, 1))[...] += gd
            dx[...] = buf[:, :, p[0]:p[0] + H, p[1]:p[1] + W]
        return dx[:, :, 0, :] if nd == 3 else dx

    @staticmethod
    def vjp(gg, out, g, **params):
        return (AvgPool.apply(gg, **params),)

    @staticmethod
    def jvp(g_dot, out, g, **params):
        return AvgPoolBackward.apply(g_dot, **params)


# ---------------------------------------------------------------------------------------------
# Public functions (torch.nn.functional names and signatures)


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]),) * n
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _pool_args(name: str, nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any) -> tuple:
    """Validated (kernel, stride, padding, dilation) n-tuples, torch's messages."""
    kernel = _tuple(kernel_size, nd)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else _tuple(stride, nd)
    padding = _tuple(padding, nd)
    dilation = _tuple(dilation, nd)
    for what, t in (("kernel_size", kernel), ("stride", stride), ("padding", padding),
                    ("dilation", dilation)):
        if len(t) != nd:
            raise RuntimeError(f"{name}: {what} must either be a single int, or a tuple of "
                               f"{nd} ints")
    if any(s == 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"kernel_size should be greater than zero, but got kernel_size: "
                           f"{list(kernel)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation: "
                           f"{list(dilation)}")
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    shape = input._data.shape
    if input._data.ndim not in (nd + 1, nd + 2) or 0 in shape[-nd:] or \
            (input._data.ndim == nd + 2 and shape[1] == 0):
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           f"input")
    return kernel, stride, padding, dilation


def _check_out(input_shape: tuple, out: Sequence[int]) -> None:
    """torch's error for an empty output; 1-d shapes are reported as height-1 images."""
    if len(input_shape) == 3:
        input_shape = input_shape[:2] + (1,) + tuple(input_shape[2:])
        out = (1,) + tuple(out)
    if any(o < 1 for o in out):
        c = input_shape[1]
        ins = "x".join(str(n) for n in (c,) + tuple(input_shape[2:]))
        outs = "x".join(str(n) for n in (c,) + tuple(out))
        raise RuntimeError(f"Given input size: ({ins}). Calculated output size: ({outs}). "
                           f"Output size is too small")


def _batched(input: Any, nd: int) -> tuple[Any, bool]:
    if input._data.ndim == nd + 1:
        return input.unsqueeze(0), True
    return input, False


def _max_pool(name: str, nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool) -> tuple[Any, Any]:
    k, s, p, d = _pool_args(name, nd, input, kernel_size, stride, padding, dilation)
    x, unbatched = _batched(input, nd)
    x4 = _lift(x._data)
    k2, s2, p2, d2 = _hw(k, 1), _hw(s, 1), _hw(p, 0), _hw(d, 1)
    out_hw = [_pool_out(n, kk, ss, pp, dd, ceil_mode)
              for n, kk, ss, pp, dd in zip(x4.shape[2:], k2, s2, p2, d2)]
    _check_out(x._data.shape, out_hw[2 - nd:])
    idx, values = _max_pool_indices(x4, k2, s2, p2, d2, ceil_mode)
    if nd == 1:
        idx = idx[:, :, 0, :]
        values = None if values is None else values[:, :, 0, :]
    overlap = any(ss < dd * (kk - 1) + 1 for kk, ss, dd in zip(k, s, d))
    out = MaxPool.apply(x, indices=idx, input_shape=x._data.shape, overlap=overlap,
                        values=values)
    indices = _backend.wrap(idx)
    if unbatched:
        return out.squeeze(0), indices.squeeze(0)
    return out, indices


def max_pool1d_with_indices(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Any, Any]:
    """:func:`max_pool1d` returning ``(values, indices)``; indices are positions along L.

    Example:
        >>> import chainrule
        >>> max_pool1d_with_indices(chainrule.tensor([[[1., 3., 2., 5.]]]), 2)[1]
        tensor([[[1, 3]]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_with_indices(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Any, Any]:
    """:func:`max_pool2d` returning ``(values, indices)``; an index is ``h * W + w`` in the
    unpadded input plane.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[[[1., 2.], [4., 3.]]]])
        >>> max_pool2d_with_indices(x, 2)[1]
        tensor([[[[2]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """``out[n, c, l] = max_k x[n, c, l*stride + k*dilation - padding]`` (-inf padding).

    Example:
        >>> import chainrule
        >>> max_pool1d(chainrule.tensor([[[1., 3., 2., 5., 4.]]]), 2, ceil_mode=True)
        tensor([[[3., 5., 4.]]])
    """
    out = max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return out if return_indices else out[0]


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum of every ``kH x kW`` window (stride defaults to the kernel size); the
    gradient goes to the first maximum of each window, as torch.

    Example:
        >>> import chainrule
        >>> x = chainrule.arange(16.).reshape(1, 1, 4, 4)
        >>> max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    out = max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return out if return_indices else out[0]


def _avg_pool(name: str, nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: Any) -> Any:
    k, s, p, _ = _pool_args(name, nd, input, kernel_size, stride, padding, 1)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    x, unbatched = _batched(input, nd)
    out_sz = [_pool_out(n, kk, ss, pp, 1, ceil_mode)
              for n, kk, ss, pp in zip(x._data.shape[2:], k, s, p)]
    _check_out(x._data.shape, out_sz)
    out = AvgPool.apply(x, input_shape=x._data.shape, kernel_size=k, stride=s, padding=p,
                        ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad),
                        divisor_override=divisor_override)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Any:
    """The mean of every length-k window (zero padding counted unless ``count_include_pad``
    is False).

    Example:
        >>> import chainrule
        >>> avg_pool1d(chainrule.tensor([[[1., 2., 3., 4.]]]), 2)
        tensor([[[1.5000, 3.5000]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    """The mean of every ``kH x kW`` window: ``sum(window) / divisor``, where the divisor is
    the window area (clipped at the padded edge), the number of non-padding entries when
    ``count_include_pad`` is False, or ``divisor_override``.

    Example:
        >>> import chainrule
        >>> x = chainrule.arange(16.).reshape(1, 1, 4, 4)
        >>> avg_pool2d(x, 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _output_size(name: str, nd: int, input: Any, output_size: Any) -> tuple[Any, bool, tuple]:
    shape = input._data.shape
    if input._data.ndim not in (nd + 1, nd + 2) or 0 in shape[-nd:]:
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(shape)}")
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise ValueError(f"{name}: output_size must be {nd}")
        sizes = tuple(shape[-nd + i] if o is None else int(o) for i, o in enumerate(output_size))
    else:
        sizes = (int(output_size),) * nd
    if any(o < 0 for o in sizes):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(sizes)}")
    x, unbatched = _batched(input, nd)
    return x, unbatched, sizes


def _adaptive_matrix(n: int, out: int, like: Any) -> Any:
    """(out, n) averaging matrix: row i averages input positions [floor(i n / out),
    ceil((i + 1) n / out))."""
    start, end = _adaptive_bounds(n, out)
    pos = xp.arange(n)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return _backend.wrap((inside / (end - start)[:, None]).astype(like._data.dtype))


def _adaptive_avg(name: str, nd: int, input: Any, output_size: Any) -> Any:
    x, unbatched, sizes = _output_size(name, nd, input, output_size)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"\"adaptive_avg_pool{nd}d\" not implemented for "
                                  f"'{_backend.dtypes.scalar_type_name(x.dtype)}'")
    in_sizes = x._data.shape[2:]
    if 0 in sizes:
        out = x.new_zeros(x._data.shape[:2] + sizes)
    elif all(o and n % o == 0 for n, o in zip(in_sizes, sizes)):
        # equal windows that tile the input: plain average pooling (reshape fast path)
        k = tuple(n // o for n, o in zip(in_sizes, sizes))
        out = AvgPool.apply(x, input_shape=x._data.shape, kernel_size=k, stride=k,
                            padding=(0,) * nd, ceil_mode=False, count_include_pad=True,
                            divisor_override=None)
    else:
        # uneven windows: separable, so one averaging matrix per dim
        out = x
        if nd == 2:
            out = _adaptive_matrix(in_sizes[0], sizes[0], x) @ out
        out = out @ _adaptive_matrix(in_sizes[-1], sizes[-1], x).T
    return out.squeeze(0) if unbatched else out


def _adaptive_max(name: str, nd: int, input: Any, output_size: Any) -> tuple[Any, Any]:
    x, unbatched, sizes = _output_size(name, nd, input, output_size)
    if 0 in sizes:
        raise RuntimeError(f"{name}: elements of output_size must be greater than 0 but "
                           f"received {list(sizes)}")
    x4 = _lift(x._data)
    idx, overlap = _adaptive_max_indices(x4, _hw(sizes, 1))
    if nd == 1:
        idx = idx[:, :, 0, :]
    out = MaxPool.apply(x, indices=idx, input_shape=x._data.shape, overlap=overlap)
    indices = _backend.wrap(idx)
    if unbatched:
        return out.squeeze(0), indices.squeeze(0)
    return out, indices


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Average over L split into ``output_size`` near-equal windows ``[floor(i L / out),
    ceil((i + 1) L / out))``.

    Example:
        >>> import chainrule
        >>> adaptive_avg_pool1d(chainrule.tensor([[[1., 2., 3., 4., 5.]]]), 2)
        tensor([[[2.0000, 4.0000]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average over an ``output_size`` grid of near-equal windows (``None`` keeps a size).

    Example:
        >>> import chainrule
        >>> adaptive_avg_pool2d(chainrule.arange(16.).reshape(1, 1, 4, 4), 1)
        tensor([[[[7.5000]]]])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum over L split into ``output_size`` near-equal windows.

    Example:
        >>> import chainrule
        >>> adaptive_max_pool1d(chainrule.tensor([[[1., 5., 3., 4., 2.]]]), 2)
        tensor([[[5., 4.]]])
    """
    out = _adaptive_max("adaptive_max_pool1d", 1, input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum over an ``output_size`` grid of near-equal windows (``None`` keeps a size).

    Example:
        >>> import chainrule
        >>> adaptive_max_pool2d(chainrule.arange(16.).reshape(1, 1, 4, 4), (1, 2))
        tensor([[[[13., 15.]]]])
    """
    out = _adaptive_max("adaptive_max_pool2d", 2, input, output_size)
    return out if return_indices else out[0]


TENSOR_METHODS: dict[str, Any] = {}
