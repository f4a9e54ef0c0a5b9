"""The process group: initialisation, ranks, and a failing rank ending the whole job.

Nothing here initialises MPI inside the pytest process (forked DataLoader workers and MPI do
not mix): what needs MPI runs in a 2-rank job (conftest.py) or in the jobs started below.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import chainrule
import chainrule.distributed as dist
from chainrule.distributed.launch import _find_mpiexec

WORLD = 2


def test_rank_and_world_size_in_a_job(worker: Any) -> None:
    for rank in range(WORLD):
        facts = worker.facts("process_group", rank)
        assert facts == {"rank": rank, "world_size": WORLD, "is_initialized": True,
                         "is_available": True, "backend": "mpi", "world_rank": rank,
                         "world_size_of_group": WORLD, "member_is_world": True}


def test_init_twice_raises_value_error(worker: Any) -> None:
    for rank in range(WORLD):
        assert worker.facts("init_twice", rank)["raised"] == \
            "trying to initialize the default process group twice!"


def test_uninitialized_queries_raise_as_torch() -> None:
    assert not dist.is_initialized()
    assert dist.group.WORLD is None and dist.GroupMember.WORLD is None
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.all_reduce(chainrule.zeros(2))


def test_other_backends_are_refused() -> None:
    with pytest.raises(RuntimeError, match="only the 'mpi' backend"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_importing_does_not_start_mpi(mpi: Any) -> None:
    done = mpi.run(["-c", "import sys, chainrule, chainrule.distributed as d, chainrule.nn; "
                          "d.is_available(); print('mpi4py.MPI' in sys.modules)"])
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_without_mpi4py_the_package_imports_and_says_unavailable(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    assert dist.is_available() is False and dist.is_mpi_available() is False
    with pytest.raises(RuntimeError, match=r"pip install 'chainrule\[distributed\]'"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_reduce_op_values_are_torchs() -> None:
    import torch.distributed as tdist

    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert getattr(dist.ReduceOp, name).value == int(getattr(tdist.ReduceOp, name))


# -- a failing rank ends the job ---------------------------------------------------------------
RAISE_AFTER_INIT = """
import chainrule, chainrule.distributed as dist
dist.init_process_group("mpi")
t = chainrule.ones(3)
dist.all_reduce(t)
if dist.get_rank() == 1:
    raise ValueError("rank one is broken")
dist.all_reduce(t)  # rank 0 waits here for a partner that is gone
"""

RAISE_BEFORE_INIT = """
import os, chainrule, chainrule.distributed as dist
if os.environ.get("PMI_RANK") == "1":
    raise FileNotFoundError("no such file: data.bin")
dist.init_process_group("mpi")
dist.all_reduce(chainrule.ones(3))  # rank 0 waits for rank 1, which never comes
"""

EXIT_NONZERO = """
import sys, chainrule, chainrule.distributed as dist
dist.init_process_group("mpi")
if dist.get_rank() == 1:
    sys.exit(3)
dist.barrier()
"""


def _script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_raising_rank_ends_a_plain_mpiexec_job(tmp_path: Path, mpi: Any) -> None:
    # init_process_group's excepthook: no launcher involved
    done = mpi.run(["-c", "import sys, subprocess; sys.exit(subprocess.call(sys.argv[1:]))",
                    _find_mpiexec(), "-n", "2", sys.executable,
                    _script(tmp_path, RAISE_AFTER_INIT)], timeout=60)
    assert done.returncode != 0
    assert "rank 1 failed: ValueError: rank one is broken" in done.stderr
    assert 'raise ValueError("rank one is broken")' in done.stderr  # the traceback
    assert "aborting every rank of the job" in done.stderr


def test_a_rank_failing_before_init_ends_a_launched_job(tmp_path: Path, mpi: Any) -> None:
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "2",
                    _script(tmp_path, RAISE_BEFORE_INIT)], timeout=60)
    assert done.returncode != 0
    assert "rank 1 failed: FileNotFoundError: no such file: data.bin" in done.stderr
    # the traceback starts at the script, not in the launcher's machinery
    assert "runpy" not in done.stderr and "_bootstrap" not in done.stderr


def test_sys_exit_nonzero_on_one_rank_ends_a_launched_job(tmp_path: Path, mpi: Any) -> None:
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "2",
                    _script(tmp_path, EXIT_NONZERO)], timeout=60)
    assert done.returncode != 0
    assert "rank 1 failed: exited with status 3" in done.stderr


EXIT_TOGETHER = """
import sys, time
import chainrule.distributed as dist
dist.init_process_group("mpi")
if dist.get_rank() == 0 and "--alone" in sys.argv:
    time.sleep(60)  # rank 1 exits alone: it must not wait for ever
print(f"rank {dist.get_rank()}: last words", flush=True)
dist.exit_job(3, timeout=1.0)
"""


def test_exit_job_ends_every_rank_with_one_status(tmp_path: Path, mpi: Any) -> None:
    script = _script(tmp_path, EXIT_TOGETHER)
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "2", script], timeout=60)
    # the status of the job is the ranks', none was aborted, and both had their say
    assert done.returncode == 3, done.stderr
    assert "rank 0: last words" in done.stdout and "rank 1: last words" in done.stdout
    assert "failed" not in done.stderr and "Abort" not in done.stderr
    # a rank that comes alone to exit_job does not wait for ever: it aborts the job
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "2", script, "--alone"],
                   timeout=60)
    assert done.returncode == 3
    assert "rank 1: the other ranks did not come to exit with status 3 within 1s" in \
        done.stderr
