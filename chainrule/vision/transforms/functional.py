"""Image transforms as functions, on PIL images, NumPy arrays and chainrule tensors.

Image kinds, as torchvision:

- PIL images (when Pillow is installed);
- NumPy arrays ``(H, W)`` or ``(H, W, C)`` (what datasets return without Pillow);
- tensors ``(..., C, H, W)`` (or ``(H, W)``), any number of leading batch dimensions.

Each function returns the kind it was given. All kinds go through the same NumPy code,
written on an ``(..., H, W, C)`` view, so a PIL image and its tensor give the same pixels.

Note:
    Geometry and interpolation follow torchvision's *tensor* path (``interpolate`` with
    ``align_corners=False`` for resizing, ``grid_sample`` for rotations and affine maps),
    also for PIL images, where torchvision calls Pillow: PIL results can differ from
    torchvision's by rounding. Transforms of tensors are not recorded by autograd, except
    :func:`normalize` on a tensor that requires grad.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np

import chainrule
from chainrule.tensor import Tensor

try:  # Pillow is optional (the ``vision`` extra)
    from PIL import Image as _PIL_IMAGE
except ImportError:  # pragma: no cover - exercised by the no-Pillow tests via monkeypatch
    _PIL_IMAGE = None

__all__ = [
    "InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
    "to_tensor", "pil_to_tensor", "to_pil_image", "normalize", "hflip", "vflip", "pad", "crop",
    "center_crop", "resize", "resized_crop", "rotate", "affine", "adjust_brightness",
    "adjust_contrast", "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "gaussian_noise",
    "erase",
]


class InterpolationMode(Enum):
    """How pixels are resampled, as ``torchvision.transforms.InterpolationMode``."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


_PIL_CODES = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
              3: InterpolationMode.BICUBIC}


def _interpolation(mode: Any) -> InterpolationMode:
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, str):
        return InterpolationMode(mode)
    if isinstance(mode, int) and mode in _PIL_CODES:
        return _PIL_CODES[mode]
    raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding "
                    f"Pillow integer constant (0, 2, 3), got {mode!r}")


def _pil() -> Any:
    """PIL's ``Image`` module, or ``None`` without Pillow."""
    return _PIL_IMAGE


def _is_pil(img: Any) -> bool:
    return _PIL_IMAGE is not None and isinstance(img, _PIL_IMAGE.Image)


def _need_pil(what: str) -> Any:
    if _PIL_IMAGE is None:
        raise ImportError(f"{what} needs Pillow: pip install 'chainrule[vision]'")
    return _PIL_IMAGE


def _type_error(img: Any) -> TypeError:
    return TypeError("img should be a PIL Image, a numpy array (H, W) or (H, W, C), or a "
                     f"Tensor (..., C, H, W). Got {type(img)}")


def _unpack(img: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``img`` as an ``(..., H, W, C)`` array, and the function that converts such an array
    back to ``img``'s kind and layout."""
    if isinstance(img, Tensor):
        a = img.detach().numpy()
        if a.ndim == 2:
            return a[..., None], _tensor_from_hw
        if a.ndim < 2:
            raise TypeError(f"Tensor is not an image: expected (..., C, H, W) or (H, W), got "
                            f"shape {tuple(a.shape)}")
        return np.moveaxis(a, -3, -1), _tensor_from_hwc
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img[..., None], _array_from_hw
        if img.ndim == 3:
            return img, _identity
        raise TypeError(f"numpy image should be (H, W) or (H, W, C), got shape {img.shape}")
    if _is_pil(img):
        a = np.asarray(img)
        mode = img.mode
        if a.ndim == 2:
            return a[..., None], lambda out: _pil_from(out[..., 0], mode)
        return a, lambda out: _pil_from(out, mode)
    raise _type_error(img)


def _tensor_from_hw(out: np.ndarray) -> Tensor:
    return chainrule.from_numpy(np.ascontiguousarray(out[..., 0]))


def _tensor_from_hwc(out: np.ndarray) -> Tensor:
    return chainrule.from_numpy(np.ascontiguousarray(np.moveaxis(out, -1, -3)))


def _array_from_hw(out: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(out[..., 0])


def _identity(out: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(out)


def _pil_from(arr: np.ndarray, mode: str) -> Any:
    image = _PIL_IMAGE.fromarray(np.ascontiguousarray(arr))
    return image if image.mode == mode else image.convert(mode)


def get_dimensions(img: Any) -> list[int]:
    """``[channels, height, width]`` of an image of any kind.

    Example:
        >>> get_dimensions(chainrule.zeros(3, 4, 5)), get_dimensions(np.zeros((4, 5)))
        ([3, 4, 5], [1, 4, 5])
    """
    arr, _ = _unpack(img)
    return [arr.shape[-1], arr.shape[-3], arr.shape[-2]]


def get_image_size(img: Any) -> list[int]:
    """``[width, height]`` (torchvision's order)."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img: Any) -> int:
    """The number of channels."""
    return get_dimensions(img)[0]


# --- conversions ------------------------------------------------------------------------------

def to_tensor(pic: Any) -> Tensor:
    """A PIL image or ``(H, W[, C])`` array -> a ``(C, H, W)`` tensor; uint8 maps to
    ``x / 255`` in the default float dtype, other dtypes keep their values.

    Example:
        >>> to_tensor(np.array([[0, 255]], dtype=np.uint8))
        tensor([[[0., 1.]]])
    """
    if _is_pil(pic):
        mode = pic.mode
        if mode == "1":
            arr = 255 * np.array(pic, dtype=np.uint8)
        elif mode == "I":
            arr = np.array(pic, dtype=np.int32)
        elif mode == "I;16":
            arr = np.array(pic, dtype=np.int16)
        elif mode == "F":
            arr = np.array(pic, dtype=np.float32)
        else:
            arr = np.asarray(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        dt = chainrule.get_default_dtype().np
        return chainrule.from_numpy(chw.astype(dt) / dt.type(255))
    return chainrule.from_numpy(chw)


def pil_to_tensor(pic: Any) -> Tensor:
    """A PIL image -> a ``(C, H, W)`` tensor of its own dtype, values unchanged."""
    if not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return chainrule.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """A ``(C, H, W)`` tensor or ``(H, W[, C])`` array -> a PIL image (floats are scaled by
    255 and truncated to uint8, as torchvision)."""
    image_mod = _need_pil("to_pil_image")
    if isinstance(pic, Tensor):
        t = pic.detach().numpy()
        if t.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {t.ndim} dimensions.")
        arr = t if t.ndim == 2 else np.moveaxis(t, 0, -1)
        if arr.dtype.kind == "f" and mode != "F":
            arr = (arr * 255).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    image = image_mod.fromarray(np.ascontiguousarray(arr))
    return image if mode is None or image.mode == mode else image.convert(mode)


def normalize(tensor: Any, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Any:
    """``out[c] = (x[c] - mean[c]) / std[c]`` per channel of a float ``(..., C, H, W)`` tensor
    (or a float ``(H, W, C)`` array).

    Example:
        >>> normalize(chainrule.ones(2, 1, 1), [0.5, 0.0], [0.5, 2.0])
        tensor([[[1.0000]],
        <BLANKLINE>
                [[0.5000]]])
    """
    if isinstance(tensor, np.ndarray):
        if tensor.dtype.kind != "f":
            raise TypeError(f"Input array should be a float array. Got {tensor.dtype}.")
        m = np.asarray(mean, dtype=tensor.dtype)
        s = np.asarray(std, dtype=tensor.dtype)
        _check_std(s, tensor.dtype)
        if inplace:
            tensor -= m
            tensor /= s
            return tensor
        return (tensor - m) / s
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}")
    dt = tensor.dtype.np
    m = np.asarray(mean, dtype=dt).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=dt).reshape(-1, 1, 1)
    _check_std(s, tensor.dtype)
    if tensor.requires_grad:
        out = (tensor - chainrule.from_numpy(m)) / chainrule.from_numpy(s)
        return tensor.copy_(out) if inplace else out
    if inplace:
        a = tensor.numpy()
        a -= m
        a /= s
        return tensor
    return chainrule.from_numpy((tensor.numpy() - m) / s)


def _check_std(s: np.ndarray, dtype: Any) -> None:
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to "
                         "division by zero.")


# --- geometry ---------------------------------------------------------------------------------

def hflip(img: Any) -> Any:
    """Mirror left-right: ``out[..., i, j] = img[..., i, W-1-j]``.

    Example:
        >>> hflip(np.array([[1, 2, 3]]))
        array([[3, 2, 1]])
    """
    arr, back = _unpack(img)
    return back(arr[..., :, ::-1, :])


def vflip(img: Any) -> Any:
    """Mirror top-bottom: ``out[..., i, j] = img[..., H-1-i, j]``.

    Example:
        >>> vflip(np.array([[1], [2]]))
        array([[2],
               [1]])
    """
    arr, back = _unpack(img)
    return back(arr[..., ::-1, :, :])


def _parse_padding(padding: Any) -> list[int]:
    """torchvision's forms -> ``[left, top, right, bottom]``."""
    if isinstance(padding, numbers.Number):
        return [int(padding)] * 4
    if not isinstance(padding, (list, tuple)):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) == 1:
        return [int(padding[0])] * 4
    if len(padding) == 2:
        return [int(padding[0]), int(padding[1])] * 2
    if len(padding) == 4:
        return [int(p) for p in padding]
    raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


def _fill_value(fill: Any, channels: int, dtype: np.dtype) -> np.ndarray:
    """``fill`` (None, a number or one number per channel) as a per-channel array."""
    if fill is None:
        fill = 0
    values = np.atleast_1d(np.asarray(fill, dtype=np.float64))
    if values.size not in (1, channels):
        raise ValueError("The number of elements in 'fill' does not match the number of "
                         f"channels of the image ({values.size} != {channels})")
    return np.broadcast_to(values, (channels,)).astype(dtype)


def pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders: ``padding`` is an int, ``(left/right, top/bottom)`` or
    ``(left, top, right, bottom)``; modes ``constant`` (with ``fill``), ``edge``, ``reflect``
    (without repeating the edge) and ``symmetric`` (repeating it).

    Example:
        >>> pad(np.array([[1, 2]]), [1, 0], padding_mode="reflect")
        array([[2, 1, 2, 1]])
    """
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"pad: negative padding {[left, top, right, bottom]} is not supported")
    arr, back = _unpack(img)
    widths = [(0, 0)] * (arr.ndim - 3) + [(top, bottom), (left, right), (0, 0)]
    if padding_mode != "constant":
        return back(np.pad(arr, widths, mode=padding_mode))
    h, w, c = arr.shape[-3:]
    out = np.empty(arr.shape[:-3] + (h + top + bottom, w + left + right, c), dtype=arr.dtype)
    out[...] = _fill_value(fill, c, arr.dtype)
    out[..., top:top + h, left:left + w, :] = arr
    return back(out)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height x width`` window whose top-left pixel is ``(top, left)``; parts outside
    the image are zero.

    Example:
        >>> crop(np.arange(9).reshape(3, 3), 1, 1, 2, 2)
        array([[4, 5],
               [7, 8]])
    """
    arr, back = _unpack(img)
    h, w = arr.shape[-3], arr.shape[-2]
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        return back(arr[..., top:top + height, left:left + width, :])
    out = np.zeros(arr.shape[:-3] + (height, width, arr.shape[-1]), dtype=arr.dtype)
    y0, y1 = max(top, 0), min(top + height, h)
    x0, x1 = max(left, 0), min(left + width, w)
    if y0 < y1 and x0 < x1:
        out[..., y0 - top:y1 - top, x0 - left:x1 - left, :] = arr[..., y0:y1, x0:x1, :]
    return back(out)


def _size_pair(size: Any, name: str = "size") -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"Please provide only two dimensions (h, w) for {name}.")


def center_crop(img: Any, output_size: Any) -> Any:
    """The central ``output_size`` window (zero-padded first when the image is smaller);
    the top-left corner is ``round((H - h) / 2), round((W - w) / 2)``.

    Example:
        >>> center_crop(np.arange(16).reshape(4, 4), 2)
        array([[ 5,  6],
               [ 9, 10]])
    """
    crop_h, crop_w = _size_pair(output_size, "output_size")
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        padding = [(crop_w - w) // 2 if crop_w > w else 0,
                   (crop_h - h) // 2 if crop_h > h else 0,
                   (crop_w - w + 1) // 2 if crop_w > w else 0,
                   (crop_h - h + 1) // 2 if crop_h > h else 0]
        img = pad(img, padding, fill=0)
        _, h, w = get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def _resized_shape(h: int, w: int, size: Any, max_size: int | None) -> tuple[int, int]:
    """torchvision's output size: an int (or ``[int]``) matches the shorter edge."""
    if isinstance(size, numbers.Number) or (isinstance(size, (list, tuple)) and len(size) == 1):
        requested = int(size if isinstance(size, numbers.Number) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if isinstance(size, (list, tuple)) and len(size) == 2:
        if max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of "
                             "the smaller edge, i.e. size should be an int or a sequence of "
                             f"length 1 in torchscript mode, got {size}")
        return int(size[0]), int(size[1])
    raise TypeError(f"Size should be int or sequence. Got {type(size)}")


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _resize_matrix(n_in: int, n_out: int, mode: InterpolationMode,
                   antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of one axis's interpolation weights (torch's kernels)."""
    scale = n_in / n_out
    dst = np.arange(n_out, dtype=np.float64)
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)[:, None]
    if antialias:
        # PIL's separable filter, as torch's antialias kernels: widened when downsampling
        # so every input pixel contributes, weights renormalised at the borders.
        support = 1.0 if mode is InterpolationMode.BILINEAR else 2.0
        invscale = 1.0
        if scale > 1:
            support *= scale
            invscale = 1.0 / scale
        center = scale * (dst + 0.5)
        xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
        xmax = np.minimum((center + support + 0.5).astype(np.int64), n_in)
        taps = xmin[:, None] + np.arange(int(np.max(xmax - xmin)))[None, :]
        x = (taps - center[:, None] + 0.5) * invscale
        if mode is InterpolationMode.BILINEAR:
            w = np.maximum(0.0, 1.0 - np.abs(x))
        else:
            w = _cubic(x, -0.5)
        w = np.where(taps < xmax[:, None], w, 0.0)
        w /= w.sum(axis=1, keepdims=True)
        np.add.at(weights, (np.broadcast_to(rows, taps.shape), np.minimum(taps, n_in - 1)), w)
        return weights
    src = scale * (dst + 0.5) - 0.5
    if mode is InterpolationMode.BILINEAR:
        src = np.maximum(src, 0.0)
        i0 = src.astype(np.int64)
        lam = src - i0
        i1 = np.minimum(i0 + 1, n_in - 1)
        np.add.at(weights, (rows[:, 0], i0), 1.0 - lam)
        np.add.at(weights, (rows[:, 0], i1), lam)
        return weights
    # bicubic, torch's upsample_bicubic2d: A = -0.75, taps clamped to the edge
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    for k, wk in enumerate((_cubic(t + 1, -0.75), _cubic(t, -0.75), _cubic(1 - t, -0.75),
                            _cubic(2 - t, -0.75))):
        np.add.at(weights, (rows[:, 0], np.clip(i0 - 1 + k, 0, n_in - 1)), wk)
    return weights


def _nearest_index(n_in: int, n_out: int, exact: bool) -> np.ndarray:
    scale = np.float32(n_in / n_out)  # torch computes the scale in float32
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor((dst + np.float32(0.5)) * scale if exact else dst * scale)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _cast_back(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "iub":
        info = np.iinfo(dtype) if dtype.kind != "b" else None
        out = np.rint(out)
        if info is not None:
            out = np.clip(out, info.min, info.max)
    return out.astype(dtype)


def resize(img: Any, size: Any, interpolation: Any = InterpolationMode.BILINEAR,
           max_size: int | None = None, antialias: bool | None = True) -> Any:
    """Resample to ``size``: ``(h, w)``, or an int that the shorter edge will match.

    Interpolation as ``torch.nn.functional.interpolate(..., align_corners=False)``: bilinear
    and bicubic (with ``antialias``, PIL's area-aware filter when downsampling), nearest
    (``src = floor(dst * in / out)``) and nearest-exact. Integer images are rounded back.

    Example:
        >>> resize(chainrule.tensor([[[0., 1.]]]), [1, 4])
        tensor([[[0.0000, 0.2500, 0.7500, 1.0000]]])
    """
    mode = _interpolation(interpolation)
    arr, back = _unpack(img)
    h, w = arr.shape[-3], arr.shape[-2]
    oh, ow = _resized_shape(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return back(arr)
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        exact = mode is InterpolationMode.NEAREST_EXACT
        out = np.take(arr, _nearest_index(h, oh, exact), axis=-3)
        return back(np.take(out, _nearest_index(w, ow, exact), axis=-2))
    dtype = arr.dtype
    work = arr if dtype.kind == "f" else arr.astype(np.float32)
    aa = bool(antialias)
    wh = _resize_matrix(h, oh, mode, aa).astype(work.dtype)
    ww = _resize_matrix(w, ow, mode, aa).astype(work.dtype)
    out = np.moveaxis(np.tensordot(wh, work, axes=([1], [work.ndim - 3])), 0, -3)
    out = np.moveaxis(np.tensordot(ww, out, axes=([1], [out.ndim - 2])), 0, -2)
    return back(_cast_back(out, dtype))


def resized_crop(img: Any, top: int, left: int, height: int, width: int, size: Any,
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> Any:
    """:func:`crop`, then :func:`resize` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


def _inverse_affine_matrix(center: Sequence[float], angle: float, translate: Sequence[float],
                           scale: float, shear: Sequence[float]) -> list[float]:
    """torchvision's inverse of ``T * C * R * S * Sh * C^-1`` as a 2x3 row-major list, in
    coordinates centred on the image (``angle`` clockwise, degrees)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m


def _affine_output_size(m: list[float], w: int, h: int) -> tuple[int, int]:
    """The ``(w, h)`` that holds the whole transformed image (``expand=True``)."""
    # float32 throughout, as torchvision: the 1e-4 tolerance then absorbs cos(90deg) ~ 6e-17
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    new = pts @ np.array(m, dtype=np.float32).reshape(2, 3).T
    tol = np.float32(1e-4)
    cmax = np.ceil(np.trunc(new.max(axis=0) / tol) * tol)
    cmin = np.floor(np.trunc(new.min(axis=0) / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _sample(arr: np.ndarray, xin: np.ndarray, yin: np.ndarray, bilinear: bool) -> np.ndarray:
    """``arr`` (..., H, W, C) read at fractional pixel positions, zero outside."""
    h, w = arr.shape[-3], arr.shape[-2]
    if not bilinear:
        xi, yi = np.rint(xin).astype(np.int64), np.rint(yin).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = arr[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1), :]
        return out * inside[..., None]
    x0, y0 = np.floor(xin).astype(np.int64), np.floor(yin).astype(np.int64)
    fx, fy = xin - x0, yin - y0
    out = 0.0
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            xs, ys = x0 + dx, y0 + dy
            inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
            tap = arr[..., np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1), :]
            out = out + tap * (wx * wy * inside)[..., None]
    return out


def _apply_affine(img: Any, m: list[float], interpolation: InterpolationMode, fill: Any,
                  out_size: tuple[int, int] | None = None) -> Any:
    """Resample ``img`` through the inverse map ``m`` (grid_sample, align_corners=False)."""
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"affine/rotate: interpolation {interpolation.value} is not supported "
                         "(use NEAREST or BILINEAR)")
    arr, back = _unpack(img)
    h, w, c = arr.shape[-3:]
    ow, oh = out_size if out_size is not None else (w, h)
    xs = np.arange(ow) + 0.5 - ow / 2
    ys = np.arange(oh) + 0.5 - oh / 2
    gx, gy = np.meshgrid(xs, ys)
    xin = m[0] * gx + m[1] * gy + m[2] + w / 2 - 0.5
    yin = m[3] * gx + m[4] * gy + m[5] + h / 2 - 0.5
    bilinear = interpolation is InterpolationMode.BILINEAR
    work = arr.astype(np.float64)
    out = _sample(work, xin, yin, bilinear)
    if fill is not None and np.any(_fill_value(fill, c, np.float64) != 0):
        # torchvision's rule: resample a mask of ones the same way and blend the fill in
        mask = _sample(np.ones((h, w, 1)), xin, yin, bilinear)
        fill_v = _fill_value(fill, c, np.float64)
        if bilinear:
            out = out * mask + (1.0 - mask) * fill_v
        else:
            out = np.where(mask < 0.5, fill_v, out)
    return back(_cast_back(out, arr.dtype))


def _center(center: Sequence[float] | None, w: int, h: int) -> list[float]:
    if center is None:
        return [0.0, 0.0]
    return [float(c) - s * 0.5 for c, s in zip(center, (w, h))]


def rotate(img: Any, angle: float, interpolation: Any = InterpolationMode.NEAREST,
           expand: bool = False, center: Sequence[int] | None = None, fill: Any = None) -> Any:
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the image
    centre); ``expand`` grows the output to hold the whole rotated image.

    Example:
        >>> rotate(np.array([[1, 2], [3, 4]]), 90)   # as np.rot90
        array([[2, 4],
               [1, 3]])
    """
    mode = _interpolation(interpolation)
    _, h, w = get_dimensions(img)
    m = _inverse_affine_matrix(_center(center, w, h), -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    out_size = _affine_output_size(m, w, h) if expand else None
    return _apply_affine(img, m, mode, fill, out_size)


def affine(img: Any, angle: float, translate: Sequence[float], scale: float,
           shear: Any, interpolation: Any = InterpolationMode.NEAREST, fill: Any = None,
           center: Sequence[int] | None = None) -> Any:
    """Rotate (clockwise, degrees), scale, shear (degrees) about the centre, then translate
    by ``translate = (dx, dy)`` pixels, as ``torchvision.transforms.functional.affine``.

    Example:
        >>> affine(np.array([[1, 2, 3]]), 0.0, [1, 0], 1.0, 0.0)
        array([[0, 1, 2]])
    """
    mode = _interpolation(interpolation)
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if isinstance(shear, numbers.Number):
        shear = [float(shear), 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], 0.0]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    _, h, w = get_dimensions(img)
    m = _inverse_affine_matrix(_center(center, w, h), float(angle),
                               [float(t) for t in translate], float(scale),
                               [float(s) for s in shear])
    return _apply_affine(img, m, mode, fill)


# --- colour -----------------------------------------------------------------------------------

def _bound(dtype: np.dtype) -> float:
    return 1.0 if dtype.kind == "f" else float(np.iinfo(dtype).max)


def _float_work(arr: np.ndarray) -> np.ndarray:
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


def _blend(img1: np.ndarray, img2: Any, ratio: float) -> np.ndarray:
    """torchvision's ``_blend``: ``ratio * img1 + (1 - ratio) * img2``, clamped, cast back
    (truncating, for integer images)."""
    out = ratio * _float_work(img1) + (1.0 - ratio) * img2
    return np.clip(out, 0, _bound(img1.dtype)).astype(img1.dtype)


def _gray(arr: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of an (..., H, W, 3) array, (..., H, W, 1), in ``arr``'s dtype."""
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    luma = 0.2989 * _float_work(r) + 0.587 * g + 0.114 * b
    return luma.astype(arr.dtype)[..., None]


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """``0.2989 R + 0.587 G + 0.114 B``, repeated ``num_output_channels`` times."""
    arr, back = _unpack(img)
    if arr.shape[-1] != 3:
        raise TypeError(f"Input image tensor permitted channel values are [3], but found "
                        f"{arr.shape[-1]}")
    gray = _gray(arr)
    return back(np.repeat(gray, num_output_channels, axis=-1))


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    """``clamp(factor * img)``: 0 gives black, 1 the original.

    Example:
        >>> adjust_brightness(np.array([[0.2, 0.8]]), 1.5)
        array([[0.3, 1. ]])
    """
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    arr, back = _unpack(img)
    return back(_blend(arr, 0.0, brightness_factor))


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    """Blend with the mean grey level: ``clamp(f * img + (1 - f) * mean(gray(img)))``.

    Example:
        >>> adjust_contrast(np.array([[0.2, 0.6]]), 0.5)
        array([[0.3, 0.5]])
    """
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    arr, back = _unpack(img)
    gray = _gray(arr) if arr.shape[-1] == 3 else arr
    mean = _float_work(gray).mean(axis=(-3, -2, -1), keepdims=True)
    return back(_blend(arr, mean, contrast_factor))


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    """Blend with the grey image: 0 gives grey, 1 the original (one channel: unchanged)."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    arr, back = _unpack(img)
    if arr.shape[-1] == 1:
        return back(arr)
    return back(_blend(arr, _gray(arr), saturation_factor))


def _rgb2hsv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    maxc, minc = rgb.max(axis=-1), rgb.min(axis=-1)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, 1.0, maxc)
    div = np.where(eqc, 1.0, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return np.stack([h, s, maxc], axis=-1)


def _hsv2rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Rotate the hue by ``hue_factor`` turns (in ``[-0.5, 0.5]``) in HSV space."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    arr, back = _unpack(img)
    if arr.shape[-1] == 1:
        return back(arr)
    dtype = arr.dtype
    work = arr if dtype.kind == "f" else arr.astype(np.float32) / np.float32(255)
    hsv = _rgb2hsv(work)
    hsv[..., 0] = np.fmod(hsv[..., 0] + hue_factor, 1.0)
    hsv[..., 0] += hsv[..., 0] < 0  # fmod keeps the sign; hue lives in [0, 1)
    rgb = _hsv2rgb(hsv)
    if dtype.kind != "f":
        rgb = rgb * 255.0
    return back(rgb.astype(dtype))


def gaussian_noise(img: Any, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> Any:
    """``img + mean + sigma * N(0, 1)`` per pixel (then clamped to ``[0, 1]`` if ``clip``),
    drawn from the global generator; float images only."""
    arr, back = _unpack(img)
    if arr.dtype.kind != "f":
        raise ValueError(f"Input tensor is expected to be in float dtype, got dtype={arr.dtype}")
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    noise = chainrule.default_generator.np.standard_normal(arr.shape)
    out = arr + (mean + noise * sigma).astype(arr.dtype)
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return back(out.astype(arr.dtype))


def erase(img: Any, i: int, j: int, h: int, w: int, v: Any, inplace: bool = False) -> Any:
    """Overwrite the ``h x w`` window at ``(i, j)`` with ``v`` (a number, one per channel, or
    an array broadcastable to the window, channel-first for tensors)."""
    if isinstance(img, Tensor):
        target = img if inplace else img.clone()
        a = target.detach().numpy()
        a[..., i:i + h, j:j + w] = v.numpy() if isinstance(v, Tensor) else v
        return target
    if isinstance(img, np.ndarray):
        out = img if inplace else img.copy()
        out[i:i + h, j:j + w, ...] = v.numpy() if isinstance(v, Tensor) else v
        return out
    raise TypeError(f"img should be a Tensor or a numpy array. Got {type(img)}")
