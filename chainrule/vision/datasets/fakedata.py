"""FakeData: random images with random labels, for tests and smoke runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.vision.datasets.vision import VisionDataset, image_from_array

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random uint8 images of ``image_size = (C, H, W)`` with labels in
    ``[0, num_classes)``; item ``i`` is always the same (drawn from seed ``i + random_offset``)
    and drawing it leaves the global generator untouched.

    Note:
        Items are PIL images as torchvision's (grey for C=1, RGB for C=3); without Pillow,
        uint8 arrays ``(H, W)`` or ``(H, W, C)``. torchvision draws normal noise and wraps it
        into uint8; these pixels are uniform on ``0..255``.

    Example:
        >>> ds = FakeData(size=4, image_size=(1, 8, 8), num_classes=3)
        >>> img, label = ds[0]
        >>> len(ds), img.size, 0 <= label < 3
        (4, (8, 8), True)
    """

    def __init__(self, size: int = 1000, image_size: tuple[int, int, int] = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        if len(image_size) != 3:
            raise ValueError(f"image_size should be (C, H, W), got {image_size}")
        self.size = size
        self.num_classes = num_classes
        self.image_size = tuple(image_size)
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        pixels = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        img = image_from_array(pixels[..., 0] if c == 1 else pixels)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return self.size
