"""Image transforms, as ``torchvision.transforms``: PIL images, NumPy arrays and tensors.

Example:
    >>> import numpy as np
    >>> from chainrule.vision import transforms
    >>> t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    >>> t(np.zeros((28, 28), dtype=np.uint8)).shape
    chainrule.Size([1, 28, 28])
"""

from __future__ import annotations

from chainrule.vision.transforms import functional
from chainrule.vision.transforms.functional import InterpolationMode
from chainrule.vision.transforms.transforms import (
                                                    CenterCrop,
                                                    ColorJitter,
                                                    Compose,
                                                    GaussianNoise,
                                                    Lambda,
                                                    Normalize,
                                                    Pad,
                                                    PILToTensor,
                                                    RandomAffine,
                                                    RandomCrop,
                                                    RandomErasing,
                                                    RandomHorizontalFlip,
                                                    RandomResizedCrop,
                                                    RandomRotation,
                                                    RandomVerticalFlip,
                                                    Resize,
                                                    ToPILImage,
                                                    ToTensor,
                                                    batch_transform,
)

__all__ = ["functional", "InterpolationMode", "Compose", "ToTensor", "PILToTensor",
           "ToPILImage", "Normalize", "Lambda", "Pad", "CenterCrop", "Resize", "RandomCrop",
           "RandomResizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
           "RandomAffine", "ColorJitter", "GaussianNoise", "RandomErasing", "batch_transform"]
