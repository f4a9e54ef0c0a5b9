"""Transform classes, as ``torchvision.transforms``: callables over one image.

Random transforms draw from chainrule's global generator, so ``chainrule.manual_seed(s)``
repeats them; in DataLoader workers that generator is seeded per worker.

Note:
    torchvision's transforms are ``nn.Module`` subclasses; these are plain callable objects
    (with ``forward`` as an alias of ``__call__``), since none has parameters or buffers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule
from chainrule.tensor import Tensor
from chainrule.vision.transforms import functional as F
from chainrule.vision.transforms.functional import InterpolationMode

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Lambda", "Pad",
           "CenterCrop", "Resize", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "RandomAffine", "ColorJitter",
           "GaussianNoise", "RandomErasing"]


def _rng() -> np.random.Generator:
    """The global generator's NumPy stream (read at each call: ``manual_seed`` replaces it)."""
    return chainrule.default_generator.np


def _uniform(low: float, high: float) -> float:
    return float(_rng().uniform(low, high))


def _randint(low: int, high: int) -> int:
    return int(_rng().integers(low, high))


class _Transform:
    def forward(self, img: Any) -> Any:
        return self(img)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class Compose:
    """Apply transforms one after another.

    Example:
        >>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
        >>> t(np.array([[0, 255]], dtype=np.uint8))
        tensor([[[-1.,  1.]]])
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


class ToTensor(_Transform):
    """PIL image or ``(H, W[, C])`` array -> ``(C, H, W)`` tensor, uint8 scaled to ``[0, 1]``.

    Example:
        >>> ToTensor()(np.zeros((28, 28), dtype=np.uint8)).shape
        chainrule.Size([1, 28, 28])
    """

    def __call__(self, pic: Any) -> Tensor:
        return F.to_tensor(pic)


class PILToTensor(_Transform):
    """PIL image -> ``(C, H, W)`` tensor of the image's dtype, values unchanged."""

    def __call__(self, pic: Any) -> Tensor:
        return F.pil_to_tensor(pic)


class ToPILImage(_Transform):
    """Tensor or array -> PIL image (needs Pillow)."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        return F.to_pil_image(pic, self.mode)


class Normalize(_Transform):
    """``(x[c] - mean[c]) / std[c]`` per channel of a float tensor image.

    Example:
        >>> Normalize((0.1307,), (0.3081,))(chainrule.zeros(1, 1, 1))
        tensor([[[-0.4242]]])
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Any) -> Any:
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


class Lambda(_Transform):
    """Apply a user function.

    Example:
        >>> Lambda(lambda x: x * 2)(3)
        6
    """

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)


class Pad(_Transform):
    """Pad the borders (see :func:`functional.pad`).

    Example:
        >>> Pad(1)(np.ones((1, 1), dtype=np.uint8))
        array([[0, 0, 0],
               [0, 1, 0],
               [0, 0, 0]], dtype=uint8)
    """

    def __init__(self, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> None:
        F._parse_padding(padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img: Any) -> Any:
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


class CenterCrop(_Transform):
    """The central ``size`` window (an int gives a square).

    Example:
        >>> CenterCrop(2)(np.arange(9).reshape(3, 3))
        array([[0, 1],
               [3, 4]])
    """

    def __init__(self, size: Any) -> None:
        self.size = F._size_pair(size)

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size})"


class Resize(_Transform):
    """Resample to ``size`` (``(h, w)``, or an int the shorter edge will match).

    Example:
        >>> Resize(14)(chainrule.zeros(1, 28, 56)).shape
        chainrule.Size([1, 14, 28])
    """

    def __init__(self, size: Any, interpolation: Any = InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        if not isinstance(size, (int, list, tuple)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, (list, tuple)) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self.max_size = max_size
        self.interpolation = F._interpolation(interpolation)
        self.antialias = antialias

    def __call__(self, img: Any) -> Any:
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(size={self.size}, interpolation="
                f"{self.interpolation.value}, max_size={self.max_size}, "
                f"antialias={self.antialias})")


class RandomCrop(_Transform):
    """A ``size`` window at a uniformly random position, after optional padding.

    Args:
        size: ``(h, w)`` or an int for a square.
        padding: padding applied first (see :func:`functional.pad`).
        pad_if_needed: pad images smaller than ``size`` instead of failing.
        fill: the constant for ``padding_mode='constant'``.
        padding_mode: ``constant``, ``edge``, ``reflect`` or ``symmetric``.

    Example:
        >>> RandomCrop(28, padding=4)(chainrule.zeros(1, 28, 28)).shape
        chainrule.Size([1, 28, 28])
    """

    def __init__(self, size: Any, padding: Any = None, pad_if_needed: bool = False,
                 fill: Any = 0, padding_mode: str = "constant") -> None:
        self.size = F._size_pair(size)
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """A random ``(top, left, h, w)`` window of ``output_size``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        return _randint(0, h - th + 1), _randint(0, w - tw + 1), th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class RandomResizedCrop(_Transform):
    """A random window of random area (``scale``) and aspect ratio (``ratio``), resized to
    ``size`` (Inception-style augmentation).

    Example:
        >>> RandomResizedCrop(16)(chainrule.rand(3, 32, 40)).shape
        chainrule.Size([3, 16, 16])
    """

    def __init__(self, size: Any, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        self.size = F._size_pair(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        self.scale = scale
        self.ratio = ratio
        self.interpolation = F._interpolation(interpolation)
        self.antialias = antialias

    @staticmethod
    def get_params(img: Any, scale: Sequence[float],
                   ratio: Sequence[float]) -> tuple[int, int, int, int]:
        """torchvision's sampler: ten tries at a fitting window, then a central crop."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * _uniform(scale[0], scale[1])
            aspect_ratio = math.exp(_uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        in_ratio = float(width) / float(height)
        if in_ratio < min(ratio):
            w = width
            h = int(round(w / min(ratio)))
        elif in_ratio > max(ratio):
            h = height
            w = int(round(h * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img: Any) -> Any:
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, list(self.size), self.interpolation,
                              antialias=self.antialias)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(size={self.size}, scale={self.scale}, "
                f"ratio={self.ratio}, interpolation={self.interpolation.value})")


class RandomHorizontalFlip(_Transform):
    """Mirror left-right with probability ``p``.

    Example:
        >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2]]))
        array([[2, 1]])
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        if _rng().random() < self.p:
            return F.hflip(img)
        return img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class RandomVerticalFlip(_Transform):
    """Mirror top-bottom with probability ``p``.

    Example:
        >>> RandomVerticalFlip(p=1.0)(np.array([[1], [2]]))
        array([[2],
               [1]])
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        if _rng().random() < self.p:
            return F.vflip(img)
        return img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


def _degrees(degrees: Any, name: str = "degrees") -> list[float]:
    if isinstance(degrees, numbers.Number):
        if degrees < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(degrees), float(degrees)]
    if len(degrees) != 2:
        raise ValueError(f"If {name} is a sequence, it must be of len 2.")
    return [float(d) for d in degrees]


class RandomRotation(_Transform):
    """Rotate counter-clockwise by an angle uniform in ``degrees`` (``d`` means ``(-d, d)``).

    Example:
        >>> RandomRotation((90, 90))(np.array([[1, 2], [3, 4]]))
        array([[2, 4],
               [1, 3]])
    """

    def __init__(self, degrees: Any, interpolation: Any = InterpolationMode.NEAREST,
                 expand: bool = False, center: Sequence[int] | None = None,
                 fill: Any = 0) -> None:
        self.degrees = _degrees(degrees)
        self.interpolation = F._interpolation(interpolation)
        self.expand = expand
        self.center = center
        self.fill = fill

    @staticmethod
    def get_params(degrees: Sequence[float]) -> float:
        """An angle uniform in ``degrees``."""
        return _uniform(degrees[0], degrees[1])

    def __call__(self, img: Any) -> Any:
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(degrees={self.degrees}, interpolation="
                f"{self.interpolation.value}, expand={self.expand}, fill={self.fill})")


class RandomAffine(_Transform):
    """A random affine map: rotation (``degrees``), translation (``translate``: fractions of
    width and height), scale (``scale``: a range) and shear (``shear``: degrees).

    Example:
        >>> t = RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))
        >>> t(chainrule.rand(1, 28, 28)).shape
        chainrule.Size([1, 28, 28])
    """

    def __init__(self, degrees: Any, translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, shear: Any = None,
                 interpolation: Any = InterpolationMode.NEAREST, fill: Any = 0,
                 center: Sequence[int] | None = None) -> None:
        self.degrees = _degrees(degrees)
        if translate is not None:
            if len(translate) != 2:
                raise ValueError("translate should be a sequence of length 2.")
            for t in translate:
                if not 0.0 <= t <= 1.0:
                    raise ValueError("translation values should be between 0 and 1")
        if scale is not None:
            if len(scale) != 2:
                raise ValueError("scale should be a sequence of length 2.")
            for s in scale:
                if s <= 0:
                    raise ValueError("scale values should be positive")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _degrees(shear, "shear")
            elif len(shear) not in (2, 4):
                raise ValueError("shear should be a sequence of length 2 or 4.")
        self.translate = translate
        self.scale = scale
        self.shear = shear
        self.interpolation = F._interpolation(interpolation)
        self.fill = fill
        self.center = center

    @staticmethod
    def get_params(degrees: Sequence[float], translate: Sequence[float] | None,
                   scale_ranges: Sequence[float] | None, shears: Sequence[float] | None,
                   img_size: Sequence[int]) -> tuple[float, tuple[int, int], float,
                                                     tuple[float, float]]:
        """``(angle, (tx, ty), scale, (shear_x, shear_y))``; ``img_size`` is ``[w, h]``."""
        angle = _uniform(degrees[0], degrees[1])
        if translate is not None:
            max_dx = float(translate[0] * img_size[0])
            max_dy = float(translate[1] * img_size[1])
            translations = (int(round(_uniform(-max_dx, max_dx))),
                            int(round(_uniform(-max_dy, max_dy))))
        else:
            translations = (0, 0)
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform(shears[2], shears[3])
        return angle, translations, scale, (shear_x, shear_y)

    def __call__(self, img: Any) -> Any:
        _, h, w = F.get_dimensions(img)
        angle, translations, scale, shear = self.get_params(self.degrees, self.translate,
                                                            self.scale, self.shear, [w, h])
        return F.affine(img, angle, list(translations), scale, list(shear), self.interpolation,
                        self.fill, self.center)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear})")


def _jitter_range(value: Any, name: str, center: float = 1.0,
                  bound: tuple[float, float] = (0, float("inf")),
                  clip_first_on_zero: bool = True) -> tuple[float, float] | None:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    if value[0] == value[1] == center:
        return None
    return value[0], value[1]


class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue changes, in a random order.

    Each argument ``v`` draws a factor uniform in ``[max(0, 1 - v), 1 + v]`` (hue: a shift in
    ``[-v, v]``, ``v <= 0.5``), or give the ``(min, max)`` range.

    Example:
        >>> ColorJitter(brightness=0.5, contrast=0.5)(chainrule.rand(3, 8, 8)).shape
        chainrule.Size([3, 8, 8])
    """

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0,
                 hue: Any = 0) -> None:
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0, bound=(-0.5, 0.5),
                                 clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness: Any, contrast: Any, saturation: Any, hue: Any) -> tuple:
        """``(order, b, c, s, h)``: a permutation of the four adjustments and their factors
        (``None`` where that adjustment is off)."""
        order = chainrule.randperm(4).tolist()
        b = None if brightness is None else _uniform(brightness[0], brightness[1])
        c = None if contrast is None else _uniform(contrast[0], contrast[1])
        s = None if saturation is None else _uniform(saturation[0], saturation[1])
        h = None if hue is None else _uniform(hue[0], hue[1])
        return order, b, c, s, h

    def __call__(self, img: Any) -> Any:
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation,
                                            self.hue)
        for fn_id in order:
            if fn_id == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif fn_id == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif fn_id == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif fn_id == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(brightness={self.brightness}, contrast="
                f"{self.contrast}, saturation={self.saturation}, hue={self.hue})")


class GaussianNoise(_Transform):
    """Add ``N(mean, sigma^2)`` noise to a float image, clamped to ``[0, 1]`` if ``clip``.

    Example:
        >>> x = GaussianNoise(sigma=0.1)(chainrule.full((1, 4, 4), 0.5))
        >>> bool((x >= 0).all() and (x <= 1).all())
        True
    """

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        self.mean = mean
        self.sigma = sigma
        self.clip = clip

    def __call__(self, img: Any) -> Any:
        return F.gaussian_noise(img, self.mean, self.sigma, self.clip)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(mean={self.mean}, sigma={self.sigma}, clip={self.clip})"


class RandomErasing(_Transform):
    """With probability ``p``, overwrite a random rectangle (area fraction in ``scale``,
    aspect ratio in ``ratio``) with ``value``: a number, one per channel, or ``'random'``
    (standard normal noise). Works on ``(..., C, H, W)`` tensors and ``(H, W[, C])`` arrays.

    Example:
        >>> out = RandomErasing(p=1.0, value=0.0)(chainrule.ones(1, 8, 8))
        >>> bool((out == 0).any()), out.shape
        (True, chainrule.Size([1, 8, 8]))
    """

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.33),
                 ratio: tuple[float, float] = (0.3, 3.3), value: Any = 0,
                 inplace: bool = False) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float],
                   value: Sequence[float] | None = None) -> tuple:
        """``(i, j, h, w, v)``: the rectangle and its channel-first fill (``None`` value:
        normal noise); ten tries, else the whole image unchanged."""
        c, img_h, img_w = F.get_dimensions(img)
        area = img_h * img_w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * _uniform(scale[0], scale[1])
            aspect_ratio = math.exp(_uniform(log_ratio[0], log_ratio[1]))
            h = int(round(math.sqrt(erase_area * aspect_ratio)))
            w = int(round(math.sqrt(erase_area / aspect_ratio)))
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = _rng().standard_normal((c, h, w)).astype(np.float32)
            else:
                v = np.asarray(value, dtype=np.float32)[:, None, None]
            return _randint(0, img_h - h + 1), _randint(0, img_w - w + 1), h, w, v
        return 0, 0, img_h, img_w, None

    def __call__(self, img: Any) -> Any:
        if _rng().random() >= self.p:
            return img
        if isinstance(self.value, numbers.Number):
            value: list[float] | None = [float(self.value)]
        elif isinstance(self.value, str):
            value = None
        else:
            value = [float(v) for v in self.value]
        channels = F.get_dimensions(img)[0]
        if value is not None and len(value) not in (1, channels):
            raise ValueError("If value is a sequence, it should have either a single value or "
                             f"{channels} (number of input channels)")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        if v is None:
            return img
        if isinstance(img, np.ndarray):
            # arrays are (H, W[, C]): move the channel-first fill to the last axis
            v = np.moveaxis(v, 0, -1) if img.ndim == 3 else v[0]
        return F.erase(img, i, j, h, w, v, self.inplace)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")


# Deterministic transforms that act on a (..., C, H, W) tensor exactly as on each (C, H, W)
# image in it: a dataset may run them once over a whole batch (see batch_transform).
_BATCH_SAFE = (Normalize, Resize, CenterCrop, Pad)


def _flatten(transform: Any) -> list[Any] | None:
    if type(transform) is Compose:
        steps: list[Any] = []
        for t in transform.transforms:
            inner = _flatten(t)
            if inner is None:
                return None
            steps.extend(inner)
        return steps
    return [transform]


def batch_transform(transform: Any) -> Callable[[np.ndarray], Tensor] | None:
    """For datasets of uint8 images: a function mapping a batch ``(N, H, W[, C])`` to
    ``default_collate([transform(img) for img in batch])`` in one pass, when ``transform`` is
    ``ToTensor()`` followed by deterministic batch-safe transforms (``Normalize``, ``Resize``,
    ``CenterCrop``, ``Pad``); ``None`` for anything else (random, user-defined...).

    Example:
        >>> fn = batch_transform(Compose([ToTensor(), Normalize((0.5,), (0.5,))]))
        >>> fn(np.zeros((2, 28, 28), dtype=np.uint8)).shape
        chainrule.Size([2, 1, 28, 28])
        >>> batch_transform(RandomHorizontalFlip()) is None
        True
    """
    steps = _flatten(transform) if transform is not None else None
    if not steps or type(steps[0]) is not ToTensor:
        return None
    rest = steps[1:]
    if not all(type(t) in _BATCH_SAFE for t in rest):
        return None

    def run(images: np.ndarray) -> Tensor:
        if images.ndim == 3:
            images = images[..., None]
        chw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        dt = chainrule.get_default_dtype().np
        # the same float ops, element by element, as to_tensor on one image
        out = chainrule.from_numpy(chw.astype(dt) / dt.type(255))
        for t in rest:
            out = t(out)
        return out

    return run
