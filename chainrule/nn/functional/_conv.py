"""Convolution, pooling, normalization and resampling functions of ``torch.nn.functional``.

The primitives live in ``chainrule.ops.conv``, ``ops.pool`` and ``ops.norm``; this module adds
the functions that are pure compositions (interpolation) and re-exports the rest under F's
names.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d, fold, unfold
from chainrule.ops.norm import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
)
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
)

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
           "max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "batch_norm", "instance_norm", "layer_norm",
           "group_norm", "local_response_norm", "interpolate", "upsample", "upsample_nearest",
           "upsample_bilinear"]


def adaptive_max_pool1d_with_indices(input: Any, output_size: Any,
                                     return_indices: bool = False) -> tuple[Any, Any]:
    """:func:`adaptive_max_pool1d` returning ``(values, indices)``.

    Example:
        >>> import chainrule
        >>> adaptive_max_pool1d_with_indices(chainrule.tensor([[[1., 5., 3.]]]), 1)[1]
        tensor([[[1]]])
    """
    return adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input: Any, output_size: Any,
                                     return_indices: bool = False) -> tuple[Any, Any]:
    """:func:`adaptive_max_pool2d` returning ``(values, indices)``.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[[[1., 5.], [3., 2.]]]])
        >>> adaptive_max_pool2d_with_indices(x, 1)[1]
        tensor([[[[1]]]])
    """
    return adaptive_max_pool2d(input, output_size, return_indices=True)


# ---------------------------------------------------------------------------------------------
# Interpolation: separable, one gather (index_select) and blend per spatial dim

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}


def _sizes(input: Any, size: Any, scale_factor: Any, recompute_scale_factor: Any
           ) -> tuple[list[int], list[float | None]]:
    """Output sizes and the scales the kernels use (None: in / out), as torch computes them."""
    spatial = list(input._data.shape[2:])
    nd = len(spatial)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {spatial} "
                             f"and output size of {tuple(sizes)}. Please provide input tensor "
                             f"in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                             f"...,oK) format.")
        return [int(s) for s in sizes], [None] * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) \
        else [scale_factor] * nd
    if len(scales) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of {spatial} and "
                         f"scale_factor of shape {tuple(scales)}. Please provide input tensor "
                         f"in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                         f"format.")
    sizes = [int(math.floor(float(n) * float(s))) for n, s in zip(spatial, scales)]
    if recompute_scale_factor:
        return sizes, [None] * nd
    return sizes, [float(s) for s in scales]


def _index(idx: np.ndarray) -> Any:
    return _backend.wrap(_backend.xp.asarray(idx, dtype=np.int64))


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    # torch computes the source index in float32: floor(dst * scale) (nearest) or
    # floor((dst + 0.5) * scale) (nearest-exact), scale = 1 / scale_factor or in / out
    s = np.float32(1.0 / scale if scale is not None and scale > 0 else n_in / n_out)
    dst = np.arange(n_out, dtype=np.float32)
    if exact:
        dst = dst + np.float32(0.5)
    return np.minimum(np.floor(dst * s).astype(np.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                    dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, lambda1): out[j] = (1 - lambda1) x[i0] + lambda1 x[i1], torch's source index
    (align_corners maps the corner pixels' centres onto each other; otherwise half-pixel
    centres, clamped at 0), computed in the input's precision as torch does."""
    if align_corners:
        s = dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
        src = s * np.arange(n_out, dtype=dtype)
    else:
        s = dtype.type(1.0 / scale if scale is not None and scale > 0 else n_in / n_out)
        src = s * (np.arange(n_out, dtype=dtype) + dtype.type(0.5)) - dtype.type(0.5)
        src = np.maximum(src, dtype.type(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    lam = (src - i0.astype(dtype)).astype(dtype)
    return i0, i1, lam


def _blend(x: Any, dim: int, i0: np.ndarray, i1: np.ndarray, lam: np.ndarray) -> Any:
    shape = [1] * x._data.ndim
    shape[dim] = lam.shape[0]
    w1 = _backend.wrap(lam.reshape(shape))
    w0 = _backend.wrap((1 - lam).reshape(shape))
    return x.index_select(dim, _index(i0)) * w0 + x.index_select(dim, _index(i1)) * w1


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Any:
    """Resample the spatial dims to ``size`` (or ``floor(in * scale_factor)``).

    Modes: ``'nearest'`` (source ``floor(dst * in / out)``), ``'nearest-exact'``
    (``floor((dst + 0.5) * in / out)``), ``'linear'`` / ``'bilinear'`` / ``'trilinear'``
    (separable linear blends; ``align_corners`` maps corner pixels onto each other instead of
    half-pixel centres), ``'area'`` (adaptive average pooling). Given ``scale_factor``, the
    coordinate map uses ``1 / scale_factor`` unless ``recompute_scale_factor``, as torch.

    Note:
        bicubic and antialiased resampling are not implemented (NotImplementedError).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[[1., 2.]]])
        >>> interpolate(x, scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
        >>> interpolate(x, size=3, mode='linear', align_corners=True)
        tensor([[[1.0000, 1.5000, 2.0000]]])
    """
    nd = input._data.ndim
    if mode not in _MODES or nd not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{nd}D) for the modes: nearest | linear | bilinear | bicubic "
                                  f"| trilinear | lanczos | area | nearest-exact (got {mode})")
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode in _LINEAR and _LINEAR[mode] != nd:
        raise NotImplementedError(f"Got {nd}D input, but {mode} mode needs {_LINEAR[mode]}D "
                                  f"input")
    if mode == "bicubic" or antialias:
        raise NotImplementedError(f"interpolate: mode={mode!r}"
                                  f"{' with antialias' if antialias else ''} is not implemented "
                                  f"in chainrule")
    sizes, scales = _sizes(input, size, scale_factor, recompute_scale_factor)
    spatial = input._data.shape[2:]
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, spatial))}) and output "
                           f"({', '.join(map(str, sizes))})")
    if mode == "area":
        if nd == 3:
            return adaptive_avg_pool1d(input, sizes)
        if nd == 4:
            return adaptive_avg_pool2d(input, sizes)
        raise NotImplementedError("interpolate: mode='area' needs a 3D or 4D input here")
    out = input
    # the last dim first: torch blends along W inside the blend along H
    for k in reversed(range(len(sizes))):
        dim = 2 + k
        n_in, n_out = spatial[k], sizes[k]
        if mode in ("nearest", "nearest-exact"):
            if n_in == n_out and mode == "nearest":
                continue
            idx = _nearest_index(n_in, n_out, scales[k], mode == "nearest-exact")
            out = out.index_select(dim, _index(idx))
        else:
            i0, i1, lam = _linear_weights(n_in, n_out, scales[k], bool(align_corners),
                                          input._data.dtype)
            out = _blend(out, dim, i0, i1, lam)
    return out


def upsample(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Any:
    """Deprecated alias of :func:`interpolate` (kept for torch compatibility).

    Example:
        >>> import chainrule
        >>> upsample(chainrule.tensor([[[1., 2.]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """Nearest-neighbour upsampling (deprecated alias of ``interpolate(mode='nearest')``).

    Example:
        >>> import chainrule
        >>> upsample_nearest(chainrule.tensor([[[1., 2.]]]), 3).shape
        chainrule.Size([1, 1, 3])
    """
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """Bilinear upsampling with ``align_corners=True`` (deprecated alias of interpolate).

    Example:
        >>> import chainrule
        >>> upsample_bilinear(chainrule.ones(1, 1, 2, 2), scale_factor=2).shape
        chainrule.Size([1, 1, 4, 4])
    """
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
