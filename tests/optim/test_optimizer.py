"""The Optimizer base class: groups, zero_grad, closures, hooks, state_dict and misuse errors."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import chainrule
import chainrule.optim
from chainrule.optim.optimizer import (
    Optimizer,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from chainrule.testing import assert_close

NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax", "NAdam", "RAdam"]


def twins(*shapes: tuple[int, ...], seed: int = 0) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def raises_like_torch(make_ours, make_theirs) -> str:
    """Both calls raise the same exception type with the same message; returns the message."""
    with pytest.raises(Exception) as theirs:
        make_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        make_ours()
    assert str(ours.value) == str(theirs.value)
    return str(ours.value)


# -- construction and misuse --------------------------------------------------------------------
INVALID = [
    ("SGD", dict(lr=-1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1e-2)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adagrad", dict(lr=-0.5)),
    ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(weight_decay=-1.0)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1.0)),
    ("RMSprop", dict(lr=-1.0)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-1.0)),
    ("RMSprop", dict(weight_decay=-1.0)),
    ("RMSprop", dict(alpha=-1.0)),
    ("Adam", dict(lr=-1)),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(weight_decay=-1.0)),
    ("Adam", dict(betas=(0, 0.9))),
    ("AdamW", dict(lr=-1e-3)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-1.0)),
    ("Adamax", dict(lr=-1.0)),
    ("Adamax", dict(betas=(-0.1, 0.9))),
    ("NAdam", dict(momentum_decay=-1.0)),
    ("NAdam", dict(betas=(0.9, 1.0))),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(weight_decay=-0.1)),
    ("SGD", dict(lr=0.1, fused=True, foreach=True)),
    ("Adam", dict(fused=True, differentiable=True)),
]


@pytest.mark.parametrize("name,kwargs", INVALID,
                         ids=[f"{n}-{k}" for n, k in INVALID])
def test_invalid_hyperparameters_raise_like_torch(name: str, kwargs: dict) -> None:
    ours, theirs = twins((2,))
    raises_like_torch(lambda: getattr(chainrule.optim, name)(ours, **kwargs),
                      lambda: getattr(torch.optim, name)(theirs, **kwargs))


def test_invalid_learning_rate_text() -> None:
    w = chainrule.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
        chainrule.optim.SGD([w], lr=-1)


@pytest.mark.parametrize("case", ["empty", "tensor", "not_tensor", "non_leaf", "two_groups",
                                  "set_group", "group_not_dict", "names_mixed"])
def test_bad_parameters_raise_like_torch(case: str) -> None:
    def build(lib, params):
        p, q = params
        if case == "empty":
            return lib.optim.SGD([])
        if case == "tensor":
            return lib.optim.SGD(p)
        if case == "not_tensor":
            return lib.optim.SGD([p, 3])
        if case == "non_leaf":
            return lib.optim.SGD([p * 2])
        if case == "two_groups":
            return lib.optim.SGD([{"params": [p]}, {"params": [p, q]}])
        if case == "set_group":
            return lib.optim.SGD([{"params": {p}}])
        if case == "group_not_dict":
            return lib.optim.SGD([p]).add_param_group([q])
        return lib.optim.SGD([{"params": [("a", p)]}, {"params": [q]}])

    ours, theirs = twins((2,), (3,))
    raises_like_torch(lambda: build(chainrule, ours), lambda: build(torch, theirs))


def test_empty_parameter_list_text() -> None:
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        chainrule.optim.Adam([])


def test_duplicate_parameter_in_a_group_warns() -> None:
    w = chainrule.zeros(2, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        chainrule.optim.SGD([w, w])


def test_required_hyperparameter() -> None:
    from chainrule.optim.optimizer import required

    class Needy(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, dict(lr=lr))

    w = chainrule.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter lr"):
        Needy([w])
    assert Needy([{"params": [w], "lr": 0.5}]).param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("name", NAMES)
def test_repr_and_defaults_match_torch(name: str) -> None:
    ours, theirs = twins((2,))
    opt = getattr(chainrule.optim, name)(ours)
    topt = getattr(torch.optim, name)(theirs)
    assert repr(opt) == repr(topt)
    assert opt.defaults == topt.defaults


# -- parameter groups ---------------------------------------------------------------------------
def test_add_param_group_fills_defaults_and_indexes_state() -> None:
    ours, theirs = twins((2,), (3,), (4,))
    results = []
    for lib, (a, b, c) in ((chainrule, ours), (torch, theirs)):
        opt = lib.optim.SGD([a], lr=0.1, momentum=0.9)
        opt.add_param_group({"params": [b, c], "lr": 0.01})
        for p in (a, b, c):
            p.grad = lib.ones_like(p)
        opt.step()
        results.append(opt.state_dict())
    sd, tsd = results
    assert sd["param_groups"] == tsd["param_groups"]
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["param_groups"][1]["momentum"] == 0.9


def test_named_parameters_keep_their_names() -> None:
    ours, theirs = twins((2,), (3,))
    sd = chainrule.optim.Adam([("w", ours[0]), ("b", ours[1])]).state_dict()
    tsd = torch.optim.Adam([("w", theirs[0]), ("b", theirs[1])]).state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sd["param_groups"][0]["param_names"] == ["w", "b"]


def test_per_group_options_apply_to_their_group_only() -> None:
    ours, theirs = twins((3,), (3,))
    for lib, (a, b) in ((chainrule, ours), (torch, theirs)):
        opt = lib.optim.SGD([{"params": [a], "weight_decay": 0.5}, {"params": [b]}], lr=0.1)
        a.grad = lib.zeros_like(a)
        b.grad = lib.zeros_like(b)
        opt.step()
    assert_close(ours[0].detach(), theirs[0].detach())
    assert_close(ours[1].detach(), theirs[1].detach())
    assert ours[0].detach().numpy().tolist() != twins((3,), (3,))[0][0].detach().numpy().tolist()
    assert ours[1].detach().numpy().tolist() == twins((3,), (3,))[0][1].detach().numpy().tolist()


# -- zero_grad ----------------------------------------------------------------------------------
def test_zero_grad_sets_to_none_by_default() -> None:
    w = chainrule.ones(3, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    assert w.grad is not None
    opt.zero_grad()
    assert w.grad is None


def test_zero_grad_set_to_none_false_zeroes_in_place() -> None:
    w = chainrule.ones(3, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad
    assert w.grad.tolist() == [0.0, 0.0, 0.0]
    assert not w.grad.requires_grad
    (3 * w).sum().backward()  # accumulates into the zeroed grad
    assert w.grad.tolist() == [3.0, 3.0, 3.0]


def test_zero_grad_detaches_a_grad_with_history() -> None:
    w = chainrule.ones(2, requires_grad=True)
    (w * w).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    chainrule.optim.SGD([w]).zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None
    assert w.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name", NAMES)
def test_zero_grad_versus_none_grad(name: str) -> None:
    """A zero grad still steps (weight decay, momentum, state); a None grad skips the param."""
    ours, theirs = twins((3,), (4,), seed=5)
    kw = dict(lr=0.1, weight_decay=0.1)
    results = []
    for lib, params in ((chainrule, ours), (torch, theirs)):
        opt = getattr(lib.optim, name)(params, **kw)
        for step in range(4):
            opt.zero_grad(set_to_none=step % 2 == 1)
            for i, p in enumerate(params):
                if i == 0:
                    p.grad = lib.tensor(np.cos(p.detach().numpy()))
            opt.step()
        results.append(opt.state_dict())
    for p, q in zip(ours, theirs):
        assert_close(p.detach(), q.detach())
    assert sorted(results[0]["state"]) == sorted(results[1]["state"])


# -- step and closure ---------------------------------------------------------------------------
def _closure_problem(lib, params, coeffs):
    def loss_fn():
        total = 0
        for p, c in zip(params, coeffs):
            c = lib.tensor(c)
            total = total + (c * p.sin() + 0.5 * c * p * p).sum()
        return total
    return loss_fn


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                         ("Adam", dict(lr=0.05, amsgrad=True)),
                                         ("RMSprop", dict(lr=0.01, centered=True)),
                                         ("NAdam", dict(lr=0.05))])
def test_closure_through_autograd_matches_torch(name: str, kwargs: dict) -> None:
    ours, theirs = twins((3, 4), (5,), seed=6)
    rng = np.random.default_rng(7)
    coeffs = [rng.uniform(0.5, 2.0, p.shape).astype(np.float32) for p in ours]
    losses = []
    for lib, params in ((chainrule, ours), (torch, theirs)):
        opt = getattr(lib.optim, name)(params, **kwargs)
        loss_fn = _closure_problem(lib, params, coeffs)
        calls = []

        def closure(opt=opt, loss_fn=loss_fn, calls=calls):
            calls.append(1)
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        seq = []
        for _ in range(10):
            with lib.no_grad():  # the closure still records: step enables grad for it
                loss = opt.step(closure)
            seq.append(loss.item())
        assert len(calls) == 10
        losses.append(seq)
    assert_close(np.array(losses[0], dtype=np.float32), np.array(losses[1], dtype=np.float32))
    for p, q in zip(ours, theirs):
        assert_close(p.detach(), q.detach())
    assert losses[0][-1] < losses[0][0]


def test_step_without_closure_returns_none() -> None:
    w = chainrule.ones(2, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    assert opt.step() is None
    assert w.tolist() == pytest.approx([0.8, 0.8])


def test_step_records_no_graph() -> None:
    w = chainrule.ones(2, requires_grad=True)
    opt = chainrule.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.is_leaf and w.grad_fn is None and w.requires_grad


def test_zero_dim_parameter_state_stays_zero_dim() -> None:
    ours, theirs = twins((), seed=8)
    for lib, (p,) in ((chainrule, ours), (torch, theirs)):
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        for _ in range(3):
            p.grad = lib.tensor(np.float32(np.cos(p.item())))
            opt.step()
        if lib is chainrule:
            buf = opt.state[p]["momentum_buffer"]
            assert isinstance(buf, chainrule.Tensor) and buf.shape == ()
    (p,), (q,) = ours, theirs
    assert p.shape == ()
    assert_close(p.detach(), q.detach())


# -- hooks --------------------------------------------------------------------------------------
def test_step_hooks_run_in_order_and_can_be_removed() -> None:
    w = chainrule.zeros(2, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    g1 = register_optimizer_step_pre_hook(lambda o, args, kwargs: calls.append("global-pre"))
    g2 = register_optimizer_step_post_hook(lambda o, args, kwargs: calls.append("global-post"))
    try:
        opt.step()
        assert calls == ["global-pre", "pre", "post", "global-post"]
    finally:
        g1.remove()
        g2.remove()
    h1.remove()
    h2.remove()
    calls.clear()
    opt.step()
    assert calls == []


def test_subclass_step_calling_super_runs_hooks_once() -> None:
    class Counting(chainrule.optim.SGD):
        def step(self, closure=None):
            self.count = getattr(self, "count", 0) + 1
            return super().step(closure)

    w = chainrule.zeros(2, requires_grad=True)
    opt = Counting([w], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.step()
    assert calls == ["pre"] and opt.count == 1


def test_pre_hook_may_replace_arguments() -> None:
    w = chainrule.ones(1, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": lambda: 42}))
    assert opt.step() == 42


def test_state_dict_and_load_hooks() -> None:
    w = chainrule.zeros(2, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1)
    seen = []
    opt.register_state_dict_pre_hook(lambda o: seen.append("sd-pre"))
    opt.register_state_dict_post_hook(lambda o, sd: seen.append("sd-post"))
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append("load-pre"))
    opt.register_load_state_dict_post_hook(lambda o: seen.append("load-post"))
    opt.load_state_dict(opt.state_dict())
    assert seen == ["sd-pre", "sd-post", "load-pre", "load-post"]


# -- state_dict ---------------------------------------------------------------------------------
def test_state_dict_is_live_and_load_copies() -> None:
    w = chainrule.ones(2, requires_grad=True)
    opt = chainrule.optim.Adam([w], lr=0.1)
    w.grad = chainrule.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert sd["state"][0]["step"] is opt.state[w]["step"]
    assert sd["state"][0]["step"].dtype == chainrule.float32 and sd["state"][0]["step"].shape == ()
    other = chainrule.optim.Adam([chainrule.ones(2, requires_grad=True)])
    other.load_state_dict(sd)
    opt.step()
    assert float(sd["state"][0]["step"]) == 2.0  # live, as torch
    (p,) = other.param_groups[0]["params"]
    assert float(other.state[p]["step"]) == 1.0  # the load made its own copy


def test_load_state_dict_casts_to_parameter_dtype_but_not_step() -> None:
    w = chainrule.ones(2, dtype=chainrule.float64, requires_grad=True)
    opt = chainrule.optim.Adam([w])
    state = {"state": {0: {"step": chainrule.tensor(3.0),
                           "exp_avg": chainrule.tensor([0.1, 0.2]),
                           "exp_avg_sq": np.array([0.01, 0.02], dtype=np.float32)}},
             "param_groups": copy.deepcopy(opt.state_dict()["param_groups"])}
    opt.load_state_dict(state)
    loaded = opt.state[w]
    assert loaded["step"].dtype == chainrule.float32
    assert loaded["exp_avg"].dtype == chainrule.float64
    assert loaded["exp_avg_sq"].dtype == chainrule.float64
    assert isinstance(loaded["exp_avg_sq"], chainrule.Tensor)


def test_load_state_dict_accepts_a_float_step() -> None:
    """Old checkpoints store ``step`` as a number; torch converts it to a tensor."""
    w = chainrule.ones(2, requires_grad=True)
    opt = chainrule.optim.Adam([w], lr=0.1)
    w.grad = chainrule.ones(2)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["step"] = 1
    opt.load_state_dict(sd)
    assert isinstance(opt.state[w]["step"], chainrule.Tensor)
    opt.step()
    assert float(opt.state[w]["step"]) == 2.0


@pytest.mark.parametrize("case", ["groups", "sizes"])
def test_load_state_dict_mismatch_raises_like_torch(case: str) -> None:
    ours, theirs = twins((2,), (3,))

    def attempt(lib, params):
        a, b = params
        src = lib.optim.SGD([a, b] if case == "sizes" else [{"params": [a]}, {"params": [b]}])
        dst = lib.optim.SGD([a] if case == "sizes" else [a, b])
        dst.load_state_dict(src.state_dict())

    raises_like_torch(lambda: attempt(chainrule, ours), lambda: attempt(torch, theirs))


def test_deepcopy_and_pickle_state() -> None:
    w = chainrule.ones(2, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = chainrule.ones(2)
    opt.step()
    clone = copy.deepcopy(opt)
    (p,) = clone.param_groups[0]["params"]
    assert p is not w
    assert clone.state[p]["momentum_buffer"].tolist() == [1.0, 1.0]
    p.grad = chainrule.ones(2)
    clone.step()  # hooks dicts were restored by __setstate__
    assert w.tolist() == pytest.approx([0.9, 0.9])


def test_state_dict_round_trip_through_chainrule_save(tmp_path) -> None:
    w = chainrule.ones(3, requires_grad=True)
    opt = chainrule.optim.Adam([w], lr=0.1, betas=(0.8, 0.9))
    w.grad = chainrule.tensor([1.0, -2.0, 3.0])
    opt.step()
    path = tmp_path / "opt.pt"
    chainrule.save(opt.state_dict(), path)
    loaded = chainrule.load(path)
    fresh = chainrule.optim.Adam([chainrule.ones(3, requires_grad=True)])
    fresh.load_state_dict(loaded)
    assert fresh.param_groups[0]["betas"] == (0.8, 0.9)
    (p,) = fresh.param_groups[0]["params"]
    assert_close(fresh.state[p]["exp_avg"], opt.state[w]["exp_avg"])


def test_scheduler_warning_needs_no_patching() -> None:
    """Stepping the optimizer records it, so schedulers can check the call order."""
    w = chainrule.zeros(1, requires_grad=True)
    opt = chainrule.optim.SGD([w], lr=1.0)
    sched = chainrule.optim.lr_scheduler.StepLR(opt, 1)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
