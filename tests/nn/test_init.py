"""nn.init against torch.nn.init: gains and fans exactly, distributions within statistical
tolerance (moments and bounds), deterministic initialisers exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close

SHAPES = [(30, 20), (16, 8, 3, 3), (4, 6, 5), (7, 3, 2, 2, 2)]


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 3),
                                  ("selu",), ("conv_transpose3d",)])
def test_calculate_gain_equals_torch(args) -> None:
    assert nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)


def test_calculate_gain_errors_match_torch() -> None:
    for args in (("nope",), ("leaky_relu", True), ("leaky_relu", "x")):
        with pytest.raises(ValueError) as a:
            nn.init.calculate_gain(*args)
        with pytest.raises(ValueError) as b:
            torch.nn.init.calculate_gain(*args)
        assert str(a.value) == str(b.value)


@pytest.mark.parametrize("shape", SHAPES + [(5, 1)])
def test_fans_equal_torch(shape) -> None:
    assert (nn.init._calculate_fan_in_and_fan_out(chainrule.empty(shape))
            == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)))


def test_fans_need_two_dims() -> None:
    for fn in (nn.init._calculate_fan_in_and_fan_out, nn.init.xavier_uniform_,
               nn.init.kaiming_normal_):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            fn(chainrule.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(chainrule.empty(3, 3), mode="fan_avg")


def _stats(t) -> tuple[float, float, float, float]:
    a = t.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def _check_uniform(t, bound: float) -> None:
    mean, std, lo, hi = _stats(t)
    n = t.numel()
    assert -bound <= lo and hi <= bound
    assert hi > bound * (1 - 20 / n) and lo < -bound * (1 - 20 / n)
    assert abs(mean) < 5 * bound / math.sqrt(3 * n)
    assert abs(std - bound / math.sqrt(3)) < 0.05 * bound


def _check_normal(t, std_expected: float, mean_expected: float = 0.0) -> None:
    mean, std, _, _ = _stats(t)
    n = t.numel()
    assert abs(mean - mean_expected) < 5 * std_expected / math.sqrt(n)
    assert abs(std - std_expected) < 5 * std_expected / math.sqrt(2 * n) + 1e-12


def test_uniform_normal_constant() -> None:
    t = nn.init.uniform_(chainrule.empty(20000), -3, 3)
    _check_uniform(t, 3.0)
    _check_normal(nn.init.normal_(chainrule.empty(20000), 2.0, 0.5), 0.5, 2.0)
    assert_close(nn.init.constant_(chainrule.empty(2, 3), 0.25), torch.full((2, 3), 0.25))
    assert_close(nn.init.ones_(chainrule.empty(3)), torch.ones(3))
    assert_close(nn.init.zeros_(chainrule.ones(3)), torch.zeros(3))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_matches_torchs_scale(shape, gain) -> None:
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    big = (shape[0] * 50,) + shape[1:]  # more samples, same fans up to fan_out
    fan_in_b, fan_out_b = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(big))
    std_b = gain * math.sqrt(2.0 / (fan_in_b + fan_out_b))
    _check_uniform(nn.init.xavier_uniform_(chainrule.empty(big), gain), math.sqrt(3) * std_b)
    _check_normal(nn.init.xavier_normal_(chainrule.empty(big), gain), std_b)
    t = torch.nn.init.xavier_uniform_(torch.empty(shape), gain)
    assert float(t.abs().max()) <= math.sqrt(3) * std


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a,mode,nonlinearity", [(0, "fan_in", "leaky_relu"),
                                                  (math.sqrt(5), "fan_in", "leaky_relu"),
                                                  (0, "fan_out", "relu"),
                                                  (0.1, "FAN_OUT", "leaky_relu"),
                                                  (0, "fan_in", "tanh")])
def test_kaiming_matches_torchs_scale(shape, a, mode, nonlinearity) -> None:
    big = (shape[0] * 50,) + shape[1:]
    ref = torch.empty(big)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(ref)
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _check_uniform(nn.init.kaiming_uniform_(chainrule.empty(big), a, mode, nonlinearity),
                   math.sqrt(3) * std)
    _check_normal(nn.init.kaiming_normal_(chainrule.empty(big), a, mode, nonlinearity), std)
    # torch's own samples pass the same checks
    _check_normal(torch.nn.init.kaiming_normal_(ref, a, mode, nonlinearity), std)


def test_zero_element_tensors_warn_and_stay() -> None:
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(chainrule.empty(0, 3))


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, -0.3, 0.2),
                                          (1.0, 0.5, 0.0, 3.0), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_matches_torchs_distribution(mean, std, a, b) -> None:
    torch.manual_seed(0)
    ours = nn.init.trunc_normal_(chainrule.empty(40000), mean, std, a, b).numpy()
    theirs = torch.nn.init.trunc_normal_(torch.empty(40000), mean, std, a, b).numpy()
    assert ours.min() >= a and ours.max() <= b
    scale = b - a
    assert abs(ours.mean() - theirs.mean()) < 0.02 * scale
    assert abs(ours.std() - theirs.std()) < 0.02 * scale
    qs = [0.1, 0.5, 0.9]
    assert np.allclose(np.quantile(ours, qs), np.quantile(theirs, qs), atol=0.02 * scale)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape) -> None:
    t = nn.init.orthogonal_(chainrule.empty(shape), gain=2.0)
    q = t.detach().numpy().reshape(shape[0], -1).astype(np.float64) / 2.0
    rows, cols = q.shape
    gram = q @ q.T if rows <= cols else q.T @ q
    assert np.allclose(gram, np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        nn.init.orthogonal_(chainrule.empty(3))


def test_eye_and_dirac_equal_torch() -> None:
    for shape in ((3, 3), (2, 4), (5, 2)):
        assert_close(nn.init.eye_(chainrule.empty(shape)), torch.nn.init.eye_(torch.empty(shape)))
    for shape, groups in (((4, 4, 3), 1), ((6, 2, 3, 3), 2), ((4, 3, 3, 3, 3), 1),
                          ((2, 4, 4, 5), 1), ((4, 4, 2, 2), 4)):
        assert_close(nn.init.dirac_(chainrule.empty(shape), groups),
                     torch.nn.init.dirac_(torch.empty(shape), groups))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        nn.init.eye_(chainrule.empty(2, 2, 2))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        nn.init.dirac_(chainrule.empty(3, 2, 3), groups=2)


def test_sparse_zeroes_a_fraction_of_each_column() -> None:
    w = nn.init.sparse_(chainrule.empty(20, 4), sparsity=0.25, std=0.5)
    assert (w == 0).sum(0).tolist() == [5, 5, 5, 5]


def test_initialisers_do_not_record_and_work_on_parameters() -> None:
    p = nn.Parameter(chainrule.empty(4, 3))
    for fn in (nn.init.uniform_, nn.init.normal_, nn.init.xavier_uniform_, nn.init.zeros_,
               nn.init.orthogonal_, nn.init.trunc_normal_, nn.init.kaiming_normal_,
               nn.init.eye_):
        out = fn(p)
        assert out is p and p.grad_fn is None and p.requires_grad


def test_generator_makes_initialisation_reproducible() -> None:
    for fn in (nn.init.uniform_, nn.init.normal_, nn.init.xavier_normal_,
               nn.init.kaiming_uniform_, nn.init.orthogonal_, nn.init.trunc_normal_):
        a = fn(chainrule.empty(6, 5), generator=chainrule.Generator().manual_seed(3))
        b = fn(chainrule.empty(6, 5), generator=chainrule.Generator().manual_seed(3))
        assert bool((a == b).all())


def test_deprecated_aliases_warn() -> None:
    with pytest.warns(FutureWarning, match="nn.init.uniform_"):
        nn.init.uniform(chainrule.empty(2))
