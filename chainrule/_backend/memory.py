"""Keeping large freed arrays in the process instead of handing them back to the OS.

A training step allocates and frees the same large arrays every step (activations, their
gradients, im2col buffers). With glibc's default settings most of that memory goes back to
the kernel when freed and comes back as fresh pages at the next step, each first touch a page
fault. On the MNIST CNN of ``benchmarks/bench_mnist.py`` that was about 5,800 page faults and
10-15% of a step. Two settings keep the memory: arrays up to 32 MB come from the heap rather
than from their own mapping (``M_MMAP_THRESHOLD``; glibc's own limit), and the heap is only
trimmed when more than 128 MB lies free at its top (``M_TRIM_THRESHOLD``).

This changes the process's allocator, so it is a choice chainrule makes on import and that the
user can refuse: set ``CHAINRULE_MALLOC_TUNING=0`` before importing chainrule. It applies only
with glibc (Linux); elsewhere nothing changes. PyTorch does not tune malloc; the same
environment variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) speed it up too.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["tune_allocator", "TUNED"]

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest glibc accepts on 64-bit systems
TRIM_THRESHOLD = 128 * 1024 * 1024

TUNED = False  # whether tune_allocator changed the settings in this process


def tune_allocator() -> bool:
    """Apply the settings above unless ``CHAINRULE_MALLOC_TUNING=0`` or the C library is not
    glibc. Returns whether they were applied.

    Example:
        >>> from chainrule._backend import memory
        >>> memory.tune_allocator() in (True, False)
        True
    """
    global TUNED
    if os.environ.get("CHAINRULE_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # 'glibc 2.36'; absent off glibc
    except (AttributeError, ValueError, OSError):
        return False
    if not libc or not libc.startswith("glibc"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
          and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    TUNED = TUNED or ok
    return ok
