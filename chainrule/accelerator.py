"""``chainrule.accelerator``: torch's device-agnostic accelerator API. This build has none.

Programs written for any device ask ``torch.accelerator.is_available()`` and fall back to the
CPU; here they always do.

Example:
    >>> import chainrule
    >>> chainrule.accelerator.is_available(), chainrule.accelerator.current_accelerator()
    (False, None)
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "synchronize"]


def is_available() -> bool:
    """Whether an accelerator (CUDA, MPS, ...) can be used: never in this build."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """The accelerator's device type, or None when there is none (always, here)."""
    return None


def device_count() -> int:
    """The number of accelerator devices: 0 in this build."""
    return 0


def current_device_index() -> int:
    """The index of the current accelerator device: -1 without one, as torch's."""
    return -1


def synchronize(device: Any = None) -> None:
    """Wait for the accelerator's queued work: nothing to wait for without one."""
