"""Splitting one op's work over the cores: a few threads, each on its own part of the arrays.

NumPy runs an element-wise pass on one core, and a convolution's im2col copies too; only the
BLAS library threads its GEMMs. NumPy releases the GIL inside ufuncs, copies and BLAS calls,
so the same work split into parts that run on Python threads runs in parallel.

:func:`run_parts` runs callables in parallel: the caller's thread takes the first, pool
threads the others, and the BLAS library is held to one thread meanwhile (each part's GEMMs
would otherwise start threads of their own). The number of parts is :func:`num_threads`: the
BLAS library's thread count (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or the core
count), so one setting governs every thread chainrule runs. Where the BLAS library cannot be
told its thread count (not OpenBLAS), or inside a part already running in parallel,
everything runs on the calling thread. The BLAS thread count is restored after each call, so
NumPy code of the user's own is threaded as before.

Two costs decide when splitting pays, both measured on the project's 2-core machine (a VM):

- Waking a pool thread costs about 55 us per parallel region (the thread sleeps between
  regions; waking it takes an interrupt to an idle virtual CPU). Only work of a few hundred
  microseconds or more is split: the thresholds next to each caller say how much.
- OpenBLAS's own threads spin on their core for about 0.1 s after each threaded GEMM,
  waiting for the next one, so their GEMMs start without a wake-up; but a region of
  chainrule's that runs meanwhile shares a core with a spinning thread. The MNIST CNN step
  of ``benchmarks/bench_mnist.py`` took 45 ms with OpenBLAS threading every GEMM, 61 ms with
  convolutions split over chainrule's threads while the linear layers' GEMMs still woke
  OpenBLAS's, 35 ms with OpenBLAS's threads never woken (PyTorch: 35 ms); the MLP step,
  which has nothing to split but its GEMMs, was fastest with OpenBLAS threading them
  (2.3 ms, against 3.0 ms with chainrule splitting them).

So :func:`matmul` leaves GEMMs to OpenBLAS's threads unless chainrule has split other work
in the last :data:`_OWN_RECENT_S` seconds; then it splits large GEMMs over chainrule's threads
and runs the others on one BLAS thread, so OpenBLAS's threads stay asleep.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["num_threads", "run_parts", "split", "over_range", "in_parts", "matmul",
           "openblas_libraries"]

# (set, get) entry points for the thread count, by the names OpenBLAS builds export.
_ENTRY_POINTS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                 ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                 ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                 ("openblas_set_num_threads", "openblas_get_num_threads"))

# OpenBLAS threads a GEMM only when m * n * k exceeds this (its SMP_THRESHOLD_MIN times
# GEMM_MULTITHREAD_THRESHOLD): smaller products need no care.
_BLAS_THREADS_FROM = 65536 * 4
# GEMMs of at least this many FLOPs are split over chainrule's threads (when they are split
# at all: see the module docstring); ~0.25 ms on one core, saving ~0.1 ms beyond the wake-up.
_PARALLEL_FLOP = 30_000_000
# How long after a parallel region of other work GEMMs keep OpenBLAS's threads asleep.
_OWN_RECENT_S = 0.2


def openblas_libraries() -> Iterator[ctypes.CDLL]:
    """The OpenBLAS libraries this process has loaded (NumPy's), found in ``/proc/self/maps``
    (Linux; elsewhere none). Opening one gives the library already loaded, not a second copy.

    Example:
        >>> from chainrule._backend.threads import openblas_libraries
        >>> all(hasattr(lib, "_name") for lib in openblas_libraries())
        True
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split(None, 5)[-1].strip() for line in maps
                            if "openblas" in line.lower()})
    except OSError:
        return
    for path in paths:
        if not path.startswith("/"):
            continue
        try:
            yield ctypes.CDLL(path)
        except OSError:
            continue


def _find_blas() -> tuple[Any, Any] | None:
    """NumPy's OpenBLAS thread-count functions, from the process's loaded libraries (Linux)."""
    for lib in openblas_libraries():
        for set_name, get_name in _ENTRY_POINTS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


_BLAS: tuple[Any, Any] | None = None
_BLAS_LOOKED_UP = False
_region = threading.Lock()  # held by the one parallel region running (it owns the workers)
_holds_lock = threading.Lock()
_holds = 0  # calls running with the BLAS held to one thread
_saved = 1  # the BLAS thread count to restore when the last hold ends
_local = threading.local()  # .inside: this thread runs a part of a parallel region
_last_own = float("-inf")  # time.monotonic() of the last parallel region of non-GEMM work


def _blas() -> tuple[Any, Any] | None:
    global _BLAS, _BLAS_LOOKED_UP
    if not _BLAS_LOOKED_UP:
        _BLAS = _find_blas()
        _BLAS_LOOKED_UP = True
    return _BLAS


def _hold() -> None:
    """Hold the BLAS library to one thread (counted: the first hold saves the count)."""
    global _holds, _saved
    blas = _blas()
    if blas is None:
        return
    with _holds_lock:
        if _holds == 0:
            _saved = blas[1]()
            blas[0](1)
        _holds += 1


def _release() -> None:
    global _holds
    blas = _blas()
    if blas is None:
        return
    with _holds_lock:
        _holds -= 1
        if _holds == 0:
            blas[0](_saved)


def num_threads() -> int:
    """How many parts :func:`run_parts` runs at once: the BLAS library's thread count, or 1
    where it is unknown or inside a part of a parallel region.

    Example:
        >>> from chainrule._backend import threads
        >>> threads.num_threads() >= 1
        True
    """
    if getattr(_local, "inside", False):
        return 1
    blas = _blas()
    if blas is None:
        return 1
    return max(1, _saved if _holds else blas[1]())


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(start, stop)`` ranges covering ``range(n)``, sizes within one.

    Example:
        >>> from chainrule._backend.threads import split
        >>> split(10, 3)
        [(0, 4), (4, 7), (7, 10)]
    """
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + base + (i < extra)
        out.append((start, stop))
        start = stop
    return out


class _Worker:
    """A daemon thread running the callables put in its inbox."""

    def __init__(self) -> None:
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="chainrule-worker", daemon=True).start()

    def _loop(self) -> None:
        _local.inside = True
        while True:
            fn = self.inbox.get()
            try:
                self.outbox.put((True, fn()))
            except BaseException as exc:  # handed to the caller, which raises it
                self.outbox.put((False, exc))


_workers: list[_Worker] = []


def _reset_after_fork() -> None:
    global _workers, _region, _holds_lock, _holds
    _workers = []  # the child has none of the parent's threads
    _region = threading.Lock()
    _holds_lock = threading.Lock()
    _holds = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def run_parts(parts: Sequence[Callable[[], Any]], gemm: bool = False) -> list[Any]:
    """Call each of ``parts`` (no arguments), in parallel where :func:`num_threads` allows,
    and return their results in order; the BLAS library runs one thread meanwhile. An
    exception in any part is raised here after all parts have finished. One parallel region
    runs at a time: a second Python thread that asks meanwhile runs its parts itself, one
    after the other. ``gemm``: the parts are pieces of one GEMM (see :func:`matmul`).

    Example:
        >>> import numpy as np
        >>> from chainrule._backend.threads import run_parts
        >>> a = np.arange(6.0)
        >>> run_parts([lambda: float(a[:3].sum()), lambda: float(a[3:].sum())])
        [3.0, 12.0]
    """
    parallel = len(parts) > 1 and num_threads() > 1 and _region.acquire(blocking=False)
    _hold()
    try:
        if not parallel:
            return [fn() for fn in parts]
        if not gemm:
            global _last_own
            _last_own = time.monotonic()
        try:
            while len(_workers) < len(parts) - 1:
                _workers.append(_Worker())
            used = _workers[:len(parts) - 1]
            for worker, fn in zip(used, parts[1:]):
                worker.inbox.put(fn)
            _local.inside = True
            try:
                first: tuple[bool, Any] = (True, parts[0]())
            except BaseException as exc:
                first = (False, exc)
            finally:
                _local.inside = False
            done = [first] + [worker.outbox.get() for worker in used]
        finally:
            _region.release()
    finally:
        _release()
    for ok, value in done:
        if not ok:
            raise value
    return [value for _, value in done]


def over_range(n: int, fn: Callable[[int, int], Any], worth_it: bool = True,
               gemm: bool = False) -> list[Any]:
    """``fn(start, stop)`` over ``range(n)`` split in one contiguous part per thread, or once
    over all of it when ``worth_it`` is false (work too small to pay for the threads) or
    only one thread is available; the results in order. BLAS runs one thread either way.

    Example:
        >>> from chainrule._backend.threads import over_range
        >>> sum(over_range(10, lambda a, b: sum(range(a, b))))
        45
    """
    parts = num_threads() if worth_it and n > 1 else 1
    return run_parts([lambda a=a, b=b: fn(a, b) for a, b in split(n, parts)], gemm)


def in_parts(kernel: Callable[..., None], *arrays: Any, min_size: int) -> None:
    """``kernel(*arrays)``, an element-wise computation that writes into some of the arrays,
    run on one contiguous part of all of them per thread when they are alike (same shape,
    C-contiguous) and hold at least ``min_size`` elements; else once on the whole arrays.
    Every element gets the same operations either way, so the results are the same.

    Example:
        >>> import numpy as np
        >>> from chainrule._backend.threads import in_parts
        >>> x, out = np.arange(6.0), np.empty(6)
        >>> in_parts(lambda x, out: np.multiply(x, 2, out=out), x, out, min_size=0)
        >>> out
        array([ 0.,  2.,  4.,  6.,  8., 10.])
    """
    first = arrays[0]
    if (first.size < min_size or num_threads() == 1
            or not all(a.shape == first.shape and a.flags.c_contiguous for a in arrays)):
        kernel(*arrays)
        return
    flat = [a.reshape(-1) for a in arrays]
    over_range(first.size, lambda a, b: kernel(*[f[a:b] for f in flat]))


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b)``, threaded as the module docstring says: by OpenBLAS unless
    chainrule has split other work recently; then a large product of matrices is split over
    chainrule's threads by columns of ``b`` (or by rows of ``a`` when ``b`` is the narrower),
    a large batch of products by the leading batch dimension, and anything else runs on one
    BLAS thread. Each output element comes from the same BLAS dot product either way.
    ``out``: the array to write the product into (as ``np.matmul``'s).

    Example:
        >>> import numpy as np
        >>> from chainrule._backend.threads import matmul
        >>> a, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
        >>> matmul(a, b)
        array([[ 3.,  3.],
               [12., 12.]])
    """
    if a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b, out=out)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if m * n * k <= _BLAS_THREADS_FROM or time.monotonic() - _last_own > _OWN_RECENT_S:
        # (too small for OpenBLAS to thread, or left to its threads)
        return np.matmul(a, b, out=out)
    batch = a.shape[:-2]
    worth_it = 2 * m * n * k * int(np.prod(batch)) >= _PARALLEL_FLOP
    if out is not None and not (a.ndim == 2 and b.ndim == 2):
        np.copyto(out, matmul(a, b))
        return out
    if a.ndim == 2 and b.ndim == 2:
        if out is None:
            out = np.empty((m, n), dtype=np.result_type(a, b))
        if n >= m:
            over_range(n, lambda c0, c1: np.matmul(a, b[:, c0:c1], out=out[:, c0:c1]),
                       worth_it, gemm=True)
        else:
            over_range(m, lambda r0, r1: np.matmul(a[r0:r1], b, out=out[r0:r1]),
                       worth_it, gemm=True)
        return out
    if a.shape[:-2] == b.shape[:-2]:
        out = np.empty(batch + (m, n), dtype=np.result_type(a, b))
        over_range(batch[0], lambda s0, s1: np.matmul(a[s0:s1], b[s0:s1], out=out[s0:s1]),
                   worth_it, gemm=True)
        return out
    return run_parts([lambda: np.matmul(a, b)], gemm=True)[0]  # broadcast: one BLAS thread
