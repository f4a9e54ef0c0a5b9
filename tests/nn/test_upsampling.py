"""F.interpolate and the Upsample modules against PyTorch: nearest, nearest-exact, (bi)linear
with and without align_corners, area; size or scale_factor (incl. recompute_scale_factor);
forward and gradients in float32 and float64; errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.testing import assert_close

_SIZES = [dict(scale_factor=2), dict(scale_factor=0.5), dict(scale_factor=1.7), dict(size=4),
          dict(size=11), dict(scale_factor=1.7, recompute_scale_factor=True),
          dict(scale_factor=3)]
_CASES = []
for _shape, _mode, _kw in itertools.product([(2, 3, 5), (2, 3, 5, 7)],
                                            ["nearest", "nearest-exact", "linear", "area"],
                                            _SIZES):
    if _mode == "linear" and len(_shape) == 4:
        _mode = "bilinear"
    if _mode == "area" and "scale_factor" in _kw and not _kw.get("recompute_scale_factor"):
        continue
    for _ac in ([False, True] if "linear" in _mode else [None]):
        _CASES.append((_shape, _mode, _kw, _ac))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,mode,kw,align_corners", _CASES, ids=str)
def test_interpolate_matches_torch(shape, mode, kw, align_corners, dtype) -> None:
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape).astype(dtype)
    x, tx = chainrule.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tout = TF.interpolate(tx, mode=mode, align_corners=align_corners, **kw)
    out = F.interpolate(x, mode=mode, align_corners=align_corners, **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert_close(out, tout, **tol)
    g = rng.standard_normal(tuple(tout.shape)).astype(dtype)
    out.backward(chainrule.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad, **tol)


@pytest.mark.parametrize("make", [
    lambda nn: nn.Upsample(scale_factor=2),
    lambda nn: nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True),
    lambda nn: nn.Upsample(scale_factor=(1.5, 2.0), mode="bilinear"),
    lambda nn: nn.UpsamplingNearest2d(scale_factor=2),
    lambda nn: nn.UpsamplingBilinear2d(size=5),
])
def test_upsample_modules_match_torch(rng, make) -> None:
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    assert_close(ours(chainrule.tensor(x)), theirs(torch.tensor(x)), rtol=1e-5, atol=1e-6)


def test_bilinear_double_backward_is_zero_in_input_like_torch(rng) -> None:
    x = chainrule.tensor(rng.standard_normal((1, 1, 3, 3)), requires_grad=True)
    y = F.interpolate(x, scale_factor=2, mode="bilinear")
    (g,) = chainrule.autograd.grad((y ** 2).sum(), [x], create_graph=True)
    (gg,) = chainrule.autograd.grad(g.sum(), [x])
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    ty = TF.interpolate(tx, scale_factor=2, mode="bilinear")
    (tg,) = torch.autograd.grad((ty ** 2).sum(), [tx], create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), [tx])
    assert_close(gg, tgg)


@pytest.mark.parametrize("call", [
    lambda F, x: F.interpolate(x(2, 3, 5, 5)),
    lambda F, x: F.interpolate(x(2, 3, 5, 5), size=3, scale_factor=2),
    lambda F, x: F.interpolate(x(2, 3, 5, 5), size=(3, 4, 5)),
    lambda F, x: F.interpolate(x(2, 3, 5, 5), scale_factor=2, align_corners=True),
    lambda F, x: F.interpolate(x(2, 3, 5, 5), scale_factor=2, mode="linear"),
    lambda F, x: F.interpolate(x(2, 3, 5, 5), scale_factor=2, mode="foo"),
    lambda F, x: F.interpolate(x(2, 3), scale_factor=2),
    lambda F, x: F.interpolate(x(2, 3, 5, 5), scale_factor=(2, 3, 4)),
])
def test_errors_match_torch(call) -> None:
    def run(lib_f, lib):
        try:
            call(lib_f, lambda *s: lib.randn(*s))
        except Exception as e:  # noqa: BLE001 - comparing types and messages
            return type(e), str(e)
        return None, None

    ours, theirs = run(F, chainrule), run(TF, torch)
    assert theirs[0] is not None and ours == theirs
