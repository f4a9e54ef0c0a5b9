"""DataLoader with worker processes: same batches as in-process, seeding, errors, shutdown."""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import chainrule
from chainrule.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    get_worker_info,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def batches(loader):
    return [[t.numpy().copy() for t in b] for b in loader]


def assert_batches_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


def test_workers_yield_the_same_batches_as_the_main_process():
    ds = TensorDataset(chainrule.randn(37, 3), chainrule.arange(37))
    for kwargs in ({"batch_size": 4}, {"batch_size": 4, "drop_last": True},
                   {"batch_size": 5, "shuffle": True}):
        runs = []
        for workers in (0, 2):
            g = chainrule.Generator().manual_seed(5)
            runs.append(batches(DataLoader(ds, num_workers=workers, generator=g, **kwargs)))
        assert_batches_equal(runs[0], runs[1])


class RandomAugment(Dataset):
    """Returns the draws of all three RNGs a transform might use, plus the worker id."""

    def __getitem__(self, i):
        info = get_worker_info()
        wid = -1 if info is None else info.id
        return (np.array([chainrule.rand(1).item(), np.random.rand(), random.random()]),
                np.array([i, wid]))

    def __len__(self):
        return 16


def draws(seed, workers):
    loader = DataLoader(RandomAugment(), batch_size=2, num_workers=workers,
                        generator=chainrule.Generator().manual_seed(seed))
    values, ids = [], []
    for x, meta in loader:
        values.append(x.numpy())
        ids.append(meta.numpy())
    return np.concatenate(values), np.concatenate(ids)


def test_worker_seeding_distinct_across_workers_and_repeatable():
    np.random.seed(0)  # the parent's numpy state must not leak identically into every worker
    values, ids = draws(seed=1, workers=2)
    again, _ = draws(seed=1, workers=2)
    other, _ = draws(seed=2, workers=2)
    np.testing.assert_array_equal(values, again)  # same seed, same augmentations
    assert not np.array_equal(values, other)  # new seed, new augmentations
    by_worker = {w: values[ids[:, 1] == w] for w in (0, 1)}
    assert len(by_worker[0]) == len(by_worker[1]) == 8
    for column in range(3):  # chainrule, numpy and random streams each differ per worker
        assert not np.array_equal(by_worker[0][:4, column], by_worker[1][:4, column])
    # every value drawn anywhere is distinct: no two workers repeat a stream
    for column in range(3):
        assert len(np.unique(values[:, column])) == len(values)


def test_random_augmentations_per_worker():
    from chainrule.vision import transforms as T

    class SameImage(Dataset):
        """Eight copies of one image, randomly cropped: only the RNG makes them differ."""

        def __init__(self):
            self.image = np.arange(100, dtype=np.uint8).reshape(10, 10)
            self.t = T.Compose([T.RandomCrop(6), T.ToTensor()])

        def __getitem__(self, i):
            return self.t(self.image)

        def __len__(self):
            return 8

    def run(seed):
        loader = DataLoader(SameImage(), batch_size=4, num_workers=2,
                            generator=chainrule.Generator().manual_seed(seed))
        return [b.numpy() for b in loader]  # batch 0 from worker 0, batch 1 from worker 1

    first, again, other = run(0), run(0), run(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_worker_info_and_init_fn():
    seen = []

    class Info(Dataset):
        def __getitem__(self, i):
            info = get_worker_info()
            return np.array([info.id, info.num_workers, info.seed, os.environ["CR_INIT"] == "ok"])

        def __len__(self):
            return 4

    def init(worker_id):
        os.environ["CR_INIT"] = "ok"
        seen.append(worker_id)  # runs in the worker, not here

    g = chainrule.Generator().manual_seed(3)
    rows = np.concatenate([b.numpy() for b in DataLoader(Info(), batch_size=1, num_workers=2,
                                                         worker_init_fn=init, generator=g)])
    assert set(rows[:, 0].tolist()) == {0, 1} and set(rows[:, 1].tolist()) == {2}
    assert rows[:, 3].all() and seen == []
    seeds = {int(r[0]): int(r[2]) for r in rows}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id


class Failing(Dataset):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return i

    def __len__(self):
        return 8


def test_worker_exception_reraised_with_worker_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError) as err:
        next(it)
    text = str(err.value)
    assert "Caught ValueError in DataLoader worker process" in text
    assert "bad sample 5" in text and "__getitem__" in text and "Traceback" in text
    assert next(it).tolist() == [6, 7]  # as torch, the iterator goes on after the error
    workers = it._workers
    del it, err  # the traceback holds the iterator too
    gc.collect()
    deadline = time.time() + 10
    while any(w.is_alive() for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(w.is_alive() for w in workers)
    with pytest.raises(KeyError, match="missing"):  # KeyError keeps its type too
        list(DataLoader(_KeyErrorDataset(), num_workers=1))


class _KeyErrorDataset(Dataset):
    def __getitem__(self, i):
        return {}["missing"]

    def __len__(self):
        return 2


class Shards(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_sharded_across_workers():
    got = sorted(np.concatenate([b.numpy() for b in DataLoader(Shards(23), batch_size=4,
                                                               num_workers=3)]).tolist())
    assert got == list(range(23))
    # without sharding each worker yields the whole stream once
    class Whole(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    got = sorted(np.concatenate([b.numpy() for b in DataLoader(Whole(), batch_size=2,
                                                               num_workers=2)]).tolist())
    assert got == sorted(list(range(5)) * 2)


def test_persistent_workers_reused_across_epochs():
    ds = TensorDataset(chainrule.arange(12))
    loader = DataLoader(ds, batch_size=5, num_workers=2, persistent_workers=True)
    first = [b[0].tolist() for b in loader]
    pids = [w.pid for w in loader._iterator._workers]
    second = [b[0].tolist() for b in loader]
    assert first == second == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]
    assert [w.pid for w in loader._iterator._workers] == pids
    assert all(w.is_alive() for w in loader._iterator._workers)
    loader._iterator._shutdown_workers()
    assert not any(w.is_alive() for w in loader._iterator._workers)


def test_prefetch_factor_and_in_order():
    ds = TensorDataset(chainrule.arange(30))
    out = [b[0].tolist() for b in DataLoader(ds, batch_size=3, num_workers=2, prefetch_factor=1)]
    assert out == [list(range(i, i + 3)) for i in range(0, 30, 3)]
    unordered = [b[0].tolist() for b in DataLoader(ds, batch_size=3, num_workers=2,
                                                   in_order=False)]
    assert sorted(unordered) == out


class Slow(Dataset):
    def __getitem__(self, i):
        time.sleep(1.0)
        return i

    def __len__(self):
        return 2


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        next(iter(DataLoader(Slow(), num_workers=1, timeout=0.2)))


class Dies(Dataset):
    def __getitem__(self, i):
        os._exit(3)

    def __len__(self):
        return 2


def test_worker_killed_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(Dies(), num_workers=1))


def test_spawn_context_ships_tensors():
    ds = TensorDataset(chainrule.arange(6.0), chainrule.arange(6))
    loader = DataLoader(ds, batch_size=3, num_workers=1, multiprocessing_context="spawn")
    assert [b[1].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="multiprocessing_context can only be used"):
        DataLoader(ds, multiprocessing_context="spawn")


def test_ctrl_c_shuts_workers_down():
    script = textwrap.dedent("""
        import faulthandler, sys, time
        import chainrule
        from chainrule.utils.data import DataLoader, Dataset

        faulthandler.dump_traceback_later(15, exit=True)  # a hang shows where it is

        class Slow(Dataset):
            def __getitem__(self, i):
                time.sleep(0.2)
                return i
            def __len__(self):
                return 1000

        it = iter(DataLoader(Slow(), batch_size=1, num_workers=2))
        try:
            next(it)
            print(" ".join(str(w.pid) for w in it._workers), flush=True)
            for _ in it:
                pass
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    # Ctrl-C in a terminal signals the whole process group
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted" in out
    assert "Traceback" not in err  # workers ignore SIGINT and exit when told, silently
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
