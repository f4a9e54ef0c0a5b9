"""DistributedSampler: each rank of a data-parallel job reads its own share of a dataset."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import chainrule
from chainrule.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """Rank ``rank``'s indices: every ``num_replicas``-th of a (shuffled) index list.

    Rank ``r`` gets positions ``r, r + R, r + 2R, ...`` of the list (``R = num_replicas``),
    so the ranks' shares are disjoint and together cover the dataset. When the length does
    not divide by ``R``, the list is padded with its own first indices (a few samples are
    seen twice an epoch) or, with ``drop_last``, cut to a multiple of ``R``. Every rank gets
    ``len(self)`` indices, so they take the same number of steps. The partitioning is
    torch's, index for index.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: the number of ranks. Default: ``chainrule.distributed.get_world_size()``.
        rank: this rank. Default: ``chainrule.distributed.get_rank()``.
        shuffle: draw a permutation of the indices per epoch. Default: ``True``.
        seed: the permutation's seed, the same on every rank. Default: ``0``.
        drop_last: cut the tail instead of padding. Default: ``False``.

    Call :meth:`set_epoch` at the start of each epoch: the permutation is drawn from
    ``seed + epoch``, so without it every epoch visits the data in the same order.

    Note:
        The permutation comes from chainrule's generator (``chainrule.randperm`` seeded with
        ``seed + epoch``), whose stream differs from torch's: with ``shuffle=True`` the order
        is not torch's, but how it is split between ranks is.

    Example:
        >>> from chainrule.utils.data import DistributedSampler
        >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False))
        ...  for r in range(2)]
        [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from chainrule import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = chainrule.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = chainrule.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:  # fewer samples than ranks: repeat the list as often as needed
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use permutation ``seed + epoch`` from the next ``iter()`` on (with ``shuffle``)."""
        self.epoch = epoch
