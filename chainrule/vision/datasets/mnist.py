"""MNIST, Fashion-MNIST and Kuzushiji-MNIST from their IDX files, as torchvision.

``root`` may hold torchvision's layout (``root/MNIST/raw/train-images-idx3-ubyte[.gz]``) or the
four files directly (``root/train-images-idx3-ubyte.gz``, as ``../shared/data/mnist``).
chainrule ships a sample of MNIST (see :func:`mnist_sample_root`) so that examples run offline.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule
from chainrule.tensor import Tensor
from chainrule.vision.datasets.utils import download_url, read_idx
from chainrule.vision.datasets.vision import VisionDataset, image_from_array
from chainrule.vision.transforms.transforms import batch_transform

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "mnist_sample_root", "read_image_file",
           "read_label_file"]


def mnist_sample_root() -> str:
    """The directory of the MNIST sample shipped with chainrule: 10,000 training and 2,000
    test images drawn at random (seed 0) from MNIST, as the four standard ``.gz`` files.

    Example:
        >>> ds = MNIST(mnist_sample_root(), train=False)
        >>> len(ds), tuple(ds.data.shape)
        (2000, (2000, 28, 28))
    """
    return os.path.join(os.path.dirname(os.path.abspath(chainrule.__file__)), "_data", "mnist")


def read_image_file(path: str) -> Tensor:
    """An IDX file of uint8 images (``N x H x W``) as a uint8 tensor."""
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise RuntimeError(f"{path}: expected uint8 images of rank 3 (N x H x W), found "
                           f"{arr.dtype} data of shape {arr.shape}")
    return chainrule.from_numpy(arr)


def read_label_file(path: str) -> Tensor:
    """An IDX file of uint8 labels (``N``) as an int64 tensor."""
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise RuntimeError(f"{path}: expected uint8 labels of rank 1, found {arr.dtype} data of "
                           f"shape {arr.shape}")
    return chainrule.from_numpy(arr.astype(np.int64))


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28, 10 classes.

    Items are ``(image, target)``: a PIL image (mode ``L``) and an int, as torchvision.

    Note:
        Without Pillow the image is a uint8 NumPy array ``(28, 28)``; every transform in
        :mod:`chainrule.vision.transforms` accepts both. ``data`` (uint8 ``N x 28 x 28``)
        and ``targets`` (int64 ``N``) hold everything as tensors. With a transform made of
        ``ToTensor()`` and deterministic tensor transforms (``Normalize``, ``Resize``...),
        a DataLoader builds each batch in one vectorised step instead of image by image.

    Args:
        root: a directory holding the IDX files (torchvision's layout or the files directly).
        train: the training set (``train-*``) or the test set (``t10k-*``).
        transform: applied to the image.
        target_transform: applied to the target.
        download: fetch missing files from ``mirrors`` (MD5-checked) into
            ``root/<ClassName>/raw``.

    Example:
        >>> from chainrule.vision import transforms
        >>> ds = MNIST(mnist_sample_root(), train=False, transform=transforms.ToTensor())
        >>> x, y = ds[0]
        >>> x.shape, x.dtype, type(y)
        (chainrule.Size([1, 28, 28]), chainrule.float32, <class 'int'>)
    """

    mirrors: Sequence[str] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources: Sequence[tuple[str, str]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download and not self._check_exists():
            self.download()
        if not self._check_exists():
            raise RuntimeError(self._not_found_message())
        self.data, self.targets = self._load_data()

    @classmethod
    def bundled_sample(cls, train: bool = True, transform: Callable | None = None,
                       target_transform: Callable | None = None) -> MNIST:
        """The MNIST sample shipped with chainrule (see :func:`mnist_sample_root`), offline.

        Example:
            >>> len(MNIST.bundled_sample()), len(MNIST.bundled_sample(train=False))
            (10000, 2000)
        """
        if cls is not MNIST:
            raise RuntimeError(f"chainrule ships a sample of MNIST only, not of {cls.__name__}")
        return MNIST(mnist_sample_root(), train=train, transform=transform,
                     target_transform=target_transform)

    # -- files ------------------------------------------------------------------------------
    @property
    def raw_folder(self) -> str:
        """``root/<ClassName>/raw``, torchvision's download directory."""
        return os.path.join(self.root, self.__class__.__name__, "raw")

    def _split_files(self) -> list[str]:
        prefix = "train" if self.train else "t10k"
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]

    def _find(self, name: str) -> str | None:
        """Where ``name`` (or ``name.gz``) is: the raw folder first, then ``root`` itself."""
        for folder in (self.raw_folder, self.root):
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        return None

    def _check_exists(self) -> bool:
        return all(self._find(name) is not None for name in self._split_files())

    def _not_found_message(self) -> str:
        names = ", ".join(f"{n}.gz" for n in self._split_files())
        return (f"Dataset not found: {self.__class__.__name__} (train={self.train}) needs "
                f"{names} (gzipped or not) in {self.raw_folder} or directly in {self.root}. "
                "Use download=True to fetch them, or copy them there from "
                f"{self.mirrors[0]}")

    def _load_data(self) -> tuple[Tensor, Tensor]:
        image_name, label_name = self._split_files()
        image_path, label_path = self._find(image_name), self._find(label_name)
        data = read_image_file(image_path)
        targets = read_label_file(label_path)
        if data.shape[0] != targets.shape[0]:
            raise RuntimeError(f"{image_path} holds {data.shape[0]} images but {label_path} "
                               f"holds {targets.shape[0]} labels")
        labels = targets.numpy()
        if labels.size and labels.max() >= len(self.classes):
            raise RuntimeError(f"{label_path}: label {int(labels.max())} is out of range for "
                               f"{len(self.classes)} classes: the file is corrupt")
        return data, targets

    def download(self) -> None:
        """Fetch every missing file from the first mirror that serves it with the right MD5."""
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            if self._find(filename[:-3]) is not None:
                continue
            errors = []
            for mirror in self.mirrors:
                url = f"{mirror}{filename}"
                try:
                    download_url(url, self.raw_folder, filename, md5)
                    break
                except (urllib.error.URLError, OSError, RuntimeError) as e:
                    errors.append(f"  {url}: {e}")
            else:
                tried = "\n".join(errors)
                raise RuntimeError(
                    f"Error downloading {filename} for {self.__class__.__name__}:\n{tried}\n"
                    f"Offline? Put {filename} (and the other files of {self.__class__.__name__}: "
                    f"{', '.join(f for f, _ in self.resources)}) into {self.raw_folder} or "
                    f"directly into {self.root}.")

    # -- items ------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = image_from_array(self.data.numpy()[index])
        target = int(self.targets.numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _getbatch(self, indices: Sequence[int]) -> Any:
        """``default_collate`` of these items in one step, when the transform allows it."""
        if self.target_transform is not None:
            return NotImplemented
        run = batch_transform(self.transform)
        if run is None:
            return NotImplemented
        idx = np.asarray(indices, dtype=np.int64)
        images = run(self.data.numpy()[idx])
        return [images, chainrule.from_numpy(self.targets.numpy()[idx])]

    def __len__(self) -> int:
        return len(self.data)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing (MNIST's format).

    Example:
        >>> FashionMNIST.classes[:3]
        ['T-shirt/top', 'Trouser', 'Pullover']
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28x28 cursive Japanese characters, 10 classes (MNIST's format).

    Example:
        >>> len(KMNIST.classes)
        10
    """

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
