"""Dropout: statistics and 1/(1-p) scaling, channel-wise masks, alpha dropout's formula and
moments, train/eval behaviour, in-place writes, gradients, reproducibility under manual_seed,
and error/warning parity with torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.testing import assert_close

ALPHA = 1.7580993408473766


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p: float) -> None:
    chainrule.manual_seed(0)
    n = 200_000
    y = F.dropout(chainrule.ones(n), p=p).numpy()
    kept = y != 0
    # 5 standard deviations of a binomial proportion
    assert abs((~kept).mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # the expectation is unchanged


def test_dropout_gradient_is_the_mask_scaled() -> None:
    chainrule.manual_seed(1)
    a = np.random.default_rng(0).standard_normal((50, 40))
    x = chainrule.tensor(a, requires_grad=True)
    y = F.dropout(x, p=0.3)
    g = np.random.default_rng(1).standard_normal(a.shape)
    y.backward(chainrule.tensor(g))
    noise = y.detach().numpy() / a
    assert set(np.round(np.unique(noise), 6)) == {0.0, round(1 / 0.7, 6)}
    assert_close(x.grad, chainrule.tensor(g * noise))
    assert x.grad.dtype == chainrule.float64 and y.dtype == chainrule.float64


def test_dropout_double_backward() -> None:
    chainrule.manual_seed(2)
    x = chainrule.randn(30, requires_grad=True)
    y = F.dropout(x, 0.5)
    (g,) = chainrule.autograd.grad((y ** 3).sum(), x, create_graph=True)
    (gg,) = chainrule.autograd.grad(g.sum(), x)
    noise = (y / x).detach()
    assert_close(gg, 6 * noise ** 3 * x.detach())


def test_eval_and_p0_return_the_input_itself_as_torch() -> None:
    x = chainrule.randn(4, 3)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    with pytest.warns(UserWarning, match="1-D input to dropout2d"):
        one_d = chainrule.randn(2)
        assert F.dropout2d(one_d, 0.5, training=False) is one_d  # no rank error in eval
    m = nn.Dropout(0.4)
    m.eval()
    assert m(x) is x
    assert nn.AlphaDropout(0.4).eval()(x) is x
    t = torch.randn(4, 3)
    assert TF.dropout(t, 0.5, training=False) is t  # the behaviour mirrored


def test_p1_gives_zeros_and_zero_gradients() -> None:
    x = chainrule.randn(5, requires_grad=True)
    for fn in (F.dropout, F.dropout2d, lambda t, p: F.alpha_dropout(t, p, True)):
        y = fn(x.view(1, 1, 1, 5) if fn is F.dropout2d else x, 1.0)
        assert (y.detach().numpy() == 0).all()
        (g,) = chainrule.autograd.grad(y.sum(), x)
        assert (g.numpy() == 0).all()


def test_train_and_eval_modes_of_the_module() -> None:
    chainrule.manual_seed(3)
    m = nn.Dropout(0.5)
    x = chainrule.ones(1000)
    assert m.training
    y = m(x)
    assert (y.numpy() == 0).any() and (y.numpy() == 2).any()
    m.eval()
    assert_close(m(x), x)
    m.train()
    assert (m(x).numpy() == 0).any()
    model = nn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.5))
    model.eval()
    assert not model[0].training and not model[1].training


def test_manual_seed_makes_masks_reproducible() -> None:
    x = chainrule.ones(3, 8, 4, 4)
    for fn in (lambda t: F.dropout(t, 0.5), lambda t: F.dropout2d(t, 0.3),
               lambda t: F.alpha_dropout(t, 0.2, True)):
        chainrule.manual_seed(123)
        a = fn(x)
        chainrule.manual_seed(123)
        b = fn(x)
        chainrule.manual_seed(124)
        c = fn(x)
        assert_close(a, b)
        assert not np.array_equal(a.numpy(), c.numpy())


def test_masks_come_from_the_default_generator_state() -> None:
    chainrule.manual_seed(5)
    state = chainrule.get_rng_state()
    a = nn.Dropout(0.5)(chainrule.ones(64))
    chainrule.set_rng_state(state)
    b = nn.Dropout(0.5)(chainrule.ones(64))
    assert_close(a, b)


def test_inplace_dropout_writes_into_the_input() -> None:
    chainrule.manual_seed(6)
    x = chainrule.ones(100)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and (x.numpy() == 0).any()
    leaf = chainrule.ones(100, requires_grad=True)
    h = leaf * 1.0
    out = nn.Dropout(0.5, inplace=True)(h)
    assert out is h
    out.sum().backward()
    assert_close(leaf.grad, out.detach())


@pytest.mark.parametrize("fn,shape,mask_shape", [
    (F.dropout2d, (6, 40, 3, 3), (6, 40, 1, 1)),
    (F.dropout1d, (6, 40, 7), (6, 40, 1)),
    (F.dropout1d, (40, 7), (40, 1)),
    (F.dropout3d, (3, 40, 2, 2, 2), (3, 40, 1, 1, 1)),
    (F.dropout3d, (40, 2, 2, 2), (40, 1, 1, 1)),
])
def test_channel_dropout_drops_whole_channels(fn, shape: tuple,  # noqa: ANN001
                                              mask_shape: tuple) -> None:
    chainrule.manual_seed(7)
    y = fn(chainrule.ones(*shape), 0.4).numpy()
    per_channel = y.reshape(mask_shape[:len(mask_shape) - sum(s == 1 for s in mask_shape)]
                            + (-1,))
    assert (per_channel.min(-1) == per_channel.max(-1)).all()
    assert np.isclose(y[y != 0], 1 / 0.6).all()
    zero_frac = (per_channel[..., 0] == 0).mean()
    assert 0.2 < zero_frac < 0.6


def test_dropout2d_warnings_and_3d_input_match_torch() -> None:
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        y = F.dropout2d(chainrule.ones(2, 30, 5), 0.5)
    arr = y.numpy()
    assert (arr.min(-1) == arr.max(-1)).all()  # read as (N, C, L)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(chainrule.ones(2, 30), 0.5)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(chainrule.ones(2, 3, 4), 0.5)


@pytest.mark.parametrize("ours,theirs", [
    (lambda: F.dropout(chainrule.ones(2), 1.5), lambda: TF.dropout(torch.ones(2), 1.5)),
    (lambda: F.dropout(chainrule.ones(2), -0.1), lambda: TF.dropout(torch.ones(2), -0.1)),
    (lambda: F.dropout2d(chainrule.ones(2, 2, 2, 2), 2.0),
     lambda: TF.dropout2d(torch.ones(2, 2, 2, 2), 2.0)),
    (lambda: F.alpha_dropout(chainrule.ones(2), 1.1), lambda: TF.alpha_dropout(torch.ones(2), 1.1)),
    (lambda: F.dropout1d(chainrule.ones(2, 2, 2, 2), 0.5),
     lambda: TF.dropout1d(torch.ones(2, 2, 2, 2), 0.5)),
    (lambda: nn.Dropout(1.5), lambda: torch.nn.Dropout(1.5)),
    (lambda: nn.Dropout2d(-1), lambda: torch.nn.Dropout2d(-1)),
])
def test_errors_match_torch(ours, theirs) -> None:  # noqa: ANN001
    with pytest.raises(Exception) as theirs_exc:
        theirs()
    with pytest.raises(type(theirs_exc.value)) as ours_exc:
        ours()
    assert str(ours_exc.value) == str(theirs_exc.value)


def test_alpha_dropout_follows_torchs_formula() -> None:
    p = 0.3
    a = 1.0 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    b_kept = ALPHA * a * p
    dropped_value = -ALPHA * a + ALPHA * a * p
    chainrule.manual_seed(8)
    x_np = np.random.default_rng(2).standard_normal(10_000)
    x = chainrule.tensor(x_np, requires_grad=True)
    y = F.alpha_dropout(x, p, training=True)
    out = y.detach().numpy()
    dropped = np.isclose(out, dropped_value, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - p) < 0.03
    np.testing.assert_allclose(out[~dropped], a * x_np[~dropped] + b_kept, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0.0, a), rtol=1e-12)


def test_alpha_dropout_keeps_selu_moments_like_torch() -> None:
    chainrule.manual_seed(9)
    torch.manual_seed(9)
    x_np = np.random.default_rng(3).standard_normal(400_000).astype(np.float32)
    ours = F.alpha_dropout(chainrule.tensor(x_np), 0.2, training=True).numpy()
    theirs = TF.alpha_dropout(torch.tensor(x_np), 0.2, training=True).numpy()
    assert abs(ours.mean() - theirs.mean()) < 0.01 and abs(ours.std() - theirs.std()) < 0.01
    assert abs(ours.mean()) < 0.01 and abs(ours.std() - 1) < 0.01


def test_feature_alpha_dropout_is_per_channel() -> None:
    chainrule.manual_seed(10)
    y = F.feature_alpha_dropout(chainrule.ones(4, 50, 3), 0.5, training=True).numpy()
    assert (y.min(-1) == y.max(-1)).all()
    assert len(np.unique(np.round(y, 6))) == 2


def test_reprs_match_torch() -> None:
    for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                 "FeatureAlphaDropout"):
        assert repr(getattr(nn, name)(0.2, True)) == repr(getattr(torch.nn, name)(0.2, True))
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


def test_empty_input_passes_through() -> None:
    x = chainrule.ones(0, 3)
    assert F.dropout(x, 0.5) is x
