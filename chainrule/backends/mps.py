"""``chainrule.backends.mps``: Apple's Metal backend, which this build does not have.

Example:
    >>> from chainrule.backends import mps
    >>> mps.is_available(), mps.is_built()
    (False, False)
"""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """Whether an MPS device can be used: never in this build."""
    return False


def is_built() -> bool:
    """Whether this build has the MPS backend: it does not."""
    return False
