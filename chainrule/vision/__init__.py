"""Vision datasets and image transforms, as torchvision: ``chainrule.vision.datasets``,
``chainrule.vision.transforms``. Pillow is optional (``pip install 'chainrule[vision]'``):
without it, datasets return NumPy arrays where torchvision returns PIL images.
"""

from __future__ import annotations

from chainrule.vision import datasets, transforms

__all__ = ["datasets", "transforms"]
