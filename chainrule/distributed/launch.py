"""Start a script as N ranks of an MPI job: ``python -m chainrule.distributed.launch``.

Usage::

    python -m chainrule.distributed.launch -n 2 train.py --epochs 3
    python -m chainrule.distributed.launch -n 8 --hostfile hosts.txt train.py

It runs ``mpiexec -n N python train.py ...`` (MPICH's ``mpiexec`` from the mpich wheel next
to this Python, else the first on ``PATH``), with three things added:

- each rank runs the script through :mod:`chainrule.distributed._bootstrap`, so a rank that
  fails anywhere, even before ``init_process_group``, ends the whole job at once with its
  error (``rank R failed: ...``) instead of leaving the others waiting; the launcher prints
  that error itself once the job has ended (``MPI_Abort`` can end MPICH's proxies before they
  forward a rank's last writes to stderr);
- on one machine, each rank gets ``cores // N`` BLAS/OpenMP threads (``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``), unless they are set already, so N ranks do
  not fight over the cores (torchrun does the same); ``--threads`` sets it explicitly;
- the ranks import the same chainrule as the launcher (its folder leads ``PYTHONPATH``).

The exit status is the job's: 0 when every rank succeeded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from chainrule.distributed.process_group import NOTES_VARIABLE

__all__ = ["launch", "mpiexec_command", "in_mpi_job", "main"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Set in every process an MPI launcher starts: MPICH's Hydra (and srun --mpi=pmi2), Open MPI,
# PMIx launchers. (Not SLURM_PROCID: a batch script has it without being an MPI rank.)
_JOB_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def in_mpi_job() -> bool:
    """Whether this process is a rank started by an MPI launcher (``mpiexec``, ``mpirun``,
    ``srun --mpi=...``), judged from the variables launchers set, before MPI is initialised.

    ``chainrule train CONFIG --nproc N`` asks this to tell the N ranks it starts from itself.

    Example:
        >>> isinstance(in_mpi_job(), bool)
        True
    """
    return any(var in os.environ for var in _JOB_VARIABLES)


def _find_mpiexec() -> str:
    here = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    found = here or shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("mpiexec not found: pip install 'chainrule[distributed]' (mpi4py and "
                           "the mpich wheels), or put an MPI's mpiexec on PATH")
    return found


def mpiexec_command(nproc: int, argv: Sequence[str], *, hosts: str | None = None,
                    hostfile: str | None = None, mpiexec: str | None = None,
                    mpiexec_args: Sequence[str] = ()) -> list[str]:
    """The ``mpiexec`` command line that :func:`launch` runs.

    Example:
        >>> cmd = mpiexec_command(2, ["train.py", "--epochs", "3"], mpiexec="mpiexec")
        >>> cmd[:3]
        ['mpiexec', '-n', '2']
        >>> cmd[-4:]
        ['chainrule.distributed._bootstrap', 'train.py', '--epochs', '3']
    """
    if int(nproc) < 1:
        raise ValueError(f"launch: nproc must be at least 1, got {nproc}")
    if not argv:
        raise ValueError("launch: give the script to run (script.py or -m module)")
    cmd = [mpiexec or _find_mpiexec(), "-n", str(int(nproc))]
    if hosts:
        cmd += ["-hosts", hosts]  # MPICH's spelling (Open MPI: --host)
    if hostfile:
        cmd += ["-hostfile", hostfile]  # understood by both MPICH and Open MPI
    cmd += list(mpiexec_args)
    return cmd + [sys.executable, "-m", "chainrule.distributed._bootstrap", *argv]


def _environment(nproc: int, threads: int | None, one_machine: bool) -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if threads is not None:
        for var in _THREAD_VARIABLES:
            env[var] = str(int(threads))
    elif one_machine:
        per_rank = str(max(1, (os.cpu_count() or 1) // int(nproc)))
        for var in _THREAD_VARIABLES:
            env.setdefault(var, per_rank)
    return env


def launch(nproc: int, argv: Sequence[str], *, hosts: str | None = None,
           hostfile: str | None = None, threads: int | None = None,
           mpiexec: str | None = None, mpiexec_args: Sequence[str] = (),
           timeout: float | None = None) -> int:
    """Run ``python *argv`` as ``nproc`` ranks under ``mpiexec``; return the job's exit status.

    Args:
        nproc: the number of ranks (processes).
        argv: ``["script.py", *args]`` or ``["-m", "package.module", *args]``.
        hosts: comma-separated host names (MPICH's ``-hosts``); ``None``: this machine.
        hostfile: a file of host names (``-hostfile``), e.g. ``node1:4`` per line for MPICH.
        threads: BLAS/OpenMP threads per rank; ``None``: ``cores // nproc`` on one machine.
        mpiexec: the ``mpiexec`` to run; ``None``: the mpich wheel's, else ``PATH``'s.
        mpiexec_args: further options for ``mpiexec`` (e.g. ``["-bind-to", "core"]``).
        timeout: seconds after which the job is killed (``subprocess.TimeoutExpired``).

    Returns:
        0 when every rank succeeded, else the failing job's status.

    Ctrl-C reaches ``mpiexec`` too, which passes it on to every rank (MPICH: "Sending Ctrl-C
    to processes as requested"), so ``launch`` keeps waiting for the job: a script that handles
    SIGINT (:func:`chainrule.train.fit` does) can finish its step and write a checkpoint. A
    second Ctrl-C makes ``mpiexec`` abort the job, and ``launch`` kills it.
    """
    cmd = mpiexec_command(nproc, argv, hosts=hosts, hostfile=hostfile, mpiexec=mpiexec,
                          mpiexec_args=mpiexec_args)
    env = _environment(nproc, threads, one_machine=not hosts and not hostfile)
    with tempfile.TemporaryDirectory(prefix="chainrule-launch-") as notes:
        env[NOTES_VARIABLE] = notes
        try:
            return _wait(cmd, env, timeout)
        finally:
            _print_notes(notes)


def _print_notes(folder: str) -> None:
    """Print the messages that aborting ranks left in ``folder`` (see ``abort_job``), by rank."""
    def rank(name: str) -> tuple[int, str]:
        label = name.split("-")[1]
        return (int(label) if label.isdigit() else -1, name)

    for name in sorted(os.listdir(folder), key=rank):
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
            sys.stderr.write(f.read())
    sys.stderr.flush()


def _wait(cmd: list[str], env: dict[str, str], timeout: float | None) -> int:
    """Run the job; its exit status (see :func:`launch` for Ctrl-C and ``timeout``)."""
    with subprocess.Popen(cmd, env=env) as job:
        deadline = None if timeout is None else time.monotonic() + timeout
        interrupted = False
        while True:
            try:
                left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                return job.wait(timeout=left)
            except subprocess.TimeoutExpired:
                job.kill()
                job.wait()
                raise subprocess.TimeoutExpired(cmd, timeout) from None
            except KeyboardInterrupt:
                if interrupted:
                    job.kill()
                    job.wait()
                    raise
                interrupted = True  # mpiexec has it too, and passes it on to the ranks


_VALUED_OPTIONS = ("-n", "--nproc", "--nproc-per-node", "--hosts", "--hostfile", "--threads",
                   "--mpiexec")


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The launcher's own options, and the program to run (``script.py ...``/``-m mod ...``)."""
    argv = list(argv)
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-m" or not a.startswith("-"):
            return argv[:i], argv[i:]
        if a in _VALUED_OPTIONS:
            i += 2
        else:  # --opt=value, -h, or an unknown option (argparse reports it)
            i += 1
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m chainrule.distributed.launch -n N script.py args...``."""
    parser = argparse.ArgumentParser(
        prog="python -m chainrule.distributed.launch",
        usage="%(prog)s -n N [options] (script.py | -m module) [args ...]",
        description="Run a script as N ranks of an MPI job (mpiexec), with chainrule's "
                    "abort-on-failure guard and per-rank thread counts.")
    parser.add_argument("-n", "--nproc", "--nproc-per-node", type=int, required=True,
                        help="number of ranks")
    parser.add_argument("--hosts", default=None, help="comma-separated hosts (MPICH -hosts)")
    parser.add_argument("--hostfile", default=None, help="file of hosts (-hostfile)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads per rank (default: cores // N on one machine)")
    parser.add_argument("--mpiexec", default=None, help="the mpiexec to run")
    ours, program = _split(sys.argv[1:] if argv is None else argv)
    ns = parser.parse_args(ours)
    if not program or program == ["-m"]:
        parser.error("give the script to run: script.py [args], or -m module [args]")
    return launch(ns.nproc, program, hosts=ns.hosts, hostfile=ns.hostfile,
                  threads=ns.threads, mpiexec=ns.mpiexec)


if __name__ == "__main__":
    sys.exit(main())
