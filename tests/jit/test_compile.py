"""chainrule.compile: results and gradients as eager, guards and recompiles (logged), fallback
to eager with a warning naming the reason, torch.compile's signature."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import jit, nn
from chainrule.jit import CompileWarning, TraceError

from .conftest import MODELS, close, make

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_module_matches_eager_in_training(name: str) -> None:
    model, x = make(name)
    model.train()
    fast = chainrule.compile(model)
    assert isinstance(fast, jit.OptimizedModule) and fast._orig_mod is model
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for step in range(3):  # first call traces; later calls run the compiled graphs
        cot = chainrule.randn(x.shape[0], 10, dtype=x.dtype)
        model.load_state_dict(state)
        for p in model.parameters():
            p.grad = None
        chainrule.manual_seed(step)
        ref = model(x)
        (ref * cot).sum().backward()
        want = [p.grad.clone() for p in model.parameters()]
        moved = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(state)
        for p in model.parameters():
            p.grad = None
        chainrule.manual_seed(step)
        out = fast(x)
        close(out, ref)
        (out * cot).sum().backward()
        for p, g in zip(model.parameters(), want):
            close(p.grad, g, "grad")
        for k, v in model.state_dict().items():
            close(v, moved[k])
    assert len(fast.graphs()) == 2  # one forward graph and one backward graph


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_inference(name: str) -> None:
    model, x = make(name)
    model.eval()
    fast = chainrule.compile(model)
    with chainrule.no_grad():
        for _ in range(2):
            close(fast(x), model(x))
    (graph,) = fast.graphs()
    assert any(v.buffer is not None for v in graph.values())


def test_inputs_that_require_grad() -> None:
    def f(x, w):
        return (x @ w).tanh().sum(dim=1)

    x = chainrule.randn(4, 3, dtype=chainrule.float64, requires_grad=True)
    w = chainrule.randn(3, 2, dtype=chainrule.float64, requires_grad=True)
    fast = chainrule.compile(f)
    for _ in range(2):
        x.grad = w.grad = None
        fast(x, w).sum().backward()
        gx, gw = x.grad.clone(), w.grad.clone()
        x.grad = w.grad = None
        f(x, w).sum().backward()
        close(gx, x.grad, "grad")
        close(gw, w.grad, "grad")


def test_guards_recompile_and_log_why(caplog: pytest.LogCaptureFixture) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5))
    fast = chainrule.compile(model)
    caplog.set_level(logging.INFO, logger="chainrule.jit.recompiles")
    fast(chainrule.randn(2, 3))
    fast(chainrule.randn(2, 3))
    assert len(fast._compiler.cache) == 1
    fast(chainrule.randn(5, 3))
    fast(chainrule.randn(5, 3, dtype=chainrule.float64).float())
    model.eval()
    fast(chainrule.randn(5, 3))
    with chainrule.no_grad():
        fast(chainrule.randn(5, 3))
    messages = [r.getMessage() for r in caplog.records if r.name == "chainrule.jit.recompiles"]
    assert messages[0].startswith("Compiling Sequential")
    assert "Recompiling Sequential: tensor argument 0: shape [2, 3] -> [5, 3]" in messages
    assert "Recompiling Sequential: training mode of Sequential: train -> eval" in messages
    assert "Recompiling Sequential: grad mode: is_grad_enabled() True -> False" in messages
    assert len(fast._compiler.cache) == 4


def test_dtype_guard() -> None:
    fast = chainrule.compile(lambda x: x * 2)
    fast(chainrule.ones(2))
    out = fast(chainrule.ones(2, dtype=chainrule.float64))
    assert out.dtype == chainrule.float64 and len(fast._compiler.cache) == 2


def test_recompiles_logged_on_stderr_with_chainrule_logs() -> None:
    code = ("import chainrule\n"
            "f = chainrule.compile(lambda x: x.exp())\n"
            "f(chainrule.ones(2)); f(chainrule.ones(3))\n")
    env = dict(os.environ, CHAINRULE_LOGS="recompiles", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[chainrule.compile] Recompiling <lambda>: tensor argument 0: shape [2] -> [3]" \
        in done.stderr


class _Square(chainrule.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def test_custom_function_falls_back_with_a_warning() -> None:
    def f(x):
        return _Square.apply(x).sum()

    fast = chainrule.compile(f)
    x = chainrule.tensor([3.0], requires_grad=True)
    with pytest.warns(CompileWarning, match="custom autograd.Function _Square"):
        out = fast(x)
    out.backward()
    assert out.item() == 9.0 and x.grad.item() == 6.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback is remembered: no second warning
        assert fast(x).item() == 9.0
    assert fast._compiler.cache[fast._compiler.last_key].mode == "eager"


def test_inplace_on_input_falls_back() -> None:
    def f(x):
        x.add_(1)
        return x * 2

    fast = chainrule.compile(f)
    x = chainrule.ones(2)
    with pytest.warns(CompileWarning, match="in-place op on an input"):
        out = fast(x)
    assert x.tolist() == [2.0, 2.0] and out.tolist() == [4.0, 4.0]  # ran once, eagerly


def test_data_dependent_values_fall_back() -> None:
    fast = chainrule.compile(lambda x: x * (x > 0))
    x = chainrule.tensor([-1.0, 2.0])
    with pytest.warns(CompileWarning, match="constant computed from the data"):
        fast(x)
    assert fast(chainrule.tensor([3.0, -4.0])).tolist() == [3.0, 0.0]


def test_fullgraph_raises_instead() -> None:
    fast = chainrule.compile(lambda x: _Square.apply(x), fullgraph=True)
    with pytest.raises(TraceError, match="_Square"):
        fast(chainrule.ones(2))


def test_specialization_warning_during_compile() -> None:
    def f(x):
        n = int(x.shape[0])
        return x * n if x.max().item() < 100 else x

    fast = chainrule.compile(f, options={"check_trace": False})
    with pytest.warns(jit.TracerWarning, match="Tensor.item"):
        fast(chainrule.ones(3))


def test_decorator_forms_and_disable() -> None:
    @chainrule.compile
    def f(x):
        return x + 1

    @chainrule.compile(mode="reduce-overhead", options={"fuse": False})
    def g(x):
        return x * 2

    assert f(chainrule.ones(1)).item() == 2.0 and g(chainrule.ones(1)).item() == 2.0
    assert f.__name__ == "f"

    def h(x):
        return x

    assert chainrule.compile(h, disable=True) is h
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        chainrule.compile(h, mode="fastest")
    with pytest.raises(RuntimeError, match="unknown options"):
        chainrule.compile(h, options={"unroll": True})


def test_eager_backend_runs_the_unoptimized_graph() -> None:
    model, x = make("mlp")
    fast = chainrule.compile(model, backend="eager")
    with chainrule.no_grad():
        fast(x)
        close(fast(x), model(x))
        (graph,) = fast.graphs()
    assert all(v.buffer is None for v in graph.values())


def test_kwargs_and_python_numbers() -> None:
    fast = chainrule.compile(lambda x, scale=1.0: x * scale)
    assert fast(chainrule.ones(2), scale=3.0).tolist() == [3.0, 3.0]
    assert fast(chainrule.ones(2), scale=4.0).tolist() == [4.0, 4.0]  # a guard on the value


def test_second_backward_through_compiled_call_raises() -> None:
    model = nn.Linear(2, 2)
    fast = chainrule.compile(model)
    fast(chainrule.ones(1, 2))
    out = fast(chainrule.ones(1, 2)).sum()
    out.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


def test_compile_as_in_a_torch_training_loop() -> None:
    model, x = make("mlp")
    y = chainrule.randint(0, 10, (x.shape[0],))
    opt = chainrule.optim.SGD(model.parameters(), lr=0.1)
    fast = chainrule.compile(model)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = F.cross_entropy(fast(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_op_without_a_vjp_rule_falls_back() -> None:
    from chainrule.autograd.op import Op

    class Double(Op, register=False):  # a primitive with a forward and no derivative
        name = "double_nograd"

        @staticmethod
        def forward(x):
            return x * 2

    w = chainrule.ones(3, requires_grad=True)
    fast = chainrule.compile(lambda x: Double.apply(x * w).sum())
    with pytest.warns(CompileWarning, match="double_nograd has no vjp rule"):
        out = fast(chainrule.ones(3))
    assert out.item() == 6.0
    with chainrule.no_grad():  # without a gradient to derive, the graph compiles
        fast2 = chainrule.compile(lambda x: Double.apply(x))
        assert fast2(chainrule.ones(2)).tolist() == [2.0, 2.0]


def test_compiled_function_inside_a_trace_is_inlined() -> None:
    inner = chainrule.compile(lambda x: x.exp())
    graph = jit.trace(lambda x: inner(x) * 2, chainrule.ones(2))
    assert [n.target.name for n in graph.nodes] == ["exp", "mul"]


def test_optimized_module_forwards_attributes() -> None:
    model = nn.Sequential(nn.Linear(2, 3))
    model.note = "hello"
    fast = chainrule.compile(model)
    assert fast._orig_mod is model
    assert fast.note == "hello" and fast.training
    fast.eval()
    assert not model.training
    with pytest.raises(AttributeError):
        _ = fast.missing
