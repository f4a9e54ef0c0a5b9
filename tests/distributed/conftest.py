"""One 2-rank MPI job runs every check in _worker.py; the tests here read its results.

The job is started through the launcher (``python -m chainrule.distributed.launch``), once
per test session (per xdist worker), with a timeout so that a hang fails instead of waiting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from chainrule.testing import assert_close

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORLD = 2
TIMEOUT = 120  # seconds: only a guard against hangs (the job takes a few seconds)


def environment() -> dict[str, str]:
    """The environment of an MPI job: this worktree's chainrule, one BLAS thread a rank."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def run(argv: list[str], timeout: float = TIMEOUT,
        path: list[str] | None = None) -> subprocess.CompletedProcess:
    """``python *argv`` from the worktree root, output captured, with a hang guard;
    ``path``: more folders for ``PYTHONPATH``."""
    env = environment()
    env["PYTHONPATH"] = os.pathsep.join([*(path or []), env["PYTHONPATH"]])
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


class Results:
    """What each rank of the worker job reported."""

    def __init__(self, folder: Path) -> None:
        self.reports = [json.loads((folder / f"rank{r}.json").read_text()) for r in range(WORLD)]
        self.arrays = []
        for r in range(WORLD):
            with np.load(folder / f"rank{r}.npz", allow_pickle=False) as f:
                self.arrays.append({k.replace("|", "/"): f[k] for k in f.files})

    def facts(self, case: str, rank: int) -> dict[str, Any]:
        report = self.reports[rank][case]
        assert report["status"] == "ok", f"rank {rank}, {case}:\n{report['status']}"
        return report["facts"]

    def pairs(self, case: str, rank: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(label, got, want)`` for every comparison the case recorded on ``rank``."""
        self.facts(case, rank)
        labels = self.reports[rank][case]["arrays"]
        assert labels, f"{case} recorded no comparisons on rank {rank}"
        for label in labels:
            yield (label, self.arrays[rank][f"{case}/{label}/got"],
                   self.arrays[rank][f"{case}/{label}/want"])

    def check(self, case: str, **tolerances: float) -> int:
        """Compare every recorded pair of ``case`` on every rank; the number compared."""
        n = 0
        for rank in range(WORLD):
            for label, got, want in self.pairs(case, rank):
                assert got.dtype == want.dtype, f"rank {rank}, {label}: {got.dtype} {want.dtype}"
                assert_close(got, want, msg=f"rank {rank}, {label}", **tolerances)
                n += 1
        return n


@pytest.fixture(scope="session")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Results:
    out = tmp_path_factory.mktemp("distributed")
    done = run(["-m", "chainrule.distributed.launch", "-n", str(WORLD),
                str(HERE / "_worker.py"), str(out)])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return Results(out)


@pytest.fixture(scope="session")
def mpi() -> SimpleNamespace:
    """Helpers for tests that start their own job: ``mpi.run(argv)``, ``mpi.world``,
    ``mpi.root``, ``mpi.environment()``."""
    return SimpleNamespace(run=run, world=WORLD, root=ROOT, environment=environment)
