"""Static autodiff: the backward graph derived once from the vjp rules gives eager mode's
gradients (float64, default tolerances) on the MLP, CNN, ResNet and the lectures' examples."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import jit
from chainrule.jit._autodiff import CallVjp, VjpCall

from .conftest import MODELS, close, make


def _eager_loss_and_grads(fn, args, params):
    for p in params:
        p.grad = None
    loss = fn(*args)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in params]


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_static_gradients_equal_eager(name: str, mode: str) -> None:
    model, x = make(name)
    getattr(model, mode)()
    y = chainrule.randint(0, 10, (x.shape[0],))

    def loss_fn(x, y):
        out = model(x)
        return F.cross_entropy(out, y) if name == "mlp" else F.nll_loss(out, y) \
            if name == "cnn" else F.cross_entropy(out, y, label_smoothing=0.1)

    state = {k: v.clone() for k, v in model.state_dict().items()}
    joint = jit.grad_graph(jit.trace(loss_fn, (x, y)))
    params = list(model.parameters())
    model.load_state_dict(state)
    chainrule.manual_seed(11)
    loss, grads = _eager_loss_and_grads(loss_fn, (x, y), params)
    moved = {k: v.clone() for k, v in model.state_dict().items()}
    for optimized in (False, True):
        model.load_state_dict(state)
        g = jit.optimize(joint, keep_outputs_fresh=False) if optimized else joint
        chainrule.manual_seed(11)  # dropout draws the same masks
        with chainrule.no_grad():
            out = g(x, y)
        close(out[0], loss)
        for got, want in zip(out[1:], grads):
            close(got, want, "grad")
        for k, v in model.state_dict().items():  # running statistics updated once, alike
            close(v, moved[k])


def test_lecture_f_equals_x_plus_y_times_z() -> None:
    def f(x, y, z):
        return (x + y) * z

    xs = tuple(chainrule.tensor(v, dtype=chainrule.float64, requires_grad=True)
               for v in (-2.0, 5.0, -4.0))
    joint = jit.grad_graph(jit.trace(f, xs))
    with chainrule.no_grad():
        out, gx, gy, gz = joint(*xs)
    assert (out.item(), gx.item(), gy.item(), gz.item()) == (-12.0, -4.0, -4.0, 3.0)


def test_lecture_sigmoid_neuron() -> None:
    def neuron(w, x):
        return (w[0] * x[0] + w[1] * x[1] + w[2]).sigmoid()

    w = chainrule.tensor([2.0, -3.0, -3.0], dtype=chainrule.float64, requires_grad=True)
    x = chainrule.tensor([-1.0, -2.0], dtype=chainrule.float64, requires_grad=True)
    joint = jit.grad_graph(jit.trace(neuron, (w, x)))
    with chainrule.no_grad():
        out, gw, gx = joint(w, x)
    loss, (ew, ex) = _eager_loss_and_grads(neuron, (w, x), [w, x])
    close(out, loss)
    close(gw, ew, "grad")
    close(gx, ex, "grad")
    close(gw, chainrule.tensor([-0.19661193324148185, -0.3932238664829637,
                                0.19661193324148185], dtype=chainrule.float64), "grad")


def test_broadcast_gradients_are_summed_back() -> None:
    b = chainrule.randn(4, dtype=chainrule.float64, requires_grad=True)

    def f(x):
        return ((x + b) * b).tanh().sum()

    x = chainrule.randn(3, 4, dtype=chainrule.float64)
    joint = jit.grad_graph(jit.trace(f, x))
    assert "sum_to_size" in [n.target.name for n in joint.nodes]
    with chainrule.no_grad():
        _, gb = joint(x)
    _, (eb,) = _eager_loss_and_grads(f, (x,), [b])
    close(gb, eb, "grad")


def test_gradient_is_cast_to_the_leaf_dtype() -> None:
    w = chainrule.randn(3, requires_grad=True)  # float32, used in float64

    def f(x):
        return (w.double() * x).sum()

    x = chainrule.randn(3, dtype=chainrule.float64)
    with chainrule.no_grad():
        _, gw = jit.grad_graph(jit.trace(f, x))(x)
    assert gw.dtype == chainrule.float32
    close(gw.double(), x)


def test_rules_on_raw_arrays_run_whole_and_calls_through_autograd() -> None:
    model, x = make("cnn")
    y = chainrule.randint(0, 10, (x.shape[0],))
    joint = jit.grad_graph(jit.trace(lambda x, y: F.nll_loss(model(x), y), (x, y)))
    kinds = {type(n.target).__name__ for n in joint.nodes}
    assert {"VjpCall", "CallVjp", "CallSaving"} <= kinds  # nll/log_softmax, max_pool/dropout
    names = {n.target.name for n in joint.nodes if isinstance(n.target, (VjpCall, CallVjp))}
    assert {"log_softmax_vjp", "nll_loss_vjp", "max_pool2d_vjp"} <= names
    traced = {n.target.name for n in joint.nodes}
    assert {"conv_transpose", "conv_weight_grad", "relu_backward"} <= traced


def test_backward_derivation_leaves_no_side_effect() -> None:
    model, x = make("resnet")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    graph = jit.trace(lambda x: model(x).sum(), x)
    after_trace = {k: v.clone() for k, v in model.state_dict().items()}
    state = chainrule.get_rng_state()
    jit.grad_graph(graph)
    assert bool((chainrule.get_rng_state() == state).all())
    for k, v in model.state_dict().items():
        close(v, after_trace[k])
    assert any(not np.array_equal(v.numpy(), before[k].numpy()) for k, v in after_trace.items())


def test_non_scalar_output_is_refused() -> None:
    x = chainrule.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        jit.grad_graph(jit.trace(lambda x: x * 2, x))


def test_joint_graph_runs_with_autograd_too() -> None:
    model, x = make("cnn")
    model.eval()
    x.requires_grad_()
    joint = jit.grad_graph(jit.trace(lambda x: model(x).sum(), x))
    out = joint(x)  # x requires grad: the interpreter runs each node through Op.apply
    assert out[0].grad_fn is not None
    with chainrule.no_grad():
        want = joint(x)
    for a, b in zip(out, want):
        close(a.detach(), b)
