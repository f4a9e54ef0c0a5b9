"""chainrule.train.fit on a DistributedDataParallel model over 2 ranks (a user's own script
under mpiexec): the same training as one process, one writer, and ranks that stop together.
The ranks run tests/distributed/_worker.py's fit_* cases."""

from __future__ import annotations

from typing import Any

WORLD = 2


def test_fit_on_ddp_trains_and_logs_what_one_process_does(worker: Any) -> None:
    # 2 ranks of 4 samples a step against one process on 8 in the same order (both split by
    # a DistributedSampler, seed 5): weights and every per-epoch metric, train and val, agree
    # on both ranks: the metrics are of the whole data, summed over the ranks
    assert worker.check("fit_ddp_equals_single_process") == WORLD * (6 + 4) + 6
    labels = worker.reports[0]["fit_ddp_equals_single_process"]["arrays"]
    assert {label.split("/")[0] for label in labels} == {"param", "history", "loaded"}


def test_fit_on_ddp_only_rank_0_prints_and_writes(worker: Any) -> None:
    first, second = (worker.facts("fit_ddp_equals_single_process", r) for r in range(WORLD))
    assert [line.split(":")[0] for line in first["printed"]] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert second["printed"] == [] and second["files"] is None  # not even the folder
    names = first["files"]
    assert names.count("last.json") == names.count("best.json") == names.count("log.csv") == 1
    assert sum(n.endswith(".safetensors") for n in names) == 2
    assert first["log_rows"] == 1 + 3  # the header and one row per epoch, written once
    # the checkpoint of the DDP model holds the plain model's keys and loads into it
    assert first["keys"] == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]


def test_fit_sets_the_epoch_of_a_distributed_sampler(worker: Any) -> None:
    # 4 epochs: set_epoch(0) ... set_epoch(3), as a hand-written torch loop does
    for rank in range(WORLD):
        assert worker.facts("fit_ddp_equals_single_process", rank)["epoch_of_sampler"] == 3


def test_a_stop_on_one_rank_stops_every_rank_after_the_same_step(worker: Any) -> None:
    facts = [worker.facts("fit_ddp_ranks_stop_together", r) for r in range(WORLD)]
    assert facts[0] == facts[1]  # the same steps and outcome on both ranks
    assert facts[0]["after_step"] == {"step": 3, "epoch": 1, "interrupted": False}
    assert facts[0]["before_update"] == {"step": 2, "epoch": 1, "interrupted": False}
    assert facts[0]["interrupt"] == {"step": 5, "epoch": 1, "interrupted": True}
    # the interrupt checkpoint: written once, by rank 0
    assert facts[0]["interrupt_files"][-1] == "interrupted_interrupt_rank0.json"
    assert len(facts[0]["interrupt_files"]) == 2
