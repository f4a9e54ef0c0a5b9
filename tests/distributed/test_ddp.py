"""DistributedDataParallel on 2 ranks: training equals one process on the doubled batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as tdist

import chainrule
from chainrule import nn
from chainrule.nn.parallel.distributed import compute_bucket_assignment_by_size

WORLD = 2


def test_two_ranks_train_as_one_process_on_the_doubled_batch(worker: Any) -> None:
    # float64, SGD with momentum, 5 steps: parameters, first gradients and the initial
    # broadcast (each rank built its model from a different seed) all match
    assert worker.check("ddp_equals_single_process") == WORLD * 3 * 6
    labels = worker.reports[0]["ddp_equals_single_process"]["arrays"]
    assert {label.split("/")[0] for label in labels} == {"init", "grad0", "param"}


def test_several_buckets_give_the_same_training(worker: Any) -> None:
    worker.check("ddp_small_buckets")
    for rank in range(WORLD):
        facts = worker.facts("ddp_small_buckets", rank)
        # one bucket (reversed) until the first backward, as torch; then rebuilt in the order
        # the gradients arrived, in buckets of at least bucket_cap_mb (here 1048 bytes):
        # chainrule's engine gives the weights (4, 2, 0) before the biases (1, 3, 5)
        assert facts["first_buckets"] == [[5, 4, 3, 2, 1, 0]]
        assert facts["buckets"] == [[4, 2], [0, 1, 3, 5]]


def test_all_reduce_starts_while_backward_is_still_running(worker: Any) -> None:
    # when the first layer's gradient arrives (near the end of backward), the bucket of the
    # last layers is already on its way; the first layers' bucket is not yet complete
    for rank in range(WORLD):
        assert worker.facts("ddp_small_buckets", rank)["in_flight_during_backward"] == \
            [True, False]


def test_gradient_as_bucket_view(worker: Any) -> None:
    worker.check("ddp_gradient_as_bucket_view")
    assert worker.facts("ddp_gradient_as_bucket_view", 0)["grad_is_view"]


def test_no_sync_accumulates_locally_then_reduces_the_sum(worker: Any) -> None:
    assert worker.check("ddp_no_sync") == WORLD * 2 * 6


def test_find_unused_parameters(worker: Any) -> None:
    # rank 0 leaves branch b unused, rank 1 uses it: b's gradient is the average of rank 1's
    # and zeros on both ranks; parameters no rank used (and an output left out of the loss)
    # keep .grad None; a second iteration runs
    worker.check("ddp_find_unused_parameters")
    labels = set(worker.reports[0]["ddp_find_unused_parameters"]["arrays"])
    assert {"0/b.weight", "1/b.weight", "0/a.bias"} <= labels
    for rank in range(WORLD):
        facts = worker.facts("ddp_find_unused_parameters", rank)
        assert facts and all(facts.values())
        assert "0/head.weight" in facts and "1/never.bias" in facts


def test_unused_parameter_without_find_unused_raises_at_next_forward(worker: Any) -> None:
    for rank in range(WORLD):
        msg = worker.facts("ddp_unused_parameter_without_find_unused", rank)["raised"]
        assert msg.startswith("Expected to have finished reduction in the prior iteration")
        assert f"did not receive grad for rank {rank}: b.weight, b.bias" in msg


def test_buffers_are_broadcast_from_rank_0(worker: Any) -> None:
    assert worker.check("ddp_buffers") == WORLD * 3


def test_module_attribute_and_state_dict_prefix_as_torch(worker: Any) -> None:
    facts = worker.facts("ddp_module_and_state_dict", 1)
    assert facts["keys"] == ["module." + k for k in facts["plain_keys"]]
    assert facts["module_is_wrapped"] and facts["n_params"] == 6


def test_different_models_on_the_ranks_are_refused(worker: Any) -> None:
    for rank in range(WORLD):
        msg = worker.facts("ddp_different_models", rank)["raised"]
        assert msg.startswith("DDP expects same model across all ranks")


# -- in this process (no MPI) ------------------------------------------------------------------
SIZES = [[100, 300_000, 5, 300_000, 200_000, 7], [1] * 10, [2_000_000],
         [262_144, 262_144, 10, 262_143, 1], [3, 500_000, 70_000, 400_000, 9, 250_000]]
DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("limits", [[1_048_576, 2_097_152], [1_048_576], [100, 4_000_000],
                                    [26_214_400]])
@pytest.mark.parametrize("mixed", [False, True])
def test_bucket_assignment_equals_torchs(sizes: list[int], limits: list[int],
                                         mixed: bool) -> None:
    dtypes = [DTYPES[i % 2] if mixed else "float32" for i in range(len(sizes))]
    ours = [chainrule.zeros(n, dtype=getattr(chainrule, d)) for n, d in zip(sizes, dtypes)]
    theirs = [torch.zeros(n, dtype=getattr(torch, d)) for n, d in zip(sizes, dtypes)]
    want, _ = tdist._compute_bucket_assignment_by_size(theirs, limits)
    assert compute_bucket_assignment_by_size(ours, limits) == want
    # walked in a given order (gradient arrival), labelled by position: not sorted
    order = list(np.random.default_rng(len(sizes)).permutation(len(sizes)))
    want, _ = tdist._compute_bucket_assignment_by_size([theirs[i] for i in order], limits, [],
                                                       order)
    assert compute_bucket_assignment_by_size([ours[i] for i in order], limits,
                                             tensor_indices=order) == want


def test_first_bucket_default_is_torchs() -> None:
    from chainrule.nn.parallel import distributed as ddp_module

    assert ddp_module._DEFAULT_FIRST_BUCKET_BYTES == tdist._DEFAULT_FIRST_BUCKET_BYTES


def test_needs_an_initialized_process_group() -> None:
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_refuses_a_module_without_trainable_parameters() -> None:
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        nn.parallel.DistributedDataParallel(frozen)


def test_refuses_device_ids() -> None:
    with pytest.raises(ValueError, match="device_ids"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2), device_ids=[0])


def test_bucket_flat_buffer_layout() -> None:
    from chainrule.nn.parallel.distributed import _Bucket

    params = [nn.Parameter(chainrule.zeros(2, 3)), nn.Parameter(chainrule.zeros(4))]
    bucket = _Bucket([1, 0], params)
    assert bucket.slices == [(0, 4), (4, 10)] and bucket.flat.dtype == np.float32


def test_ddp_mnist_example_learns_on_two_ranks(mpi: Any) -> None:
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "2",
                    str(mpi.root / "examples" / "ddp_mnist.py"), "--epochs", "1"])
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 1 and "(2 ranks" in lines[-1]  # only rank 0 prints
    assert float(lines[-1].split("test accuracy ")[1].split()[0]) > 0.85
