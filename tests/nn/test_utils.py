"""nn.utils against torch.nn.utils: gradient clipping, parameter/vector conversion,
weight_norm and register_parametrization."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.nn.utils import parametrize
from chainrule.testing import assert_close


def _with_grads(lib, grads):
    params = []
    for g in grads:
        p = lib.nn.Parameter(lib.zeros(g.shape))
        p.grad = lib.tensor(g.copy())
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(rng, norm_type, max_norm) -> None:
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,), (2, 2, 2))]
    ours = _with_grads(chainrule, grads)
    theirs = _with_grads(torch, grads)
    ours.append(nn.Parameter(chainrule.zeros(2)))  # no grad: skipped
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert_close(total, t_total)
    for p, tp in zip(ours, theirs):
        assert_close(p.grad, tp.grad)


def test_clip_grad_norm_edge_cases() -> None:
    p = nn.Parameter(chainrule.zeros(2))
    p.grad = chainrule.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((q for q in []), 1.0)
    q = nn.Parameter(chainrule.zeros(2))
    q.grad = chainrule.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(q, 10.0).item() == 5.0
    assert_close(q.grad, chainrule.tensor([3.0, 4.0]))
    assert_close(nn.utils.get_total_norm([chainrule.tensor([3.0]), chainrule.tensor([4.0])]),
                 torch.nn.utils.get_total_norm([torch.tensor([3.0]), torch.tensor([4.0])]))


def test_clip_grad_value_matches_torch(rng) -> None:
    grads = [rng.standard_normal((4, 3)).astype(np.float32) * 3]
    ours, theirs = _with_grads(chainrule, grads), _with_grads(torch, grads)
    nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    assert_close(ours[0].grad, theirs[0].grad)


def test_parameters_to_vector_and_back(twin) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ours = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    twin.load(ours, theirs)
    vec = nn.utils.parameters_to_vector(ours.parameters())
    assert_close(vec, torch.nn.utils.parameters_to_vector(theirs.parameters()))
    vec.sum().backward()  # differentiable
    assert all((p.grad == 1).all() for p in ours.parameters())
    new = chainrule.arange(float(vec.numel()))
    nn.utils.vector_to_parameters(new, ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(float(vec.numel())), theirs.parameters())
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        assert_close(p, tp)
        assert isinstance(p, nn.Parameter)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got"):
        nn.utils.vector_to_parameters([1.0], ours.parameters())


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(twin, rng, dim) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4, 3), dim=dim)
    ours = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3), dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    # g and v from torch's parametrization; ours recomputes weight from them
    with torch.no_grad():
        theirs.parametrizations.weight.original0.mul_(1.5)
    twin.load(ours, theirs)
    assert_close(ours.weight, theirs.weight)
    x, tx = twin.inputs(rng, 5, 4)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert type(ours).__name__ == "ParametrizedLinear"
    assert repr(ours) == repr(theirs)


def test_weight_norm_initial_split_and_compat_keys() -> None:
    lin = nn.Linear(5, 3)
    w0 = lin.weight.detach().clone()
    m = nn.utils.parametrizations.weight_norm(lin)
    g = m.parametrizations.weight.original0
    v = m.parametrizations.weight.original1
    assert_close(m.weight, w0)  # right_inverse: g = ||w|| per row, v = w
    assert_close(g, w0.norm(dim=1, keepdim=True))
    assert isinstance(g, nn.Parameter) and isinstance(v, nn.Parameter)
    # old-style weight_g / weight_v keys load into the parametrization
    sd = {"bias": np.zeros(3, np.float32), "weight_g": np.full((3, 1), 2.0, np.float32),
          "weight_v": np.ones((3, 5), np.float32)}
    m.load_state_dict(sd)
    assert_close(m.weight, chainrule.full((3, 5), 2.0 / np.sqrt(5)))
    # assigning the parametrized tensor goes through right_inverse
    m.weight = chainrule.full((3, 5), 3.0)
    assert_close(m.weight, chainrule.full((3, 5), 3.0))


def test_weight_norm_trains_g_and_v() -> None:
    m = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
    opt_params = list(m.parameters())
    assert len(opt_params) == 3
    m(chainrule.randn(4, 3)).pow(2).sum().backward()
    assert all(p.grad is not None for p in opt_params)
    v = m.parametrizations.weight.original1
    # the gradient of v is orthogonal to v (row-wise), a property of weight normalization
    dots = (v.grad * v).sum(1)
    assert float(dots.abs().max()) < 1e-4


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(-1, -2)

        def right_inverse(self, a):
            return a.triu()

    return Symmetric()


def _scale(lib):
    class Scale(lib.nn.Module):
        def forward(self, x):
            return x * 2

    return Scale()


def test_register_parametrization_matches_torch(twin, rng) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Linear(3, 3)
    ours = nn.Linear(3, 3)
    twin.load(ours, theirs)
    for lib, m in ((torch, theirs), (chainrule, ours)):
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _scale(lib))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_close(ours.weight, theirs.weight)
    assert repr(ours) == repr(theirs)
    x, tx = twin.inputs(rng, 4, 3)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert parametrize.is_parametrized(ours) and parametrize.is_parametrized(ours, "weight")
    assert not parametrize.is_parametrized(ours, "bias")
    assert parametrize.type_before_parametrizations(ours) is nn.Linear
    w = ours.weight.detach().clone()
    parametrize.remove_parametrizations(ours, "weight")
    assert type(ours) is nn.Linear and isinstance(ours.weight, nn.Parameter)
    assert_close(ours.weight, w)
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]


def test_register_parametrization_errors() -> None:
    class Bad(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Bad())
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(nn.Linear(2, 2), "nope", _scale(chainrule))
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")
    m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", _scale(chainrule))
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        m.weight = chainrule.ones(2, 2)


def test_parametrize_cached() -> None:
    m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", _scale(chainrule))
    assert m.weight is not m.weight
    with parametrize.cached():
        assert m.weight is m.weight
