"""Data-parallel training over MPI, with ``torch.distributed``'s API.

Start N copies of a script with ``mpiexec -n N python script.py`` (or
``python -m chainrule.distributed.launch -n N script.py``); each calls
:func:`init_process_group`, and from then on :func:`get_rank` tells them apart and the
collectives (:func:`all_reduce`, :func:`broadcast`, :func:`all_gather`, ...) combine their
tensors. :class:`chainrule.nn.parallel.DistributedDataParallel` builds training on these, and
:class:`chainrule.utils.data.DistributedSampler` gives each rank its share of a dataset.
The guide is docs/guides/distributed.md.

The backend is MPI through mpi4py (``pip install 'chainrule[distributed]'`` brings mpi4py and
MPICH's wheels: no system MPI needed). mpi4py is imported on first use only, so this package
imports without it; :func:`is_available` says whether it is there.

Example:
    >>> from chainrule import distributed as dist
    >>> dist.is_initialized(), dist.ReduceOp.AVG
    (False, <ReduceOp.AVG: 1>)
"""

from __future__ import annotations

from chainrule.distributed.process_group import (GroupMember, ProcessGroup, ReduceOp, Work,
                                                 abort_job, destroy_process_group, exit_job,
                                                 get_backend, get_rank, get_world_size, group,
                                                 init_process_group, is_available,
                                                 is_initialized, is_mpi_available)
from chainrule.distributed.collectives import (all_gather, all_gather_into_tensor, all_reduce,
                                               barrier, broadcast, gather, irecv, isend, recv,
                                               reduce, reduce_scatter, reduce_scatter_tensor,
                                               scatter, send)

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_mpi_available",
           "is_initialized", "get_rank", "get_world_size", "get_backend", "ReduceOp",
           "ProcessGroup", "Work", "group", "GroupMember", "all_reduce", "broadcast", "reduce",
           "all_gather", "all_gather_into_tensor", "gather", "scatter", "reduce_scatter",
           "reduce_scatter_tensor", "barrier", "send", "recv", "isend", "irecv", "abort_job",
           "exit_job"]
