"""Every learning-rate schedule against torch: lr (and momentum) sequences, state_dicts, errors.

Schedules are pure Python float arithmetic in both libraries, so sequences must be equal, not
merely close.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import chainrule
import chainrule.optim
import chainrule.optim.lr_scheduler  # noqa: F401

STEPS = 50


class Scale:
    """A callable object: LambdaLR saves its __dict__ in the state_dict."""

    def __init__(self, base: float) -> None:
        self.base = base

    def __call__(self, epoch: int) -> float:
        return self.base ** epoch


def _plain(name, **kw):
    return lambda lib, opt: getattr(lib.optim.lr_scheduler, name)(opt, **kw)


def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=5),
                                s.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3),
                                s.ExponentialLR(opt, gamma=0.9)], milestones=[5, 30])


def _sequential_constant(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.ConstantLR(opt, factor=0.5, total_iters=3),
                                s.StepLR(opt, step_size=4, gamma=0.5)], milestones=[10])


def _chained(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.ConstantLR(opt, factor=0.1, total_iters=4),
                               s.ExponentialLR(opt, gamma=0.95)])


def _chained_cosine(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.LinearLR(opt, start_factor=0.2, total_iters=10),
                               s.CosineAnnealingLR(opt, T_max=15)], optimizer=opt)


# (id, factory, optimizer name): a scheduler built on an optimizer with two groups.
CASES = [
    ("StepLR", _plain("StepLR", step_size=7), "SGD"),
    ("StepLR-gamma", _plain("StepLR", step_size=3, gamma=0.5), "SGD"),
    ("MultiStepLR", _plain("MultiStepLR", milestones=[5, 15, 15, 40], gamma=0.3), "SGD"),
    ("ExponentialLR", _plain("ExponentialLR", gamma=0.93), "SGD"),
    ("CosineAnnealingLR", _plain("CosineAnnealingLR", T_max=10), "SGD"),
    ("CosineAnnealingLR-eta", _plain("CosineAnnealingLR", T_max=17, eta_min=0.01), "Adam"),
    ("CosineAnnealingWarmRestarts", _plain("CosineAnnealingWarmRestarts", T_0=7), "SGD"),
    ("CosineAnnealingWarmRestarts-mult",
     _plain("CosineAnnealingWarmRestarts", T_0=3, T_mult=2, eta_min=0.001), "SGD"),
    ("LambdaLR", _plain("LambdaLR", lr_lambda=lambda e: 1.0 / (1 + e)), "SGD"),
    ("LambdaLR-list", _plain("LambdaLR", lr_lambda=[Scale(0.9), lambda e: 0.5 + e % 3]), "SGD"),
    ("MultiplicativeLR", _plain("MultiplicativeLR", lr_lambda=lambda e: 0.97), "SGD"),
    ("MultiplicativeLR-list",
     _plain("MultiplicativeLR", lr_lambda=[lambda e: 0.9, Scale(0.999)]), "SGD"),
    ("LinearLR", _plain("LinearLR"), "SGD"),
    ("LinearLR-down", _plain("LinearLR", start_factor=1.0, end_factor=0.05, total_iters=30),
     "SGD"),
    ("ConstantLR", _plain("ConstantLR"), "SGD"),
    ("ConstantLR-factor", _plain("ConstantLR", factor=0.25, total_iters=12), "SGD"),
    ("PolynomialLR", _plain("PolynomialLR", total_iters=20), "SGD"),
    ("PolynomialLR-power", _plain("PolynomialLR", total_iters=40, power=2.5), "SGD"),
    ("OneCycleLR", _plain("OneCycleLR", max_lr=0.5, total_steps=STEPS), "SGD-momentum"),
    ("OneCycleLR-linear", _plain("OneCycleLR", max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=11,
                                 anneal_strategy="linear", pct_start=0.25), "SGD-momentum"),
    ("OneCycleLR-three-phase", _plain("OneCycleLR", max_lr=1.0, total_steps=STEPS,
                                      three_phase=True, div_factor=10.0), "SGD-momentum"),
    ("OneCycleLR-adam", _plain("OneCycleLR", max_lr=0.01, total_steps=STEPS,
                               base_momentum=0.8, max_momentum=0.9), "Adam"),
    ("OneCycleLR-no-momentum", _plain("OneCycleLR", max_lr=0.1, total_steps=STEPS,
                                      cycle_momentum=False), "SGD"),
    ("CyclicLR", _plain("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=6), "SGD-momentum"),
    ("CyclicLR-triangular2", _plain("CyclicLR", base_lr=[0.01, 0.02], max_lr=[0.1, 0.3],
                                    step_size_up=4, step_size_down=7, mode="triangular2"),
     "SGD-momentum"),
    ("CyclicLR-exp-range", _plain("CyclicLR", base_lr=0.001, max_lr=0.1, step_size_up=5,
                                  mode="exp_range", gamma=0.97), "SGD-momentum"),
    ("CyclicLR-adam", _plain("CyclicLR", base_lr=0.001, max_lr=0.01, step_size_up=8,
                             base_momentum=0.85, max_momentum=0.95), "Adam"),
    ("CyclicLR-scale-fn", _plain("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=5,
                                 scale_fn=lambda x: 0.5 ** x, scale_mode="iterations",
                                 cycle_momentum=False), "SGD"),
    ("SequentialLR", _sequential, "SGD"),
    ("SequentialLR-constant", _sequential_constant, "SGD"),
    ("ChainedScheduler", _chained, "SGD"),
    ("ChainedScheduler-cosine", _chained_cosine, "SGD"),
]


def make_optimizer(lib, kind: str):
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.03}]
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.01)
    if kind == "SGD-momentum":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.SGD(groups, lr=0.1)


def trajectory(lib, factory, kind: str, steps: int = STEPS) -> list:
    """(last_lr, each group's lr, momentum or betas) after construction and every step."""
    opt = make_optimizer(lib, kind)
    sched = factory(lib, opt)

    def record():
        groups = [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]
        return (list(sched.get_last_lr()), groups)

    out = [record()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(record())
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sequence_matches_torch(case) -> None:
    _, factory, kind = case
    ours = trajectory(chainrule, factory, kind)
    theirs = trajectory(torch, factory, kind)
    assert ours == theirs
    assert len({tuple(lrs) for lrs, _ in ours}) > 1  # the schedule moved


def _comparable(state: dict) -> dict:
    """A scheduler state_dict without unpicklable callables (compared by key only)."""
    out = {}
    for key, value in state.items():
        if key == "_schedulers":
            out[key] = [_comparable(s) for s in value]
        elif key == "_scale_fn_ref" or callable(value):
            out[key] = "callable"
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_state_dict_matches_torch_and_resumes(case) -> None:
    _, factory, kind = case
    states = []
    for lib in (chainrule, torch):
        opt = make_optimizer(lib, kind)
        sched = factory(lib, opt)
        for _ in range(20):
            opt.step()
            sched.step()
        states.append(sched.state_dict())
    ours, theirs = states
    assert _comparable(ours) == _comparable(theirs)

    # Resume: a fresh optimizer and scheduler, optimizer state and scheduler state loaded.
    opt = make_optimizer(chainrule, kind)
    sched = factory(chainrule, opt)
    full = trajectory(chainrule, factory, kind, steps=35)
    source_opt = make_optimizer(chainrule, kind)
    source = factory(chainrule, source_opt)
    for _ in range(20):
        source_opt.step()
        source.step()
    sched.load_state_dict(source.state_dict())
    opt.load_state_dict(source_opt.state_dict())
    resumed = []
    for _ in range(15):
        opt.step()
        sched.step()
        resumed.append(list(sched.get_last_lr()))
    assert resumed == [lrs for lrs, _ in full[21:]]


def test_reduce_lr_on_plateau_modes() -> None:
    rng = np.random.default_rng(0)
    metrics = list(np.concatenate([np.linspace(5, 1, 10), np.full(15, 1.0),
                                   1.0 + 0.01 * rng.standard_normal(15), np.linspace(1, 0.5, 10)]))
    configs = [dict(), dict(patience=2), dict(mode="max", patience=3, factor=0.5),
               dict(threshold_mode="abs", threshold=0.05, patience=1, cooldown=2),
               dict(mode="max", threshold_mode="abs", patience=0, min_lr=[0.02, 0.001]),
               dict(patience=1, factor=0.5, min_lr=0.05, eps=1e-3)]
    for kw in configs:
        seqs = []
        for lib in (chainrule, torch):
            opt = make_optimizer(lib, "SGD")
            sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
            seq = []
            for m in metrics:
                opt.step()
                sched.step(float(m))
                seq.append((list(sched.get_last_lr()), sched.num_bad_epochs,
                            sched.cooldown_counter, sched.best))
            seqs.append((seq, sched.state_dict()))
        (ours, sd), (theirs, tsd) = seqs
        assert ours == theirs, kw
        assert sd == tsd
        assert ours[-1][0] != ours[0][0] or kw.get("mode") == "max"


def test_reduce_lr_on_plateau_state_dict_resume() -> None:
    opt = make_optimizer(chainrule, "SGD")
    sched = chainrule.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for m in [3.0, 2.0, 2.0]:
        sched.step(m)
    other = chainrule.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(chainrule, "SGD"))
    other.load_state_dict(sched.state_dict())
    assert other.patience == 1 and other.best == 2.0 and other.num_bad_epochs == 1
    assert other._is_better(1.0, other.best)


def test_cosine_warm_restarts_fractional_epochs() -> None:
    epochs = [0.0, 0.25, 0.5, 1.75, 2.9, 3.0, 3.1, 6.5, 9.0, 10.2, 20.0, 21.5, 44.9]
    for kw in (dict(T_0=3), dict(T_0=3, T_mult=2, eta_min=0.01), dict(T_0=2, T_mult=3)):
        seqs = []
        for lib in (chainrule, torch):
            opt = make_optimizer(lib, "SGD")
            sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, **kw)
            seq = []
            for e in epochs:
                opt.step()
                sched.step(e)
                seq.append((list(sched.get_last_lr()), sched.T_cur, sched.T_i, sched.last_epoch))
            seqs.append(seq)
        assert seqs[0] == seqs[1]


@pytest.mark.parametrize("name,kw", [("StepLR", dict(step_size=3)),
                                     ("MultiStepLR", dict(milestones=[2, 5, 5])),
                                     ("ExponentialLR", dict(gamma=0.8)),
                                     ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
                                     ("LinearLR", dict(total_iters=4)),
                                     ("ConstantLR", dict(total_iters=3)),
                                     ("PolynomialLR", dict(total_iters=7, power=2.0)),
                                     ("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e))])
def test_step_with_epoch_uses_the_closed_form(name: str, kw: dict) -> None:
    epochs = [1, 2, 5, 4, 9, 0, 3]
    seqs = []
    for lib in (chainrule, torch):
        opt = make_optimizer(lib, "SGD")
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kw)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in epochs:
                opt.step()
                sched.step(e)
                seq.append(list(sched.get_last_lr()))
        seqs.append(seq)
    assert seqs[0] == seqs[1]


def test_initial_lr_and_base_lrs() -> None:
    opt = make_optimizer(chainrule, "SGD")
    sched = chainrule.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.03]
    assert sched.base_lrs == [0.1, 0.03]
    assert sched.get_last_lr() == [0.1, 0.03]
    assert sched.get_last_lr() is not opt.param_groups  # a list of values, not the groups


def test_resuming_with_last_epoch_needs_initial_lr() -> None:
    def attempt(lib):
        lib.optim.lr_scheduler.StepLR(make_optimizer(lib, "SGD"), step_size=2, last_epoch=4)

    with pytest.raises(KeyError) as theirs:
        attempt(torch)
    with pytest.raises(KeyError) as ours:
        attempt(chainrule)
    assert str(ours.value) == str(theirs.value)


def test_resuming_with_last_epoch_continues_the_schedule() -> None:
    seqs = []
    for lib in (chainrule, torch):
        opt = make_optimizer(lib, "SGD")
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
        seq = [list(sched.get_last_lr())]
        for _ in range(8):
            opt.step()
            sched.step()
            seq.append(list(sched.get_last_lr()))
        seqs.append(seq)
    assert seqs[0] == seqs[1]


def test_scheduler_step_before_optimizer_step_warns() -> None:
    opt = make_optimizer(chainrule, "SGD")
    sched = chainrule.optim.lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_get_lr_outside_step_warns() -> None:
    opt = make_optimizer(chainrule, "SGD")
    sched = chainrule.optim.lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_tensor_learning_rate_is_filled_in_place() -> None:
    seqs = []
    for lib in (chainrule, torch):
        w = lib.zeros(2, requires_grad=True)
        lr = lib.tensor(0.1)
        opt = lib.optim.SGD([w], lr=lr)
        sched = lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        for _ in range(3):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] is lr
        seqs.append((float(lr), float(sched.get_last_lr()[0])))
    assert seqs[0] == seqs[1]


def test_one_cycle_too_many_steps_raises_like_torch() -> None:
    messages = []
    for lib in (chainrule, torch):
        opt = make_optimizer(lib, "SGD-momentum")
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
        with pytest.raises(ValueError) as err:
            for _ in range(4):
                opt.step()
                sched.step()
        messages.append(str(err.value))
    assert messages[0] == messages[1]


BAD = [
    lambda lib, opt: lib.optim.lr_scheduler.StepLR(object(), 2),
    lambda lib, opt: lib.optim.lr_scheduler.ConstantLR(opt, factor=1.5),
    lambda lib, opt: lib.optim.lr_scheduler.LinearLR(opt, start_factor=0),
    lambda lib, opt: lib.optim.lr_scheduler.LinearLR(opt, end_factor=2.0),
    lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(opt, [lambda e: 1.0]),
    lambda lib, opt: lib.optim.lr_scheduler.MultiplicativeLR(opt, [0.5, 0.5]),
    lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0),
    lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0),
    lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 2, eta_min="x"),
    lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 2).step(-1),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=0),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, epochs=0, steps_per_epoch=2),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, 10, pct_start=1),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, 10, anneal_strategy="exp"),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, [0.1, 0.2, 0.3], 10),
    lambda lib, opt: lib.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="bogus"),
    lambda lib, opt: lib.optim.lr_scheduler.CyclicLR(
        lib.optim.Adagrad(opt.param_groups[0]["params"]), 0.01, 0.1),
    lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0),
    lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="median"),
    lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct"),
    lambda lib, opt: lib.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1]),
    lambda lib, opt: lib.optim.lr_scheduler.SequentialLR(opt, [], []),
    lambda lib, opt: lib.optim.lr_scheduler.SequentialLR(
        opt, [lib.optim.lr_scheduler.StepLR(opt, 2)], [3]),
    lambda lib, opt: lib.optim.lr_scheduler.SequentialLR(
        opt, [lib.optim.lr_scheduler.ReduceLROnPlateau(opt)], []),
    lambda lib, opt: lib.optim.lr_scheduler.ChainedScheduler([]),
]


@pytest.mark.parametrize("index", range(len(BAD)))
def test_misuse_raises_like_torch(index: int) -> None:
    make = BAD[index]
    with pytest.raises(Exception) as theirs:
        make(torch, make_optimizer(torch, "SGD-momentum"))
    with pytest.raises(type(theirs.value)) as ours:
        make(chainrule, make_optimizer(chainrule, "SGD-momentum"))
    assert str(ours.value) == str(theirs.value)


def test_reduce_lr_on_plateau_epoch_argument_is_deprecated() -> None:
    opt = make_optimizer(chainrule, "SGD")
    sched = chainrule.optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(1.0, epoch=3)
    assert sched.last_epoch == 3


def test_lambda_state_dict_saves_callable_objects_only() -> None:
    opt = make_optimizer(chainrule, "SGD")
    sched = chainrule.optim.lr_scheduler.LambdaLR(opt, [Scale(0.5), lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"base": 0.5}, None]
    state["lr_lambdas"][0] = {"base": 0.25}
    sched.load_state_dict(state)
    assert sched.lr_lambdas[0].base == 0.25
    opt.step()
    sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.25)
    assert math.isclose(sched.get_last_lr()[1], 0.03)
