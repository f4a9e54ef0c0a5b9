"""CIFAR-10 and CIFAR-100 from the *binary* releases (fixed-size records; never pickle).

torchvision reads the Python releases, which are pickles; chainrule reads the binary ones
(``cifar-10-binary.tar.gz``, ``cifar-100-binary.tar.gz``), so loading a dataset can never run
code. Items and attributes are torchvision's: ``data`` is a uint8 ``(N, 32, 32, 3)`` NumPy
array, ``targets`` a list of ints.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule
from chainrule.vision.datasets.utils import download_and_extract_archive
from chainrule.vision.datasets.vision import VisionDataset, image_from_array
from chainrule.vision.transforms.transforms import batch_transform

__all__ = ["CIFAR10", "CIFAR100"]

_PIXELS = 32 * 32 * 3


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, 10 classes.

    Expects ``root/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`` (the files may also
    sit directly in ``root``). Each record is one label byte and 3,072 pixel bytes (the red,
    green and blue planes, row-major).

    Note:
        Without Pillow, images are uint8 ``(32, 32, 3)`` NumPy arrays instead of PIL images.

    Args:
        root: the directory holding ``cifar-10-batches-bin``.
        train: the five training batches, or the test batch.
        transform: applied to the image.
        target_transform: applied to the target.
        download: fetch and unpack the binary release (MD5-checked) if missing.

    Example:
        >>> CIFAR10.classes[:3]
        ['airplane', 'automobile', 'bird']
    """

    base_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    filename = "cifar-10-binary.tar.gz"
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    train_list = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                  "data_batch_4.bin", "data_batch_5.bin"]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"
    label_bytes = 1  # bytes before the pixels in each record
    label_offset = 0  # which of those bytes is the target
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download and self._folder() is None:
            self.download()
        folder = self._folder()
        if folder is None:
            files = ", ".join(self._split_files())
            raise RuntimeError(
                f"Dataset not found: {self.__class__.__name__} (train={train}) needs {files} in "
                f"{os.path.join(self.root, self.base_folder)} (or directly in {self.root}). Use "
                f"download=True, or unpack {self.url} into {self.root}.")
        images, labels = [], []
        for name in self._split_files():
            x, y = self._read_batch(os.path.join(folder, name))
            images.append(x)
            labels.append(y)
        self.data = np.concatenate(images)
        self.targets = np.concatenate(labels).astype(np.int64).tolist()
        self.classes = self._read_classes(folder)

    def _split_files(self) -> list[str]:
        return self.train_list if self.train else self.test_list

    def _folder(self) -> str | None:
        for folder in (os.path.join(self.root, self.base_folder), self.root):
            if all(os.path.isfile(os.path.join(folder, f)) for f in self._split_files()):
                return folder
        return None

    def _read_batch(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        record = self.label_bytes + _PIXELS
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise RuntimeError(f"{path}: truncated or corrupt CIFAR binary batch: {raw.size} "
                               f"bytes is not a whole number of {record}-byte records")
        rows = raw.reshape(-1, record)
        labels = rows[:, self.label_offset]
        if labels.max() >= len(self.classes):
            raise RuntimeError(f"{path}: label {int(labels.max())} is out of range for "
                               f"{len(self.classes)} classes: the file is corrupt")
        # planes (3, 32, 32) per record -> HWC, torchvision's layout of `data`
        images = rows[:, self.label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(images), labels

    def _read_classes(self, folder: str) -> list[str]:
        path = os.path.join(folder, self.meta_file)
        if not os.path.isfile(path):
            return list(self.classes)
        with open(path, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        return names if len(names) == len(self.classes) else list(self.classes)

    def download(self) -> None:
        """Fetch and unpack the binary release into ``root``."""
        try:
            download_and_extract_archive(self.url, self.root, filename=self.filename,
                                         md5=self.tgz_md5)
        except (urllib.error.URLError, OSError) as e:
            raise RuntimeError(
                f"Error downloading {self.url}: {e}\nOffline? Unpack {self.filename} into "
                f"{self.root} (giving {os.path.join(self.root, self.base_folder)}).") from None

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = image_from_array(self.data[index]), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _getbatch(self, indices: Sequence[int]) -> Any:
        if self.target_transform is not None:
            return NotImplemented
        run = batch_transform(self.transform)
        if run is None:
            return NotImplemented
        idx = np.asarray(indices, dtype=np.int64)
        targets = np.asarray(self.targets, dtype=np.int64)[idx]
        return [run(self.data[idx]), chainrule.from_numpy(targets)]

    def __len__(self) -> int:
        return len(self.data)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: like CIFAR-10 with 100 fine classes (``targets``) in 20 coarse ones.

    Expects ``root/cifar-100-binary/{train,test}.bin``; each record is a coarse label byte, a
    fine label byte and 3,072 pixel bytes.

    Example:
        >>> CIFAR100.base_folder
        'cifar-100-binary'
    """

    base_folder = "cifar-100-binary"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
    filename = "cifar-100-binary.tar.gz"
    tgz_md5 = "03b5dce01913d631647c71ecec9e9cb8"
    train_list = ["train.bin"]
    test_list = ["test.bin"]
    meta_file = "fine_label_names.txt"
    label_bytes = 2
    label_offset = 1
    classes = [f"class_{i}" for i in range(100)]  # replaced by fine_label_names.txt
