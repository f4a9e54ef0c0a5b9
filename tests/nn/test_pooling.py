"""Pooling modules against PyTorch: MaxPool1d/2d (indices, ceil_mode, padding, dilation),
AvgPool1d/2d, adaptive pools; forward, gradients, reprs and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close

_MODULES = [
    ("MaxPool2d", (3,), dict()),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("MaxPool2d", ((2, 3),), dict(stride=1, padding=1, dilation=2)),
    ("MaxPool2d", (2,), dict(return_indices=True)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1, return_indices=True, ceil_mode=True)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", (2,), dict(ceil_mode=True, divisor_override=3)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("AdaptiveAvgPool2d", ((3, None),), dict()),
    ("AdaptiveAvgPool2d", (1,), dict()),
    ("AdaptiveMaxPool2d", ((2, 3),), dict(return_indices=True)),
    ("AdaptiveAvgPool1d", (4,), dict()),
    ("AdaptiveMaxPool1d", (3,), dict()),
]


@pytest.mark.parametrize("name,args,kw", _MODULES, ids=lambda v: str(v))
def test_pooling_modules_match_torch(twin, rng, name, args, kw) -> None:
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 9) if name.endswith("1d") else (2, 3, 7, 8)
    x, tx = twin.inputs(rng, *shape)
    out, tout = ours(x), theirs(tx)
    if kw.get("return_indices"):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
        out, tout = out[0], tout[0]
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    assert_close(x.grad, tx.grad)
    assert list(ours.state_dict()) == []


def test_unbatched_inputs_match_torch(rng) -> None:
    x = rng.standard_normal((3, 6, 6)).astype(np.float32)
    for name, args in [("MaxPool2d", (2,)), ("AvgPool2d", (3, 1, 1)),
                       ("AdaptiveMaxPool2d", (4,)), ("AdaptiveAvgPool2d", (4,))]:
        ours = getattr(nn, name)(*args)(chainrule.tensor(x))
        theirs = getattr(torch.nn, name)(*args)(torch.tensor(x))
        assert_close(ours, theirs)


def test_global_average_pool_then_flatten_feeds_a_linear_layer(rng) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    out = model(chainrule.randn(4, 3, 8, 8))
    out.sum().backward()
    assert out.shape == (4, 2)
    assert all(p.grad is not None for p in model.parameters())


def test_max_pool_backward_through_overlapping_windows_accumulates(rng) -> None:
    x_np = rng.standard_normal((1, 1, 5, 5))
    x, tx = chainrule.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    nn.MaxPool2d(3, stride=1)(x).sum().backward()
    torch.nn.MaxPool2d(3, stride=1)(tx).sum().backward()
    assert_close(x.grad, tx.grad)
    assert x.grad.numpy().max() > 1  # one input is the maximum of several windows


@pytest.mark.parametrize("call", [
    lambda nn, x: nn.MaxPool2d(3, padding=2)(x(2, 3, 5, 5)),
    lambda nn, x: nn.AvgPool2d(4)(x(1, 2, 3, 3)),
    lambda nn, x: nn.MaxPool1d(2)(x(4)),
])
def test_errors_match_torch(call) -> None:
    def run(lib_nn, lib):
        try:
            call(lib_nn, lambda *s: lib.randn(*s))
        except Exception as e:  # noqa: BLE001 - comparing types
            return type(e)
        return None

    theirs = run(torch.nn, torch)
    assert theirs is not None and run(nn, chainrule) is theirs
