"""``chainrule.cuda``: the CUDA backend's entry points. This build has none (CPU only).

Example:
    >>> import chainrule
    >>> chainrule.cuda.is_available(), chainrule.cuda.device_count()
    (False, 0)
"""

from __future__ import annotations

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """Whether a CUDA device can be used: never in this build (the CuPy backend is not here)."""
    return False


def device_count() -> int:
    """The number of CUDA devices: 0 in this build."""
    return 0


def manual_seed(seed: int) -> None:
    """Seed the CUDA generators: a no-op without CUDA, as torch's."""


def manual_seed_all(seed: int) -> None:
    """Seed every CUDA generator: a no-op without CUDA, as torch's."""
