"""``torchvision.utils`` stand-in: ``save_image`` writes nothing (no image files in tests)."""

from __future__ import annotations


def save_image(tensor, fp, **kwargs) -> None:
    """Accepts the call and writes nothing."""
