"""BatchNorm1d/2d, InstanceNorm1d/2d, LayerNorm, GroupNorm, LocalResponseNorm against PyTorch
twins: train and eval outputs and gradients, running statistics over several steps (momentum
and the cumulative average), buffers and state_dict keys, reprs, double backward, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close

_BN = [
    ("BatchNorm1d", (4,), dict(), (8, 4)),
    ("BatchNorm1d", (4,), dict(momentum=None), (6, 4, 5)),
    ("BatchNorm1d", (4,), dict(affine=False, eps=1e-3), (6, 4)),
    ("BatchNorm2d", (3,), dict(), (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), dict(momentum=0.5, bias=False), (4, 3, 2, 3)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (4, 3, 3, 3)),
    ("BatchNorm2d", (3,), dict(momentum=None, affine=False), (2, 3, 4, 4)),
]


def _train_steps(ours, theirs, twin, rng, shape, steps=4):
    for step in range(steps):
        x_np = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        x, tx = chainrule.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        out, tout = ours(x), theirs(tx)
        assert_close(out, tout, rtol=1e-4, atol=1e-5)
        twin.backward(out, tout, rng)
        assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-4)
    twin.assert_grads(ours, theirs)


@pytest.mark.parametrize("name,args,kw,shape", _BN, ids=lambda v: str(v))
def test_batch_norm_train_then_eval_matches_torch(twin, rng, name, args, kw, shape) -> None:
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if ours.affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            if theirs.bias is not None:
                theirs.bias.uniform_(-0.5, 0.5)
        twin.load(ours, theirs)
    _train_steps(ours, theirs, twin, rng, shape)
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, rtol=1e-5, atol=1e-6, msg=key)
    ours.eval()
    theirs.eval()
    x, tx = twin.inputs(rng, *shape)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, rtol=1e-5, atol=1e-5)
    twin.backward(out, tout, rng)
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-5)


def test_num_batches_tracked_is_a_long_buffer_and_loads_from_torch(twin, rng) -> None:
    theirs = torch.nn.BatchNorm2d(3)
    theirs(torch.randn(4, 3, 2, 2))
    theirs(torch.randn(4, 3, 2, 2))
    ours = nn.BatchNorm2d(3)
    twin.load(ours, theirs)
    assert ours.num_batches_tracked.dtype == chainrule.int64
    assert ours.num_batches_tracked.item() == 2
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    ours.reset_running_stats()
    assert ours.num_batches_tracked.item() == 0 and ours.running_var.tolist() == [1.0] * 3


def test_batch_norm_eval_without_running_stats_uses_batch_statistics(twin, rng) -> None:
    ours = nn.BatchNorm1d(3, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm1d(3, track_running_stats=False).eval()
    x, tx = twin.inputs(rng, 5, 3)
    assert_close(ours(x), theirs(tx), rtol=1e-5, atol=1e-6)


_INSTANCE = [
    ("InstanceNorm1d", (3,), dict(), (2, 3, 6)),
    ("InstanceNorm1d", (3,), dict(affine=True, track_running_stats=True), (4, 3, 5)),
    ("InstanceNorm2d", (3,), dict(affine=True), (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True, momentum=0.3), (2, 3, 4, 4)),
    ("InstanceNorm2d", (3,), dict(affine=True), (3, 4, 5)),  # unbatched
]


@pytest.mark.parametrize("name,args,kw,shape", _INSTANCE, ids=lambda v: str(v))
def test_instance_norm_matches_torch(twin, rng, name, args, kw, shape) -> None:
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if ours.affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-0.5, 0.5)
        twin.load(ours, theirs)
    _train_steps(ours, theirs, twin, rng, shape, steps=3)
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, rtol=1e-5, atol=1e-6, msg=key)
    ours.eval()
    theirs.eval()
    x, tx = twin.inputs(rng, *shape)
    assert_close(ours(x), theirs(tx), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make,shape", [
    (lambda nn: nn.LayerNorm(5), (3, 5)),
    (lambda nn: nn.LayerNorm([3, 4], eps=1e-3), (2, 3, 4)),
    (lambda nn: nn.LayerNorm(4, elementwise_affine=False), (2, 3, 4)),
    (lambda nn: nn.LayerNorm(4, bias=False), (2, 4)),
    (lambda nn: nn.GroupNorm(2, 6), (3, 6, 4, 2)),
    (lambda nn: nn.GroupNorm(3, 6, affine=False), (2, 6, 5)),
    (lambda nn: nn.GroupNorm(1, 4, bias=False), (2, 4, 3)),
    (lambda nn: nn.LocalResponseNorm(3), (2, 5, 4, 3)),
    (lambda nn: nn.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0), (2, 4, 6)),
])
def test_layer_group_and_local_response_norm_match_torch(twin, rng, make, shape) -> None:
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if getattr(theirs, "weight", None) is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            if theirs.bias is not None:
                theirs.bias.uniform_(-0.5, 0.5)
        twin.load(ours, theirs)
    x, tx = twin.inputs(rng, *shape)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, rtol=1e-5, atol=1e-5)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)


def test_double_backward_through_batch_norm_network_matches_torch(twin, rng) -> None:
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                                 torch.nn.Tanh(), torch.nn.Flatten(),
                                 torch.nn.LayerNorm(24)).double()
    ours = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Tanh(), nn.Flatten(),
                         nn.LayerNorm(24)).double()
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 4, 2, 4, 6, dtype=np.float64)
    for lib, model, inp in ((chainrule, ours, x), (torch, theirs, tx)):
        out = model(inp)
        (g,) = lib.autograd.grad((out ** 3).sum(), [inp], create_graph=True)
        (g ** 2).sum().backward()
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("call", [
    lambda nn, lib: nn.BatchNorm1d(3)(lib.randn(2, 3, 4, 5)),
    lambda nn, lib: nn.BatchNorm2d(3)(lib.randn(2, 3, 4)),
    lambda nn, lib: nn.BatchNorm1d(3)(lib.randn(1, 3)),
    lambda nn, lib: nn.InstanceNorm1d(3)(lib.randn(2, 3, 4, 5)),
    lambda nn, lib: nn.InstanceNorm1d(3, affine=True)(lib.randn(2, 4, 5)),
    lambda nn, lib: nn.GroupNorm(4, 6),
    lambda nn, lib: nn.LayerNorm(4)(lib.randn(2, 3)),
])
def test_errors_match_torch(call) -> None:
    def run(lib_nn, lib):
        try:
            call(lib_nn, lib)
        except Exception as e:  # noqa: BLE001 - comparing types and messages
            return type(e), str(e)
        return None, None

    ours, theirs = run(nn, chainrule), run(torch.nn, torch)
    assert theirs[0] is not None and ours == theirs
