"""What runs inside a DataLoader worker process: seeding, fetching, and sending batches back.

Protocol (the main process's side lives in ``dataloader.py``):

- each worker reads ``(task_idx, indices)`` from its own index queue, and answers
  ``(task_idx, batch)`` on its own pipe, whose write end only it holds;
- ``None`` on the index queue means "exit"; ``_ResumeIteration`` (persistent workers) means
  "start a new epoch", acknowledged with ``(_ResumeIteration, None)``;
- an exception becomes an :class:`ExceptionWrapper` holding the worker's formatted traceback,
  re-raised by the main process; an exhausted :class:`IterableDataset` answers
  ``_IterableDatasetStopIteration``.

Batches travel with ``multiprocessing``'s own pickler, between processes of this one program;
tensors get a reducer that ships their array (``Tensor`` refuses plain pickling, so that no
file format of chainrule can hold pickle). Nothing read from disk is ever unpickled.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

import chainrule
from chainrule.tensor import Tensor
from chainrule.utils.data._collate import default_collate

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper"]

# How often (seconds) a waiting main process wakes up even when nothing happens (a batch, a
# worker's exit and Ctrl-C each wake it at once).
MP_STATUS_CHECK_INTERVAL = 5.0
# How long (seconds) shutting down waits for workers to exit on their own before it terminates
# them: an idle worker exits within WORKER_POLL_INTERVAL; one still inside the dataset's code is
# terminated, since its batch would be thrown away anyway.
SHUTDOWN_GRACE = 0.5
# How often an idle worker checks that the main process is alive and not shutting down: the
# "exit" message may never come when the iterator is collected in a reference cycle (its
# queues' feeder threads are finalized first), so the done event alone must suffice.
WORKER_POLL_INTERVAL = 0.1


class WorkerInfo:
    """Facts about the current worker: ``id``, ``num_workers``, ``seed``, ``dataset``.

    ``dataset`` is this worker's own copy of the loader's dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any

    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_keys", tuple(kwargs))

    def __setattr__(self, key: str, val: Any) -> None:
        raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._keys)
        return f"{self.__class__.__name__}({items})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its :class:`WorkerInfo`; in the main process, ``None``.

    Use it in an :class:`IterableDataset`'s ``__iter__`` to give each worker its own shard.

    Example:
        >>> get_worker_info() is None   # the main process
        True
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback."""

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        exc_type = exc_info[0]
        try:
            # The main process rebuilds the exception from its class; a class it could not
            # import (defined inside a function) would make the whole message unreadable.
            if pickle.loads(pickle.dumps(exc_type)) is not exc_type:
                raise TypeError
        except Exception:
            exc_type = RuntimeError
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        """Raise the original exception type in this process, with the worker's traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            # KeyError quotes its message; a str subclass with a plain repr keeps it readable
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # the exception's constructor needs other arguments: keep the text, lose the type
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return self


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


class _ResumeIteration:
    """Start a new epoch with persistent workers."""


class _DatasetKind:
    Map = 0
    Iterable = 1


class _MapDatasetFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        # The one-shot batched fetch is only valid when it would equal default_collate's output.
        self._getbatch = (getattr(dataset, "_getbatch", None)
                          if collate_fn is default_collate else None)
        self._getitems = getattr(dataset, "__getitems__", None)

    def fetch(self, possibly_batched_index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[possibly_batched_index])
        if self._getbatch is not None:
            batch = self._getbatch(possibly_batched_index)
            if batch is not NotImplemented:
                return batch
        if callable(self._getitems):
            data = self._getitems(possibly_batched_index)
        else:
            data = [self.dataset[idx] for idx in possibly_batched_index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, possibly_batched_index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(kind: int, dataset: Any, auto_collation: bool, collate_fn: Callable,
                   drop_last: bool) -> Any:
    cls = _MapDatasetFetcher if kind == _DatasetKind.Map else _IterableDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def numpy_seed(base_seed: int, worker_id: int) -> np.ndarray:
    """A 128-bit seed for ``numpy.random`` that differs per worker and per base seed."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]
    return np.random.SeedSequence(entropy).generate_state(4)


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed chainrule, ``random`` and ``numpy.random`` for one worker; returns its seed.

    torch's rule: worker ``i`` gets ``base_seed + i``. Reseeding numpy and ``random`` too
    means forked workers do not all repeat the parent's numpy stream (the classic bug).
    """
    seed = base_seed + worker_id
    random.seed(seed)
    chainrule.manual_seed(seed)
    np.random.seed(numpy_seed(base_seed, worker_id))
    return seed


def _rebuild_tensor(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor._make(array, requires_grad)


def _reduce_tensor(t: Tensor) -> tuple:
    if t.requires_grad and t.grad_fn is not None:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries.  "
                           "If you just want to transfer the data, call detach() on the tensor "
                           "before serializing (e.g., putting it on the queue).")
    return _rebuild_tensor, (t._data, t.requires_grad)


# Only multiprocessing's pickler learns to ship tensors; plain pickle still refuses them.
ForkingPickler.register(Tensor, _reduce_tensor)


class _ParentWatchdog:
    """Tells a worker whether the process that started it is still alive."""

    def __init__(self) -> None:
        self.parent = os.getppid()

    def is_alive(self) -> bool:
        return os.getppid() == self.parent


def _send(writer: Any, message: tuple, worker_id: int) -> bool:
    """Send one message to the main process; ``False`` when it has stopped listening."""
    try:
        payload = ForkingPickler.dumps(message)
    except Exception:
        # e.g. a sample holding a lambda: report it instead of losing the batch silently
        wrapped = ExceptionWrapper(where=f"in DataLoader worker process {worker_id} while "
                                         "sending a batch to the main process")
        payload = ForkingPickler.dumps((message[0], wrapped))
    try:
        writer.send_bytes(payload)
    except OSError:  # BrokenPipeError: the main process has closed its end, or exited
        return False
    return True


def worker_loop(dataset_kind: int, dataset: Any, index_queue: Any, writer: Any, done_event: Any,
                auto_collation: bool, collate_fn: Callable, drop_last: bool, base_seed: int,
                init_fn: Callable | None, worker_id: int, num_workers: int) -> None:
    """Body of a worker process."""
    # Ctrl-C reaches the whole process group; the main process alone decides to shut down,
    # then tells the workers (or terminates them), so workers ignore SIGINT. The main process
    # starts workers with SIGINT blocked (a Ctrl-C during the start stays pending, and setting
    # "ignore" discards it); unblock it once it is ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    global _worker_info
    seed = seed_worker(base_seed, worker_id)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)

    init_exception = None
    fetcher = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

    iteration_end = False
    watchdog = _ParentWatchdog()
    while watchdog.is_alive():
        try:
            r = index_queue.get(timeout=WORKER_POLL_INTERVAL)
        except queue.Empty:
            if done_event.is_set():
                break
            continue
        if isinstance(r, _ResumeIteration):
            if not _send(writer, (r, None), worker_id):
                break
            iteration_end = False
            if init_exception is None:
                fetcher = create_fetcher(dataset_kind, dataset, auto_collation, collate_fn,
                                         drop_last)
            continue
        if r is None:
            break
        if done_event.is_set() or iteration_end:
            continue  # shutting down: wait for the final None without working
        idx, index = r
        data: Any
        if init_exception is not None:
            data, init_exception = init_exception, None
        else:
            try:
                data = fetcher.fetch(index)
            except StopIteration:
                if dataset_kind != _DatasetKind.Iterable:
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                else:
                    data = _IterableDatasetStopIteration(worker_id)
                    iteration_end = True
            except Exception:
                data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        sent = _send(writer, (idx, data), worker_id)
        del data, idx, index, r  # free the batch before blocking on the next task
        if not sent:
            break
    writer.close()
