"""DistributedSampler: torch's partitioning index for index; disjoint shares in a real job."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.utils.data.distributed as torch_distributed

import chainrule
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset

CONFIGS = [(n, replicas, drop_last) for n in (1, 3, 10, 11, 17) for replicas in (1, 2, 3, 4)
           for drop_last in (False, True) if not (drop_last and n < replicas)]


@pytest.mark.parametrize("n,replicas,drop_last", CONFIGS)
def test_unshuffled_indices_equal_torchs(n: int, replicas: int, drop_last: bool) -> None:
    for rank in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                  drop_last=drop_last)
        theirs = torch_distributed.DistributedSampler(range(n), num_replicas=replicas,
                                                      rank=rank, shuffle=False,
                                                      drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@pytest.mark.parametrize("n,replicas,drop_last", CONFIGS)
def test_shuffled_partition_equals_torchs_on_the_same_permutation(
        monkeypatch, n: int, replicas: int, drop_last: bool) -> None:
    # torch's sampler draws from torch's generator, whose stream differs from chainrule's:
    # hand it chainrule's permutation for the same seed, and compare what each rank gets.
    def chainrule_randperm(m: int, generator: Any = None) -> torch.Tensor:
        g = chainrule.Generator().manual_seed(generator.initial_seed())
        return torch.tensor(chainrule.randperm(m, generator=g).tolist())

    monkeypatch.setattr(torch_distributed.torch, "randperm", chainrule_randperm)
    for epoch in (0, 3):
        for rank in range(replicas):
            ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=5,
                                      drop_last=drop_last)
            theirs = torch_distributed.DistributedSampler(range(n), num_replicas=replicas,
                                                          rank=rank, seed=5,
                                                          drop_last=drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)


@pytest.mark.parametrize("n,replicas", [(10, 2), (11, 3), (12, 4)])
def test_shares_are_disjoint_and_cover_the_dataset(n: int, replicas: int) -> None:
    shares = [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=1,
                                      drop_last=True)) for r in range(replicas)]
    flat = [i for s in shares for i in s]
    assert len(flat) == len(set(flat)) == n - n % replicas
    padded = [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=1))
              for r in range(replicas)]
    assert set(i for s in padded for i in s) == set(range(n))
    assert len({len(s) for s in padded}) == 1  # same number of steps on every rank


def test_epochs_differ_and_ranks_agree_on_the_permutation() -> None:
    a = DistributedSampler(range(20), num_replicas=2, rank=0)
    b = DistributedSampler(range(20), num_replicas=2, rank=1)
    first = list(a)
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) != first
    assert sorted(list(a) + list(b)) == list(range(20))


def test_invalid_rank_raises_value_error_as_torch() -> None:
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError):
        torch_distributed.DistributedSampler(range(4), num_replicas=2, rank=2)


def test_without_a_process_group_it_needs_num_replicas_and_rank() -> None:
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))


def test_works_as_a_dataloader_sampler() -> None:
    ds = TensorDataset(chainrule.arange(10.0))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    got = [x.tolist() for (x,) in DataLoader(ds, batch_size=2, sampler=sampler)]
    assert got == [[1.0, 3.0], [5.0, 7.0], [9.0]]


def test_in_a_job_rank_and_world_size_come_from_the_process_group(worker: Any) -> None:
    for key in ("10/True/False", "11/True/False", "11/False/True", "3/False/False"):
        shares = [worker.facts("sampler", r)[key] for r in range(2)]
        assert [s["rank"] for s in shares] == [0, 1]
        assert all(s["num_replicas"] == 2 and len(s["indices"]) == s["len"] for s in shares)
        n, _, drop_last = key.split("/")
        together = shares[0]["indices"] + shares[1]["indices"]
        if drop_last == "True":
            assert len(set(together)) == len(together)
        assert set(together) <= set(range(int(n)))
    # both ranks drew the same permutation: the union of the shares is the whole dataset
    assert sorted(worker.facts("sampler", 0)["10/True/False"]["indices"]
                  + worker.facts("sampler", 1)["10/True/False"]["indices"]) == list(range(10))
