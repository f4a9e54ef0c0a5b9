"""Containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict), Identity,
Flatten and Unflatten against torch.nn."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close


def _keys(m) -> list[str]:
    return list(m._modules)


def _seq(lib, n=4):
    return lib.nn.Sequential(*[lib.nn.Linear(i + 1, i + 2) for i in range(n)])


def test_sequential_construction_indexing_and_forward(twin, rng) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(OrderedDict([("fc1", torch.nn.Linear(3, 4)),
                                              ("act", torch.nn.ReLU()),
                                              ("fc2", torch.nn.Linear(4, 2))]))
    ours = nn.Sequential(OrderedDict([("fc1", nn.Linear(3, 4)), ("act", nn.ReLU()),
                                      ("fc2", nn.Linear(4, 2))]))
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 5, 3)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert ours[0] is ours.fc1 and ours[-1] is ours.fc2 and len(ours) == 3
    sliced = ours[1:]
    assert isinstance(sliced, nn.Sequential) and _keys(sliced) == ["act", "fc2"]
    assert sliced.fc2 is ours.fc2
    assert list(ours) == [ours.fc1, ours.act, ours.fc2]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        ours[3]
    assert repr(ours) == repr(theirs)


def test_sequential_mutation_matches_torch() -> None:
    results = {}
    for lib in (chainrule, torch):
        s = _seq(lib)
        log = []
        s.append(lib.nn.ReLU())
        log.append(_keys(s))
        s.insert(1, lib.nn.Tanh())
        s.insert(-1, lib.nn.Identity())
        log.append([type(m).__name__ for m in s])
        del s[2]
        log.append((_keys(s), [type(m).__name__ for m in s]))
        del s[1:3]
        log.append((_keys(s), [type(m).__name__ for m in s]))
        popped = s.pop(0)
        log.append((type(popped).__name__, _keys(s)))
        s.extend(lib.nn.Sequential(lib.nn.ReLU(), lib.nn.ReLU()))
        s[0] = lib.nn.Sigmoid()
        log.append([type(m).__name__ for m in s])
        log.append([type(m).__name__ for m in (s + lib.nn.Sequential(lib.nn.Tanh()))])
        log.append(_keys(s * 2))
        s += lib.nn.Sequential(lib.nn.Tanh())
        log.append(_keys(s))
        with pytest.raises(ValueError):
            s + [1]
        with pytest.raises(ValueError):
            s * 0
        results[lib] = log
    assert results[chainrule] == results[torch]


def test_module_list_behaviour_and_repr_match_torch() -> None:
    results = {}
    for lib in (chainrule, torch):
        torch.manual_seed(0)
        ml = lib.nn.ModuleList([lib.nn.Linear(2, 2) for _ in range(3)])
        ml.append(lib.nn.ReLU())
        ml.extend([lib.nn.ReLU(), lib.nn.Tanh()])
        ml.insert(0, lib.nn.Identity())
        log = [repr(ml), _keys(ml), len(ml)]
        del ml[1]
        log.append((_keys(ml), [type(m).__name__ for m in ml]))
        del ml[::2]
        log.append((_keys(ml), [type(m).__name__ for m in ml]))
        log.append(type(ml[-1]).__name__)
        log.append(type(ml[1:]).__name__)
        ml[0] = lib.nn.Sigmoid()
        log.append([type(m).__name__ for m in ml + lib.nn.ModuleList([lib.nn.Tanh()])])
        log.append(type(ml.pop(1)).__name__)
        log.append(repr(lib.nn.ModuleList()))
        with pytest.raises(IndexError, match="index 10 is out of range"):
            ml[10]
        with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
            ml.extend(3)
        results[lib] = log
    assert results[chainrule] == results[torch]


def test_module_list_registers_parameters(twin, rng) -> None:
    ours = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    names = [n for n, _ in ours.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]


def test_module_dict_behaviour_matches_torch() -> None:
    results = {}
    for lib in (chainrule, torch):
        md = lib.nn.ModuleDict({"b": lib.nn.ReLU(), "a": lib.nn.Tanh()})
        md["c"] = lib.nn.Identity()
        md.update([("d", lib.nn.Sigmoid())])
        md.update(OrderedDict([("e", lib.nn.ReLU())]))
        log = [list(md.keys()), [type(v).__name__ for v in md.values()], "a" in md, len(md),
               repr(md), list(md)]
        log.append(type(md.pop("b")).__name__)
        del md["a"]
        log.append([k for k, _ in md.items()])
        with pytest.raises(ValueError, match="has length 1; 2 is required"):
            md.update([("x",)])
        with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable"):
            md.update(3)
        md.clear()
        log.append(len(md))
        results[lib] = log
    assert results[chainrule] == results[torch]


def _repr(lib, obj) -> str:
    return repr(obj).replace("torch.", "").replace("chainrule.", "")


def test_parameter_list_matches_torch() -> None:
    results = {}
    for lib in (chainrule, torch):
        pl = lib.nn.ParameterList([lib.ones(2), lib.nn.Parameter(lib.zeros(3, 4))])
        pl.append(lib.ones(1, dtype=lib.float64))
        pl.extend([lib.zeros(5)])
        pl.append("not a tensor")
        log = [len(pl), [type(p).__name__ for p in pl][:4], _repr(lib, pl),
               [n for n, _ in pl.named_parameters()], len(pl[1:3])]
        pl[0] = lib.full((2,), 3.0)
        log.append(isinstance(pl[0], lib.nn.Parameter))
        with pytest.raises(TypeError, match="ParameterList.extend should be called with"):
            pl.extend(lib.ones(2))
        with pytest.raises(RuntimeError, match="ParameterList should not be called."):
            pl(1)
        results[lib] = log
    assert results[chainrule] == results[torch]


def test_parameter_dict_matches_torch() -> None:
    results = {}
    for lib in (chainrule, torch):
        pd = lib.nn.ParameterDict({"b": lib.ones(2), "a": lib.nn.Parameter(lib.zeros(3))})
        pd["c"] = lib.ones(1)
        pd.update([("d", lib.zeros(2, 2))])
        log = [list(pd.keys()), [n for n, _ in pd.named_parameters()], "a" in pd, len(pd),
               _repr(lib, pd), pd.get("zz", 5), list(reversed(pd))]
        log.append(type(pd.pop("b")).__name__)
        log.append(pd.popitem()[0])
        log.append(list((pd | lib.nn.ParameterDict({"z": lib.ones(1)})).keys()))
        log.append(list(pd.copy().keys()))
        log.append(tuple(pd.setdefault("q", lib.ones(3)).shape))
        pd.clear()
        log.append(len(pd))
        with pytest.raises(TypeError, match="cannot be used as a key"):
            pd[1] = lib.ones(1)
        results[lib] = log
    assert results[chainrule] == results[torch]


def test_identity_flatten_unflatten_match_torch(rng) -> None:
    arr = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    x, tx = chainrule.tensor(arr), torch.tensor(arr)
    for ours, theirs in [(nn.Identity(3, k=1), torch.nn.Identity(3, k=1)),
                         (nn.Flatten(), torch.nn.Flatten()),
                         (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                         (nn.Flatten(-2), torch.nn.Flatten(-2)),
                         (nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1))),
                         (nn.Unflatten(-1, [-1, 5]), torch.nn.Unflatten(-1, [-1, 5]))]:
        assert_close(ours(x), theirs(tx))
        assert repr(ours) == repr(theirs)
    with pytest.raises(TypeError):
        nn.Unflatten(1, (2, "a"))
    with pytest.raises(TypeError):
        torch.nn.Unflatten(1, (2, "a"))
    x = chainrule.tensor(arr, requires_grad=True)
    nn.Flatten()(x).sum().backward()
    assert_close(x.grad, chainrule.ones(2, 3, 4, 5))
