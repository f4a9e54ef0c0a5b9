"""Conv1d, Conv2d, ConvTranspose1d/2d modules against PyTorch twins (copied weights): forward
and every gradient across stride, padding (incl. 'same'/'valid' and the padding modes),
dilation, groups and bias; default init; state_dict keys; repr; double backward; errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import chainrule
from chainrule import nn
from chainrule.testing import assert_close

_CONV2D = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    dict(padding="same", dilation=2),
    dict(padding="valid", bias=False),
    dict(groups=2, padding=1),
    dict(padding=1, padding_mode="reflect"),
    dict(padding=(2, 1), padding_mode="replicate", stride=2),
    dict(padding=1, padding_mode="circular", groups=2),
    dict(padding="same", padding_mode="reflect"),
]


@pytest.mark.parametrize("kw", _CONV2D, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_torch(twin, rng, kw, dtype) -> None:
    theirs = torch.nn.Conv2d(4, 6, 3, **kw).to(getattr(torch, np.dtype(dtype).name))
    ours = nn.Conv2d(4, 6, 3, **kw).to(getattr(chainrule, np.dtype(dtype).name))
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 2, 4, 7, 8, dtype=dtype)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, rtol=1e-4, atol=1e-5)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2, dilation=2),
                                dict(padding="same", groups=3, bias=False),
                                dict(padding=1, padding_mode="circular"),
                                dict(padding=2, padding_mode="reflect", stride=3)], ids=str)
def test_conv1d_matches_torch(twin, rng, kw) -> None:
    theirs, ours = torch.nn.Conv1d(3, 6, 3, **kw), nn.Conv1d(3, 6, 3, **kw)
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 2, 3, 11)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, rtol=1e-4, atol=1e-5)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 3), groups=2, dilation=2, output_padding=(1, 0)),
                                dict(stride=3, padding=2, bias=False)], ids=str)
def test_conv_transpose2d_matches_torch(twin, rng, kw) -> None:
    theirs, ours = torch.nn.ConvTranspose2d(4, 6, 3, **kw), nn.ConvTranspose2d(4, 6, 3, **kw)
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 2, 4, 5, 4)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, rtol=1e-4, atol=1e-5)
    twin.backward(out, tout, rng)
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)


def test_conv_transpose_output_size_picks_output_padding(twin, rng) -> None:
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 1, 3, 5, 5)
    for size in [(9, 9), (10, 10), (1, 2, 10, 9)]:
        assert_close(ours(x, output_size=size), theirs(tx, output_size=size), rtol=1e-5,
                     atol=1e-6)
    with pytest.raises(ValueError, match="requested an output size of"):
        ours(x, output_size=(12, 12))
    with pytest.raises(ValueError, match="requested an output size of"):
        theirs(tx, output_size=(12, 12))


def test_conv_transpose1d_and_unbatched_inputs_match_torch(twin, rng) -> None:
    theirs, ours = torch.nn.ConvTranspose1d(2, 3, 4, stride=2), nn.ConvTranspose1d(2, 3, 4,
                                                                                   stride=2)
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 2, 5)
    assert_close(ours(x), theirs(tx), rtol=1e-5, atol=1e-6)
    conv, tconv = nn.Conv2d(2, 3, 3), torch.nn.Conv2d(2, 3, 3)
    twin.load(conv, tconv)
    y, ty = twin.inputs(rng, 2, 6, 6)
    assert_close(conv(y), tconv(ty), rtol=1e-5, atol=1e-6)


def test_default_init_has_torchs_distribution() -> None:
    chainrule.manual_seed(0)
    m = nn.Conv2d(32, 64, 3)
    fan_in = 32 * 9
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    b = m.bias.detach().numpy()
    assert np.abs(b).max() <= bound and b.std() > 0.4 * bound
    t = torch.nn.Conv2d(32, 64, 3).weight.detach().numpy()
    assert abs(t.std() - w.std()) < 0.02 * bound
    tr = nn.ConvTranspose2d(8, 4, 3, groups=2)
    assert tr.weight.shape == (8, 2, 3, 3) and tr.bias.shape == (4,)
    # torch's fan_in for a transposed weight is dim 1 times the kernel: 2 * 9
    assert np.abs(tr.weight.detach().numpy()).max() <= 1 / math.sqrt(18)


def test_state_dict_keys_shapes_and_repr_match_torch() -> None:
    cases = [(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
              torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)),
             (nn.Conv2d(4, 4, 3, padding="same", padding_mode="reflect"),
              torch.nn.Conv2d(4, 4, 3, padding="same", padding_mode="reflect")),
             (nn.Conv1d(2, 4, 3, dilation=2, groups=2), torch.nn.Conv1d(2, 4, 3, dilation=2,
                                                                        groups=2)),
             (nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=1, groups=2, dilation=2),
              torch.nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=1, groups=2,
                                       dilation=2)),
             (nn.Conv2d(2, 4, (3, 1), 2, 1, bias=False, padding_mode="circular"),
              torch.nn.Conv2d(2, 4, (3, 1), 2, 1, bias=False, padding_mode="circular"))]
    for ours, theirs in cases:
        assert repr(ours) == repr(theirs)
        sd, tsd = ours.state_dict(), theirs.state_dict()
        assert list(sd) == list(tsd)
        assert all(tuple(sd[k].shape) == tuple(tsd[k].shape) for k in sd)


def test_gradient_penalty_through_conv2d_matches_torch(twin, rng) -> None:
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Tanh(),
                                 torch.nn.Conv2d(4, 2, 3, stride=2)).double()
    ours = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(),
                         nn.Conv2d(4, 2, 3, stride=2)).double()
    twin.load(ours, theirs)
    x, tx = twin.inputs(rng, 2, 3, 7, 7, dtype=np.float64)
    results = []
    for lib, model, inp in ((chainrule, ours, x), (torch, theirs, tx)):
        out = model(inp)
        (g,) = lib.autograd.grad(out.sum(), [inp], create_graph=True)
        penalty = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
        penalty.backward()
        results.append(penalty)
    assert_close(results[0], results[1], rtol=1e-10, atol=1e-12)
    twin.assert_grads(ours, theirs)
    assert_close(x.grad, tx.grad, rtol=1e-9, atol=1e-12)


def test_steps_of_sgd_match_torch(twin, rng) -> None:
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.Conv2d(4, 2, 3, stride=2, groups=2))
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 2, 3, stride=2, groups=2))
    twin.load(ours, theirs)
    for _ in range(5):
        x, tx = twin.inputs(rng, 3, 1, 8, 8, requires_grad=False)
        for model, inp in ((ours, x), (theirs, tx)):
            for p in model.parameters():
                p.grad = None
            (model(inp) ** 2).mean().backward()
            with (chainrule.no_grad() if model is ours else torch.no_grad()):
                for p in model.parameters():
                    p -= 0.1 * p.grad
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p, tp, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("make", [
    lambda nn: nn.Conv2d(3, 4, 3, groups=2),
    lambda nn: nn.Conv2d(4, 3, 3, groups=2),
    lambda nn: nn.Conv2d(4, 4, 3, groups=0),
    lambda nn: nn.Conv2d(4, 4, 3, padding_mode="foo"),
    lambda nn: nn.Conv2d(4, 4, 3, padding="same", stride=2),
    lambda nn: nn.Conv2d(4, 4, 3, padding="full"),
    lambda nn: nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"),
])
def test_constructor_errors_match_torch(make) -> None:
    with pytest.raises(ValueError) as theirs:
        make(torch.nn)
    with pytest.raises(ValueError) as ours:
        make(nn)

    def unordered(msg):  # torch prints Python sets, whose order varies between processes
        return re.sub(r"\{[^}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))), msg)

    assert unordered(str(ours.value)) == unordered(str(theirs.value))


def test_wrong_channels_raise_torchs_error() -> None:
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.Conv2d(4, 4, 3)(torch.randn(2, 3, 5, 5))
    with pytest.raises(RuntimeError) as ours:
        nn.Conv2d(4, 4, 3)(chainrule.randn(2, 3, 5, 5))
    assert str(ours.value) == str(theirs.value)


def test_unfold_fold_modules_match_torch(rng) -> None:
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    for kw in [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1,
                                         stride=(2, 1))]:
        ours, theirs = nn.Unfold(**kw), torch.nn.Unfold(**kw)
        assert repr(ours) == repr(theirs)
        cols = ours(chainrule.tensor(x))
        tcols = theirs(torch.tensor(x))
        assert_close(cols, tcols)
        fo, tfo = nn.Fold((6, 5), **kw), torch.nn.Fold((6, 5), **kw)
        assert repr(fo) == repr(tfo)
        assert_close(fo(cols), tfo(tcols))
