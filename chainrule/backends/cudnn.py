"""``chainrule.backends.cudnn``: cuDNN's flags, accepted and unused (no cuDNN in this build).

Example:
    >>> from chainrule.backends import cudnn
    >>> cudnn.benchmark = True  # a program's tuning flag: stored, changes nothing
    >>> cudnn.is_available()
    False
"""

from __future__ import annotations

__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic",
           "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """Whether cuDNN can be used: never in this build."""
    return False


def version() -> None:
    """cuDNN's version: None without cuDNN, as torch's."""
    return None
