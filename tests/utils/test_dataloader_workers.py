"""DataLoader with worker processes: same batches as in-process, seeding, errors, shutdown.

Faults (a worker that raises, dies or hangs) are checked against torch's DataLoader on the
same dataset; Ctrl-C is sent to a child program's whole process group, as a terminal does, at
points the child itself announces (never "sleep and hope").
"""

from __future__ import annotations

import faulthandler
import gc
import json
import multiprocessing
import os
import random
import re
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


# ---------------------------------------------------------------------------------------------
# Worker faults: a worker that raises, dies or hangs gives torch's error, never a hang, and
# leaves no worker behind. Each case runs in chainrule and in torch (the oracle).


class Faulty(Dataset):
    """Index 5 fails in the given way (while ``armed``); the others load at once."""

    def __init__(self, fault):
        self.fault = fault
        self.armed = True

    def __getitem__(self, i):
        if i == 5 and self.armed:
            if self.fault == "raise":
                raise ValueError(f"bad sample {i}")
            if self.fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.fault == "segfault":
                faulthandler.disable()  # pytest's, inherited: no stack dump in the output
                os.kill(os.getpid(), signal.SIGSEGV)
            if self.fault == "exit":
                os._exit(3)
            if self.fault == "hang":
                time.sleep(1.5)  # past the timeout (0.5 s); torch's shutdown waits for it
        return i

    def __len__(self):
        return 8


def run_faulty(data, fault, persistent):
    """Iterate ``data.DataLoader`` (torch's or chainrule's) over Faulty(fault)."""

    class Both(Faulty, data.Dataset):
        pass

    ds = Both(fault)
    loader = data.DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=persistent,
                             timeout=0.5 if fault == "hang" else 0)
    got = []
    it = iter(loader)
    try:
        for b in it:
            got.append(b.tolist())
    except Exception as e:
        return e, got, loader, ds, it
    raise AssertionError(f"{fault}: no error")


@pytest.fixture(scope="module")
def torch_faults():
    """torch's error for every fault, from a process of its own: torch installs a SIGCHLD
    handler that raises whenever *any* child exits, chainrule's workers included."""
    script = textwrap.dedent("""
        import json, sys
        import torch.multiprocessing
        import torch.utils.data as data
        # batches pass through shared memory named by file, not by a descriptor fetched from
        # the worker: with descriptors, a worker that dies right after sending a batch makes
        # torch raise ConnectionResetError for that batch instead of naming the death (seen
        # under load)
        torch.multiprocessing.set_sharing_strategy("file_system")
        sys.path.insert(0, sys.argv[1])
        from test_dataloader_workers import FAULT_MESSAGES, run_faulty
        out = {}
        for fault in FAULT_MESSAGES:  # persistent workers change none of torch's messages
            err, got, *_ = run_faulty(data, fault, False)
            out[fault] = [type(err).__name__, str(err), str(err.__cause__), got]
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", script, os.path.dirname(__file__)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


FAULT_MESSAGES = {
    "raise": (ValueError, r"^Caught ValueError in DataLoader worker process 0\.\n"
                          r"Original Traceback \(most recent call last\):\n"),
    "kill": (RuntimeError, r"^DataLoader worker \(pid\(s\) \d+\) exited unexpectedly$"),
    "segfault": (RuntimeError, r"^DataLoader worker \(pid\(s\) \d+\) exited unexpectedly$"),
    "exit": (RuntimeError, r"^DataLoader worker \(pid\(s\) \d+\) exited unexpectedly$"),
    "hang": (RuntimeError, r"^DataLoader timed out after 0\.5 seconds$"),
}
FAULT_CAUSES = {
    "kill": r"^DataLoader worker \(pid \d+\) is killed by signal: Killed\. ",
    "segfault": r"^DataLoader worker \(pid \d+\) is killed by signal: Segmentation fault\. ",
    "exit": r"^DataLoader worker \(pid \d+\) exited unexpectedly with exit code 3\. Details are "
            r"lost due to multiprocessing\. Rerunning with num_workers=0 may give better error "
            r"trace\.",
}


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("fault", list(FAULT_MESSAGES))
def test_worker_fault_gives_torchs_error_and_no_worker_survives(fault, persistent,
                                                               torch_faults):
    import chainrule.utils.data as data

    ours, got, loader, ds, it = run_faulty(data, fault, persistent)
    theirs_type, theirs, theirs_cause, torch_got = torch_faults[fault]
    cls, pattern = FAULT_MESSAGES[fault]
    assert type(ours) is cls and theirs_type == cls.__name__
    assert re.match(pattern, str(ours)), str(ours)
    # torch's SIGCHLD handler raises "DataLoader worker (pid N) ..." wherever its main process
    # is: inside its wait for data torch wraps it as the error above (chainrule's); anywhere
    # else it comes as it is (timing: seen once in a full run of the suite)
    torch_raw = fault in FAULT_CAUSES and re.match(FAULT_CAUSES[fault], theirs)
    assert torch_raw or re.match(pattern, theirs), theirs
    # batches before index 5's, in order; as torch, a worker's death is raised as soon as it
    # is seen, even while another worker's batch is still on its way
    for batches_before in (got, torch_got):
        assert batches_before == [[0, 1], [2, 3]][:len(batches_before)]
    if fault in ("raise", "hang"):
        assert got == [[0, 1], [2, 3]]
    if fault in FAULT_CAUSES:
        assert re.match(FAULT_CAUSES[fault], str(ours.__cause__)), str(ours.__cause__)
        # torch's cause is its SIGCHLD handler's error, unless its 5-second status poll saw the
        # death first (a slow core dump, a loaded machine): then it is the poll's queue.Empty,
        # whose text is empty
        if not torch_raw:
            assert theirs_cause == "" or re.match(FAULT_CAUSES[fault], theirs_cause), \
                theirs_cause
        # more than torch: which worker, loading which indices
        assert "(worker 0; was given indices [4, 5])" in str(ours.__cause__)
    if fault == "raise":
        assert "bad sample 5" in str(ours) and "__getitem__" in str(ours)
        return  # as torch, the iterator goes on after a worker's exception (tested above)
    workers = it._workers
    assert all(w.exitcode is not None for w in workers)  # gone when the error arrives
    # the next epoch starts fresh workers and loads everything
    ds.armed = False
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    if persistent:
        assert loader._iterator is not it
        assert all(w.exitcode is not None for w in workers)
        loader._iterator._shutdown_workers()


def test_worker_fault_leaves_no_worker_behind():
    before = {p.pid for p in multiprocessing.active_children()}
    for fault in ("kill", "exit", "hang"):
        loader = DataLoader(Faulty(fault), batch_size=2, num_workers=3, timeout=0.5)
        it = iter(loader)
        pids = [w.pid for w in it._workers]
        with pytest.raises(RuntimeError):
            list(it)
        # gone by the time the error arrives: nothing to wait for
        assert all(w.exitcode is not None for w in it._workers)
        assert not set(pids) & {p.pid for p in multiprocessing.active_children()}
    assert {p.pid for p in multiprocessing.active_children()} <= before


# ---------------------------------------------------------------------------------------------
# Ctrl-C. A terminal sends SIGINT to the whole process group: the main process and every
# worker. The child programs below announce on stdout the moment to send it, so each test
# hits the same point every run. They reset SIGINT to Python's default handler first: a test
# run started with SIGINT ignored (a background job of a non-interactive shell, nohup, some CI
# runners) passes that on to its children, which then never see a KeyboardInterrupt at all.
# That, not the loader, was why this test once hung in `connection.poll`.

CHILD_PRELUDE = '''
import faulthandler, multiprocessing, os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
faulthandler.dump_traceback_later(30, exit=True)  # a hang shows where it is, then fails
import chainrule
from chainrule.utils.data import DataLoader, Dataset


def report_interrupt(workers):
    # Runs in the main process as soon as KeyboardInterrupt reaches the program (and the
    # program has dropped its iterators): every worker must be gone already, no waiting.
    codes = [w.exitcode for w in workers]
    left = [p.pid for p in multiprocessing.active_children()]
    print("interrupted", codes, left, flush=True)
    sys.exit(0)
'''


def run_ctrl_c(tmp_path, body, announcements=1):
    """Run CHILD_PRELUDE + body; after its ``announcements``-th line, SIGINT its group
    (with 0, the child sends SIGINT itself)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD_PRELUDE + textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                            start_new_session=True)
    try:
        lines = [proc.stdout.readline() for _ in range(announcements)]
        assert all(line.strip() for line in lines), proc.communicate()[1]
        if announcements:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # a worker left behind keeps the pipes open after the main process has gone (its
            # faulthandler dump, after 30 s, says where it hung): fail with what it wrote
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"no end within 60 s after Ctrl-C (status {proc.returncode})\n"
                        f"stdout:\n{''.join(lines)}{out}\nstderr:\n{err}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, "".join(lines) + out, err


def assert_clean_interrupt(returncode, out, err, pids=()):
    assert returncode == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("interrupted"), out
    codes, left = last[len("interrupted"):].split("] [")
    assert "None" not in codes, out  # every worker had exited when the KeyboardInterrupt came
    assert left.strip(" []") == "", out  # and no child process of any kind is left
    assert "Traceback" not in err, err  # workers ignore SIGINT and exit silently when told
    for pid in pids:  # nor anything at all, once the program has ended
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("persistent", [False, True])
def test_ctrl_c_while_waiting_for_a_batch(tmp_path, persistent):
    # index 1 never finishes loading; its worker says so once the main process waits in the
    # loader: asleep in poll/select (Linux's /proc). The worker is given index 1 while iter()
    # is still handing out the first indices, and a Ctrl-C there is raised by iter(), outside
    # this program's `try`; an announcement from the main process itself would come before
    # it waits, however late it were made.
    code, out, err = run_ctrl_c(tmp_path, f"""
        def main_waits():
            pid = os.getppid()
            with open(f"/proc/{{pid}}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            try:
                with open(f"/proc/{{pid}}/wchan") as f:
                    wchan = f.read()
            except OSError:
                wchan = ""
            known = wchan not in ("", "0")
            return state == "S" and (not known or "poll" in wchan or "select" in wchan)

        class Stuck(Dataset):
            def __getitem__(self, i):
                if i == 1:
                    while not main_waits():
                        time.sleep(0.001)
                    print("loading 1", flush=True)  # from the worker: the main process waits
                if i >= 1:
                    time.sleep(300)
                return i
            def __len__(self):
                return 100

        loader = DataLoader(Stuck(), batch_size=1, num_workers=2,
                            persistent_workers={persistent})
        it = iter(loader)
        try:
            next(it)
            next(it)
        except KeyboardInterrupt:
            # the interrupt came inside the loader (it was waiting): the iterator has shut
            # its workers down already, though the program still holds it
            report_interrupt(it._workers)
        """)
    assert_clean_interrupt(code, out, err)


def test_ctrl_c_inside_an_index_put_waits_for_the_put():
    # A KeyboardInterrupt inside multiprocessing's Queue.put, after it has taken the queue's
    # lock and before the block that releases it, left the lock held; the shutdown's own put
    # then waited for it for ever (1 run in 24 of the test below hung so). The loader holds
    # Ctrl-C back around its puts: the put finishes, then the KeyboardInterrupt comes.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        it = iter(DataLoader(list(range(100)), batch_size=1, num_workers=1))
        queue, done = it._index_queues[0], []
        real_put = queue.put

        def put(item, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the put
            time.sleep(0.05)  # Python runs a handler that is not held back in here
            real_put(item, *args, **kwargs)
            done.append(item)

        queue.put = put
        with pytest.raises(KeyboardInterrupt):
            for _ in it:
                pass
        assert done and done[0] is not None  # the interrupted put of an index finished
        assert all(w.exitcode is not None for w in it._workers)  # and shutting down did too
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_between_batches_of_a_busy_loader(tmp_path):
    # the original scenario: workers busy, the main process consuming batches. The interrupt
    # comes inside the loader or in the loop's own code; then the workers go with the iterator
    # (here: `del it`; a `for` loop drops it as the KeyboardInterrupt leaves the loop)
    code, out, err = run_ctrl_c(tmp_path, """
        class Slow(Dataset):
            def __getitem__(self, i):
                time.sleep(0.01)
                return i
            def __len__(self):
                return 10 ** 6

        it = iter(DataLoader(Slow(), batch_size=1, num_workers=2))
        workers = it._workers
        try:
            next(it)
            print(" ".join(str(w.pid) for w in workers), flush=True)
            for _ in it:
                pass
        except KeyboardInterrupt:
            del it
            report_interrupt(workers)
        """)
    assert_clean_interrupt(code, out, err)


class_prelude_for_start = """
import multiprocessing.context as mpc


class InterruptingProcess(mpc.{kind}Process):
    # The first thing worker 0 does, before DataLoader's code runs in it: Ctrl-C, to the whole
    # group (this worker, and the main process, which is still starting the other two). Once:
    # a program that gets Ctrl-C twice may well be interrupted inside its own except block.
    def run(self):
        if self._args[-2] == 0:  # worker_loop(..., worker_id, num_workers)
            os.killpg(0, signal.SIGINT)
        super().run()


class Context(mpc.{kind}Context):
    Process = InterruptingProcess
"""


@pytest.mark.parametrize("kind", ["Fork", "Spawn"])
def test_ctrl_c_while_workers_start(tmp_path, kind):
    code, out, err = run_ctrl_c(tmp_path, class_prelude_for_start.format(kind=kind) + """

if __name__ == "__main__":
    workers = []
    try:
        loader = DataLoader(chainrule.utils.data.TensorDataset(chainrule.arange(1000)),
                            batch_size=1, num_workers=3, multiprocessing_context=Context())
        for _ in range(1000):  # the interrupt arrives during the start, or very soon after
            it = iter(loader)
            workers += it._workers
            list(it)
        print("never interrupted", flush=True)
    except KeyboardInterrupt:
        it = None
        report_interrupt(workers)
""", announcements=0)
    if kind == "Spawn":
        # A spawned worker is a new interpreter, which sets up its own SIGINT handler before
        # any of DataLoader's code runs in it: it may print its own KeyboardInterrupt. The
        # main process's guarantees hold all the same.
        err = "\n".join(line for line in err.splitlines() if "Process SpawnProcess" not in line)
        err = "" if "KeyboardInterrupt" in err else err
    assert_clean_interrupt(code, out, err)


def test_sigint_deferred_holds_ctrl_c_until_the_block_ends():
    from chainrule.utils.data.dataloader import _sigint_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        steps = []
        with pytest.raises(KeyboardInterrupt):
            with _sigint_deferred():
                signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt here
                steps.append("after the signal")
        assert steps == ["after the signal"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with _sigint_deferred():  # no signal: nothing raised
            steps.append("quiet")
        # in a finalizer the exception would be dropped: the signal comes again just after
        with pytest.raises(KeyboardInterrupt):
            with _sigint_deferred(in_finalizer=True):
                signal.raise_signal(signal.SIGINT)
            steps.append("left the block")
            time.sleep(30)  # the re-sent SIGINT interrupts this
        assert steps[-1] == "left the block"
        # cleanup on interrupt runs before the KeyboardInterrupt, and cannot be interrupted
        def cleanup():
            signal.raise_signal(signal.SIGINT)  # a second Ctrl-C meanwhile: recorded too
            steps.append("cleaned up")

        with pytest.raises(KeyboardInterrupt):
            with _sigint_deferred(on_interrupt=cleanup):
                signal.raise_signal(signal.SIGINT)
        assert steps[-1] == "cleaned up"
        with _sigint_deferred(on_interrupt=cleanup):  # no interrupt, no cleanup
            steps.append("quiet again")
        assert steps[-1] == "quiet again"
    finally:
        signal.signal(signal.SIGINT, previous)
