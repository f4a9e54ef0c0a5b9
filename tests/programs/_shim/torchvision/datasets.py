"""``torchvision.datasets`` stand-in: MNIST and FashionMNIST from the local MNIST files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import torch
from torchvision._local import mnist_dir, subset


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


if getattr(torch, "__name__", "") == "chainrule":
    from chainrule.vision import datasets as _cv

    class MNIST(_cv.MNIST):
        """chainrule.vision's MNIST over the local files (``root`` and ``download`` unused)."""

        def __init__(self, root=None, train=True, transform=None, target_transform=None,
                     download=False):
            super().__init__(mnist_dir(), train=train, transform=transform,
                             target_transform=target_transform)
            n = subset()
            if n is not None:
                self.data, self.targets = self.data[:n], self.targets[:n]
else:
    class MNIST(torch.utils.data.Dataset):
        """MNIST from the local IDX files: items are ``(uint8 array (28, 28), int)``."""

        classes = [f"{i} - {w}" for i, w in enumerate(
            "zero one two three four five six seven eight nine".split())]

        def __init__(self, root=None, train=True, transform=None, target_transform=None,
                     download=False):
            prefix = "train" if train else "t10k"
            images = _read_idx(f"{mnist_dir()}/{prefix}-images-idx3-ubyte.gz")
            labels = _read_idx(f"{mnist_dir()}/{prefix}-labels-idx1-ubyte.gz")
            n = subset()
            if n is not None:
                images, labels = images[:n], labels[:n]
            self.data = torch.from_numpy(images.copy())
            self.targets = torch.from_numpy(labels.astype(np.int64))
            self.transform, self.target_transform = transform, target_transform

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            img, target = self.data[i].numpy(), int(self.targets[i])
            if self.transform is not None:
                img = self.transform(img)
            if self.target_transform is not None:
                target = self.target_transform(target)
            return img, target


class FashionMNIST(MNIST):
    """Served from the MNIST files (FashionMNIST's are not here): same shapes, 10 classes."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
