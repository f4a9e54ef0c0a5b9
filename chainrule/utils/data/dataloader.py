"""DataLoader: batches from a dataset, in the main process or in worker processes.

Seeding follows torch: each iterator (each epoch, unless workers persist) draws ``base_seed``
from the loader's ``generator`` (the global generator by default); worker ``i`` seeds
chainrule and ``random`` with ``base_seed + i`` and numpy from (``base_seed``, ``i``). So
``chainrule.manual_seed(s)`` before building the loader repeats every shuffle and every
random augmentation, and the workers' augmentations differ from one another.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import pickle
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import connection
from typing import Any, Generic, TypeVar

import chainrule
from chainrule.utils.data import _worker
from chainrule.utils.data._collate import default_collate, default_convert
from chainrule.utils.data._worker import (
    MP_STATUS_CHECK_INTERVAL,
    SHUTDOWN_GRACE,
    ExceptionWrapper,
    _DatasetKind,
    _IterableDatasetStopIteration,
    _ResumeIteration,
    create_fetcher,
)
from chainrule.utils.data.dataset import Dataset, IterableDataset
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _draw_seed,
)

__all__ = ["DataLoader"]

T_co = TypeVar("T_co", covariant=True)


class _InfiniteConstantSampler(Sampler):
    """Yields ``None`` forever: the index stream of an IterableDataset."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class DataLoader(Generic[T_co]):
    """Iterate over a dataset in batches, optionally shuffled, optionally in worker processes.

    Args:
        dataset: a map-style :class:`Dataset` or an :class:`IterableDataset`.
        batch_size: samples per batch; ``None`` turns auto-batching off. Default: ``1``.
        shuffle: reshuffle every epoch (a :class:`RandomSampler`). Default: ``False``.
        sampler: the order of indices (exclusive with ``shuffle``).
        batch_sampler: yields lists of indices (exclusive with ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``).
        num_workers: worker processes; ``0`` loads in the main process. Default: ``0``.
        collate_fn: list of samples -> batch. Default: :func:`default_collate`
            (:func:`default_convert` without auto-batching).
        pin_memory: accepted for compatibility; CPU tensors need no pinning.
        drop_last: drop the last incomplete batch. Default: ``False``.
        timeout: seconds to wait for a batch from the workers; ``0`` waits forever.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a start method name (``'fork'``, ``'spawn'``,
            ``'forkserver'``) or a context. Default: the platform's.
        generator: draws ``base_seed`` and, with ``shuffle``, the order.
        prefetch_factor: batches each worker loads ahead. Default: ``2`` with workers.
        persistent_workers: keep the workers alive between epochs. Default: ``False``.
        in_order: yield batches in sampler order; ``False`` yields them as they arrive.

    Example:
        >>> ds = chainrule.utils.data.TensorDataset(chainrule.arange(10.), chainrule.arange(10))
        >>> x, y = next(iter(DataLoader(ds, batch_size=4)))
        >>> x, y
        (tensor([0., 1., 2., 3.]), tensor([0, 1, 2, 3]))
        >>> len(DataLoader(ds, batch_size=4)), len(DataLoader(ds, batch_size=4, drop_last=True))
        (3, 2)
    """

    __initialized = False

    def __init__(self, dataset: Dataset[T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None,
                 generator: chainrule.Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
            else:
                sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = _mp_context(multiprocessing_context, num_workers)
        self._iterator: _BaseDataLoaderIter | None = None
        self._IterableDataset_len_called: int | None = None
        self.__initialized = True

    def __setattr__(self, attr: str, val: Any) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                           "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                # first epoch, or the workers are gone (Ctrl-C, a worker died, a timeout)
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            length = len(self.dataset)  # type: ignore[arg-type]
            self._IterableDataset_len_called = length
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


def _mp_context(context: Any, num_workers: int) -> Any:
    if context is None:
        return None
    if num_workers == 0:
        raise ValueError("multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError("multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or a "
                        "string specifying the start method, but got "
                        f"multiprocessing_context={context}")
    return context


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter: Iterator = iter(self._index_sampler)
        self._base_seed = _draw_seed(loader.generator)
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self) -> Any:
        return next(self._sampler_iter)

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable
                and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            warnings.warn(f"Length of IterableDataset {self._dataset} was reported to be "
                          f"{self._IterableDataset_len_called} (when accessing len(dataloader)), "
                          f"but {self._num_yielded} samples have been fetched. ", stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._dataset_fetcher = create_fetcher(self._dataset_kind, self._dataset,
                                               self._auto_collation, self._collate_fn,
                                               self._drop_last)

    def _next_data(self) -> Any:
        index = self._next_index()  # may raise StopIteration
        return self._dataset_fetcher.fetch(index)  # may raise StopIteration (iterable)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers fetch and collate; the main process hands out indices and re-orders results.

    Up to ``prefetch_factor * num_workers`` tasks are outstanding; each result is sent back as
    soon as it is ready and held in ``_task_info`` until its turn (``in_order``).

    Each worker answers on a pipe of its own and holds its only write end. The main process
    waits on every pipe and every worker's sentinel at once, so a batch, a worker's death and
    Ctrl-C each wake it at once; a worker that dies in the middle of a message leaves an end of
    file, never a reader blocked on bytes that will not come (as a pipe shared by all workers,
    kept open by the others, would).
    """

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        self._owner_pid = os.getpid()  # a forked copy of this object is not the owner
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._index_queues: list = []
        self._readers: list = []
        self._workers: list = []
        self._shutdown = False  # no more batches: set when shutting down starts
        self._cleaned_up = False  # every worker gone: set when shutting down is complete
        self._workers_done_event = ctx.Event()
        try:
            for _ in range(self._num_workers):
                index_queue = ctx.Queue()
                # the queue's feeder thread must never keep the main process from exiting
                index_queue.cancel_join_thread()
                self._index_queues.append(index_queue)
            if ctx.get_start_method() == "forkserver":
                # started here, not inside the block below: it must not inherit a blocked SIGINT
                from multiprocessing import forkserver
                forkserver.ensure_running()
            # Ctrl-C now would leave a worker nobody knows about: held back, and if it came,
            # the workers are stopped before it is raised
            with _sigint_deferred(on_interrupt=self._shutdown_workers):
                for worker_id in range(self._num_workers):
                    self._start_worker(ctx, loader, worker_id)
            self._reset(loader, first_iter=True)
        except BaseException:
            self._shutdown_workers()
            raise

    def _start_worker(self, ctx: Any, loader: DataLoader, worker_id: int) -> None:
        reader, writer = ctx.Pipe(duplex=False)
        try:
            w = ctx.Process(
                target=_worker.worker_loop,
                args=(self._dataset_kind, self._dataset, self._index_queues[worker_id], writer,
                      self._workers_done_event, self._auto_collation, self._collate_fn,
                      self._drop_last, self._base_seed, loader.worker_init_fn, worker_id,
                      self._num_workers),
                daemon=True)
            w.start()
        except BaseException:
            reader.close()
            raise
        finally:
            # closed before the next worker starts, so no other worker inherits it: the pipe
            # reports end of file as soon as this worker has exited
            writer.close()
        self._readers.append(reader)
        self._workers.append(w)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0  # next task index to hand out
        self._rcvd_idx = 0  # next task index to yield
        self._task_info: dict[int, tuple] = {}  # idx -> (worker_id,) or (worker_id, data)
        self._task_indices: dict[int, Any] = {}  # idx -> the sampler's indices, until answered
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if first_iter:
            self._prefetch()
            return
        try:
            with _sigint_deferred():  # (see _try_put_index)
                for q in self._index_queues:
                    q.put(_ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _ResumeIteration):
                    pending -= 1
            self._prefetch()
        except BaseException:
            self._shutdown_workers()
            raise

    def _prefetch(self) -> None:
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        if self._tasks_outstanding >= self._prefetch_factor * self._num_workers:
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker has finished its share of an IterableDataset
        # Ctrl-C held back (~20 us a batch): a KeyboardInterrupt inside Queue.put, between the
        # acquire of the queue's lock and the `with` block that releases it, leaves the lock
        # held for good, and the shutdown's own put then waits for it forever (seen once in
        # 24 runs of the busy-loader Ctrl-C test). The bookkeeping goes with the put.
        with _sigint_deferred():
            self._index_queues[worker_id].put((self._send_idx, index))
            self._task_info[self._send_idx] = (worker_id,)
            self._task_indices[self._send_idx] = index
            self._tasks_outstanding += 1
            self._send_idx += 1

    def _get_data(self) -> tuple:
        """The next ``(idx, data)`` message from any worker, watching timeouts and deaths."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = MP_STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            readers = [r for r in self._readers if not r.closed]
            sentinels = [w.sentinel for i, w in enumerate(self._workers)
                         if self._workers_status[i]]
            ready = connection.wait(readers + sentinels, wait)
            for r in readers:
                if r in ready:
                    try:
                        payload = r.recv_bytes()
                    except (EOFError, OSError):
                        r.close()  # its worker has exited (mid-message, if it was killed)
                        continue
                    # our own workers' messages (see _worker's docstring), never a file
                    return pickle.loads(payload)
            # A worker writes all it sends before it exits: a dead worker's last messages
            # were ready in the same wait as its sentinel, and have been read first.
            failed = [i for i, w in enumerate(self._workers)
                      if self._workers_status[i] and w.exitcode is not None]
            if failed:
                self._raise_worker_failure(failed)
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _raise_worker_failure(self, failed: list[int]) -> None:
        """torch's error for workers that died: which pids, how, and what they were loading."""
        details = []
        for i in failed:
            w = self._workers[i]
            code = w.exitcode
            if code < 0:
                try:
                    name = signal.Signals(-code).name
                    how = f"is killed by signal: {signal.strsignal(-code) or name}. "
                except ValueError:
                    how = f"is killed by signal: {-code}. "
            else:
                how = (f"exited unexpectedly with exit code {code}. Details are lost due to "
                       "multiprocessing. Rerunning with num_workers=0 may give better error "
                       "trace.")
            loading = [self._task_indices[t] for t, info in self._task_info.items()
                       if len(info) == 1 and info[0] == i and t in self._task_indices]
            where = f" (worker {i}; was given indices {loading[0]!r})" if loading else ""
            details.append(f"DataLoader worker (pid {w.pid}) {how}{where}".rstrip())
        pids = ", ".join(str(self._workers[i].pid) for i in failed)
        self._shutdown_workers()
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly") from (
            RuntimeError("\n".join(details)))

    def _next_data(self) -> Any:
        if self._shutdown:
            raise StopIteration  # interrupted or failed: the workers are gone
        try:
            return self._next_data_inner()
        except (KeyboardInterrupt, SystemExit):
            self._shutdown_workers()
            raise

    def _next_data_inner(self) -> Any:
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    worker_id = info[0]
                    if len(info) == 2 or self._workers_status[worker_id]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process_data(data)

            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            self._task_indices.pop(idx, None)
            if isinstance(data, _IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    del self._task_info[idx]
                    return self._process_data(data)
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process_data(data)

    def _process_data(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            # as torch: the iterator stays usable (the next batches still come); workers stop
            # when it is exhausted or garbage-collected
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id: int) -> None:
        with _sigint_deferred():  # (see _try_put_index)
            self._index_queues[worker_id].put(None)
            self._workers_status[worker_id] = False

    def _drain(self) -> None:
        """Read and drop whatever the workers have written: one blocked on a full pipe can
        then see the done event. Raw reads never wait for the rest of a message."""
        for r in self._readers:
            try:
                while not r.closed and r.poll(0):
                    if os.name == "posix":
                        if not os.read(r.fileno(), 1 << 16):
                            r.close()  # end of file: its worker has exited
                    else:
                        r.recv_bytes()
            except (EOFError, OSError):
                r.close()

    def _shutdown_workers(self) -> None:
        """Tell every worker to exit, wait briefly, then terminate whatever is left.

        Runs with Ctrl-C held back: a Ctrl-C during shutdown is raised when it is done, never
        halfway, with workers left running.
        """
        if self._cleaned_up or os.getpid() != self._owner_pid:
            return
        self._shutdown = True
        with _sigint_deferred():
            self._workers_done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + SHUTDOWN_GRACE
            while True:
                alive = [w for w in self._workers if w.exitcode is None]
                left = deadline - time.monotonic()
                if not alive or left <= 0:
                    break
                self._drain()
                readers = [r for r in self._readers if not r.closed]
                connection.wait([w.sentinel for w in alive] + readers, min(left, 0.05))
            for w in self._workers:
                if w.exitcode is None:
                    w.terminate()  # busy in the dataset's code, or it ignores the done event
            for w in self._workers:
                w.join(timeout=SHUTDOWN_GRACE)
                if w.exitcode is None:
                    w.kill()  # it handles SIGTERM and would not exit
                    w.join()
            for q in self._index_queues:
                q.close()
            for r in self._readers:
                r.close()
            # Only now: a second Ctrl-C that came before the block above took effect left
            # this undone, and __del__ will do it again.
            self._cleaned_up = True

    def __del__(self) -> None:
        try:
            with _sigint_deferred(in_finalizer=True):
                self._shutdown_workers()
                # Free the queues, pipes and process handles here, inside the block: their
                # own finalizers run Python code too, and would drop a Ctrl-C just as well.
                self.__dict__.clear()
        except Exception:  # noqa: S110  (interpreter shutdown: modules may be gone)
            pass


@contextlib.contextmanager
def _sigint_deferred(in_finalizer: bool = False,
                     on_interrupt: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back for the block, then deliver it as if it came just after.

    Starting and stopping workers must not be cut in half: a KeyboardInterrupt between a
    ``fork`` and the bookkeeping after it would leave a worker nobody knows about, and a
    worker that receives SIGINT before it has set SIGINT to "ignore" dies with a traceback.
    Inside the block the main thread blocks SIGINT (a worker inherits the mask and unblocks
    it once SIGINT is ignored) and a recording handler catches a SIGINT that another thread
    took; at the end the previous handler is back, and a SIGINT that came is raised again, so
    it has its usual effect (a KeyboardInterrupt, unless the program set another handler).
    Only the main thread can handle signals; elsewhere the block runs as it is.

    ``on_interrupt``: called, still under the recording handler, when a SIGINT came during
    the block, before it is raised (to clean up with no KeyboardInterrupt possible meanwhile).
    ``in_finalizer``: the block runs in ``__del__``, where Python drops any exception (the
    KeyboardInterrupt would be lost); the SIGINT is then sent again to the main thread a
    moment later, once ``__del__`` has returned.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or previous == signal.SIG_IGN:
        yield  # set outside Python (cannot be restored), or ignored: nothing to hold back
        return
    received: list[int] = []

    def record(signum: int, frame: Any) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, record)
    can_mask = hasattr(signal, "pthread_sigmask")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if can_mask else None
    try:
        yield
    finally:
        if can_mask:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending SIGINT arrives now
        signal.signal(signal.SIGINT, record)  # runs the recording handler first, if due
        try:
            if received and on_interrupt is not None:
                on_interrupt()
        finally:
            signal.signal(signal.SIGINT, previous)  # (records one that came meanwhile)
            if received and in_finalizer and hasattr(signal, "pthread_kill"):
                threading.Thread(target=_resend_sigint, args=(threading.get_ident(),),
                                 name="DataLoaderResendSIGINT", daemon=True).start()
            elif received:
                signal.raise_signal(signal.SIGINT)


def _resend_sigint(main_thread_id: int) -> None:
    time.sleep(0.02)  # long enough for the main thread to leave __del__
    signal.pthread_kill(main_thread_id, signal.SIGINT)
