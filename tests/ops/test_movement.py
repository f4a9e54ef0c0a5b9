"""Shape and movement ops against PyTorch (forward, vjp, jvp), finite differences, view
semantics (shared memory and version counter) and error parity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule
from chainrule.ops.movement import pad as cr_pad
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

SPECS = [
    # reshape / view family (Reshape)
    OpSpec("reshape", lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3)),
    OpSpec("reshape", lambda x: x.reshape(-1), lambda x: x.reshape(-1), shapes=[()],
           variant="0d"),
    OpSpec("reshape", lambda x: x.t().reshape(2, -1), lambda x: x.t().reshape(2, -1),
           covers=("permute",), variant="copy"),
    OpSpec("reshape", lambda x: x.view(2, 6), lambda x: x.view(2, 6), variant="view"),
    OpSpec("reshape", lambda x: x.view_as(x.t()), lambda x: x.view_as(x.t()), variant="view_as"),
    OpSpec("reshape", lambda x: x.reshape_as(x.t()), lambda x: x.reshape_as(x.t()),
           variant="reshape_as"),
    OpSpec("reshape", lambda x: x.flatten(1), lambda x: x.flatten(1), shapes=[(2, 3, 4)],
           variant="flatten"),
    OpSpec("reshape", lambda x: x.flatten(), lambda x: x.flatten(), shapes=[()],
           variant="flatten_0d"),
    OpSpec("reshape", lambda x: x.unflatten(-1, (2, -1)), lambda x: x.unflatten(-1, (2, -1)),
           variant="unflatten"),
    OpSpec("reshape", lambda x: x.squeeze(), lambda x: x.squeeze(), shapes=[(1, 3, 1, 2)],
           variant="squeeze"),
    OpSpec("reshape", lambda x: x.squeeze((0, 2)), lambda x: x.squeeze((0, 2)),
           shapes=[(1, 3, 1, 2)], variant="squeeze_dims"),
    OpSpec("reshape", lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), variant="unsqueeze"),
    OpSpec("reshape", lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), shapes=[()],
           variant="unsqueeze_0d"),
    # permute family
    OpSpec("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1),
           shapes=[(2, 3, 4)]),
    OpSpec("permute", lambda x: x.transpose(0, -1), lambda x: x.transpose(0, -1),
           shapes=[(2, 3, 4)], variant="transpose"),
    OpSpec("permute", lambda x: chainrule.swapaxes(x, 0, 1), lambda x: torch.swapaxes(x, 0, 1),
           variant="swapaxes"),
    OpSpec("permute", lambda x: x.swapdims(1, 0), lambda x: x.swapdims(1, 0), variant="swapdims"),
    OpSpec("permute", lambda x: x.movedim((0, 1), (2, 0)), lambda x: x.movedim((0, 1), (2, 0)),
           shapes=[(2, 3, 4)], variant="movedim"),
    OpSpec("permute", lambda x: chainrule.moveaxis(x, -1, 0), lambda x: torch.moveaxis(x, -1, 0),
           shapes=[(2, 3, 4)], variant="moveaxis"),
    OpSpec("permute", lambda x: x.t(), lambda x: x.t(), variant="t"),
    OpSpec("permute", lambda x: x.t(), lambda x: x.t(), shapes=[(4,)], variant="t_1d"),
    OpSpec("permute", lambda x: x.T, lambda x: x.T, variant="T"),
    OpSpec("permute", lambda x: x.mT, lambda x: x.mT, shapes=[(2, 3, 4)], variant="mT"),
    OpSpec("permute", lambda x: x.mH, lambda x: x.mH, shapes=[(2, 3, 4)], variant="mH"),
    OpSpec("permute", lambda x: x.H, lambda x: x.H, variant="H"),
    # expand family
    OpSpec("expand", lambda x: x.expand(2, 3, 4), lambda x: x.expand(2, 3, 4), shapes=[(3, 1)],
           covers=("sum_to_size",)),
    OpSpec("expand", lambda x: x.expand(-1, 4), lambda x: x.expand(-1, 4), shapes=[(3, 1)],
           variant="minus_one"),
    OpSpec("expand", lambda x: x.expand(2, 3), lambda x: x.expand(2, 3), shapes=[()],
           variant="0d"),
    OpSpec("expand", lambda x, y: x.expand_as(y), lambda x, y: x.expand_as(y),
           shapes=[(4,), (3, 4)], variant="expand_as"),
    OpSpec("expand", lambda x: chainrule.broadcast_to(x, (2, 3, 4)),
           lambda x: torch.broadcast_to(x, (2, 3, 4)), shapes=[(1, 4)], variant="broadcast_to"),
    OpSpec("expand", lambda x, y: chainrule.broadcast_tensors(x, y),
           lambda x, y: torch.broadcast_tensors(x, y), shapes=[(3, 1), (2, 1, 4)],
           variant="broadcast_tensors"),
    OpSpec("sum_to_size", lambda x: x.sum_to_size(3, 1), lambda x: x.sum_to_size(3, 1)),
    OpSpec("sum_to_size", lambda x: x.sum_to_size(4), lambda x: x.sum_to_size(4),
           shapes=[(2, 3, 4)], variant="leading"),
    # slicing views
    OpSpec("select", lambda x: x.select(1, -1), lambda x: x.select(1, -1),
           covers=("select_backward",)),
    OpSpec("select", lambda x: x.unbind(1), lambda x: x.unbind(1), shapes=[(2, 3)],
           variant="unbind"),
    OpSpec("narrow", lambda x: x.narrow(1, 1, 2), lambda x: x.narrow(1, 1, 2),
           covers=("narrow_backward",)),
    OpSpec("narrow", lambda x: x.narrow(0, -2, 2), lambda x: x.narrow(0, -2, 2),
           variant="neg_start"),
    OpSpec("narrow", lambda x: x.split(2, 1), lambda x: x.split(2, 1), shapes=[(3, 5)],
           variant="split"),
    OpSpec("narrow", lambda x: chainrule.split(x, [1, 3, 1], 1), lambda x: torch.split(x, [1, 3, 1], 1),
           shapes=[(3, 5)], variant="split_sizes"),
    OpSpec("narrow", lambda x: x.chunk(3, -1), lambda x: x.chunk(3, -1), shapes=[(2, 7)],
           variant="chunk"),
    # copies
    OpSpec("cat", lambda x, y: chainrule.cat([x, y]), lambda x, y: torch.cat([x, y]),
           shapes=[(2, 4), (3, 4)]),
    OpSpec("cat", lambda x, y: chainrule.cat((x, y, x), dim=-1), lambda x, y: torch.cat((x, y, x), -1),
           shapes=[(2, 3, 1), (2, 3, 2)], variant="three_last_dim"),
    OpSpec("cat", lambda x: chainrule.cat([x]), lambda x: torch.cat([x]), variant="single"),
    OpSpec("cat", lambda x, y: chainrule.concat([x, y], 1), lambda x, y: torch.concat([x, y], 1),
           shapes=[(2, 2), (2, 3)], variant="concat"),
    OpSpec("cat", lambda x, y: chainrule.concatenate([x, y], axis=0),
           lambda x, y: torch.concatenate([x, y], axis=0), shapes=[(1, 2), (2, 2)],
           variant="concatenate"),
    OpSpec("cat", lambda x, y: chainrule.cat([x, y]), lambda x, y: torch.cat([x, y]),
           shapes=[(0,), (2, 3)], variant="skips_empty_1d"),
    OpSpec("stack", lambda x, y: chainrule.stack([x, y], 1), lambda x, y: torch.stack([x, y], 1),
           shapes=[(2, 3), (2, 3)]),
    OpSpec("stack", lambda x, y: chainrule.stack([x, y]), lambda x, y: torch.stack([x, y]),
           shapes=[(), ()], variant="0d"),
    OpSpec("stack", lambda x, y: chainrule.stack((x, y, x), -1),
           lambda x, y: torch.stack((x, y, x), -1), shapes=[(2, 3), (2, 3)], variant="three"),
    OpSpec("stack", lambda x: chainrule.stack([x]), lambda x: torch.stack([x]), variant="single"),
    OpSpec("cat", lambda x, y: chainrule.hstack([x, y]), lambda x, y: torch.hstack([x, y]),
           shapes=[(2, 1), (2, 3)], variant="hstack"),
    OpSpec("cat", lambda x, y: chainrule.hstack([x, y]), lambda x, y: torch.hstack([x, y]),
           shapes=[(), (3,)], variant="hstack_1d"),
    OpSpec("cat", lambda x, y: chainrule.vstack([x, y]), lambda x, y: torch.vstack([x, y]),
           shapes=[(3,), (2, 3)], variant="vstack"),
    OpSpec("flip", lambda x: x.flip(0), lambda x: x.flip(0)),
    OpSpec("flip", lambda x: x.flip((0, 2)), lambda x: x.flip((0, 2)), shapes=[(2, 3, 4)],
           variant="dims"),
    OpSpec("flip", lambda x: x.flip(0), lambda x: x.flip(0), shapes=[()], variant="0d"),
    OpSpec("flip", lambda x: x.fliplr(), lambda x: x.fliplr(), variant="fliplr"),
    OpSpec("flip", lambda x: chainrule.flipud(x), lambda x: torch.flipud(x), shapes=[(4,)],
           variant="flipud"),
    OpSpec("roll", lambda x: x.roll(5), lambda x: x.roll(5)),
    OpSpec("roll", lambda x: x.roll((1, -2), (0, 1)), lambda x: x.roll((1, -2), (0, 1)),
           variant="dims"),
    OpSpec("roll", lambda x: x.roll(-1, 2), lambda x: x.roll(-1, 2), shapes=[(2, 3, 4)],
           variant="one_dim"),
    OpSpec("tril", lambda x: x.tril(), lambda x: x.tril()),
    OpSpec("tril", lambda x: x.tril(-1), lambda x: x.tril(-1), shapes=[(2, 4, 3)],
           variant="batched_neg"),
    OpSpec("triu", lambda x: x.triu(1), lambda x: x.triu(1)),
    OpSpec("triu", lambda x: chainrule.triu(x, -2), lambda x: torch.triu(x, -2), shapes=[(2, 4, 3)],
           variant="batched"),
    OpSpec("repeat", lambda x: x.repeat(2, 3), lambda x: x.repeat(2, 3)),
    OpSpec("repeat", lambda x: x.repeat(2, 1, 2), lambda x: x.repeat(2, 1, 2), shapes=[(2, 3)],
           variant="new_dim"),
    OpSpec("repeat", lambda x: x.repeat(3), lambda x: x.repeat(3), shapes=[()], variant="0d"),
    OpSpec("repeat", lambda x: x.tile((2,)), lambda x: x.tile((2,)), variant="tile"),
    OpSpec("repeat", lambda x: x.tile(2, 1, 3), lambda x: x.tile(2, 1, 3), variant="tile_varargs"),
    OpSpec("repeat", lambda x: chainrule.tile(x, (2, 1, 1)), lambda x: torch.tile(x, (2, 1, 1)),
           variant="tile_new_dim"),
    OpSpec("clone", lambda x: x.t().contiguous(), lambda x: x.t().contiguous(),
           variant="contiguous"),
    # padding: torch.nn.functional.pad in every mode
    OpSpec("constant_pad_nd", lambda x: cr_pad(x, (1, 2)), lambda x: F.pad(x, (1, 2))),
    OpSpec("constant_pad_nd", lambda x: cr_pad(x, (1, 0, 2, 1, 0, 1), value=-1.5),
           lambda x: F.pad(x, (1, 0, 2, 1, 0, 1), value=-1.5), shapes=[(2, 3, 4)],
           variant="three_dims_value"),
    OpSpec("constant_pad_nd", lambda x: cr_pad(x, (-1, 2, 1, -2)),
           lambda x: F.pad(x, (-1, 2, 1, -2)), shapes=[(4, 5)], variant="negative"),
    OpSpec("constant_pad_nd", lambda x: chainrule.constant_pad_nd(x, (0, 1), 2.0),
           lambda x: torch.constant_pad_nd(x, (0, 1), 2.0), variant="constant_pad_nd"),
]

_MODES = [
    ("reflect", (2, 1), (2, 3, 4)), ("reflect", (1, 2), (3, 5)),
    ("reflect", (1, 0, 2, 1), (2, 3, 4)), ("reflect", (1, 1, 0, 2, 1, 1), (1, 2, 3, 3, 3)),
    ("reflect", (-1, 2), (2, 3, 4)), ("reflect", (3, 3), (1, 2, 4)),
    ("replicate", (2, 1), (2, 3, 4)), ("replicate", (1, 2, 2, 0), (1, 2, 3, 4)),
    ("replicate", (0, 1, 2, 1, 1, 0), (2, 2, 3, 3)), ("replicate", (-2, 3), (3, 4)),
    ("circular", (1, 2), (2, 3, 4)), ("circular", (2, 1, 1, 3), (1, 2, 3, 4)),
    ("circular", (1, 1, 1, 1, 1, 1), (1, 2, 2, 3, 4)), ("circular", (-1, 2), (2, 3, 4)),
    ("circular", (4, 4), (2, 2, 4)),
]
for _mode, _pad, _shape in _MODES:
    SPECS.append(OpSpec(
        "cat", lambda x, m=_mode, p=_pad: cr_pad(x, p, mode=m),
        lambda x, m=_mode, p=_pad: F.pad(x, p, mode=m), shapes=[_shape],
        variant=f"pad_{_mode}_{'_'.join(str(v) for v in _pad)}_{len(_shape)}d".replace("-", "m"),
        covers=("narrow", "flip", "expand")))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


# ---------------------------------------------------------------------------------------------
# Views: shared memory and version counter


VIEWS = {
    "reshape": lambda x: x.reshape(4, 6), "view": lambda x: x.view(-1),
    "view_dtype": lambda x: x.view(chainrule.int32), "flatten": lambda x: x.flatten(),
    "unflatten": lambda x: x.unflatten(0, (2, 1)), "squeeze": lambda x: x[None].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1), "permute": lambda x: x.permute(2, 1, 0),
    "transpose": lambda x: x.transpose(0, 1), "movedim": lambda x: x.movedim(0, 2),
    "mT": lambda x: x.mT, "T": lambda x: x[0].T, "t": lambda x: x[0].t(),
    "expand": lambda x: x[:, :1].expand(2, 5, 4), "narrow": lambda x: x.narrow(2, 1, 2),
    "select": lambda x: x.select(1, 2), "split": lambda x: x.split(1, 2)[1],
    "chunk": lambda x: x.chunk(2, 1)[1], "unbind": lambda x: x.unbind(0)[1],
    "broadcast_to": lambda x: chainrule.broadcast_to(x, (3, 2, 3, 4)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_memory_and_version(name: str) -> None:
    base = chainrule.arange(24.0).reshape(2, 3, 4)
    v = VIEWS[name](base)
    assert v._vbox is base._vbox and v._base is base._base
    assert np.shares_memory(v.numpy(), base.numpy())
    before = base._version
    base.add_(1.0)
    assert v._version == before + 1
    if name != "view_dtype":
        assert_close(v, VIEWS[name](chainrule.arange(24.0).reshape(2, 3, 4) + 1.0))


def test_writes_through_a_view_reach_the_base() -> None:
    base = chainrule.zeros(3, 4)
    base.t().narrow(0, 1, 2).select(1, 0).add_(7.0)
    assert base.tolist()[0] == [0.0, 7.0, 7.0, 0.0]
    assert base._version == 1


COPIES = {
    "cat": lambda x: chainrule.cat([x, x]), "stack": lambda x: chainrule.stack([x]),
    "flip": lambda x: x.flip(0), "roll": lambda x: x.roll(1), "repeat": lambda x: x.repeat(1, 1),
    "tile": lambda x: x.tile((1,)), "tril": lambda x: x.tril(), "triu": lambda x: x.triu(),
    "pad": lambda x: cr_pad(x, (0, 0)), "reshape_copy": lambda x: x.t().reshape(-1),
    "contiguous": lambda x: x.t().contiguous(),
}


@pytest.mark.parametrize("name", list(COPIES))
def test_copies_do_not_alias(name: str) -> None:
    base = chainrule.arange(6.0).reshape(2, 3)
    out = COPIES[name](base)
    assert not np.shares_memory(out.numpy(), base.numpy())
    assert out._vbox is not base._vbox


def test_view_error_and_reshape_fallback() -> None:
    x = chainrule.arange(12.0).reshape(3, 4)
    with pytest.raises(RuntimeError, match=r"view size is not compatible with input tensor's "
                       r"size and stride .* Use \.reshape\(\.\.\.\) instead\."):
        x.t().view(12)
    with pytest.raises(RuntimeError):
        torch.arange(12.0).reshape(3, 4).t().view(12)
    assert x.t().view(4, 3, 1).shape == (4, 3, 1)  # splitting a dim of a transpose is fine
    assert x[:, 1].view(3, 1).shape == (3, 1)
    assert x.t().reshape(12).tolist() == torch.arange(12.0).reshape(3, 4).t().reshape(12).tolist()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        chainrule.zeros(2, 1, 4).expand(2, 3, 4).view(6, 4)


def test_view_as_dtype_matches_torch() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_close(chainrule.tensor(x).view(chainrule.int32), torch.tensor(x).view(torch.int32))
    assert_close(chainrule.tensor(x).view(chainrule.int16), torch.tensor(x).view(torch.int16))


def test_contiguous_returns_self_when_contiguous() -> None:
    x = chainrule.zeros(2, 3)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.is_contiguous() and y.stride() == (2, 1)


def test_T_warns_unless_two_dims_as_torch() -> None:
    with pytest.warns(UserWarning, match="x.T"):
        assert chainrule.zeros(2, 3, 4).T.shape == (4, 3, 2)
    with pytest.warns(UserWarning, match="x.T"):
        assert chainrule.zeros(3).T.shape == (3,)
    with pytest.warns(UserWarning, match="0-D"):
        assert chainrule.tensor(2.0).T.shape == ()
    with pytest.warns(UserWarning, match="0-D"):
        assert chainrule.tensor(2.0).H.item() == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert chainrule.zeros(2, 3).T.shape == (3, 2)


def test_view_rule_matches_torch_on_random_strides() -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        shape = tuple(int(s) for s in rng.integers(0, 5, size=rng.integers(1, 5)))
        perm = [int(p) for p in rng.permutation(len(shape))]
        theirs = torch.arange(float(np.prod(shape))).reshape(shape).permute(perm)
        ours = chainrule.arange(float(np.prod(shape))).reshape(shape).permute(perm)
        d = int(rng.integers(len(shape)))
        if theirs.shape[d] > 1 and rng.random() < 0.5:
            theirs, ours = theirs.narrow(d, 1, theirs.shape[d] - 1), ours.narrow(d, 1, ours.shape[d] - 1)
        n = theirs.numel()
        divisors = [k for k in range(1, n + 1) if n % k == 0] or [0]
        for k in divisors[:4]:
            target = (k, -1) if n else (0, 3)
            try:
                expected = theirs.view(target)
            except RuntimeError:
                with pytest.raises(RuntimeError, match="view size is not compatible"):
                    ours.view(target)
                continue
            assert_close(ours.view(target), expected, check_dtype=False)
            checked += 1
    assert checked > 100


def test_metadata_inplace_ops() -> None:
    x = chainrule.zeros(3, 4)
    assert x.unsqueeze_(0) is x and x.shape == (1, 3, 4)
    assert x.squeeze_().shape == (3, 4)
    assert x.t_().shape == (4, 3)
    assert x.transpose_(0, 1).shape == (3, 4) and x.swapaxes_(0, 1).shape == (4, 3)
    leaf = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.unsqueeze_(0)
    with pytest.raises(RuntimeError):
        torch.ones(3, requires_grad=True).unsqueeze_(0)
    y = leaf * 2
    y.unsqueeze_(0)
    assert y.shape == (1, 3)
    (y * chainrule.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert leaf.grad.tolist() == [2.0, 4.0, 6.0]


def test_inplace_triangles() -> None:
    x = chainrule.ones(3, 3)
    assert x.tril_() is x and x.tolist() == torch.ones(3, 3).tril_().tolist()
    assert chainrule.ones(2, 3).triu_(1).tolist() == torch.ones(2, 3).triu_(1).tolist()


# ---------------------------------------------------------------------------------------------
# cat promotion, split/chunk sizes, padding of non-float tensors


@pytest.mark.parametrize("dtypes", [("int64", "float32"), ("float32", "float64"),
                                    ("bool", "int64"), ("int32", "int64"), ("uint8", "bool"),
                                    ("float32", "int64", "float64")])
def test_cat_type_promotion(dtypes: tuple[str, ...]) -> None:
    arrays = [np.arange(6).reshape(2, 3).astype(d) for d in dtypes]
    ours = chainrule.cat([chainrule.tensor(a) for a in arrays])
    theirs = torch.cat([torch.tensor(a) for a in arrays])
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    assert_close(ours, theirs)
    assert_close(chainrule.stack([chainrule.tensor(a) for a in arrays]),
                 torch.stack([torch.tensor(a) for a in arrays]))


def test_cat_promotion_gradient_flows_back_in_each_dtype() -> None:
    a = chainrule.ones(2, dtype=chainrule.float32, requires_grad=True)
    b = chainrule.ones(3, dtype=chainrule.float64, requires_grad=True)
    out = chainrule.cat([a, b])
    assert out.dtype == chainrule.float64
    out.backward(chainrule.arange(5.0, dtype=chainrule.float64))
    assert a.grad.dtype == chainrule.float32 and a.grad.tolist() == [0.0, 1.0]
    assert b.grad.tolist() == [2.0, 3.0, 4.0]


@pytest.mark.parametrize("n", [0, 1, 5, 6, 7, 12])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 13])
def test_split_and_chunk_sizes_match_torch(n: int, k: int) -> None:
    ours, theirs = chainrule.zeros(n, 2), torch.zeros(n, 2)
    assert [p.shape[0] for p in ours.chunk(k)] == [p.shape[0] for p in theirs.chunk(k)]
    assert [p.shape[0] for p in ours.split(k)] == [p.shape[0] for p in theirs.split(k)]


def test_split_pieces_are_views_with_offsets() -> None:
    x = chainrule.arange(10.0)
    parts = x.split([3, 0, 7])
    assert [p.tolist() for p in parts] == [[0.0, 1.0, 2.0], [], list(map(float, range(3, 10)))]
    assert parts[2].data_ptr() == x.data_ptr() + 3 * x.element_size()


@pytest.mark.parametrize("arr", [np.arange(6).reshape(2, 3), np.array([[True, False]]),
                                 np.arange(6, dtype=np.uint8).reshape(1, 2, 3)],
                         ids=["int64", "bool", "uint8"])
@pytest.mark.parametrize("mode_pad_value", [("constant", (1, 1), 2.5), ("constant", (0, 1, 1, 0), 1),
                                            ("reflect", (1, 1), None), ("replicate", (2, 0), None),
                                            ("circular", (1, 1), None)])
def test_pad_non_float_matches_torch(arr: np.ndarray, mode_pad_value) -> None:
    mode, p, value = mode_pad_value
    kwargs = {} if value is None else {"value": value}
    try:
        expected = F.pad(torch.tensor(arr), p, mode=mode, **kwargs)
    except (RuntimeError, NotImplementedError) as exc:
        with pytest.raises(type(exc)):
            cr_pad(chainrule.tensor(arr), p, mode=mode, **kwargs)
        return
    assert_close(cr_pad(chainrule.tensor(arr), p, mode=mode, **kwargs), expected)


def test_pad_crops_then_wraps_like_torch() -> None:
    x = np.arange(8.0).reshape(1, 2, 4)
    for mode in ("reflect", "replicate", "circular", "constant"):
        for p in [(-1, 2), (2, -1), (-1, -1), (-2, 3)]:
            if mode == "circular" and p == (-2, 3):
                continue  # torch reads uninitialized memory: wrapping the cropped tensor twice
            assert_close(cr_pad(chainrule.tensor(x), p, mode=mode),
                         F.pad(torch.tensor(x), p, mode=mode))


# ---------------------------------------------------------------------------------------------
# Errors: the exception type torch raises for the same misuse

ERRORS = [
    lambda m: m.zeros(3, 4).view(5, -1), lambda m: m.zeros(3, 4).view(-1, -1),
    lambda m: m.zeros(3, 4).reshape(5, 3), lambda m: m.zeros(3, 4).flatten(1, 0),
    lambda m: m.zeros(3, 4).flatten(0, 5), lambda m: m.zeros(3, 4).unflatten(1, (3, 2)),
    lambda m: m.zeros(3, 4).unflatten(1, ()), lambda m: m.zeros(3, 4).squeeze(5),
    lambda m: m.zeros(3, 4).squeeze((0, 0)), lambda m: m.zeros(3, 4).unsqueeze(3),
    lambda m: m.zeros(3, 4).permute(1, 0, 2), lambda m: m.zeros(3, 4).permute(0, 0),
    lambda m: m.zeros(3, 4).transpose(0, 2), lambda m: m.zeros(2, 3, 4).movedim((0, 0), (1, 2)),
    lambda m: m.zeros(2, 3, 4).movedim((0, 1), (2,)), lambda m: m.zeros(2, 3, 4).t(),
    lambda m: m.zeros(3).mT, lambda m: m.zeros(2, 3, 4).H, lambda m: m.zeros(3).H,
    lambda m: m.zeros(3, 4).expand(4), lambda m: m.zeros(3, 4).expand(3, 5),
    lambda m: m.zeros(3, 4).expand(-1, 3, 4), lambda m: m.broadcast_tensors(m.zeros(3, 4), m.zeros(2, 1, 2)),
    lambda m: m.broadcast_shapes((3, 4), (2, 1, 2)),
    lambda m: m.zeros(3, 4).repeat(2), lambda m: m.zeros(3, 4).repeat(2, -1),
    lambda m: m.zeros(3, 4).split(0, 1), lambda m: m.zeros(3, 4).split(-1),
    lambda m: m.zeros(3, 4).split([1, 2], 1), lambda m: m.tensor(1.0).split(1),
    lambda m: m.zeros(5).chunk(0), lambda m: m.tensor(1.0).chunk(1),
    lambda m: m.tensor(1.0).unbind(), lambda m: m.zeros(3, 4).unbind(5),
    lambda m: m.zeros(3, 4).narrow(1, 3, 2), lambda m: m.zeros(3, 4).narrow(1, 5, 0),
    lambda m: m.zeros(3, 4).narrow(0, 0, -1), lambda m: m.tensor(1.0).narrow(0, 0, 1),
    lambda m: m.zeros(3, 4).select(1, 5), lambda m: m.zeros(3, 4).select(2, 0),
    lambda m: m.tensor(1.0).select(0, 0), lambda m: m.zeros(3, 4).flip(0, 0),
    lambda m: m.zeros(2, 3, 4).flip(3), lambda m: m.fliplr(m.zeros(3)),
    lambda m: m.flipud(m.tensor(1.0)), lambda m: m.tensor(1.0).flip(3),
    lambda m: m.zeros(3).roll((1, 2)),
    lambda m: m.zeros(3, 4).roll((1,), (0, 1)), lambda m: m.tensor(1.0).roll(1, 0),
    lambda m: m.zeros(3).tril(), lambda m: m.zeros(3).triu(1),
    lambda m: m.cat([m.zeros(3, 4), m.zeros(3, 2)]), lambda m: m.cat([m.zeros(3, 4), m.zeros(4)]),
    lambda m: m.cat([m.tensor(1.0), m.tensor(2.0)]), lambda m: m.cat([]),
    lambda m: m.cat([m.zeros(3, 4)], dim=2), lambda m: m.cat(m.zeros(3, 4)),
    lambda m: m.stack([m.zeros(3, 4), m.zeros(3, 2)]), lambda m: m.stack([]),
    lambda m: m.stack([m.zeros(3, 4)], 3), lambda m: m.vstack([]),
]


@pytest.mark.parametrize("misuse", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_errors_match_torch_type(misuse) -> None:
    with pytest.raises(Exception) as expected:
        misuse(torch)
    with pytest.raises(expected.type):
        misuse(chainrule)


PAD_ERRORS = [
    ((3, 4), (1,), "constant"), ((3, 4), (1, 1, 1, 1, 1, 1), "constant"),
    ((3, 4), (-3, -2), "constant"), ((3, 4), (1, 1), "foo"),
    ((1, 3, 4), (4, 4), "reflect"), ((1, 2, 3, 3), (1, 1, 3, 3), "reflect"),
    ((1, 3, 4), (5, 5), "circular"), ((1, 3, 4), (1, 1, 1, 1, 1, 1), "reflect"),
    ((5,), (1, 1), "reflect"), ((2, 5), (1, 1, 1, 1), "replicate"),
    ((2, 3, 4, 5, 6, 7), (1, 1), "circular"), ((1, 0, 3), (1, 1), "reflect"),
    ((1, 2, 3), (-4, 1), "replicate"),
]


@pytest.mark.parametrize("shape,p,mode", PAD_ERRORS)
def test_pad_errors_match_torch(shape: tuple[int, ...], p: tuple[int, ...], mode: str) -> None:
    with pytest.raises(Exception) as expected:
        F.pad(torch.zeros(shape), p, mode=mode)
    with pytest.raises(expected.type) as ours:
        cr_pad(chainrule.zeros(shape), p, mode=mode)
    assert str(ours.value).split(":")[0] == str(expected.value).split(":")[0]


def test_circular_pad_wrapping_a_cropped_tensor_twice_raises() -> None:
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        cr_pad(chainrule.zeros(1, 2, 4), (-2, 3), mode="circular")


def test_pad_value_with_non_constant_mode_raises() -> None:
    with pytest.raises(RuntimeError, match='Padding mode "reflect" doesn\'t take in value'):
        cr_pad(chainrule.zeros(1, 2, 3), (1, 1), mode="reflect", value=2.0)
    with pytest.raises(TypeError):
        cr_pad(chainrule.zeros(1, 2, 3), (1.5, 1))


def test_error_texts_users_match_on() -> None:
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match except in dimension 0\. "
                       r"Expected size 4 but got size 2 for tensor number 1 in the list\."):
        chainrule.cat([chainrule.zeros(3, 4), chainrule.zeros(3, 2)])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got "
                       r"\[3, 4\] at entry 0 and \[3, 2\] at entry 1"):
        chainrule.stack([chainrule.zeros(3, 4), chainrule.zeros(3, 2)])
    with pytest.raises(RuntimeError, match=r"split_with_sizes expects split_sizes to sum exactly"):
        chainrule.zeros(4).split([1, 2])
    with pytest.raises(RuntimeError, match=r"shape '\[5, -1\]' is invalid for input of size 12"):
        chainrule.zeros(3, 4).view(5, -1)
