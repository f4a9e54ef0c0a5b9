"""Test-session settings shared by every test module."""

from __future__ import annotations

import os

# Under pytest-xdist each worker already has a core; BLAS thread pools on top of that
# oversubscribe the two cores, and OpenBLAS's spinning threads then slow everything down
# by an order of magnitude. One thread per worker (set before NumPy loads its BLAS).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # torch is only the oracle
        pass
