"""Shared helpers for nn tests: twin models (chainrule and PyTorch with the same weights)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

import chainrule
from chainrule.testing import assert_close, default_tolerances


def _load_from_torch(ours: Any, theirs: Any) -> None:
    """Copy a torch module's state into ours, through NumPy (as users would)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _to_torch(t: Any, requires_grad: bool | None = None) -> Any:
    arr = t.detach().numpy().copy() if isinstance(t, chainrule.Tensor) else np.array(t)
    out = torch.from_numpy(arr)
    rg = t.requires_grad if requires_grad is None and isinstance(t, chainrule.Tensor) else \
        bool(requires_grad)
    return out.requires_grad_(rg) if out.is_floating_point() else out


def _inputs(rng: np.random.Generator, *shape: int, dtype: Any = np.float32,
            requires_grad: bool = True) -> tuple[Any, Any]:
    """The same random input as a chainrule tensor and a torch tensor."""
    arr = rng.standard_normal(shape).astype(dtype)
    return (chainrule.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _assert_grads(ours: Any, theirs: Any) -> None:
    """Every parameter gradient of ``ours`` equals its twin's (by name)."""
    theirs_p = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(theirs_p)
    for name, p in ours.named_parameters():
        tp = theirs_p[name]
        if tp.grad is None:
            assert p.grad is None, name
            continue
        r, a = default_tolerances(p.dtype, kind="grad")
        assert_close(p.grad, tp.grad, rtol=r, atol=a, msg=f"grad of {name}")


def _backward_random(ours_out: Any, theirs_out: Any, rng: np.random.Generator) -> None:
    """Backpropagate the same random cotangent through both outputs."""
    cot = rng.standard_normal(tuple(ours_out.shape)).astype(ours_out.detach().numpy().dtype)
    ours_out.backward(chainrule.tensor(cot))
    theirs_out.backward(torch.tensor(cot))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def twin() -> SimpleNamespace:
    """``twin.load(ours, theirs)``, ``twin.to_torch(t)``, ``twin.inputs(rng, *shape)``,
    ``twin.assert_grads(ours, theirs)``, ``twin.backward(ours_out, theirs_out, rng)``."""
    return SimpleNamespace(load=_load_from_torch, to_torch=_to_torch, inputs=_inputs,
                           assert_grads=_assert_grads, backward=_backward_random)
