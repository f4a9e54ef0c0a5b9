"""Image datasets with torchvision's constructors: MNIST, FashionMNIST, KMNIST, CIFAR10,
CIFAR100 (binary releases), FakeData, DatasetFolder and ImageFolder.

``mnist_sample_root()`` is the directory of the MNIST sample bundled with chainrule.
"""

from __future__ import annotations

from chainrule.vision.datasets.cifar import CIFAR10, CIFAR100
from chainrule.vision.datasets.fakedata import FakeData
from chainrule.vision.datasets.folder import DatasetFolder, ImageFolder
from chainrule.vision.datasets.mnist import KMNIST, MNIST, FashionMNIST, mnist_sample_root
from chainrule.vision.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "FakeData",
           "DatasetFolder", "ImageFolder", "VisionDataset", "mnist_sample_root"]
