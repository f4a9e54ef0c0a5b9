"""nn.Module and nn.Parameter against torch.nn: registration, traversal order, state_dict,
modes, conversion, hooks (forward, pre, full backward) and repr."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close


# -- twin models: the same structure written once per framework ---------------------------------
def _make_block(lib):
    class Block(lib.nn.Module):
        def __init__(self, d):
            super().__init__()
            self.fc = lib.nn.Linear(d, d)
            self.scale = lib.nn.Parameter(lib.ones(d))
            self.register_buffer("steps", lib.zeros(()))
            self.register_buffer("cache", lib.zeros(d), persistent=False)

        def forward(self, x):
            return self.fc(x).relu() * self.scale + x

    return Block


def _make_net(lib):
    Block = _make_block(lib)

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.nn.Linear(3, 4)
            self.blocks = lib.nn.ModuleList([Block(4) for _ in range(2)])
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(4, 2), "b": lib.nn.Linear(4, 1)})
            self.post = lib.nn.Sequential(OrderedDict([("act", lib.nn.ReLU()),
                                                       ("out", lib.nn.Linear(4, 3, bias=False))]))
            self.register_parameter("unused", None)

        def forward(self, x):
            h = self.embed(x)
            for b in self.blocks:
                h = b(h)
            return self.post(h) + self.heads["a"](h).sum(-1, keepdim=True)

    return Net


def _twins(twin):
    torch.manual_seed(0)
    theirs = _make_net(torch)()
    ours = _make_net(chainrule)()
    twin.load(ours, theirs)
    return ours, theirs


def test_traversal_names_and_order_match_torch(twin) -> None:
    ours, theirs = _twins(twin)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ([n for n, _ in ours.named_parameters(prefix="m", recurse=False)]
            == [n for n, _ in theirs.named_parameters(prefix="m", recurse=False)])
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert [n for n, _ in ours.blocks[0].named_buffers(recurse=False)] == ["steps", "cache"]


def test_shared_parameters_and_modules_are_listed_once(twin) -> None:
    for lib in (chainrule, torch):
        shared = lib.nn.Linear(2, 2)
        seq = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        assert len(list(seq.parameters())) == 2
        assert [n for n, _ in seq.named_parameters(remove_duplicate=False)] == [
            "0.weight", "0.bias", "2.weight", "2.bias"]
        assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
        assert len(list(seq.modules(remove_duplicate=False))) == 4
        assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_forward_and_gradients_match_torch_after_loading_numpy_state(twin, rng) -> None:
    ours, theirs = _twins(twin)
    x, tx = twin.inputs(rng, 5, 3)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-5)


def test_state_dict_values_are_detached_views() -> None:
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and sd["weight"].grad_fn is None
    assert np.shares_memory(sd["weight"].numpy(), m.weight.detach().numpy())
    kv = m.state_dict(keep_vars=True)
    assert kv["weight"] is m.weight
    assert list(m.state_dict(prefix="p.")) == ["p.weight", "p.bias"]


def test_load_state_dict_error_text_matches_torch(twin) -> None:
    ours, theirs = _twins(twin)
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    del sd["embed.bias"]
    sd["blocks.0.extra"] = np.zeros(1, np.float32)
    sd["nothere.weight"] = np.zeros(1, np.float32)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(sd)
    with pytest.raises(RuntimeError) as theirs_err:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    assert str(ours_err.value) == str(theirs_err.value)
    res = ours.load_state_dict(sd, strict=False)
    tres = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=False)
    assert res.missing_keys == tres.missing_keys == ["embed.bias"]
    assert res.unexpected_keys == tres.unexpected_keys
    assert repr(ours.load_state_dict(ours.state_dict())) == "<All keys matched successfully>"


def test_load_state_dict_size_mismatch_text_matches_torch() -> None:
    sd = {"weight": np.zeros((3, 3), np.float32), "bias": np.zeros(2, np.float32)}
    with pytest.raises(RuntimeError) as ours_err:
        nn.Linear(3, 2).load_state_dict(sd)
    with pytest.raises(RuntimeError) as theirs_err:
        torch.nn.Linear(3, 2).load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    assert str(ours_err.value) == str(theirs_err.value).replace("torch.Size", "chainrule.Size")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        nn.Linear(3, 2).load_state_dict([1, 2])


def test_load_state_dict_copies_in_place_or_assigns() -> None:
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": chainrule.zeros(2)})
    assert m.weight is w and m.weight.dtype == chainrule.float32  # cast, identity kept
    assert_close(m.weight, chainrule.ones(2, 2))
    new = {"weight": chainrule.full((2, 2), 3.0), "bias": chainrule.zeros(2)}
    m.load_state_dict(new, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    assert np.shares_memory(m.weight.detach().numpy(), new["weight"].numpy())


class _WithExtra(nn.Module):
    def __init__(self):
        super().__init__()
        self.counter = 0

    def get_extra_state(self):
        return {"counter": self.counter}

    def set_extra_state(self, state):
        self.counter = state["counter"]


def test_extra_state_round_trips() -> None:
    a, b = _WithExtra(), _WithExtra()
    a.counter = 7
    assert list(a.state_dict()) == ["_extra_state"]
    b.load_state_dict(a.state_dict())
    assert b.counter == 7


def test_registration_rules_and_errors_match_torch() -> None:
    for lib in (chainrule, torch):
        m = lib.nn.Module()
        m.w = lib.nn.Parameter(lib.ones(2))
        m.sub = lib.nn.Linear(1, 1)
        m.register_buffer("buf", lib.zeros(1))
        m.plain = 3
        assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"]
        assert list(m._buffers) == ["buf"] and m.plain == 3
        m.w = None  # a parameter slot accepts None
        m.buf = lib.ones(2)  # a buffer slot accepts any tensor
        assert m.w is None and list(m.state_dict()) == ["buf", "sub.weight", "sub.bias"]
        m.sub = lib.nn.Parameter(lib.ones(1))  # a Parameter replaces a module of that name
        assert "sub" not in m._modules and "sub" in m._parameters
        del m.sub, m.buf
        assert not hasattr(m, "sub") and not hasattr(m, "buf")

    def errors(lib):
        out = []
        cases = [
            lambda m: setattr(m, "w", lib.ones(2)),  # a plain tensor into a parameter slot
            lambda m: m.register_parameter("a.b", None),
            lambda m: m.register_parameter("", None),
            lambda m: m.register_parameter("plain", None),
            lambda m: m.register_parameter("x", lib.ones(1)),
            lambda m: m.register_buffer("a.b", None),
            lambda m: m.register_buffer("buf2", 3),
            lambda m: m.add_module("a.b", lib.nn.ReLU()),
            lambda m: m.add_module("x", 3),
            lambda m: m.register_parameter(1, None),
            lambda m: setattr(m, "sub", 3),
            lambda m: m.nothere,
            lambda m: m.register_parameter("y", lib.nn.Parameter(lib.ones(1)) * 2),
        ]
        for case in cases:
            m = lib.nn.Module()
            m.w = lib.nn.Parameter(lib.ones(2))
            m.sub = lib.nn.ReLU()
            m.plain = 1
            with pytest.raises(Exception) as info:
                case(m)
            out.append((type(info.value), str(info.value).replace("torch.", "")
                        .replace("chainrule.", "")))
        return out

    ours, theirs = errors(chainrule), errors(torch)
    for (ot, om), (tt, tm) in zip(ours, theirs):
        assert ot is tt, (om, tm)
        if "Parameter or None required" not in tm:
            assert om == tm

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(chainrule.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_getattr_and_dir() -> None:
    m = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope  # noqa: B018
    keys = dir(nn.Sequential(nn.ReLU()))
    assert "weight" not in keys and "forward" in keys and "0" not in keys
    assert "weight" in dir(m) and "bias" in dir(m)


def test_get_submodule_parameter_buffer(twin) -> None:
    ours, theirs = _twins(twin)
    assert ours.get_submodule("blocks.1.fc") is ours.blocks[1].fc
    assert ours.get_parameter("blocks.1.scale") is ours.blocks[1].scale
    assert ours.get_buffer("blocks.0.steps") is ours.blocks[0].steps
    assert ours.get_submodule("") is ours
    for target, fn in [("blocks.9", "get_submodule"), ("blocks.0.scale", "get_submodule"),
                       ("blocks.0.steps", "get_parameter"), ("blocks.0.scale", "get_buffer"),
                       ("embed.nope", "get_parameter")]:
        with pytest.raises(AttributeError) as a:
            getattr(ours, fn)(target)
        with pytest.raises(AttributeError) as b:
            getattr(theirs, fn)(target)
        assert str(a.value) == str(b.value)
    ours.set_submodule("blocks.0.fc", nn.Identity())
    assert isinstance(ours.blocks[0].fc, nn.Identity)


def test_train_eval_requires_grad_zero_grad() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 1)))
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net(chainrule.ones(3, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first_like_torch() -> None:
    order = {}
    for lib in (chainrule, torch):
        seen = []
        net = lib.nn.Sequential(lib.nn.Linear(1, 1), lib.nn.Sequential(lib.nn.ReLU()))
        assert net.apply(lambda m, seen=seen: seen.append(type(m).__name__)) is net
        order[lib] = seen
    assert order[chainrule] == order[torch] == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_to_and_dtype_conversions_keep_parameter_identity() -> None:
    m = nn.Sequential(nn.Linear(2, 2))
    m.register_buffer("idx", chainrule.tensor([1, 2]))
    w = m[0].weight
    m[0](chainrule.ones(1, 2)).sum().backward()
    assert m.double() is m and w.dtype == chainrule.float64 and m[0].weight is w
    assert w.grad.dtype == chainrule.float64 and m.idx.dtype == chainrule.int64
    m.to(chainrule.float32)
    assert w.dtype == chainrule.float32
    m.half()
    assert w.dtype == chainrule.float16
    m.float().to("cpu").cpu()
    assert w.dtype == chainrule.float32
    m.to(chainrule.zeros(1, dtype=chainrule.float64))
    assert w.dtype == chainrule.float64
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        m.to(chainrule.int64)
    with pytest.raises(RuntimeError):
        m.to("cuda")


def test_deepcopy_gives_an_independent_module() -> None:
    m = nn.Sequential(nn.Linear(2, 2))
    c = copy.deepcopy(m)
    assert isinstance(c[0].weight, nn.Parameter) and c[0].weight is not m[0].weight
    with chainrule.no_grad():
        c[0].weight.fill_(5.0)
    assert not (m[0].weight == 5.0).any()


def test_parameter_semantics() -> None:
    t = chainrule.ones(2, 3)
    p = nn.Parameter(t)
    assert p.requires_grad and isinstance(p, chainrule.Tensor) and p.is_leaf
    assert np.shares_memory(p.detach().numpy(), t.numpy())
    assert type(p * 2) is chainrule.Tensor and type(p.detach()) is chainrule.Tensor
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert repr(nn.Parameter(chainrule.tensor([1.0, 2.0]))) == \
        repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    with pytest.raises(RuntimeError):
        nn.Parameter(chainrule.tensor([1, 2]))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    assert not np.shares_memory(q.detach().numpy(), p.detach().numpy())


def test_buffer_marker() -> None:
    m = nn.Module()
    m.a = nn.Buffer(chainrule.zeros(2))
    m.b = nn.Buffer(chainrule.zeros(2), persistent=False)
    assert list(m._buffers) == ["a", "b"] and list(m.state_dict()) == ["a"]
    assert isinstance(m.a, nn.Buffer) and not isinstance(chainrule.zeros(1), nn.Buffer)


# -- hooks ---------------------------------------------------------------------------------------
def _hooked_events(lib):
    events = []
    net = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
    for name, m in net.named_modules():
        tag = name or "root"
        m.register_forward_pre_hook(lambda mod, args, tag=tag: events.append(("pre", tag)))
        m.register_forward_hook(lambda mod, args, out, tag=tag: events.append(("fwd", tag)))
        m.register_full_backward_pre_hook(lambda mod, go, tag=tag: events.append(("bpre", tag)))
        m.register_full_backward_hook(lambda mod, gi, go, tag=tag: events.append(("bwd", tag)))
    x = lib.ones(4, 2, requires_grad=True)
    net(x).sum().backward()
    return events


def test_hook_order_matches_torch() -> None:
    ours = _hooked_events(chainrule)
    theirs = _hooked_events(torch)
    assert ours == theirs


def test_forward_pre_hook_and_forward_hook_semantics() -> None:
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(args[0].sum().item()))
    h3 = m.register_forward_hook(lambda mod, args, out: out * 0 + 1, prepend=True)
    out = m(chainrule.ones(1, 2))
    assert calls == [0.0] and (out == 1).all()
    for h in (h1, h2, h3):
        h.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks
    out = m(chainrule.ones(1, 2))
    assert not (out == 1).all()


def test_hooks_with_kwargs() -> None:
    class Scale(nn.Module):
        def forward(self, x, *, k=1.0):
            return x * k

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"k": kwargs["k"] * 10}),
                                with_kwargs=True)
    seen = {}
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.update(kwargs),
                            with_kwargs=True)
    assert m(chainrule.ones(1), k=2.0).item() == 20.0 and seen == {"k": 20.0}
    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m2(chainrule.ones(1))


def test_always_call_forward_hook_runs_when_forward_raises() -> None:
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(chainrule.ones(1))
    assert seen == [None]


class _TwoIn:
    """A module with two tensor inputs, a non-tensor one, and two outputs."""

    @staticmethod
    def make(lib):
        class TwoIn(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(3, 3)

            def forward(self, a, k, b):
                h = self.fc(a) * b
                return h * k, h.sum(-1)

        return TwoIn()


def _backward_hook_run(lib, twin, rng_seed: int, modify: bool):
    r = np.random.default_rng(rng_seed)
    torch.manual_seed(0)
    theirs = _TwoIn.make(torch)
    m = _TwoIn.make(lib)
    if lib is chainrule:
        twin.load(m, theirs)
    else:
        m = theirs
    record = {}

    def pre(mod, grad_output):
        record["pre_go"] = [None if g is None else g.detach().numpy().copy() for g in grad_output]
        if modify:
            return (grad_output[0] * 2, grad_output[1])
        return None

    def hook(mod, grad_input, grad_output):
        record["gi"] = [None if g is None else g.detach().numpy().copy() for g in grad_input]
        record["go"] = [None if g is None else g.detach().numpy().copy() for g in grad_output]
        if modify:
            return (grad_input[0] * 3, None, grad_input[2])
        return None

    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(hook)
    a_np = r.standard_normal((2, 3)).astype(np.float32)
    b_np = r.standard_normal((2, 3)).astype(np.float32)
    a = lib.tensor(a_np, requires_grad=True)
    b = lib.tensor(b_np, requires_grad=True)
    y1, y2 = m(a, 2.0, b)
    g1 = r.standard_normal((2, 3)).astype(np.float32)
    g2 = r.standard_normal((2,)).astype(np.float32)
    lib.autograd.backward([y1, y2], [lib.tensor(g1), lib.tensor(g2)])
    record["a"] = a.grad.numpy().copy()
    record["b"] = b.grad.numpy().copy()
    record["w"] = m.fc.weight.grad.numpy().copy()
    return record


@pytest.mark.parametrize("modify", [False, True])
def test_full_backward_hooks_match_torch(twin, modify) -> None:
    ours = _backward_hook_run(chainrule, twin, 1, modify)
    theirs = _backward_hook_run(torch, twin, 1, modify)
    assert ours.keys() == theirs.keys()
    for key in ours:
        o, t = ours[key], theirs[key]
        if isinstance(o, list):
            assert len(o) == len(t)
            for oi, ti in zip(o, t):
                assert (oi is None) == (ti is None), key
                if oi is not None:
                    np.testing.assert_allclose(oi, ti, rtol=1e-5, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_allclose(o, t, rtol=1e-5, atol=1e-6, err_msg=key)


def test_full_backward_hook_when_no_input_requires_grad() -> None:
    seen = {}
    for lib in (chainrule, torch):
        m = lib.nn.Linear(2, 2)
        def hook(mod, gi, go, lib=lib):
            seen[lib] = (gi, tuple(go[0].shape))

        m.register_full_backward_hook(hook)
        with pytest.warns(UserWarning, match="Full backward hook is firing"):
            m(lib.ones(3, 2)).sum().backward()
    assert seen[chainrule][0] == (None,) and seen[torch][0] == (None,)
    assert seen[chainrule][1] == seen[torch][1] == (3, 2)


def test_backward_hook_errors_and_exclusivity() -> None:
    m = nn.Linear(2, 2)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        m(chainrule.ones(1, 2, requires_grad=True)).sum().backward()
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
        m.register_backward_hook(lambda *a: None)


def test_legacy_backward_hook_sees_last_node_gradients() -> None:
    seen = []
    m = nn.Linear(2, 3)
    m.register_backward_hook(lambda mod, gi, go: seen.append(tuple(go[0].shape)))
    m(chainrule.ones(4, 2, requires_grad=True)).sum().backward()
    assert seen == [(4, 3)]


def test_global_hooks() -> None:
    from chainrule.nn.modules import module as mm

    seen = []
    h = mm.register_module_forward_hook(lambda mod, args, out: seen.append(type(mod).__name__))
    try:
        nn.Sequential(nn.ReLU())(chainrule.ones(1))
    finally:
        h.remove()
    nn.ReLU()(chainrule.ones(1))
    assert seen == ["ReLU", "Sequential"]


# -- repr ----------------------------------------------------------------------------------------
def test_repr_matches_torch_for_a_nested_model(twin) -> None:
    ours, theirs = _twins(twin)
    assert repr(ours) == repr(theirs)
    extra = {}
    for lib in (chainrule, torch):
        class WithExtra(lib.nn.Module):
            def __init__(self, lib=lib):
                super().__init__()
                self.inner = lib.nn.Linear(1, 1)

            def extra_repr(self):
                return "alpha=1,\nbeta=2"

        extra[lib] = repr(lib.nn.Sequential(WithExtra(), lib.nn.Flatten(0, 1),
                                            lib.nn.Identity()))
    assert extra[chainrule] == extra[torch]


def test_calling_a_module_without_forward_raises() -> None:
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(chainrule.ones(1))


def test_module_init_rejects_arguments() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        nn.Module(x=1)
