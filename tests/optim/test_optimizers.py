"""Every optimizer configuration against its torch twin: parameters, state and state_dicts.

The problem: four parameters of different shapes (one 0-dim) and the loss
``sum(c1 * sin(p) + c2 * p**2 / 2)`` with fixed random coefficients, so gradients change sign
and size from step to step. The gradient ``c1 * cos(p) + c2 * p`` is computed in NumPy from each
framework's own parameters and assigned to ``.grad``: any difference comes from the optimizer.
(The closure test in test_optimizer.py runs the same loss through both autograds.)
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import chainrule
import chainrule.nn
import chainrule.nn.functional
import chainrule.optim
from chainrule.testing import assert_close

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
STEPS = 15
SAVE_AT = 7

CONFIGS = {
    "SGD": [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9),
        dict(lr=0.1, momentum=0.9, dampening=0.5),
        dict(lr=0.1, momentum=0.9, nesterov=True),
        dict(lr=0.1, momentum=0.5, weight_decay=0.1),
        dict(lr=0.05, weight_decay=0.2),
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
        dict(lr=0.1, maximize=True),
    ],
    "Adagrad": [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.05),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.1, initial_accumulator_value=0.5),
        dict(lr=0.1, eps=1e-3, maximize=True),
        dict(lr=0.2, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1),
    ],
    "RMSprop": [
        dict(lr=0.01),
        dict(lr=0.01, alpha=0.9),
        dict(lr=0.01, centered=True),
        dict(lr=0.01, momentum=0.5),
        dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1),
        dict(lr=0.01, eps=1e-3, weight_decay=0.05),
        dict(lr=0.01, maximize=True, centered=True),
    ],
    "Adam": [
        dict(lr=0.05),
        dict(lr=0.05, betas=(0.8, 0.95)),
        dict(lr=0.05, amsgrad=True),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, weight_decay=0.1, amsgrad=True),
        dict(lr=0.05, eps=1e-3),
        dict(lr=0.05, maximize=True),
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
        dict(lr=0.05, betas=(0.6, 0.9)),  # 1 - beta1 >= 0.5: the other side of lerp
    ],
    "AdamW": [
        dict(lr=0.05),
        dict(lr=0.05, weight_decay=0.1, amsgrad=True),
        dict(lr=0.05, weight_decay=0.3, maximize=True),
        dict(lr=0.05, betas=(0.5, 0.99), eps=1e-4),
    ],
    "Adadelta": [
        dict(),
        dict(lr=0.5, rho=0.8),
        dict(weight_decay=0.1),
        dict(lr=0.5, eps=1e-3, maximize=True),
    ],
    "Adamax": [
        dict(lr=0.05),
        dict(lr=0.05, betas=(0.8, 0.99)),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, eps=1e-3, maximize=True),
    ],
    "NAdam": [
        dict(lr=0.05),
        dict(lr=0.05, momentum_decay=0.01),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
        dict(lr=0.05, betas=(0.8, 0.95), maximize=True),
    ],
    "RAdam": [
        dict(lr=0.05),
        dict(lr=0.05, betas=(0.9, 0.99)),  # rho_t > 5 from the third step on
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
        dict(lr=0.05, maximize=True),
    ],
}

CASES = [(name, kw) for name, configs in CONFIGS.items() for kw in configs]


def _case_id(case: tuple[str, dict]) -> str:
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


class Problem:
    """Initial values and loss coefficients shared by both frameworks."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        self.c1 = [rng.uniform(0.5, 2.0, s).astype(np.float32) for s in SHAPES]
        self.c2 = [rng.uniform(0.1, 1.0, s).astype(np.float32) for s in SHAPES]

    def grad(self, i: int, p: np.ndarray) -> np.ndarray:
        return (self.c1[i] * np.cos(p) + self.c2[i] * p).astype(np.float32)


def ours_params(arrays: list[np.ndarray]) -> list[chainrule.Tensor]:
    return [chainrule.tensor(a.copy(), requires_grad=True) for a in arrays]


def torch_params(arrays: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.tensor(a.copy(), requires_grad=True) for a in arrays]


def run(problem: Problem, opt, params: list, steps: int, lib) -> None:
    for _ in range(steps):
        opt.zero_grad()
        for i, p in enumerate(params):
            g = problem.grad(i, p.detach().numpy())
            p.grad = lib.tensor(g)
        opt.step()


def to_torch(obj):
    """A chainrule state_dict with every tensor converted to torch."""
    if isinstance(obj, chainrule.Tensor):
        return torch.tensor(obj.numpy().copy())
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch(v) for v in obj)
    return obj


def to_ours(obj):
    """A torch state_dict with every tensor converted to chainrule."""
    if isinstance(obj, torch.Tensor):
        return chainrule.tensor(obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: to_ours(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_ours(v) for v in obj)
    return obj


def assert_params_match(ours: list, theirs: list) -> None:
    for p, q in zip(ours, theirs):
        assert p.shape == tuple(q.shape)
        assert_close(p.detach(), q.detach())


def assert_state_dicts_match(ours: dict, theirs: dict) -> None:
    """Same structure, keys, hyperparameters, tensor dtypes/shapes and (close) values."""
    assert list(ours) == ["state", "param_groups"]
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for g, h in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(g) == set(h)
        for key in h:
            assert g[key] == h[key], key
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for idx, s in theirs["state"].items():
        mine = ours["state"][idx]
        assert list(mine) == list(s), idx  # same keys, same order
        for key, value in s.items():
            assert isinstance(mine[key], chainrule.Tensor), key
            assert str(mine[key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
            assert mine[key].shape == tuple(value.shape), key
            assert_close(mine[key], value)


def make(name: str, params: list, kw: dict, lib):
    return getattr(lib.optim, name)(params, **kw)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_steps_match_torch(case: tuple[str, dict]) -> None:
    name, kw = case
    problem = Problem()
    ours = ours_params(problem.init)
    theirs = torch_params(problem.init)
    opt = make(name, ours, kw, chainrule)
    topt = make(name, theirs, kw, torch)
    run(problem, opt, ours, STEPS, chainrule)
    run(problem, topt, theirs, STEPS, torch)
    assert_params_match(ours, theirs)
    assert not np.allclose(ours[0].detach().numpy(), problem.init[0])  # it did move
    assert_state_dicts_match(opt.state_dict(), topt.state_dict())


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("SGD", "Adam", "AdamW")],
                         ids=_case_id)
def test_updates_split_over_threads_match_torch(case: tuple[str, dict], monkeypatch) -> None:
    # Large parameters are updated in parts, one per thread (optimizer._in_parts); forced here
    # on the small ones, with two parts even where the BLAS has one thread.
    from chainrule._backend import threads
    from chainrule.optim import optimizer

    monkeypatch.setattr(optimizer, "_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    test_steps_match_torch(case)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_state_dict_resume(case: tuple[str, dict]) -> None:
    name, kw = case
    problem = Problem()
    theirs = torch_params(problem.init)
    topt = make(name, theirs, kw, torch)
    run(problem, topt, theirs, SAVE_AT, torch)
    torch_saved = copy.deepcopy(topt.state_dict())
    torch_params_saved = [p.detach().numpy().copy() for p in theirs]
    run(problem, topt, theirs, STEPS - SAVE_AT, torch)

    # Ours, saved at SAVE_AT and resumed in a fresh optimizer over fresh parameters.
    ours = ours_params(problem.init)
    opt = make(name, ours, kw, chainrule)
    run(problem, opt, ours, SAVE_AT, chainrule)
    saved = copy.deepcopy(opt.state_dict())
    resumed = ours_params([p.detach().numpy() for p in ours])
    opt2 = make(name, resumed, dict(kw, lr=123.0), chainrule)  # lr comes from the state_dict
    opt2.load_state_dict(saved)
    run(problem, opt2, resumed, STEPS - SAVE_AT, chainrule)
    assert_params_match(resumed, theirs)

    # torch's state_dict, converted to chainrule tensors, loads into ours and continues.
    from_torch = ours_params(torch_params_saved)
    opt3 = make(name, from_torch, kw, chainrule)
    opt3.load_state_dict(to_ours(torch_saved))
    run(problem, opt3, from_torch, STEPS - SAVE_AT, chainrule)
    assert_params_match(from_torch, theirs)

    # And ours loads into torch.
    back = torch_params([p.detach().numpy() for p in ours])
    topt2 = make(name, back, kw, torch)
    topt2.load_state_dict(to_torch(saved))
    run(problem, topt2, back, STEPS - SAVE_AT, torch)
    assert_params_match(resumed, back)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_param_groups_with_different_lrs(name: str) -> None:
    problem = Problem(seed=1)
    kw = CONFIGS[name][-1]
    results = []
    for lib, make_params in ((chainrule, ours_params), (torch, torch_params)):
        params = make_params(problem.init)
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": kw.get("lr", 1.0) * 0.3}]
        opt = getattr(lib.optim, name)(groups, **kw)
        run(problem, opt, params, STEPS, lib)
        results.append((params, opt.state_dict()))
    (ours, sd), (theirs, tsd) = results
    assert_params_match(ours, theirs)
    assert_state_dicts_match(sd, tsd)
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_parameter_without_grad_is_skipped(name: str) -> None:
    problem = Problem(seed=2)
    kw = CONFIGS[name][0]
    results = []
    for lib, make_params in ((chainrule, ours_params), (torch, torch_params)):
        params = make_params(problem.init)
        opt = getattr(lib.optim, name)(params, **kw)
        for step in range(6):
            opt.zero_grad()
            for i, p in enumerate(params):
                if i == 1 and step < 3:
                    continue  # no grad: no update, no state (except Adagrad's eager state)
                p.grad = lib.tensor(problem.grad(i, p.detach().numpy()))
            opt.step()
        results.append((params, opt.state_dict()))
    (ours, sd), (theirs, tsd) = results
    assert_params_match(ours, theirs)
    assert_state_dicts_match(sd, tsd)


@pytest.mark.parametrize("dtype", ["float64"])
@pytest.mark.parametrize("name", ["SGD", "Adam", "NAdam", "RAdam"])
def test_float64_parameters(name: str, dtype: str) -> None:
    problem = Problem(seed=3)
    init = [a.astype(dtype) for a in problem.init]
    kw = CONFIGS[name][1]
    results = []
    for lib, make_params in ((chainrule, ours_params), (torch, torch_params)):
        params = make_params(init)
        opt = getattr(lib.optim, name)(params, **kw)
        for _ in range(STEPS):
            for i, p in enumerate(params):
                a = p.detach().numpy()
                p.grad = lib.tensor(problem.c1[i] * np.cos(a) + problem.c2[i] * a)
            opt.step()
        results.append(params)
    ours, theirs = results
    for p, q in zip(ours, theirs):
        assert p.dtype == chainrule.float64
        assert_close(p.detach(), q.detach())


def test_adagrad_state_is_created_by_the_constructor() -> None:
    w = chainrule.zeros(2, 3, requires_grad=True)
    tw = torch.zeros(2, 3, requires_grad=True)
    sd = chainrule.optim.Adagrad([w], initial_accumulator_value=0.25).state_dict()
    tsd = torch.optim.Adagrad([tw], initial_accumulator_value=0.25).state_dict()
    assert_state_dicts_match(sd, tsd)


def test_sgd_without_momentum_keeps_no_state() -> None:
    w = chainrule.ones(3, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert opt.state_dict()["state"] == {}
    assert len(opt.state) == 0


def test_step_bumps_the_version_counter() -> None:
    w = chainrule.ones(3, requires_grad=True)
    opt = chainrule.optim.Adam([w], lr=0.1)
    y = (w * w).sum()  # saves w for backward
    y.backward(retain_graph=True)
    before = w._version
    opt.step()
    assert w._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_tensor_learning_rate() -> None:
    problem = Problem(seed=4)
    results = []
    for lib, make_params in ((chainrule, ours_params), (torch, torch_params)):
        params = make_params(problem.init)
        opt = lib.optim.Adam(params, lr=lib.tensor(0.05))
        run(problem, opt, params, 5, lib)
        results.append(params)
    assert_params_match(*results)


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(6, 16), lib.nn.Tanh(), lib.nn.Linear(16, 3))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_training_an_mlp_matches_torch(name: str) -> None:
    """End to end: nn twins, autograd, a loss, an optimizer and a schedule, 15 steps."""
    torch.manual_seed(0)
    theirs = _mlp(torch)
    ours = _mlp(chainrule)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(9)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    kw = dict(CONFIGS[name][1])
    for model, lib in ((ours, chainrule), (theirs, torch)):
        opt = getattr(lib.optim, name)(model.parameters(), **kw)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
        xs, ys = lib.tensor(x), lib.tensor(y)
        for _ in range(STEPS):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(xs), ys)
            loss.backward()
            opt.step()
            sched.step()
    for (k, p), (tk, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert k == tk
        assert_close(p.detach(), q.detach())
