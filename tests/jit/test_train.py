"""compile_train_step: several steps train exactly as eager (parameters, optimizer state,
running statistics, losses), recompiles for a new batch shape, falls back to eager."""

from __future__ import annotations

import copy
import logging

import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import jit

from .conftest import MODELS, close, make

OPTIMIZERS = {
    "sgd-momentum": lambda ps: chainrule.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    # (plain momentum: the update inside the step runs through BLAS axpby/axpy)
    "sgd-plain-momentum": lambda ps: chainrule.optim.SGD(ps, lr=0.05, momentum=0.9),
    "adam": lambda ps: chainrule.optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
}


def _loss(name: str):
    return F.nll_loss if name == "cnn" else F.cross_entropy


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_compiled_steps_train_as_eager(name: str, opt_name: str) -> None:
    model, x = make(name)
    model.train()
    twin = copy.deepcopy(model)
    y = chainrule.randint(0, 10, (x.shape[0],))
    opt = OPTIMIZERS[opt_name](model.parameters())
    opt_twin = OPTIMIZERS[opt_name](twin.parameters())
    loss_fn = _loss(name)
    step = jit.compile_train_step(model, loss_fn, opt, (x, y))
    for i in range(3):
        chainrule.manual_seed(100 + i)  # dropout: the same masks in both
        loss = step(x, y)
        chainrule.manual_seed(100 + i)
        opt_twin.zero_grad()
        want = loss_fn(twin(x), y)
        want.backward()
        opt_twin.step()
        close(loss, want.detach())
        assert loss.grad_fn is None
    for a, b in zip(model.state_dict().values(), twin.state_dict().values()):
        close(a, b, "grad")
    for p, q in zip(model.parameters(), twin.parameters()):
        close(p.grad, q.grad, "grad")
        for key, value in opt.state[p].items():
            if isinstance(value, chainrule.Tensor):
                close(value, opt_twin.state[q][key], "grad")


def test_graph_holds_forward_backward_and_fused_kernels() -> None:
    model, x = make("mlp")
    y = chainrule.randint(0, 10, (x.shape[0],))
    opt = chainrule.optim.SGD(model.parameters(), lr=0.1)
    step = jit.compile_train_step(model, F.cross_entropy, opt, (x, y))
    text = str(step.graph)
    assert "cross_entropy_vjp" in text and "relu_backward" in text
    assert "# in buffer" in text
    # each parameter's update runs inside the step, right after its last use
    assert text.count("optimizer_update(") == len(list(model.parameters()))
    assert len(step.graph.outputs) == 1
    assert "def run(" in step.graph.code


def test_example_batch_compiles_without_training() -> None:
    model, x = make("resnet")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    y = chainrule.randint(0, 10, (x.shape[0],))
    opt = chainrule.optim.SGD(model.parameters(), lr=0.1)
    jit.compile_train_step(model, F.cross_entropy, opt, (x, y))
    for k, v in model.state_dict().items():
        close(v, before[k])
    assert all(p.grad is None for p in model.parameters())


def test_first_call_compiles_and_trains() -> None:
    model, x = make("mlp")
    twin = copy.deepcopy(model)
    y = chainrule.randint(0, 10, (x.shape[0],))
    step = jit.compile_train_step(model, F.cross_entropy,
                                  chainrule.optim.SGD(model.parameters(), lr=0.1))
    opt_twin = chainrule.optim.SGD(twin.parameters(), lr=0.1)
    for _ in range(2):
        step(x, y)
        opt_twin.zero_grad()
        F.cross_entropy(twin(x), y).backward()
        opt_twin.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        close(p, q, "grad")


def test_new_batch_shape_recompiles(caplog: pytest.LogCaptureFixture) -> None:
    model, x = make("mlp")
    y = chainrule.randint(0, 10, (x.shape[0],))
    step = jit.compile_train_step(model, F.cross_entropy,
                                  chainrule.optim.SGD(model.parameters(), lr=0.1), (x, y))
    caplog.set_level(logging.INFO, logger="chainrule.jit.recompiles")
    step(x[:4], y[:4])
    step(x[:4], y[:4])
    assert any("tensor argument 0: shape [6, 20] -> [4, 20]" in r.getMessage()
               for r in caplog.records)
    assert len(step._cache) == 2


class _Square(chainrule.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class _SquareNet(chainrule.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = chainrule.nn.Linear(3, 1)

    def forward(self, x):
        return _Square.apply(self.lin(x))


def test_untraceable_model_trains_eagerly_with_a_warning() -> None:
    chainrule.manual_seed(0)
    model = _SquareNet()
    x, y = chainrule.randn(8, 3), chainrule.randn(8, 1)
    step = jit.compile_train_step(model, F.mse_loss,
                                  chainrule.optim.SGD(model.parameters(), lr=0.01))
    with pytest.warns(jit.CompileWarning, match="_Square"):
        first = step(x, y).item()
    losses = [step(x, y).item() for _ in range(5)]
    assert losses[-1] < first


def test_layer_norm_group_norm_gelu_and_in_place_modules() -> None:
    chainrule.manual_seed(0)
    nn = chainrule.nn
    model = nn.Sequential(nn.Linear(10, 16), nn.LayerNorm(16), nn.ReLU(inplace=True),
                          nn.Dropout(0.3, inplace=True), nn.Linear(16, 8), nn.GroupNorm(2, 8),
                          nn.GELU(), nn.Linear(8, 3)).double()
    twin = copy.deepcopy(model)
    opt = chainrule.optim.Adam(model.parameters(), lr=1e-2)
    opt_twin = chainrule.optim.Adam(twin.parameters(), lr=1e-2)
    x, y = chainrule.randn(12, 10, dtype=chainrule.float64), chainrule.randint(0, 3, (12,))
    step = jit.compile_train_step(model, F.cross_entropy, opt, (x, y))
    for i in range(3):
        chainrule.manual_seed(i)
        loss = step(x, y)
        chainrule.manual_seed(i)
        opt_twin.zero_grad()
        want = F.cross_entropy(twin(x), y)
        want.backward()
        opt_twin.step()
        close(loss, want.detach())
    for p, q in zip(model.parameters(), twin.parameters()):
        close(p, q, "grad")
    assert "fused_" in str(step.graph)


@pytest.mark.parametrize("dtype", [chainrule.float32, chainrule.float64])
def test_sgd_momentum_update_through_blas_matches_eager(dtype, monkeypatch) -> None:
    from chainrule.jit import _train

    taken = []

    def spy(*args):
        done = real(*args)
        taken.append(done)
        return done

    real = _train._sgd_blas
    monkeypatch.setattr(_train, "_sgd_blas", spy)
    model, x = make("mlp", dtype=dtype)
    twin = copy.deepcopy(model)
    y = chainrule.randint(0, 10, (x.shape[0],))
    opt = chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_twin = chainrule.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    step = jit.compile_train_step(model, F.cross_entropy, opt, (x, y))
    for _ in range(4):
        step(x, y)
        opt_twin.zero_grad()
        F.cross_entropy(twin(x), y).backward()
        opt_twin.step()
    n = len(list(model.parameters()))
    # the first step creates the momentum buffers (NumPy); the later ones go through BLAS
    # wherever NumPy's BLAS is an OpenBLAS chainrule can call
    assert taken[:n] == [False] * n
    assert all(taken[n:]) or not _train._blas_axpy()
    for p, q in zip(model.parameters(), twin.parameters()):
        assert p.grad._data.flags.c_contiguous  # (gradients are never planned column-major)
        rtol, atol = (1e-5, 1e-6) if dtype == chainrule.float32 else (1e-12, 1e-14)
        chainrule.testing.assert_close(p, q, rtol=rtol, atol=atol)
        chainrule.testing.assert_close(opt.state[p]["momentum_buffer"],
                                       opt_twin.state[q]["momentum_buffer"],
                                       rtol=rtol, atol=atol)
