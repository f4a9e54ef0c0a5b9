"""A stand-in for ``torchvision`` that downloads nothing (the programs' one change of data).

``datasets.MNIST`` and ``datasets.FashionMNIST`` read the local MNIST IDX files (FashionMNIST
too: its files are not here, so it serves the digits, same shapes and 10 classes) whatever
``root`` and ``download`` say. Under chainrule (``sys.modules['torch']`` is chainrule) the
datasets and transforms are chainrule.vision's; under torch they are the few NumPy-based
ones below. ``PROGRAM_SUBSET=N`` keeps the first N images of each split.
"""

from __future__ import annotations

import sys

from torchvision import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils", "uses_chainrule"]


def uses_chainrule() -> bool:
    return getattr(sys.modules.get("torch"), "__name__", "") == "chainrule"
