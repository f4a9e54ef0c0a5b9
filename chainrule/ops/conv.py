"""Convolution primitives: conv1d/conv2d, their transposes, and the weight gradient.

Three primitives close under differentiation, so double backward (a gradient penalty through
a Conv2d) works with no raw-array rule:

- ``Convolution``       y  = x (*) w + b          (cross-correlation, as torch)
- ``ConvTranspose``     y  = x (*)^T w + b        (the adjoint of Convolution in its input)
- ``ConvWeightGrad``    dw = x (*) g              (the adjoint of Convolution in its weight)

The vjp of each is written with the other two, and each is linear in every input, so their
jvps are sums of the same three. 1-d convolutions run as 2-d ones with a height of 1.

How the arrays are laid out (DESIGN.md section 6; measured on the 2-core benchmark,
``benchmarks/bench_conv.py``):

- The batch is processed in chunks of a few samples so that the column matrix of a chunk
  (a few MB) stays in cache between the copy that builds it and the GEMM that reads it;
  one huge column matrix made every GEMM memory-bound (~40% slower end to end).
- Columns are built by one copy from a strided window view (``as_strided``) of the padded
  input; zero padding is written once into a reused buffer, and only its interior is
  refreshed per chunk.
- With a vertical stride of 1 only the horizontal kernel taps are copied (``kw`` shifted
  copies instead of ``kh * kw``, straight from the input): the vertical taps are row offsets
  into the same buffer, so each is a plain strided matrix for BLAS, and the ``kh`` partial
  products are summed.
- The forward runs channels x positions GEMMs written straight into the NCHW output (the
  bias added per chunk while it is in cache); the weight gradient (channels * taps) x
  positions against the cotangent's transposed view.
- The batch is split in one contiguous part per thread, each with its own column buffers,
  and BLAS runs one thread per part (``chainrule/_backend/threads.py``): OpenBLAS threads
  each small chunk GEMM only partly, and the im2col copies run on one core otherwise.
- Measured on the project's 2-core machine (one thread, thread CPU time): the benchmark
  layer (64->64, 3x3, 32x64x32x32) forward 22.4 ms, input gradient 22.6 ms, weight gradient
  22.3 ms, ~100-110 GFLOP/s against ~125 for NumPy's GEMM alone; on two threads forward +
  backward takes about half (the split scales ~1.9x).
- Winograd F(2x2, 3x3) was tried for the forward (2.25x fewer multiplications): its input
  and output transforms, strided NumPy passes, cost more than the GEMM time saved (21.8 ms
  against 14.9 ms for 32->64 on 64x26x26, one thread), so it is not used.
- The transposed convolution is one GEMM to columns, then ``kh * kw`` strided adds back into
  the image (col2im), never ``np.add.at``; with stride 1 it is instead a convolution with the
  flipped kernel, which measured faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import _backend
from chainrule._backend import threads as _threads
from chainrule.autograd.op import Op
from chainrule.ops._util import is_tensor

xp = _backend.xp
_as_strided = xp.lib.stride_tricks.as_strided

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

# Elements of one chunk's column buffer: ~2 MB of float32 stays in cache across the copy
# and the GEMM (2 samples of the benchmark layer per chunk; 4 MB chunks measured ~2x slower).
_CHUNK_ELEMENTS = 1 << 19

# Convolutions of at least this many FLOPs split the batch over the threads (~0.5 ms on one
# core; below it the ~55 us wake-up of a second thread is not paid back).
_PARALLEL_FLOP = 50_000_000


# ---------------------------------------------------------------------------------------------
# Array kernels (2-d spatial, NCHW). Parameters are (height, width) pairs.


def _out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _padded_chunks(x: Any, nb: int, ph: int, pw: int):
    """Yield ``(n0, n1, xpad)``: samples ``n0:n1`` of ``x`` with zero padding, written into one
    reused buffer whose border is zeroed once."""
    N, C, H, W = x.shape
    buf = None
    if ph or pw:
        buf = xp.zeros((min(nb, N), C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        if buf is None:
            yield n0, n1, x[n0:n1]
        else:
            src = buf[:n1 - n0]
            src[:, :, ph:ph + H, pw:pw + W] = x[n0:n1]
            yield n0, n1, src


class _Columns:
    """im2col of one chunk of samples at a time, into a buffer reused across chunks.

    ``full`` layout: ``cols[m, c, i, j, oh, ow] = xpad[m, c, oh*sh + i*dh, ow*sw + j*dw]``,
    a ``(C*kh*kw, Ho*Wo)`` matrix per sample, copied from a window view of the zero-padded
    chunk.
    ``narrow`` layout (vertical stride 1): ``cols[m, c, j, h, ow] = xpad[m, c, h, ow*sw +
    j*dw]`` for every padded row h; tap row i is then the strided matrix starting at row
    ``i*dh``, so only ``kw`` copies of the input are made instead of ``kh * kw``. They are
    copied straight from ``x`` into the in-bounds region; the padding region of the buffer is
    zeroed once and never written again, so no padded copy of the input is made.
    """

    def __init__(self, x_shape: tuple, dtype: Any, kernel: tuple, stride: tuple, padding: tuple,
                 dilation: tuple, groups: int, out_hw: tuple, narrow: bool = True) -> None:
        N, C, H, W = x_shape
        kh, kw = kernel
        Ho, Wo = out_hw
        self.kernel, self.stride, self.dilation, self.groups = kernel, stride, dilation, groups
        self.padding = padding
        self.out_hw = out_hw
        self.Hp = H + 2 * padding[0]
        self.narrow = narrow and stride[0] == 1 and kh > 1
        per_sample = C * kw * self.Hp * Wo if self.narrow else C * kh * kw * Ho * Wo
        self.nb = max(1, min(N, _CHUNK_ELEMENTS // max(per_sample, 1)))
        self.pad_buf = None
        if self.narrow:
            self.buf = xp.zeros((self.nb, C, kw, self.Hp, Wo), dtype=dtype)
        else:
            self.buf = xp.empty((self.nb, C, kh, kw, Ho, Wo), dtype=dtype)
            if padding != (0, 0):
                self.pad_buf = xp.zeros((self.nb, C, self.Hp, W + 2 * padding[1]), dtype=dtype)

    def chunks(self, x: Any):
        """Yield ``(n0, n1, matrix)`` over the batch: the column matrix of samples ``n0:n1``,
        full: ``(m, G, Cg*kh*kw, Ho*Wo)``; narrow: ``(m, G, kh, Cg*kw, Ho*Wo)``."""
        N = x.shape[0]
        for n0 in range(0, N, self.nb):
            n1 = min(N, n0 + self.nb)
            if self.narrow:
                yield n0, n1, self._narrow(x[n0:n1])
            else:
                yield n0, n1, self._full(x[n0:n1])

    def _narrow(self, x: Any) -> Any:
        m, C, H, W = x.shape
        kh, kw = self.kernel
        (_, sw), (dh, dw), (ph, pw) = self.stride, self.dilation, self.padding
        Ho, Wo = self.out_hw
        buf = self.buf[:m]
        for j in range(kw):
            # output columns whose tap j lands inside the input: pw <= ow*sw + j*dw < pw + W
            lo = max(0, -((j * dw - pw) // sw))
            hi = min(Wo, (W - 1 + pw - j * dw) // sw + 1)
            if lo < hi:
                start = lo * sw + j * dw - pw
                buf[:, :, j, ph:ph + H, lo:hi] = x[:, :, :, start:start + (hi - lo - 1) * sw + 1:sw]
        it = buf.itemsize
        rows = C // self.groups * kw
        plane = self.Hp * Wo * it
        return _as_strided(buf, (m, self.groups, kh, rows, Ho * Wo),
                           (buf.strides[0], rows * plane, dh * Wo * it, plane, it))

    def _full(self, x: Any) -> Any:
        m, C, H, W = x.shape
        kh, kw = self.kernel
        (sh, sw), (dh, dw), (ph, pw) = self.stride, self.dilation, self.padding
        Ho, Wo = self.out_hw
        src = x
        if self.pad_buf is not None:
            src = self.pad_buf[:m]
            src[:, :, ph:ph + H, pw:pw + W] = x
        s0, s1, s2, s3 = src.strides
        buf = self.buf[:m]
        xp.copyto(buf, _as_strided(src, (m, C, kh, kw, Ho, Wo),
                                   (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw)))
        return buf.reshape(m, self.groups, C // self.groups * kh * kw, Ho * Wo)


def _over_batch(N: int, flop: int, fn: Any) -> list[Any]:
    """``fn(n0, n1)`` over the whole batch, or over one contiguous part of the batch per
    thread when the work is large enough (chainrule/_backend/threads.py); the results in
    batch order. Each part builds its own column buffers, so the parts share nothing they
    write but disjoint slices of the output."""
    return _threads.over_range(N, fn, worth_it=flop >= _PARALLEL_FLOP)


def _conv2d(x: Any, w: Any, stride: tuple, padding: tuple, dilation: tuple,
            groups: int, bias: Any = None) -> Any:
    N, C, H, W = x.shape
    Cout, Cg, kh, kw = w.shape
    Ho = _out_size(H, kh, stride[0], padding[0], dilation[0])
    Wo = _out_size(W, kw, stride[1], padding[1], dilation[1])
    G = groups
    Cog = Cout // G
    dtype = xp.result_type(x, w)
    out = xp.empty((N, Cout, Ho, Wo), dtype=dtype)
    if out.size == 0:
        return out
    if C == 0:
        out[...] = 0 if bias is None else bias.reshape(1, Cout, 1, 1)
        return out
    out_g = out.reshape(N, G, Cog, Ho * Wo)
    if kh == kw == 1 and padding == (0, 0):
        # 1x1: the input (strided if need be) is already the column matrix
        src = x if stride == (1, 1) else x[:, :, ::stride[0], ::stride[1]]
        src = xp.ascontiguousarray(src).reshape(N, G, Cg, Ho * Wo)
        w1 = w.reshape(G, Cog, Cg)
        _over_batch(N, 2 * N * Cout * Cg * Ho * Wo,
                    lambda n0, n1: xp.matmul(w1, src[n0:n1], out=out_g[n0:n1]))
        if bias is not None:
            out += bias.reshape(1, Cout, 1, 1)
        return out
    flop = 2 * N * Cout * Cg * kh * kw * Ho * Wo
    # Few input channels (a first layer: 1 or 3 channels): the narrow layout's GEMMs would
    # have an inner size of Cg*kw (3 for MNIST), which BLAS runs badly: full columns.
    # Measured (64 samples, 2 cores): 1->32 3x3 on 28x28 3.6 -> 0.6 ms; 3->32 3x3 on 32x32
    # 5.4 -> 1.7 ms; 3->64 7x7 21 -> 9 ms. From Cg*kw = 24 on, narrow wins.
    narrow = Cg * kw >= 24 and stride[0] == 1 and kh > 1
    cols_args = ((kh, kw), stride, padding, dilation, G, (Ho, Wo))
    # Channels x positions GEMMs written straight into the NCHW output (the kh partial
    # products of the narrow layout summed there). Measured with one thread against
    # positions x channels plus a transposing copy: 32->64 on 64x26x26 15.2 -> 13.6 ms,
    # bench_conv.py's layer 24.3 -> 22.9 ms, and equal or faster on 7 other shapes.
    if narrow:
        # w[o, c, i, j] -> wn[g, i, o, (c, j)], matching the narrow column rows
        wn = xp.ascontiguousarray(
            w.reshape(G, Cog, Cg, kh, kw).transpose(0, 3, 1, 2, 4)).reshape(G, kh, Cog, Cg * kw)
    else:
        wg = w.reshape(G, Cog, Cg * kh * kw)
    b_g = None if bias is None else bias.reshape(G, Cog, 1)

    def part(n0: int, n1: int) -> None:
        cols = _Columns((n1 - n0,) + x.shape[1:], dtype, *cols_args, narrow=narrow)
        if narrow:
            tmp = xp.empty((cols.nb, G, Cog, Ho * Wo), dtype=dtype)
        for m0, m1, mat in cols.chunks(x[n0:n1]):
            target = out_g[n0 + m0:n0 + m1]
            if narrow:  # mat: (m, G, kh, Cg*kw, Ho*Wo), one strided matrix per tap row
                xp.matmul(wn[:, 0], mat[:, :, 0], out=target)
                t = tmp[:m1 - m0]
                for i in range(1, kh):
                    xp.matmul(wn[:, i], mat[:, :, i], out=t)
                    target += t
            else:  # mat: (m, G, Cg*kh*kw, Ho*Wo)
                xp.matmul(wg, mat, out=target)
            if b_g is not None:
                target += b_g  # while the chunk is in cache

    _over_batch(N, flop, part)
    return out


def _conv_transpose2d(x: Any, w: Any, stride: tuple, padding: tuple, output_padding: tuple,
                      dilation: tuple, groups: int) -> Any:
    N, Cin, Hi, Wi = x.shape
    _, Cog, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    G = groups
    Cig = Cin // G
    Cout = Cog * G
    Ho = (Hi - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding[0] + 1
    Wo = (Wi - 1) * sw - 2 * pw + dw * (kw - 1) + output_padding[1] + 1
    dtype = xp.result_type(x, w)
    if (sh == sw == 1 and output_padding == (0, 0) and ph <= dh * (kh - 1)
            and pw <= dw * (kw - 1) and N * Cin and Ho > 0 and Wo > 0 and kh * kw > 1):
        # Stride 1: the transpose is a convolution of x with the flipped, transposed kernel
        # and the complementary padding; its column copy and GEMM beat GEMM + col2im (~40%
        # faster on the benchmark layer's input gradient).
        flipped = w.reshape(G, Cig, Cog, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
        flipped = xp.ascontiguousarray(flipped).reshape(Cout, Cig, kh, kw)
        return _conv2d(x, flipped, (1, 1), (dh * (kh - 1) - ph, dw * (kw - 1) - pw),
                       dilation, G)
    out = xp.zeros((N, Cout, Ho, Wo), dtype=dtype)
    if out.size == 0 or Cin == 0:
        return out
    Hp, Wp = Ho + 2 * ph, Wo + 2 * pw
    wt = w.reshape(G, Cig, Cog * kh * kw).transpose(0, 2, 1)  # (G, Cog*kh*kw, Cig)
    per_sample = Cout * kh * kw * Hi * Wi
    padded = ph or pw
    xg = x.reshape(N, G, Cig, Hi * Wi)
    hspan, wspan = sh * (Hi - 1) + 1, sw * (Wi - 1) + 1

    def part(p0: int, p1: int) -> None:  # samples p0:p1, one part of the batch
        nb = max(1, min(p1 - p0, _CHUNK_ELEMENTS // max(per_sample, 1)))
        cols = xp.empty((nb, G, Cog * kh * kw, Hi * Wi), dtype=dtype)
        buf = xp.empty((nb, Cout, Hp, Wp), dtype=dtype) if padded else None
        for n0 in range(p0, p1, nb):
            n1 = min(p1, n0 + nb)
            m = n1 - n0
            c = cols[:m]
            xp.matmul(wt, xg[n0:n1], out=c)
            c6 = c.reshape(m, Cout, kh, kw, Hi, Wi)
            if padded:
                target = buf[:m]
                target[...] = 0
            else:
                target = out[n0:n1]
            # col2im: one strided add per kernel tap
            for i in range(kh):
                for j in range(kw):
                    target[:, :, i * dh:i * dh + hspan:sh,
                           j * dw:j * dw + wspan:sw] += c6[:, :, i, j]
            if padded:
                out[n0:n1] = target[:, :, ph:ph + Ho, pw:pw + Wo]

    _over_batch(N, 2 * N * Cin * Cog * kh * kw * Hi * Wi, part)
    return out


def _conv_weight2d(x: Any, g: Any, kernel: tuple, stride: tuple, padding: tuple,
                   dilation: tuple, groups: int) -> Any:
    N, C, H, W = x.shape
    _, Cout, Ho, Wo = g.shape
    kh, kw = kernel
    G = groups
    Cg, Cog = C // G, Cout // G
    dtype = xp.result_type(x, g)
    if N == 0 or Ho * Wo == 0 or C == 0 or Cout == 0:
        return xp.zeros((Cout, Cg, kh, kw), dtype=dtype)
    gg = g.reshape(N, G, Cog, Ho * Wo)
    if kh == kw == 1 and padding == (0, 0):
        src = x if stride == (1, 1) else x[:, :, ::stride[0], ::stride[1]]
        src = src.reshape(N, G, Cg, Ho * Wo) if src.flags.c_contiguous else \
            xp.ascontiguousarray(src).reshape(N, G, Cg, Ho * Wo)
        partials = _over_batch(
            N, 2 * N * Cout * Cg * Ho * Wo,
            lambda n0, n1: xp.matmul(gg[n0:n1], src[n0:n1].swapaxes(-1, -2)).sum(axis=0))
        return sum(partials[1:], partials[0]).reshape(Cout, Cg, 1, 1)
    # Few input channels (a first layer): full columns, and out-channels x (channels*taps)
    # products, g @ cols^T. Measured (1->32 3x3 on 64x28x28, one thread): 1.31 ms with the
    # narrow layout's GEMMs of inner size Cg*kw = 3, 0.55 ms.
    first_layer = Cg * kw < 24
    narrow = not first_layer and stride[0] == 1 and kh > 1  # _Columns' narrow layout

    def part(n0: int, n1: int) -> Any:
        cols = _Columns((n1 - n0,) + x.shape[1:], dtype, kernel, stride, padding, dilation, G,
                        (Ho, Wo), narrow=narrow)
        acc = None
        # Otherwise (channels*taps x positions) @ (positions x out-channels), the cotangent
        # read through a transposed view: 137 GFLOP/s against 119 for g @ cols^T; a
        # contiguous transposed copy of g would run the GEMM at 184 but the copy itself costs
        # more than it saves.
        for m0, m1, mat in cols.chunks(x[n0:n1]):
            g_m = gg[n0 + m0:n0 + m1]  # (m, G, Cog, Ho*Wo)
            if first_layer:
                prod = xp.matmul(g_m, mat.swapaxes(-1, -2))  # (m, G, Cog, Cg*kh*kw)
            elif narrow:
                prod = xp.matmul(mat, g_m.swapaxes(-1, -2)[:, :, None])  # (m, G, kh, Cg*kw, Cog)
            else:
                prod = xp.matmul(mat, g_m.swapaxes(-1, -2))  # (m, G, Cg*kh*kw, Cog)
            prod = prod.sum(axis=0) if prod.shape[0] > 1 else prod[0]
            if acc is None:
                acc = prod
            else:
                acc += prod
        return acc

    partials = _over_batch(N, 2 * N * Cout * Cg * kh * kw * Ho * Wo, part)
    acc = partials[0]
    for more in partials[1:]:
        acc += more
    if first_layer:
        return acc.reshape(Cout, Cg, kh, kw)
    if narrow:
        return acc.reshape(G, kh, Cg, kw, Cog).transpose(0, 4, 2, 1, 3).reshape(Cout, Cg, kh, kw)
    return acc.reshape(G, Cg * kh * kw, Cog).swapaxes(-1, -2).reshape(Cout, Cg, kh, kw)


# ---------------------------------------------------------------------------------------------
# 1-d as 2-d: a height-1 image and (1, k) kernels


def _lift(a: Any) -> Any:
    return a[:, :, None, :] if a.ndim == 3 else a


def _hw(p: tuple, fill: int) -> tuple:
    """A 1-d parameter as the (height, width) pair of a height-1 image."""
    return tuple(p) if len(p) == 2 else (fill,) + tuple(p)


def _sum_bias(g: Any) -> Any:
    return g.sum((0,) + tuple(range(2, g.ndim)))


def _bias_shape(b: Any, nd: int) -> Any:
    return b.reshape((1, -1) + (1,) * (nd - 2))


def _transpose_padding(x_shape: tuple, g_shape: tuple, kernel: tuple, stride: tuple,
                       padding: tuple, dilation: tuple) -> tuple:
    """The output_padding that makes conv_transpose(g) come back to ``x_shape``: the rows a
    strided convolution never reached."""
    return tuple(n - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
                 for n, o, k, s, p, d in zip(x_shape[2:], g_shape[2:], kernel, stride, padding,
                                             dilation))


def _crop(t: Any, shape: tuple) -> Any:
    """``t`` cut to ``shape``'s spatial size: a convolution over a transposed convolution's
    output also yields the positions its output_padding added (stride 1 < dilation)."""
    if t._data.shape[2:] == tuple(shape[2:]):
        return t
    return t[(slice(None), slice(None)) + tuple(slice(0, n) for n in shape[2:])]


class Convolution(Op):
    """out = x (*) w + b (cross-correlation over the trailing 1 or 2 dims);
    d out = dx (*) w + x (*) dw + db."""

    backward_name = "ConvolutionBackward0"

    @staticmethod
    def forward(x, w, *b, stride, padding, dilation, groups):
        out = _conv2d(_lift(x), _lift(w), _hw(stride, 1), _hw(padding, 0), _hw(dilation, 1),
                      groups, b[0] if b else None)
        return out[:, :, 0, :] if x.ndim == 3 else out

    @staticmethod
    def vjp(g, out, x, w, *b, stride, padding, dilation, groups):
        gx = gw = None
        if x._requires_grad:
            op = _transpose_padding(x._data.shape, g._data.shape, w._data.shape[2:], stride,
                                    padding, dilation)
            gx = ConvTranspose.apply(g, w, stride=stride, padding=padding, output_padding=op,
                                     dilation=dilation, groups=groups)
        if w._requires_grad:
            gw = ConvWeightGrad.apply(x, g, kernel_size=w._data.shape[2:], stride=stride,
                                      padding=padding, dilation=dilation, groups=groups)
        if b:
            return gx, gw, (_sum_bias(g) if b[0]._requires_grad else None)
        return gx, gw

    @staticmethod
    def jvp(x_dot, w_dot, *rest, stride, padding, dilation, groups):
        has_b = len(rest) == 5  # rest = (b_dot, out, x, w, b) or (out, x, w)
        b_dot = rest[0] if has_b else None
        x, w = rest[1 + has_b], rest[2 + has_b]
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        out = Convolution.apply(x_dot, w, **kw) + Convolution.apply(x, w_dot, **kw)
        if b_dot is not None:
            out = out + _bias_shape(b_dot, x.ndim)
        return out


class ConvTranspose(Op):
    """out = x (*)^T w + b, the adjoint of Convolution in its input ("deconvolution");
    d out = dx (*)^T w + x (*)^T dw + db."""

    backward_name = "ConvolutionBackward0"

    @staticmethod
    def forward(x, w, *b, stride, padding, output_padding, dilation, groups):
        nd = x.ndim
        out = _conv_transpose2d(_lift(x), _lift(w), _hw(stride, 1), _hw(padding, 0),
                                _hw(output_padding, 0), _hw(dilation, 1), groups)
        if nd == 3:
            out = out[:, :, 0, :]
        if b:
            out += b[0].reshape((1, -1) + (1,) * (nd - 2))
        return out

    @staticmethod
    def vjp(g, out, x, w, *b, stride, padding, output_padding, dilation, groups):
        gx = gw = None
        if x._requires_grad:
            gx = _crop(Convolution.apply(g, w, stride=stride, padding=padding, dilation=dilation,
                                         groups=groups), x._data.shape)
        if w._requires_grad:
            gw = ConvWeightGrad.apply(g, x, kernel_size=w._data.shape[2:], stride=stride,
                                      padding=padding, dilation=dilation, groups=groups)
        if b:
            return gx, gw, (_sum_bias(g) if b[0]._requires_grad else None)
        return gx, gw

    @staticmethod
    def jvp(x_dot, w_dot, *rest, stride, padding, output_padding, dilation, groups):
        has_b = len(rest) == 5
        b_dot = rest[0] if has_b else None
        x, w = rest[1 + has_b], rest[2 + has_b]
        kw = dict(stride=stride, padding=padding, output_padding=output_padding,
                  dilation=dilation, groups=groups)
        out = ConvTranspose.apply(x_dot, w, **kw) + ConvTranspose.apply(x, w_dot, **kw)
        if b_dot is not None:
            out = out + _bias_shape(b_dot, x.ndim)
        return out


class ConvWeightGrad(Op):
    """out = x (*) g, the weight gradient of ``Convolution(x, w)`` for output cotangent g
    (bilinear);  d out = dx (*) g + x (*) dg."""

    backward_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(x, g, *, kernel_size, stride, padding, dilation, groups):
        nd = x.ndim
        out = _conv_weight2d(_lift(x), _lift(g), _hw(kernel_size, 1), _hw(stride, 1),
                             _hw(padding, 0), _hw(dilation, 1), groups)
        return out[:, :, 0, :] if nd == 3 else out

    @staticmethod
    def vjp(h, out, x, g, *, kernel_size, stride, padding, dilation, groups):
        # <x (*) g, h> = <conv(x, h), g> = <x, conv_transpose(g, h)>
        gx = gg = None
        if x._requires_grad:
            op = _transpose_padding(x._data.shape, g._data.shape, kernel_size, stride, padding,
                                    dilation)
            gx = ConvTranspose.apply(g, h, stride=stride, padding=padding, output_padding=op,
                                     dilation=dilation, groups=groups)
        if g._requires_grad:
            gg = _crop(Convolution.apply(x, h, stride=stride, padding=padding, dilation=dilation,
                                         groups=groups), g._data.shape)
        return gx, gg

    @staticmethod
    def jvp(x_dot, g_dot, out, x, g, *, kernel_size, stride, padding, dilation, groups):
        kw = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                  groups=groups)
        return ConvWeightGrad.apply(x_dot, g, **kw) + ConvWeightGrad.apply(x, g_dot, **kw)


# ---------------------------------------------------------------------------------------------
# unfold / fold: im2col and its adjoint as primitives of their own


def _im2col(x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple) -> Any:
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    Ho = _out_size(H, kh, sh, padding[0], dh)
    Wo = _out_size(W, kw, sw, padding[1], dw)
    cols = xp.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for _, _, src in _padded_chunks(x, max(N, 1), *padding):
        s0, s1, s2, s3 = src.strides
        xp.copyto(cols, _as_strided(src, cols.shape, (s0, s1, s2 * dh, s3 * dw, s2 * sh,
                                                      s3 * sw)))
    return cols.reshape(N, C * kh * kw, Ho * Wo)


def _col2im(cols: Any, out_hw: tuple, kernel: tuple, stride: tuple, padding: tuple,
            dilation: tuple) -> Any:
    N = cols.shape[0]
    H, W = out_hw
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    Ho, Wo = _out_size(H, kh, sh, ph, dh), _out_size(W, kw, sw, pw, dw)
    C = cols.shape[1] // (kh * kw)
    c6 = cols.reshape(N, C, kh, kw, Ho, Wo)
    buf = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    hspan, wspan = sh * (Ho - 1) + 1, sw * (Wo - 1) + 1
    for i in range(kh):  # one strided add per kernel tap
        for j in range(kw):
            buf[:, :, i * dh:i * dh + hspan:sh, j * dw:j * dw + wspan:sw] += c6[:, :, i, j]
    if ph or pw:
        return xp.ascontiguousarray(buf[:, :, ph:ph + H, pw:pw + W])
    return buf


class Im2Col(Op):
    """out[n, (c, i, j), l] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw] (F.unfold);
    d out = the same of dx."""

    name = "im2col"
    needs_inputs = False

    @staticmethod
    def forward(x, *, input_size, kernel_size, dilation, padding, stride):
        return _im2col(x, kernel_size, stride, padding, dilation)

    @staticmethod
    def vjp(g, out, x, *, input_size, kernel_size, dilation, padding, stride):
        return (Col2Im.apply(g, output_size=input_size, kernel_size=kernel_size,
                             dilation=dilation, padding=padding, stride=stride),)

    @staticmethod
    def jvp(x_dot, out, x, *, input_size, kernel_size, dilation, padding, stride):
        return Im2Col.apply(x_dot, input_size=input_size, kernel_size=kernel_size,
                            dilation=dilation, padding=padding, stride=stride)


class Col2Im(Op):
    """out = the sum of every block of columns placed back at its window (F.fold, the
    adjoint of Im2Col);  d out = the same of dcols."""

    name = "col2im"
    needs_inputs = False

    @staticmethod
    def forward(cols, *, output_size, kernel_size, dilation, padding, stride):
        return _col2im(cols, output_size, kernel_size, stride, padding, dilation)

    @staticmethod
    def vjp(g, out, cols, *, output_size, kernel_size, dilation, padding, stride):
        return (Im2Col.apply(g, input_size=output_size, kernel_size=kernel_size,
                             dilation=dilation, padding=padding, stride=stride),)

    @staticmethod
    def jvp(c_dot, out, cols, *, output_size, kernel_size, dilation, padding, stride):
        return Col2Im.apply(c_dot, output_size=output_size, kernel_size=kernel_size,
                            dilation=dilation, padding=padding, stride=stride)


def _pairs(*values: Any) -> list[tuple[int, int]]:
    return [_ntuple(v, 2, "kernel_size") if isinstance(v, (list, tuple)) else (int(v),) * 2
            for v in values]


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Any:
    """Sliding ``kH x kW`` blocks as columns: ``(N, C, H, W) -> (N, C*kH*kW, L)`` with L the
    number of blocks (im2col; ``F.unfold``).

    Example:
        >>> import chainrule
        >>> unfold(chainrule.arange(4.).reshape(1, 1, 2, 2), 1).shape
        chainrule.Size([1, 1, 4])
    """
    nd = input._data.ndim
    if nd not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported "
                                  f"(got {nd}D)")
    k, d, p, s = _pairs(kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if nd == 3 else input
    H, W = x._data.shape[2:]
    blocks = (_out_size(H, k[0], s[0], p[0], d[0]), _out_size(W, k[1], s[1], p[1], d[1]))
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size ({H}, {W}), kernel_size={k}, "
                           f"dilation={d}, padding={p}, calculated shape of the array of "
                           f"sliding blocks as {blocks}, but its components must be at least "
                           f"one.")
    out = Im2Col.apply(x, input_size=(H, W), kernel_size=k, dilation=d, padding=p, stride=s)
    return out.squeeze(0) if nd == 3 else out


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Any:
    """Sum columns of blocks back into an image: ``(N, C*kH*kW, L) -> (N, C, *output_size)``,
    overlapping entries added (col2im; ``F.fold``, the adjoint of :func:`unfold`).

    Example:
        >>> import chainrule
        >>> fold(chainrule.ones(1, 4, 4), (3, 3), 2)
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    nd = input._data.ndim
    if nd not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {nd}D)")
    o, k, d, p, s = _pairs(output_size, kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if nd == 2 else input
    c, L = x._data.shape[1:]
    if c % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={c} and kernel_size={k}.")
    blocks = (_out_size(o[0], k[0], s[0], p[0], d[0]), _out_size(o[1], k[1], s[1], p[1], d[1]))
    if blocks[0] * blocks[1] != L or min(blocks) < 1:
        raise RuntimeError(f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, "
                           f"stride={s}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={L}.")
    out = Col2Im.apply(x, output_size=o, kernel_size=k, dilation=d, padding=p, stride=s)
    return out.squeeze(0) if nd == 2 else out


# ---------------------------------------------------------------------------------------------
# Public functions (torch.conv2d, torch.nn.functional.conv2d, ...)


def _size_str(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """``value`` as an n-tuple of ints (an int is repeated), torch's check on the length."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               f"values to match the convolution dimensions, but got "
                               f"{name}={list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
               "int64": "long int", "int32": "int"}
_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                 "bool": "Bool"}


def _scalar_name(t: Any) -> str:
    name = t._data.dtype.name
    return _SCALAR_NAMES.get(name, name)


def _check_dtypes(input: Any, weight: Any, bias: Any) -> None:
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input)} but found "
                           f"{_scalar_name(weight)}")
    if bias is not None and bias._data.dtype != input._data.dtype:
        a = _TYPE_NAMES.get(input._data.dtype.name, input._data.dtype.name)
        b = _TYPE_NAMES.get(bias._data.dtype.name, bias._data.dtype.name)
        raise RuntimeError(f"Input type ({a}) and bias type ({b}) should be the same")


def _check_common(name: str, nd: int, input: Any, weight: Any, bias: Any, stride: tuple,
                  dilation: tuple, groups: int) -> None:
    if not is_tensor(input) or not is_tensor(weight):
        bad = "input" if not is_tensor(input) else "weight"
        raise TypeError(f"{name}() argument '{bad}' must be Tensor, not "
                        f"{type(input if bad == 'input' else weight).__name__}")
    ishape, wshape = input._data.shape, weight._data.shape
    if len(ishape) not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {_size_str(ishape)}")
    if len(wshape) != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}-dimensional weight for {name}, but got "
                           f"{len(wshape)}-dimensional weight of size {_size_str(wshape)} "
                           f"instead")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    _check_dtypes(input, weight, bias)


def _convolution(name: str, nd: int, input: Any, weight: Any, bias: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int) -> Any:
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    groups = int(groups)
    _check_common(name, nd, input, weight, bias, stride, dilation, groups)
    wshape = weight._data.shape
    kernel = wshape[2:]
    extra_right = None
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            padding = tuple(t // 2 for t in total)
            extra_right = tuple(t - 2 * (t // 2) for t in total)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _ntuple(padding, nd, "padding")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    unbatched = input._data.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if extra_right is not None and any(extra_right):
        pad = []
        for e in reversed(extra_right):
            pad += [0, e]
        from chainrule.ops.movement import constant_pad_nd

        x = constant_pad_nd(x, pad)
    xshape = x._data.shape
    if wshape[0] == 0 or wshape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be "
                           f"{'at least 1' if wshape[0] == 0 else f'divisible by {groups}'} at "
                           f"dimension 0, but got weight of size [{_size_str(wshape)}] instead")
    if xshape[1] != wshape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_size_str(wshape)}, expected "
                           f"input{_size_str(xshape)} to have {wshape[1] * groups} channels, but "
                           f"got {xshape[1]} channels instead")
    padded = [n + 2 * p for n, p in zip(xshape[2:], padding)]
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(str(p) for p in padded)}). Kernel size: "
                           f"({' x '.join(str(e) for e in eff)}). Kernel size can't be greater "
                           f"than actual input size")
    if bias is not None and bias._data.shape != (wshape[0],):
        raise RuntimeError(f"Given weight of size {_size_str(wshape)}, expected bias to be "
                           f"1-dimensional with {wshape[0]} elements, but got bias of size "
                           f"{_size_str(bias._data.shape)} instead")
    args = (x, weight) if bias is None else (x, weight, bias)
    out = Convolution.apply(*args, stride=stride, padding=padding, dilation=dilation,
                            groups=groups)
    return out.squeeze(0) if unbatched else out


def _transposed(name: str, nd: int, input: Any, weight: Any, bias: Any, stride: Any,
                padding: Any, output_padding: Any, groups: int, dilation: Any) -> Any:
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    padding = _ntuple(padding, nd, "padding")
    output_padding = _ntuple(output_padding, nd, "output_padding")
    groups = int(groups)
    _check_common(name, nd, input, weight, bias, stride, dilation, groups)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        dims = ("height", "width") if nd == 2 else ("width",)
        parts = [f"output_padding_{n}: {v}" for n, v in zip(dims, output_padding)]
        parts += [f"stride_{n}: {v}" for n, v in zip(dims, stride)]
        parts += [f"dilation_{n}: {v}" for n, v in zip(dims, dilation)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                           "got " + " ".join(parts))
    unbatched = input._data.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    xshape, wshape = x._data.shape, weight._data.shape
    if wshape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{_size_str(wshape)}] "
                           f"instead")
    if xshape[1] != wshape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {_size_str(wshape)}, expected "
                           f"input{_size_str(xshape)} to have {wshape[0]} channels, but got "
                           f"{xshape[1]} channels instead")
    out_sizes = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                 zip(xshape[2:], stride, padding, dilation, wshape[2:], output_padding)]
    if any(o <= 0 for o in out_sizes):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, xshape[2:]))})."
                           f" Calculated output size per channel: "
                           f"({' x '.join(map(str, out_sizes))}). Output size is too small")
    nout = wshape[1] * groups
    if bias is not None and bias._data.shape != (nout,):
        raise RuntimeError(f"Given transposed=1, weight of size {_size_str(wshape)}, expected "
                           f"bias to be 1-dimensional with {nout} elements, but got bias of "
                           f"size {_size_str(bias._data.shape)} instead")
    args = (x, weight) if bias is None else (x, weight, bias)
    out = ConvTranspose.apply(*args, stride=stride, padding=padding,
                              output_padding=output_padding, dilation=dilation, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """1-d cross-correlation: ``out[n, o, l] = b[o] + sum_{c, k} w[o, c, k] x[n, c, l*s + k*d]``.

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_out, C_in / groups, k)``.
        bias: optional ``(C_out,)``.
        stride, padding, dilation: ints or 1-tuples; padding may be ``'same'`` or ``'valid'``.
        groups: split the channels into this many independent convolutions.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[[1., 2., 3., 4.]]])
        >>> chainrule.conv1d(x, chainrule.tensor([[[1., -1.]]]))
        tensor([[[-1., -1., -1.]]])
    """
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """2-d cross-correlation: ``out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q]
    x[n, c, i*sh + p*dh, j*sw + q*dw]`` over the zero-padded input.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, padding, dilation: ints or pairs; padding may be ``'same'`` or ``'valid'``.
        groups: split the channels into this many independent convolutions.

    Example:
        >>> import chainrule
        >>> x = chainrule.arange(9.).reshape(1, 1, 3, 3)
        >>> chainrule.conv2d(x, chainrule.ones(1, 1, 2, 2))
        tensor([[[[ 8., 12.],
                  [20., 24.]]]])
    """
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """1-d transposed convolution: the adjoint of :func:`conv1d` in its input, plus bias.

    Output length ``(L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Example:
        >>> import chainrule
        >>> chainrule.conv_transpose1d(chainrule.tensor([[[1., 2.]]]),
        ...                            chainrule.tensor([[[1., 10.]]]))
        tensor([[[ 1., 12., 20.]]])
    """
    return _transposed("conv_transpose1d", 1, input, weight, bias, stride, padding,
                       output_padding, groups, dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """2-d transposed convolution ("deconvolution"): the adjoint of :func:`conv2d` in its
    input, plus bias; each input pixel adds ``x * w`` into a ``kH x kW`` output window.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_in, C_out / groups, kH, kW)``.
        output_padding: extra rows/cols on the bottom/right (less than stride or dilation).

    Example:
        >>> import chainrule
        >>> x = chainrule.ones(1, 1, 2, 2)
        >>> chainrule.conv_transpose2d(x, chainrule.ones(1, 1, 2, 2), stride=2).shape
        chainrule.Size([1, 1, 4, 4])
    """
    return _transposed("conv_transpose2d", 2, input, weight, bias, stride, padding,
                       output_padding, groups, dilation)


TENSOR_METHODS: dict[str, Any] = {}
