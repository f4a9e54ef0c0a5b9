"""Activation layers and functions against PyTorch twins: forward, input and parameter
gradients with a random cotangent, double backward (a gradient penalty), in-place variants,
reprs, Maxout against a torch composition, and error parity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.testing import assert_close

# (name, chainrule module factory, torch module factory)
MODULES = [
    ("ReLU", lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    ("ReLU6", lambda: nn.ReLU6(), lambda: torch.nn.ReLU6()),
    ("LeakyReLU", lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    ("LeakyReLU_slope", lambda: nn.LeakyReLU(0.3), lambda: torch.nn.LeakyReLU(0.3)),
    ("PReLU", lambda: nn.PReLU(), lambda: torch.nn.PReLU()),
    ("PReLU_channels", lambda: nn.PReLU(4, init=0.1), lambda: torch.nn.PReLU(4, init=0.1)),
    ("RReLU_eval", lambda: nn.RReLU(0.1, 0.3).eval(), lambda: torch.nn.RReLU(0.1, 0.3).eval()),
    ("ELU", lambda: nn.ELU(), lambda: torch.nn.ELU()),
    ("ELU_alpha", lambda: nn.ELU(0.5), lambda: torch.nn.ELU(0.5)),
    ("SELU", lambda: nn.SELU(), lambda: torch.nn.SELU()),
    ("CELU", lambda: nn.CELU(1.7), lambda: torch.nn.CELU(1.7)),
    ("GELU", lambda: nn.GELU(), lambda: torch.nn.GELU()),
    ("GELU_tanh", lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    ("SiLU", lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    ("Mish", lambda: nn.Mish(), lambda: torch.nn.Mish()),
    ("Sigmoid", lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    ("Tanh", lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    ("Hardtanh", lambda: nn.Hardtanh(), lambda: torch.nn.Hardtanh()),
    ("Hardtanh_bounds", lambda: nn.Hardtanh(-0.5, 2.0), lambda: torch.nn.Hardtanh(-0.5, 2.0)),
    ("Hardsigmoid", lambda: nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    ("Hardswish", lambda: nn.Hardswish(), lambda: torch.nn.Hardswish()),
    ("Softplus", lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    ("Softplus_beta", lambda: nn.Softplus(2.0, 1.5), lambda: torch.nn.Softplus(2.0, 1.5)),
    ("Softsign", lambda: nn.Softsign(), lambda: torch.nn.Softsign()),
    ("Softmax", lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
    ("Softmin", lambda: nn.Softmin(dim=0), lambda: torch.nn.Softmin(dim=0)),
    ("Softmax2d", lambda: nn.Softmax2d(), lambda: torch.nn.Softmax2d()),
    ("Tanhshrink", lambda: nn.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
    ("Threshold", lambda: nn.Threshold(0.3, -2.0), lambda: torch.nn.Threshold(0.3, -2.0)),
    ("LogSigmoid", lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    ("Hardshrink", lambda: nn.Hardshrink(), lambda: torch.nn.Hardshrink()),
    ("Softshrink", lambda: nn.Softshrink(0.8), lambda: torch.nn.Softshrink(0.8)),
    ("GLU", lambda: nn.GLU(), lambda: torch.nn.GLU()),
    ("GLU_dim1", lambda: nn.GLU(dim=1), lambda: torch.nn.GLU(dim=1)),
]

# torch has no double backward for these
NO_DOUBLE_BACKWARD = {"Hardsigmoid"}


def _load(ours: nn.Module, theirs: torch.nn.Module) -> None:
    """Copy the torch twin's parameters into ours."""
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state, assign=True)


def _inputs(dtype: type = np.float64, seed: int = 0) -> np.ndarray:
    # (N, C, H, W) with C = 4 (PReLU channels); values away from every kink but covering
    # both sides of each (kinks at 0, +-0.3, +-0.5, +-0.8, +-1, +-3, 6).
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4.0, 7.0, size=(2, 4, 3, 2))
    return x.astype(dtype)


def _pair(name: str, make_ours, make_theirs, dtype: torch.dtype):  # noqa: ANN001, ANN202
    theirs = make_theirs().to(dtype)
    ours = make_ours()
    _load(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,make_ours,make_theirs", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_torch(name: str, make_ours, make_theirs, dtype) -> None:  # noqa: ANN001
    ours, theirs = _pair(name, make_ours, make_theirs, dtype)
    a = _inputs(np.float32 if dtype == torch.float32 else np.float64)
    x = chainrule.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, yt = ours(x), theirs(t)
    assert_close(y, yt)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(a.dtype)
    ours_params = [p for _, p in ours.named_parameters()]
    theirs_params = [p for _, p in theirs.named_parameters()]
    grads = chainrule.autograd.grad(y, [x, *ours_params], chainrule.tensor(g))
    grads_t = torch.autograd.grad(yt, [t, *theirs_params], torch.tensor(g))
    for ours_g, theirs_g in zip(grads, grads_t):
        assert_close(ours_g, theirs_g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,make_ours,make_theirs",
                         [m for m in MODULES if m[0] not in NO_DOUBLE_BACKWARD],
                         ids=[m[0] for m in MODULES if m[0] not in NO_DOUBLE_BACKWARD])
def test_gradient_penalty_matches_torch(name: str, make_ours, make_theirs) -> None:  # noqa: ANN001
    # WGAN-GP style: penalize the norm of d(output . v)/dx, then differentiate that.
    ours, theirs = _pair(name, make_ours, make_theirs, torch.float64)
    a = _inputs(seed=2)
    x = chainrule.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, yt = ours(x), theirs(t)
    v = np.random.default_rng(3).standard_normal(tuple(yt.shape))
    (gx,) = chainrule.autograd.grad((y * chainrule.tensor(v)).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad((yt * torch.tensor(v)).sum(), t, create_graph=True)
    assert_close(gx, gt)
    w = np.random.default_rng(4).standard_normal(a.shape)
    ours_pen = ((gx * chainrule.tensor(w)) ** 2).sum() + (gx * gx).sum() * 0.5
    theirs_pen = ((gt * torch.tensor(w)) ** 2).sum() + (gt * gt).sum() * 0.5
    ours_params = [p for _, p in ours.named_parameters()]
    theirs_params = [p for _, p in theirs.named_parameters()]
    if not gt.requires_grad:  # the gradient does not depend on x (nor on any parameter)
        assert not gx.requires_grad or all(
            g is None or not g.abs().sum().item()
            for g in chainrule.autograd.grad(ours_pen, [x], allow_unused=True))
        return
    grads = chainrule.autograd.grad(ours_pen, [x, *ours_params], allow_unused=True)
    grads_t = torch.autograd.grad(theirs_pen, [t, *theirs_params], allow_unused=True)
    for ours_g, theirs_g, like in zip(grads, grads_t, [x, *ours_params]):
        ours_g = chainrule.zeros_like(like) if ours_g is None else ours_g
        theirs_g = torch.zeros(tuple(like.shape), dtype=torch.float64) if theirs_g is None \
            else theirs_g
        assert_close(ours_g, theirs_g)


def test_gradient_penalty_through_an_mlp_matches_torch() -> None:
    # Double backward through Linear-free layers: weights enter through PReLU and a matmul.
    rng = np.random.default_rng(5)
    w1, w2 = rng.standard_normal((3, 6)), rng.standard_normal((6, 1))
    a = rng.standard_normal((5, 3))
    acts = [(nn.GELU(), torch.nn.GELU()), (nn.ELU(), torch.nn.ELU()),
            (nn.Softplus(), torch.nn.Softplus()), (nn.Mish(), torch.nn.Mish()),
            (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (nn.SiLU(), torch.nn.SiLU()),
            (nn.Tanh(), torch.nn.Tanh()), (nn.Hardswish(), torch.nn.Hardswish())]
    for ours_act, theirs_act in acts:
        res = []
        for lib, act in ((chainrule, ours_act), (torch, theirs_act)):
            x = lib.tensor(a, requires_grad=True)
            p1, p2 = lib.tensor(w1, requires_grad=True), lib.tensor(w2, requires_grad=True)
            out = act(x @ p1) @ p2
            (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
            penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
            res.append(lib.autograd.grad(penalty, [p1, p2]))
        for ours_g, theirs_g in zip(*res):
            assert_close(ours_g, theirs_g, msg=type(ours_act).__name__)


INPLACE = [
    ("relu", lambda x: F.relu(x, inplace=True), lambda x: TF.relu(x, inplace=True)),
    ("relu_", F.relu_, TF.relu_),
    ("relu6", lambda x: F.relu6(x, inplace=True), lambda x: TF.relu6(x, inplace=True)),
    ("leaky_relu_", lambda x: F.leaky_relu_(x, 0.2), lambda x: TF.leaky_relu_(x, 0.2)),
    ("elu_", F.elu_, TF.elu_),
    ("selu", lambda x: F.selu(x, inplace=True), lambda x: TF.selu(x, inplace=True)),
    ("celu", lambda x: F.celu(x, 2.0, True), lambda x: TF.celu(x, 2.0, True)),
    ("hardtanh_", F.hardtanh_, TF.hardtanh_),
    ("silu", lambda x: F.silu(x, inplace=True), lambda x: TF.silu(x, inplace=True)),
    ("mish", lambda x: F.mish(x, inplace=True), lambda x: TF.mish(x, inplace=True)),
    ("hardswish", lambda x: F.hardswish(x, True), lambda x: TF.hardswish(x, True)),
    ("hardsigmoid", lambda x: F.hardsigmoid(x, True), lambda x: TF.hardsigmoid(x, True)),
    ("threshold_", lambda x: F.threshold_(x, 0.1, 5.0), lambda x: TF.threshold_(x, 0.1, 5.0)),
]


@pytest.mark.parametrize("name,ours,theirs", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_variants_write_into_the_input_and_backpropagate(name: str, ours,
                                                                  theirs) -> None:  # noqa: ANN001
    a = np.random.default_rng(6).uniform(-3, 3, size=(3, 4))
    leaf = chainrule.tensor(a, requires_grad=True)
    leaf_t = torch.tensor(a, requires_grad=True)
    h, ht = leaf * 1.5, leaf_t * 1.5
    version = h._version
    out, out_t = ours(h), theirs(ht)
    assert out is h and h._version > version
    assert_close(h, ht)
    g = np.random.default_rng(7).standard_normal(a.shape)
    out.backward(chainrule.tensor(g))
    out_t.backward(torch.tensor(g))
    assert_close(leaf.grad, leaf_t.grad)


def test_inplace_on_a_leaf_that_requires_grad_raises_as_torch() -> None:
    x = chainrule.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        nn.ELU(inplace=True)(x)


def test_inplace_without_grad_modifies_memory_and_views_see_it() -> None:
    x = chainrule.tensor([-1.0, 2.0, -3.0])
    view = x[1:]
    assert nn.ReLU(inplace=True)(x) is x
    assert x.tolist() == [0.0, 2.0, 0.0] and view.tolist() == [2.0, 0.0]


REPRS = [
    "ReLU(True)", "ReLU6()", "ReLU6(True)", "LeakyReLU(0.2, True)", "PReLU(3)", "ELU()",
    "ELU(0.5, True)", "SELU(True)", "CELU()", "GELU('tanh')", "SiLU(True)", "Mish()",
    "Hardtanh(-2, 2)", "Hardsigmoid(True)", "Hardswish()", "Softplus()", "Softsign()",
    "Softmax(1)", "LogSoftmax()", "Softmin(0)", "Tanhshrink()", "Threshold(0.1, 20)",
    "LogSigmoid()", "Hardshrink()", "Softshrink(0.3)", "GLU()", "Sigmoid()", "Tanh()", "RReLU()",
    "Softmax2d()",
]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_matches_torch(expr: str) -> None:
    assert repr(eval("nn." + expr)) == repr(eval("torch.nn." + expr))


def test_prelu_state_dict_and_init_match_torch() -> None:
    ours, theirs = nn.PReLU(5, init=0.3), torch.nn.PReLU(5, init=0.3)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert_close(ours.weight.detach(), theirs.weight.detach())


def test_rrelu_training_draws_slopes_in_range_and_is_reproducible() -> None:
    m = nn.RReLU(0.1, 0.3)
    x = chainrule.tensor(-np.ones(2000, dtype=np.float32), requires_grad=True)
    chainrule.manual_seed(0)
    y = m(x)
    slopes = -y.detach().numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.03
    y.sum().backward()
    assert_close(x.grad, chainrule.tensor(slopes))  # d(a x)/dx = a for x < 0
    chainrule.manual_seed(0)
    assert_close(m(x), y)


def test_softmax_module_without_dim_warns_as_torch() -> None:
    x = np.random.default_rng(8).standard_normal((2, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = nn.Softmax()(chainrule.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(y, torch.nn.Softmax()(torch.tensor(x)))


# -- Maxout ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,pieces,bias", [((6, 5), 3, True), ((2, 4, 5), 2, False),
                                               ((5,), 4, True), ((3, 5), 1, True)])
def test_maxout_matches_a_torch_composition(shape: tuple, pieces: int, bias: bool) -> None:
    ours = nn.Maxout(5, 4, pieces=pieces, bias=bias)
    lin = torch.nn.Linear(5, 4 * pieces, bias=bias).double()
    _load(ours, torch.nn.ModuleDict({"linear": lin}))
    a = np.random.default_rng(9).standard_normal(shape)
    x = chainrule.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y = ours(x)
    yt = lin(t).unflatten(-1, (4, pieces)).max(-1).values
    assert_close(y, yt)
    g = np.random.default_rng(10).standard_normal(tuple(yt.shape))
    ours_p = [x, *ours.parameters()]
    theirs_p = [t, *lin.parameters()]
    for ours_g, theirs_g in zip(chainrule.autograd.grad(y, ours_p, chainrule.tensor(g)),
                                torch.autograd.grad(yt, theirs_p, torch.tensor(g))):
        assert_close(ours_g, theirs_g)


def test_maxout_structure_and_init() -> None:
    m = nn.Maxout(8, 3, pieces=4)
    assert list(m.state_dict()) == ["linear.weight", "linear.bias"]
    assert tuple(m.linear.weight.shape) == (12, 8)
    bound = 1 / np.sqrt(8)  # Linear's default init: U(-1/sqrt(in), 1/sqrt(in))
    assert np.abs(m.linear.weight.detach().numpy()).max() <= bound
    assert repr(m).startswith("Maxout(\n  in_features=8, out_features=3, pieces=4")
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(2, 2, pieces=0)


def test_maxout_with_two_pieces_one_zero_is_relu() -> None:
    # The lectures' point: ReLU is a maxout unit with one piece pinned at zero.
    m = nn.Maxout(3, 3, pieces=2)
    w = np.zeros((6, 3))
    w[0::2] = np.eye(3)
    _load(m, torch.nn.ModuleDict({"linear": torch.nn.Linear(3, 6)}))
    m.linear.weight = nn.Parameter(chainrule.tensor(w, dtype=chainrule.float32))
    m.linear.bias = nn.Parameter(chainrule.zeros(6))
    x = chainrule.randn(10, 3)
    assert_close(m(x), F.relu(x))


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ours,theirs", [
    (lambda: F.gelu(chainrule.ones(2), approximate="foo"),
     lambda: TF.gelu(torch.ones(2), approximate="foo")),
    (lambda: F.hardtanh(chainrule.ones(2), 2.0, 1.0), lambda: TF.hardtanh(torch.ones(2), 2.0, 1.0)),
    (lambda: F.glu(chainrule.ones(3, 3)), lambda: TF.glu(torch.ones(3, 3))),
    (lambda: F.glu(chainrule.tensor(1.0)), lambda: TF.glu(torch.tensor(1.0))),
    (lambda: F.softshrink(chainrule.ones(2), -1.0), lambda: TF.softshrink(torch.ones(2), -1.0)),
    (lambda: F.prelu(chainrule.ones(2, 3), chainrule.ones(2)),
     lambda: TF.prelu(torch.ones(2, 3), torch.ones(2))),
    (lambda: F.prelu(chainrule.ones(2, 3), chainrule.ones(1, 3)),
     lambda: TF.prelu(torch.ones(2, 3), torch.ones(1, 3))),
    (lambda: F.prelu(chainrule.ones(2, 3), chainrule.ones(3, dtype=chainrule.float64)),
     lambda: TF.prelu(torch.ones(2, 3), torch.ones(3, dtype=torch.float64))),
    (lambda: F.celu(chainrule.ones(2), 0.0), lambda: TF.celu(torch.ones(2), 0.0)),
    (lambda: nn.Hardtanh(2.0, 1.0), lambda: torch.nn.Hardtanh(2.0, 1.0)),
    (lambda: nn.Softmax2d()(chainrule.ones(2, 2)), lambda: torch.nn.Softmax2d()(torch.ones(2, 2))),
])
def test_errors_match_torch(ours, theirs) -> None:  # noqa: ANN001
    with pytest.raises(Exception) as theirs_exc:
        theirs()
    with pytest.raises(type(theirs_exc.value)) as ours_exc:
        ours()
    assert str(ours_exc.value) == str(theirs_exc.value)


def test_hardtanh_deprecated_keywords_warn() -> None:
    with pytest.warns(FutureWarning, match="min_value"):
        m = nn.Hardtanh(min_value=-2.0)
    assert m.min_val == -2.0
