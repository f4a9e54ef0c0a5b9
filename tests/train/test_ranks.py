"""chainrule.train.ranks in one process, and what fit does with epoch-dependent samplers.

On several ranks (a DDP model, DistributedSampler-split data under mpiexec) the same code is
checked by tests/distributed/test_fit.py and tests/test_cli_distributed.py.
"""

from __future__ import annotations

import chainrule
from chainrule import nn, optim
from chainrule.train import fit, seed_everything
from chainrule.train.ranks import (
    any_rank,
    in_lockstep,
    is_main_process,
    is_sharded,
    shards,
    sum_over_ranks,
    unwrap_model,
)
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset


class RecordingSampler(DistributedSampler):
    """A DistributedSampler that records the epochs it is given and the orders it yields."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.epochs: list[int] = []
        self.orders: list[list[int]] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)
        super().set_epoch(epoch)

    def __iter__(self):
        order = list(super().__iter__())
        self.orders.append(order)
        return iter(order)


def _data() -> TensorDataset:
    seed_everything(0)
    x = chainrule.randn(24, 3)
    return TensorDataset(x, (x[:, 0] > 0).long())


def test_fit_sets_the_samplers_epoch_before_each_epoch_as_a_torch_loop_does() -> None:
    ds = _data()
    sampler = RecordingSampler(ds, num_replicas=1, rank=0, seed=3)
    loader = DataLoader(ds, batch_size=6, sampler=sampler)
    model = nn.Linear(3, 2)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=3,
        verbose=False)
    assert sampler.epochs == [0, 1, 2]  # 0-based, as `for epoch in range(3)` in torch
    assert len({tuple(o) for o in sampler.orders}) == 3  # a new permutation each epoch
    # the order of epoch e is drawn from seed + e alone, so a fresh sampler reproduces it
    again = DistributedSampler(ds, num_replicas=1, rank=0, seed=3)
    again.set_epoch(2)
    assert list(again) == sampler.orders[2]


def test_in_one_process_the_helpers_change_nothing() -> None:
    ds = _data()
    loader = DataLoader(ds, batch_size=6, sampler=DistributedSampler(ds, num_replicas=1,
                                                                     rank=0))
    model = nn.Linear(3, 2)
    assert is_main_process() and unwrap_model(model) is model and not in_lockstep(model)
    assert shards(loader) == 1 and not is_sharded(loader) and not is_sharded([(1, 2)])
    # a sampler built for 2 ranks, but no process group: each process reads its part alone
    half = DataLoader(ds, batch_size=6, sampler=DistributedSampler(ds, num_replicas=2, rank=1))
    assert shards(half) == 1
    assert sum_over_ranks([1.5, 3]) == [1.5, 3.0] and any_rank(True, False) == (True, False)
