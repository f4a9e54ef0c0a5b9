"""seed_everything: one call that fixes every random-number generator a training run uses."""

from __future__ import annotations

import os
import random

import numpy as np

import chainrule

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> int:
    """Seed chainrule's default generator, NumPy's global generator and Python's ``random``
    with ``seed``, and set ``PYTHONHASHSEED`` for child processes; returns ``seed``.

    DataLoader workers are seeded from the loader's generator (chainrule's default one unless
    given), so they follow too.

    Example:
        >>> def draw():
        ...     return chainrule.rand(1).item(), np.random.rand(), random.random()
        >>> _ = seed_everything(0); a = draw()
        >>> _ = seed_everything(0); b = draw()
        >>> a == b
        True
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything: seed must be an int, got {type(seed).__name__}")
    chainrule.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    return seed
