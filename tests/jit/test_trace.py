"""jit.trace: the IR it records, its printout and drawing, calling it (arrays and autograd),
what it refuses and what it warns about."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import jit, nn
from chainrule.autograd.op import OPS
from chainrule.jit import TraceError, TracerWarning

from .conftest import MODELS, close, make


def _grads_eager(model: nn.Module, x: chainrule.Tensor, cot: chainrule.Tensor) -> list:
    for p in model.parameters():
        p.grad = None
    (model(x) * cot).sum().backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_traced_equals_eager_outputs_and_gradients(name: str, mode: str) -> None:
    model, x = make(name)
    getattr(model, mode)()
    graph = jit.trace(model, x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    chainrule.manual_seed(7)
    ref = model(x)
    cot = chainrule.randn(*ref.shape, dtype=ref.dtype)
    model.load_state_dict(state)
    chainrule.manual_seed(7)
    expected = _grads_eager(model, x, cot)
    after_eager = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    chainrule.manual_seed(7)
    for p in model.parameters():
        p.grad = None
    out = graph(x)  # parameters require grad: the graph runs through Op.apply (autograd)
    assert out.grad_fn is not None
    close(out, ref)
    (out * cot).sum().backward()
    for p, g in zip(model.parameters(), expected):
        close(p.grad, g, "grad")
    for k, v in model.state_dict().items():  # batch norm's running statistics moved alike
        close(v, after_eager[k])
    model.load_state_dict(state)
    with chainrule.no_grad():  # and the generated code, on arrays
        chainrule.manual_seed(7)
        close(graph(x), ref)


def test_lecture_example_f_equals_x_plus_y_times_z() -> None:
    def f(x, y, z):
        return (x + y) * z

    xs = [chainrule.tensor(v, dtype=chainrule.float64, requires_grad=True)
          for v in (-2.0, 5.0, -4.0)]
    graph = jit.trace(f, tuple(xs))
    assert [n.target.name for n in graph.nodes] == ["add", "mul"]
    out = graph(*xs)
    assert out.item() == -12.0
    out.backward()
    assert [t.grad.item() for t in xs] == [-4.0, -4.0, 3.0]  # df/dx = df/dy = z, df/dz = x + y


def test_lecture_example_sigmoid_neuron() -> None:
    """f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) with w = (2, -3, -3), x = (-1, -2)."""
    def neuron(w, x):
        return 1 / (1 + (-(w[0] * x[0] + w[1] * x[1] + w[2])).exp())

    w = chainrule.tensor([2.0, -3.0, -3.0], dtype=chainrule.float64, requires_grad=True)
    x = chainrule.tensor([-1.0, -2.0], dtype=chainrule.float64, requires_grad=True)
    graph = jit.trace(neuron, (w, x))
    out = graph(w, x)
    close(out, chainrule.tensor(0.7310585786300049, dtype=chainrule.float64))
    out.backward()
    close(w.grad, chainrule.tensor([-0.19661193, -0.39322387, 0.19661193],
                                   dtype=chainrule.float64).double(), "grad")
    close(x.grad, chainrule.tensor([0.39322387, -0.5898358], dtype=chainrule.float64), "grad")


def test_lecture_example_symbolic_graph_sum() -> None:
    """a = x * y; b = a + z; c = sum(b) (the lecture's first symbolic graph)."""
    def f(x, y, z):
        a = x * y
        b = a + z
        return b.sum()

    args = [chainrule.randn(3, dtype=chainrule.float64) for _ in range(3)]
    graph = jit.trace(f, tuple(args))
    assert [n.target.name for n in graph.nodes] == ["mul", "add", "sum"]
    close(graph(*args), f(*args))


def test_printout_one_line_per_op() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    text = str(jit.trace(model, chainrule.ones(4, 3)))
    lines = text.splitlines()
    assert lines[0] == "Sequential(input: f32[4, 3]) {"
    assert "  0.weight: f32[2, 3] = param" in lines
    assert "  v1: f32[4, 2] = addmm(0.bias, input, v0)  beta=1 alpha=1" in lines
    assert "  v2: f32[4, 2] = tanh(v1)" in lines
    assert lines[-2:] == ["  return v2", "}"]


def test_nodes_are_registry_primitives_and_scalars_constants() -> None:
    graph = jit.trace(lambda x: x * 2.5 + 1, chainrule.ones(3))
    assert all(n.target is OPS[n.target.name] for n in graph.nodes)
    assert [c.data.item() for c in graph.consts] == [2.5, 1.0]
    assert all(c.kind == "const" for c in graph.consts)


def test_parameters_and_buffers_are_read_at_every_call() -> None:
    model = nn.Linear(3, 2)
    x = chainrule.randn(4, 3)
    graph = jit.trace(model, x)
    assert {v.name for v in graph.params} == {"weight", "bias"}
    with chainrule.no_grad():
        model.weight.mul_(2)  # training the module is seen by the graph
        close(graph(x).double(), model(x).double())


def test_closure_modules_are_parameters() -> None:
    model = nn.Linear(3, 2)

    def f(x):
        return model(x).relu()

    graph = jit.trace(f, chainrule.randn(4, 3))
    assert {v.name for v in graph.params} == {"model.weight", "model.bias"}


def test_nested_inputs_and_outputs() -> None:
    def f(pair, scale):
        a, b = pair
        return {"sum": a + b, "scaled": a * scale, "n": 3}

    a, b = chainrule.randn(2), chainrule.randn(2)
    graph = jit.trace(f, ((a, b), 2.0))
    out = graph((a, b), 2.0)
    assert out["n"] == 3
    close(out["sum"].double(), (a + b).double())


def test_to_dot_draws_the_graph() -> None:
    graph = jit.trace(lambda x, y: (x * y).exp(), (chainrule.ones(2), chainrule.ones(2)))
    dot = graph.to_dot()
    assert dot.source.startswith("digraph jit {")
    assert "v0 = mul" in dot.source and "v1 = exp" in dot.source
    assert dot.order == ["mul", "exp"]


def test_wrong_shape_is_refused() -> None:
    graph = jit.trace(lambda x: x.exp(), chainrule.ones(2))
    with pytest.raises(RuntimeError, match=r"traced as f32\[2\], got f32\[3\]"):
        graph(chainrule.ones(3))


def test_detach_is_recorded_without_gradient() -> None:
    def f(x):
        return x * x.detach()

    x = chainrule.tensor([3.0], dtype=chainrule.float64, requires_grad=True)
    graph = jit.trace(f, x)
    assert "detach" in [n.target.name for n in graph.nodes]
    graph(x).backward()
    assert x.grad.item() == 3.0


def test_inplace_ops_on_intermediates_are_traced() -> None:
    def f(x):
        y = x * 2
        y += 1
        y.relu_()
        return y

    x = chainrule.randn(5, dtype=chainrule.float64)
    close(jit.trace(f, x)(x), f(x))


def test_item_warns_and_specializes() -> None:
    def f(x):
        return x * 2 if x.sum().item() > 0 else x * 3

    with pytest.warns(TracerWarning, match="Tensor.item"):
        graph = jit.trace(f, chainrule.ones(2), check_trace=False)
    assert graph.specialized == ["Tensor.item()"]


def test_data_dependent_control_flow_is_refused() -> None:
    def f(x):
        if x.sum() > 0:
            return x.exp()
        return x.tanh()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TracerWarning)
        with pytest.raises(TraceError, match="depends on the input values"):
            jit.trace(f, chainrule.tensor([1.0, -3.0]))


def test_comparison_masks_are_refused() -> None:
    def f(x):
        return x * (x > 0)  # the mask is computed outside the registry's ops

    with pytest.raises(TraceError, match="constant computed from the data"):
        jit.trace(f, chainrule.randn(8))


def test_random_numbers_inside_are_refused() -> None:
    with pytest.raises(TraceError, match="depends on the input values"):
        jit.trace(lambda x: x + chainrule.randn(3), chainrule.ones(3))


def test_custom_function_is_refused() -> None:
    class Square(chainrule.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    with pytest.raises(TraceError, match="custom autograd.Function Square"):
        jit.trace(lambda x: Square.apply(x), chainrule.ones(2))


def test_inplace_on_input_is_refused() -> None:
    def f(x):
        x.mul_(2)
        return x

    with pytest.raises(TraceError, match="in-place op on an input"):
        jit.trace(f, chainrule.ones(2))


def test_backward_inside_is_refused() -> None:
    w = chainrule.ones(2, requires_grad=True)

    def f(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    with pytest.raises(TraceError, match="backward"):
        jit.trace(f, chainrule.ones(2))


def test_trace_leaves_the_tensor_class_as_it_was() -> None:
    before = {k: chainrule.Tensor.__dict__[k] for k in ("_inplace", "item", "__bool__")}
    with pytest.raises(TraceError):
        jit.trace(lambda x: x.mul_(2), chainrule.ones(2))
    assert {k: chainrule.Tensor.__dict__[k] for k in before} == before
    assert not chainrule.autograd.grad_mode.STATE.special


def test_dropout_draws_a_new_mask_at_every_call() -> None:
    drop = nn.Dropout(0.5)
    x = chainrule.ones(1000)
    graph = jit.trace(drop, x)
    assert [n.target.name for n in graph.nodes] == ["dropout"]
    chainrule.manual_seed(3)
    a = graph(x)
    chainrule.manual_seed(3)
    assert bool((a == drop(x)).all())
    assert not bool((graph(x) == a).all())


def test_functional_batch_norm_in_a_function() -> None:
    bn = nn.BatchNorm1d(3).double()

    def f(x):
        return F.relu(bn(x))

    x = chainrule.randn(8, 3, dtype=chainrule.float64)
    graph = jit.trace(f, x)
    rm = bn.running_mean.clone()
    with chainrule.no_grad():
        out = graph(x)
    moved = bn.running_mean.clone()
    bn.running_mean.copy_(rm)
    bn.num_batches_tracked.zero_()
    close(out, f(x))
    close(moved, bn.running_mean)
    assert not np.allclose(moved.numpy(), rm.numpy())
