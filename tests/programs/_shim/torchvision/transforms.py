"""``torchvision.transforms`` stand-in: chainrule.vision's under chainrule, else a few."""

from __future__ import annotations

import numpy as np
import torch

if getattr(torch, "__name__", "") == "chainrule":
    from chainrule.vision.transforms import Compose, Lambda, Normalize, ToTensor  # noqa: F401
else:
    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, x):
            for t in self.transforms:
                x = t(x)
            return x

    class ToTensor:
        """uint8 ``(H, W)`` array -> float ``(1, H, W)`` in [0, 1]."""

        def __call__(self, img):
            arr = np.asarray(img, dtype=np.float32) / 255.0
            return torch.from_numpy(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))

    class Normalize:
        def __init__(self, mean, std):
            self.mean = torch.tensor(mean).view(-1, 1, 1)
            self.std = torch.tensor(std).view(-1, 1, 1)

        def __call__(self, x):
            return (x - self.mean) / self.std

    class Lambda:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, x):
            return self.fn(x)
