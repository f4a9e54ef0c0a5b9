"""fit on several ranks: which rank writes, and what the ranks must agree on.

Under ``mpiexec -n N`` (or ``chainrule train CONFIG --nproc N``) every rank runs the same
:func:`~chainrule.train.fit` on a :class:`~chainrule.nn.parallel.DistributedDataParallel`
model, each on its own share of the data (a
:class:`~chainrule.utils.data.DistributedSampler`). Four rules keep the ranks one run:

- **One writer.** Only rank 0 prints, shows progress, writes checkpoints and logs
  (:func:`is_main_process`; the other ranks' weights are the same).
- **Checkpoints hold the plain model.** A DDP model is saved and loaded through the module it
  wraps (:func:`unwrap_model`), so its checkpoint has ``fc1.weight``, not
  ``module.fc1.weight``, and loads into the model built without DDP (``chainrule test``).
- **Metrics of the whole data.** Loss and metrics over data split by a DistributedSampler are
  summed over the ranks (:func:`sum_over_ranks`) before they are divided, so every rank logs,
  monitors and early-stops on the same numbers: those of the whole data set.
- **Stop together.** A DDP step is a collective: if one rank left the loop (a callback's
  ``stop_training``, a Timer, a NaN, Ctrl-C) the others would wait forever in their next
  all-reduce. So the ranks agree after every step (:func:`any_rank`): one rank stopping stops
  them all after the same step.

Without an initialised process group none of this does anything: one process is rank 0 of 1.

Example:
    >>> from chainrule import nn
    >>> is_main_process(), unwrap_model(nn.Linear(2, 1)).in_features, any_rank(False, True)
    (True, 2, (False, True))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import distributed as dist
from chainrule.creation import from_numpy
from chainrule.nn.parallel import DistributedDataParallel
from chainrule.utils.data import DistributedSampler

__all__ = ["is_main_process", "unwrap_model", "shards", "is_sharded", "sum_over_ranks",
           "any_rank", "in_lockstep", "samplers"]


def _world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main_process() -> bool:
    """Whether this process prints and writes files: rank 0 of the job, or a process that
    is not part of one.

    Example:
        >>> is_main_process()      # no process group: the only process
        True
    """
    return not dist.is_initialized() or dist.get_rank() == 0


def unwrap_model(model: Any) -> Any:
    """The module a :class:`~chainrule.nn.parallel.DistributedDataParallel` wraps; any other
    model as it is. Checkpoints save and load through it.

    Example:
        >>> from chainrule import nn
        >>> m = nn.Linear(2, 1)
        >>> unwrap_model(m) is m
        True
    """
    return model.module if isinstance(model, DistributedDataParallel) else model


def samplers(data: Any) -> list[Any]:
    """A loader's ``sampler`` and ``batch_sampler`` (those it has), where epoch-dependent
    samplers live: :func:`~chainrule.train.fit` calls their ``set_epoch`` before each epoch.

    Example:
        >>> from chainrule.utils.data import DataLoader
        >>> [type(s).__name__ for s in samplers(DataLoader(range(4), batch_size=2))]
        ['SequentialSampler', 'BatchSampler']
    """
    return [s for s in (getattr(data, "sampler", None), getattr(data, "batch_sampler", None))
            if s is not None]


def shards(data: Any) -> int:
    """Over how many ranks a DistributedSampler splits ``data`` in an initialised process
    group; 1 for data that each rank reads whole.

    Example:
        >>> from chainrule.utils.data import DataLoader
        >>> shards(DataLoader(range(4))), shards([(1, 2)])
        (1, 1)
    """
    if _world() == 1:
        return 1
    return max([s.num_replicas for s in samplers(data) if isinstance(s, DistributedSampler)],
               default=1)


def is_sharded(data: Any) -> bool:
    """Whether ``data`` is split over the ranks (its metrics are then summed over them).

    Example:
        >>> is_sharded([(1, 2)])
        False
    """
    return shards(data) > 1


def in_lockstep(model: Any) -> bool:
    """Whether ``model``'s training steps are collectives over several ranks (a DDP model in
    a job of more than one rank), so that the ranks must stop after the same step.

    Example:
        >>> from chainrule import nn
        >>> in_lockstep(nn.Linear(2, 1))
        False
    """
    return isinstance(model, DistributedDataParallel) and _world() > 1


def sum_over_ranks(values: Sequence[float]) -> list[float]:
    """Each value summed over the ranks, in rank order: the same bits on every rank.

    An ``all_gather`` followed by a sum in rank order rather than an ``all_reduce``, whose
    order of additions MPI leaves to the implementation: the ranks must reach the same
    decisions (early stopping, the best checkpoint) from these sums. One process: the values.

    Example:
        >>> sum_over_ranks([1.5, 2.0])
        [1.5, 2.0]
    """
    mine = np.asarray(values, dtype=np.float64)
    world = _world()
    if world == 1:
        return mine.tolist()
    everyone = [from_numpy(np.zeros_like(mine)) for _ in range(world)]
    dist.all_gather(everyone, from_numpy(mine))
    total = np.zeros_like(mine)
    for t in everyone:
        total += t.numpy()
    return total.tolist()


def any_rank(*flags: bool) -> tuple[bool, ...]:
    """Each flag, true on every rank if it is true on any (one small ``all_reduce`` MAX).

    Example:
        >>> any_rank(True, False)      # one process: the flags themselves
        (True, False)
    """
    if _world() == 1:
        return tuple(bool(f) for f in flags)
    t = from_numpy(np.array(flags, dtype=np.uint8))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.numpy())
