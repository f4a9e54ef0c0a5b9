"""The process group: who takes part in a job, and what happens when one of them fails.

chainrule's one backend is MPI, through mpi4py. ``mpiexec -n N python script.py`` starts N
copies of a script; each calls :func:`init_process_group`, which initialises MPI and makes a
private duplicate of ``MPI.COMM_WORLD`` (so the collectives here never match messages a script
sends through mpi4py itself). Ranks and the world size come from MPI; nothing is negotiated
over TCP, and there is no rendezvous address to configure.

mpi4py is imported on first use, never at import time: ``import chainrule.distributed`` works
without the ``distributed`` extra installed, and :func:`is_available` then says ``False``.

A failing rank must not leave the others waiting forever inside a collective (MPI has no
timeouts). :func:`init_process_group` therefore installs a ``sys.excepthook`` that prints
``rank R failed: ...`` with the traceback and calls ``MPI_Abort``, which ends every rank of
the job within moments.
"""

from __future__ import annotations

import enum
import os
import sys
import traceback
import warnings
from typing import Any, NoReturn

__all__ = ["ReduceOp", "ProcessGroup", "Work", "group", "GroupMember", "init_process_group",
           "destroy_process_group", "is_available", "is_mpi_available", "is_initialized",
           "get_rank", "get_world_size", "get_backend", "abort_job", "exit_job"]

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")


_MPI: list = []  # the mpi4py.MPI module, once imported (collectives ask for it every call)


def _mpi() -> Any:
    """The ``mpi4py.MPI`` module (importing it initialises MPI)."""
    if _MPI:
        return _MPI[0]
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "chainrule.distributed needs mpi4py and an MPI library: pip install "
            "'chainrule[distributed]' (mpi4py and the mpich wheels)") from e
    _MPI.append(MPI)
    return MPI


class ReduceOp(enum.Enum):
    """How a reducing collective combines the ranks' values, as ``torch.distributed.ReduceOp``.

    ``AVG`` is a sum divided by the world size (floating-point tensors only); the bitwise ops
    take integer or bool tensors.

    Example:
        >>> from chainrule.distributed import ReduceOp
        >>> ReduceOp.SUM, ReduceOp.AVG.value
        (<ReduceOp.SUM: 0>, 1)
    """

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ProcessGroup:
    """A set of ranks that run collectives together; today only the whole job (``WORLD``).

    Holds a private MPI communicator. Get it from ``group.WORLD`` after
    :func:`init_process_group`; ``rank()`` and ``size()`` as torch's ``ProcessGroup``.
    """

    def __init__(self, comm: Any) -> None:
        self.comm = comm

    def rank(self) -> int:
        """This process's rank in the group."""
        return self.comm.Get_rank()

    def size(self) -> int:
        """The number of ranks in the group."""
        return self.comm.Get_size()

    def name(self) -> str:
        """The backend's name, ``'mpi'``."""
        return "mpi"

    def __repr__(self) -> str:
        return f"ProcessGroup(backend='mpi', rank={self.rank()}, size={self.size()})"


class Work:
    """The handle an ``async_op=True`` collective returns: ``wait()`` blocks until it is done.

    The output tensors hold the result only after :meth:`wait` (or a ``True``
    :meth:`is_completed`): an MPI nonblocking collective writes into them in the background,
    and some collectives finish with a step of their own (``AVG`` divides by the world size,
    ``all_gather`` copies into the output list).

    Note:
        MPICH advances a nonblocking collective only while the process is inside an MPI call;
        :meth:`is_completed` is such a call, so polling it drives the transfer forward
        (``MPIR_CVAR_ASYNC_PROGRESS=1`` gives MPICH a progress thread instead).
    """

    def __init__(self, request: Any, finish: Any = None, outputs: list | None = None) -> None:
        self._request = request
        self._finish = finish
        self._outputs = outputs or []
        self._done = False

    def _complete(self) -> None:
        self._done = True
        self._request = None
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()

    def wait(self, timeout: Any = None) -> bool:
        """Block until the collective has finished and its outputs hold the result.

        Args:
            timeout: accepted for torch's signature; MPI waits have no timeout.
        """
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def is_completed(self) -> bool:
        """Whether the collective has finished (a nonblocking test; it also makes progress)."""
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        """Whether it finished without error (MPI errors abort the job, so: when finished)."""
        return self.is_completed()

    def exception(self) -> None:
        """The error it ended with: always ``None`` (MPI errors abort the job instead)."""
        return None

    def result(self) -> list:
        """The output tensors, after waiting for them."""
        self.wait()
        return list(self._outputs)

    def __repr__(self) -> str:
        return f"Work(completed={self._done})"


class _World:
    default_pg: ProcessGroup | None = None
    previous_excepthook: Any = None


_world = _World()


class _WorldMeta(type):
    """Gives ``group`` and ``GroupMember`` the class property ``WORLD`` (as torch)."""

    @property
    def WORLD(cls) -> ProcessGroup | None:  # noqa: N802  (torch's name)
        return _world.default_pg


class group(metaclass=_WorldMeta):  # noqa: N801  (torch's name)
    """``group.WORLD``: the default process group (``None`` before :func:`init_process_group`).

    Example:
        >>> from chainrule import distributed as dist
        >>> dist.group.WORLD is None  # nothing initialised in this process
        True
    """


class GroupMember(metaclass=_WorldMeta):
    """``GroupMember.WORLD``, the same as ``group.WORLD``."""

    NON_GROUP_MEMBER = -100


def is_available() -> bool:
    """Whether the distributed package can run here: mpi4py is installed.

    Only the ``mpi4py`` package is imported to find out (``mpi4py.MPI``, which initialises
    MPI, is not).

    Example:
        >>> from chainrule import distributed as dist
        >>> isinstance(dist.is_available(), bool)
        True
    """
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_mpi_available() -> bool:
    """Whether the MPI backend is available (the same as :func:`is_available`)."""
    return is_available()


def is_initialized() -> bool:
    """Whether :func:`init_process_group` has run (and no :func:`destroy_process_group` since).

    Example:
        >>> from chainrule import distributed as dist
        >>> dist.is_initialized()
        False
    """
    return _world.default_pg is not None


def _default_group() -> ProcessGroup:
    if _world.default_pg is None:
        raise ValueError(_NOT_INITIALIZED)
    return _world.default_pg


def _resolve(grp: ProcessGroup | None) -> ProcessGroup:
    """The group a collective runs on: ``None`` and ``group.WORLD`` mean the default group."""
    pg = _default_group()
    if grp is not None and grp is not pg:
        raise ValueError(f"unknown process group {grp!r}: chainrule has only group.WORLD")
    return pg


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: Any = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the job: initialise MPI and make the default process group (``group.WORLD``).

    Run the script under ``mpiexec -n N`` (or ``python -m chainrule.distributed.launch -n N``);
    started as plain ``python script.py`` it is a job of one rank.

    Args:
        backend: ``'mpi'`` (or ``None``, the same): the only backend chainrule has.
        init_method: ignored: MPI finds the other ranks through ``mpiexec``.
        timeout: ignored: MPI collectives have no timeout. A rank that raises ends the
            whole job instead (see below), so a failure never leaves the others waiting.
        world_size: ``-1``, or the number of ranks ``mpiexec`` started (a different value
            warns and is ignored, as torch's MPI backend does).
        rank: ``-1``, or this process's MPI rank (likewise).
        store, group_name, pg_options: accepted for torch's signature; unused with MPI.
        device_id: ``None`` or ``'cpu'``.

    Raises:
        ValueError: when called twice without :func:`destroy_process_group` in between.
        RuntimeError: for another backend, or when mpi4py is missing.

    An uncaught exception on any rank from here on prints ``rank R failed: <error>`` with
    its traceback and aborts the job (``MPI_Abort``), so the other ranks end too.

    Example:
        >>> from chainrule import distributed as dist
        >>> dist.init_process_group("gloo")  # (in a script: dist.init_process_group("mpi"))
        Traceback (most recent call last):
        ...
        RuntimeError: chainrule.distributed has only the 'mpi' backend, got backend='gloo': ...
    """
    if _world.default_pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() != "mpi":
        raise RuntimeError(
            f"chainrule.distributed has only the 'mpi' backend, got backend={backend!r}: call "
            f"init_process_group('mpi') and launch with mpiexec")
    if device_id is not None and str(device_id) != "cpu":
        raise ValueError(f"init_process_group: device_id={device_id!r}, but the MPI backend "
                         f"runs on the cpu")
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    if (world_size != -1 and world_size != comm.Get_size()) or (
            rank != -1 and rank != comm.Get_rank()):
        warnings.warn(f"For MPI backend, world_size ({world_size}) and rank ({rank}) are "
                      f"ignored since they are assigned by the MPI runtime "
                      f"(mpiexec started {comm.Get_size()} ranks; this is rank "
                      f"{comm.Get_rank()}).", stacklevel=2)
    _world.default_pg = ProcessGroup(comm)
    _world.previous_excepthook = sys.excepthook
    sys.excepthook = _abort_on_uncaught


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the job: free the default group's communicator and restore ``sys.excepthook``.

    MPI itself stays initialised until the interpreter exits (mpi4py finalises it then), so
    :func:`init_process_group` may be called again.
    """
    pg = _resolve(group)
    pg.comm.Free()
    _world.default_pg = None
    if sys.excepthook is _abort_on_uncaught:
        sys.excepthook = _world.previous_excepthook or sys.__excepthook__
    _world.previous_excepthook = None


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank, ``0 .. world_size - 1``.

    Raises:
        ValueError: before :func:`init_process_group`, as torch.

    Example:
        >>> from chainrule import distributed as dist
        >>> dist.get_rank()
        Traceback (most recent call last):
        ...
        ValueError: Default process group has not been initialized, ...
    """
    return _resolve(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of ranks in the job.

    Raises:
        ValueError: before :func:`init_process_group`, as torch.
    """
    return _resolve(group).size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend of the group: ``'mpi'``."""
    return _resolve(group).name()


# Set by chainrule.distributed.launch: a folder on the launcher's machine where abort_job
# leaves its message for the launcher to print once the job has ended.
NOTES_VARIABLE = "CHAINRULE_LAUNCH_NOTES"


def abort_job(message: str, code: int = 1) -> None:
    """Print ``message`` to stderr and end every rank of the job (``MPI_Abort``).

    Works before :func:`init_process_group` too (it initialises MPI to reach the others).

    Under :mod:`chainrule.distributed.launch` on the launcher's machine the message goes to a
    file that the launcher prints to its stderr once the job has ended: ``MPI_Abort`` can end
    MPICH's proxies before they forward what the rank wrote to stderr just before it, and the
    one message that says why the job ended would be lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    text = message if message.endswith("\n") else message + "\n"
    if not _leave_note(text):
        sys.stderr.write(text)
        sys.stderr.flush()
    _mpi().COMM_WORLD.Abort(code)


def _leave_note(text: str) -> bool:
    """Append ``text`` to this rank's file in the launcher's notes folder, if there is one
    here (another host of the job has no such folder); whether it was written."""
    folder = os.environ.get(NOTES_VARIABLE)
    if not folder or not os.path.isdir(folder):
        return False
    try:
        with open(os.path.join(folder, f"rank-{_rank_label()}-{os.getpid()}.txt"), "a",
                  encoding="utf-8") as f:
            f.write(text)
    except OSError:
        return False
    return True


def exit_job(status: int, timeout: float = 30.0) -> NoReturn:
    """End this rank with exit status ``status`` together with the others: for ranks that all
    reach the same end, such as the same error in the same input, or an agreed stop.

    Every rank calls it. They wait for each other (a barrier on ``MPI.COMM_WORLD``, not on the
    process group, so that it cannot be matched with a collective a rank is still in), then
    each finalises MPI and exits with ``status``: no rank is aborted, and the job's status is
    ``status``. Under the launcher a plain ``sys.exit(nonzero)`` aborts the whole job at
    once instead (it must: the rank may be failing alone while the others wait), which can
    end the other ranks before they print their last words. A rank that does not arrive
    within ``timeout`` seconds is taken to be failing alone: :func:`abort_job`.

    Args:
        status: the exit status of every rank.
        timeout: seconds to wait for the other ranks. Default: 30.
    """
    import time

    sys.stdout.flush()
    sys.stderr.flush()
    MPI = _mpi()
    request = MPI.COMM_WORLD.Ibarrier()
    deadline = time.monotonic() + timeout
    while not request.Test():
        if time.monotonic() > deadline:
            abort_job(f"rank {_rank_label()}: the other ranks did not come to exit with status "
                      f"{status} within {timeout:g}s: aborting the job", status or 1)
        time.sleep(0.001)
    if _world.default_pg is not None:
        destroy_process_group()
    MPI.Finalize()
    os._exit(status)


# Where launchers put a process's rank before MPI is initialised: MPICH's Hydra (PMI),
# Open MPI, PMIx launchers, SLURM's srun.
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")


def _rank_label() -> str:
    """This process's rank in the job, for messages: MPI's once initialised, else the
    launcher's environment variable, else ``'?'``."""
    if "mpi4py.MPI" in sys.modules and sys.modules["mpi4py.MPI"].Is_initialized():
        return str(sys.modules["mpi4py.MPI"].COMM_WORLD.Get_rank())
    for var in _RANK_VARIABLES:
        if var in os.environ:
            return os.environ[var]
    return "?"


def _launcher_frame(filename: str) -> bool:
    """Frames of runpy and of the launcher's bootstrap, which run a rank's script."""
    name = filename.replace(os.sep, "/")
    return "runpy" in name or name.endswith("chainrule/distributed/_bootstrap.py")


def _abort_on_uncaught(exc_type: type, exc: BaseException, tb: Any) -> None:
    """sys.excepthook while a process group exists: report, then end the whole job."""
    while tb is not None and _launcher_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next  # start the traceback at the script, as `python script.py` does
    trace = "".join(traceback.format_exception(exc_type, exc, tb))
    head = "".join(traceback.format_exception_only(exc_type, exc)).strip()
    rank = _rank_label()
    abort_job(f"rank {rank} failed: {head}\n{trace}"
              f"rank {rank} failed: aborting every rank of the job (MPI_Abort)")
