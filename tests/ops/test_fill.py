"""In-place fillers (zero_, fill_, copy_, uniform_, normal_, random_, bernoulli_, exponential_)
against PyTorch: values, recorded gradients, errors, and sample statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

SPECS = [
    OpSpec("fill", lambda x: (x * 2).fill_(1.5), lambda x: (x * 2).fill_(1.5)),
    OpSpec("fill", lambda x, v: (x * 2).fill_(v.sum()), lambda x, v: (x * 2).fill_(v.sum()),
           shapes=[(3, 4), (2,)], covers=("zero",), variant="tensor_value"),
    OpSpec("zero", lambda x: (x * 2).zero_() + x, lambda x: (x * 2).zero_() + x),
    OpSpec("copy", lambda x, y: (x * 2).copy_(y), lambda x, y: (x * 2).copy_(y),
           shapes=[(3, 4), (3, 4)]),
    OpSpec("copy", lambda x, y: (x * 2).copy_(y * y), lambda x, y: (x * 2).copy_(y * y),
           shapes=[(3, 4), (4,)], variant="broadcast"),
    OpSpec("copy", lambda x: x[1:].copy_(x[:1] * 3), lambda x: x.clone()[1:].copy_(x[:1] * 3),
           shapes=[(3, 2)], grad=False, variant="view"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


def test_copy_casts_and_writes_through_views() -> None:
    t = chainrule.zeros(2, 3, dtype=chainrule.int64)
    t.copy_(chainrule.tensor([1.7, -2.2, 3.0]))
    assert t.tolist() == torch.zeros(2, 3, dtype=torch.int64).copy_(
        torch.tensor([1.7, -2.2, 3.0])).tolist()
    base = chainrule.zeros(3, 3)
    v = base[1]
    v0 = base._version
    v.copy_(chainrule.ones(3))
    assert base.tolist()[1] == [1.0, 1.0, 1.0] and base._version > v0
    t.copy_(np.ones((2, 3)))  # array-likes are accepted
    assert t.sum().item() == 6


def test_copy_and_fill_errors_match_torch() -> None:
    for dst, src in (((2, 3), (4,)), ((3,), (2, 3))):
        with pytest.raises(RuntimeError) as a:
            chainrule.zeros(*dst).copy_(chainrule.ones(*src))
        with pytest.raises(RuntimeError) as b:
            torch.zeros(*dst).copy_(torch.ones(*src))
        assert str(a.value) == str(b.value)
    with pytest.raises(RuntimeError) as a:
        chainrule.zeros(2).fill_(chainrule.ones(2))
    with pytest.raises(RuntimeError) as b:
        torch.zeros(2).fill_(torch.ones(2))
    assert str(a.value) == str(b.value)
    leaf = chainrule.ones(2, requires_grad=True)
    for fn in (lambda t: t.zero_(), lambda t: t.fill_(1), lambda t: t.uniform_(),
               lambda t: t.copy_(chainrule.ones(2))):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            fn(leaf)
    with chainrule.no_grad():
        leaf.zero_()
    assert leaf.requires_grad and not leaf.any()


def test_recorded_fill_names_match_torch() -> None:
    x = chainrule.ones(2, requires_grad=True)
    tx = torch.ones(2, requires_grad=True)
    pairs = [((x * 1).fill_(2), (tx * 1).fill_(2)), ((x * 1).zero_(), (tx * 1).zero_()),
             ((x * 1).copy_(x), (tx * 1).copy_(tx))]
    for ours, theirs in pairs:
        assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__


def _moments(t) -> tuple[float, float]:
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std()


@pytest.mark.parametrize("dtype", [chainrule.float32, chainrule.float64, chainrule.float16])
def test_uniform_and_normal_statistics(dtype) -> None:
    n = 40000
    u = chainrule.empty(n, dtype=dtype).uniform_(-1, 3)
    assert u.dtype == dtype and float(u.min()) >= -1 and float(u.max()) <= 3
    mean, std = _moments(u)
    assert abs(mean - 1) < 0.05 and abs(std - 4 / math.sqrt(12)) < 0.05
    g = chainrule.empty(n, dtype=dtype).normal_(2.0, 0.5)
    mean, std = _moments(g)
    assert abs(mean - 2) < 0.02 and abs(std - 0.5) < 0.02
    e = chainrule.empty(n, dtype=dtype).exponential_(4.0)
    mean, std = _moments(e)
    assert float(e.min()) >= 0 and abs(mean - 0.25) < 0.01


def test_uniform_from_keyword_and_generator() -> None:
    a = chainrule.empty(5).uniform_(**{"from": 2.0, "to": 3.0})
    assert float(a.min()) >= 2.0
    g1 = chainrule.Generator().manual_seed(1)
    g2 = chainrule.Generator().manual_seed(1)
    for name, args in (("uniform_", ()), ("normal_", ()), ("bernoulli_", (0.3,)),
                       ("random_", (10,)), ("exponential_", ())):
        x = getattr(chainrule.empty(8), name)(*args, generator=g1)
        y = getattr(chainrule.empty(8), name)(*args, generator=g2)
        assert bool((x == y).all()), name


def test_random_and_bernoulli_ranges() -> None:
    r = chainrule.empty(2000, dtype=chainrule.int64).random_(3, 7)
    assert set(r.tolist()) == {3, 4, 5, 6}
    r = chainrule.empty(2000).random_(5)
    assert set(r.tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0}
    r = chainrule.empty(2000, dtype=chainrule.uint8).random_()
    assert float(r.max()) > 200 and r.dtype == chainrule.uint8
    f = chainrule.empty(1000).random_()
    assert float(f.min()) >= 0 and float(f.max()) <= 2 ** 24
    b = chainrule.empty(20000).bernoulli_(0.25)
    assert set(b.tolist()) <= {0.0, 1.0} and abs(b.mean().item() - 0.25) < 0.02
    p = chainrule.tensor([0.0, 1.0]).expand(1000, 2)
    b = chainrule.empty(1000, 2).bernoulli_(p)
    assert b[:, 0].sum().item() == 0 and b[:, 1].sum().item() == 1000


def test_random_fill_errors_match_torch() -> None:
    cases = [lambda lib: lib.empty(2).uniform_(1, 0),
             lambda lib: lib.empty(2).normal_(0, -1),
             lambda lib: lib.empty(2, dtype=lib.int64).uniform_(),
             lambda lib: lib.empty(2, dtype=lib.int64).normal_(),
             lambda lib: lib.empty(2).random_(3, 3)]
    for case in cases:
        with pytest.raises(RuntimeError):
            case(chainrule)
        with pytest.raises(RuntimeError):
            case(torch)
    with pytest.raises(RuntimeError, match="expects p to be in"):
        chainrule.empty(2).bernoulli_(1.5)


def test_fill_returns_self_and_bumps_version() -> None:
    t = chainrule.zeros(3)
    for name, args in (("zero_", ()), ("fill_", (2,)), ("copy_", (chainrule.ones(3),)),
                       ("uniform_", ()), ("normal_", ())):
        v = t._version
        assert getattr(t, name)(*args) is t and t._version == v + 1
    assert_close(chainrule.zeros(2, dtype=chainrule.int32).fill_(2.7),
                 torch.zeros(2, dtype=torch.int32).fill_(2.7))
