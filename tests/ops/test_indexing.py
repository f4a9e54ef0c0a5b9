"""Indexing ops against PyTorch (forward, vjp, jvp), finite differences, and targeted cases:
duplicate indices, masks, views, assignment, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule.ops.indexing import IndexBackward, SliceBackward
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _x(*shape: int):
    return lambda r: [r.uniform(-2, 2, shape)]


def _with_index(shape: tuple[int, ...], index: np.ndarray):
    return lambda r: [r.uniform(-2, 2, shape), index]


def _assign(key):
    """x[key] = v on a copy, the same code for both libraries (setitem is their API)."""

    def fn(x, v):
        y = x * 1.0
        y[key] = v
        return y

    return fn


def _assign_tensor_key(x, i, v):
    y = x * 1.0
    y[i, 1:] = v
    return y


def _perm_rows(r: np.random.Generator, rows: int, cols: int, n: int) -> np.ndarray:
    """Each row: n distinct positions in [0, cols) (scatter without write conflicts)."""
    return np.stack([r.permutation(cols)[:n] for _ in range(rows)])


_SLICE_IDX = (slice(1, 3), slice(None, None, 2), Ellipsis)
_ROWS = np.array([[1], [2]])
_COLS = np.array([[0, 2, 4]])

SPECS = [
    # basic indexing: views
    OpSpec("slice", lambda x: x[1:3, ::2], lambda x: x[1:3, ::2], shapes=[(4, 5)]),
    OpSpec("slice", lambda x: x[1, None, ..., 2:], lambda x: x[1, None, ..., 2:],
           shapes=[(3, 4, 5)], variant="int_none_ellipsis"),
    OpSpec("slice", lambda x: x[-1, 2], lambda x: x[-1, 2], shapes=[(3, 4)], variant="to_0d"),
    OpSpec("slice", lambda x: x[-3:, :-1], lambda x: x[-3:, :-1], shapes=[(4, 5)],
           variant="negative"),
    OpSpec("slice", lambda x: x[...], lambda x: x[...], shapes=[()], variant="0d"),
    OpSpec("select", lambda x: x[1], lambda x: x[1], shapes=[(3, 4)], variant="int_key"),
    OpSpec("slice_backward", lambda g: SliceBackward.apply(g, index=_SLICE_IDX, src=(5, 6)),
           lambda g: torch.zeros(5, 6, dtype=g.dtype).index_put(
               (torch.tensor(_ROWS), torch.tensor(_COLS)), g),
           shapes=[(2, 3)]),
    # advanced indexing: copies, scatter-add backward
    OpSpec("index", lambda x: x[[0, 2, 2, 0]], lambda x: x[[0, 2, 2, 0]], shapes=[(3, 4)],
           variant="duplicates"),
    OpSpec("index", lambda x, i: x[:, i, 1:], lambda x, i: x[:, i, 1:],
           make_inputs=_with_index((2, 4, 3), np.array([[1, 1], [3, 0]])), variant="tensor_2d"),
    OpSpec("index", lambda x, i, j: x[i, :, j], lambda x, i, j: x[i, :, j],
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4, 5)), np.array([0, 2, 2]),
                                  np.array([4, -1, 1])], variant="separated"),
    OpSpec("index", lambda x, i: x[1, :, i], lambda x, i: x[1, :, i],
           make_inputs=_with_index((3, 4, 5), np.array([4, 0])), variant="int_then_tensor"),
    OpSpec("index", lambda x, m: x[m], lambda x, m: x[m],
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.random((3, 4)) > 0.4],
           variant="bool_mask"),
    OpSpec("index", lambda x, m: x[1:, m], lambda x, m: x[1:, m],
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), np.array([True, False, True, True])],
           variant="bool_mask_dim1"),
    OpSpec("index", lambda x: x[None, [0, 1], None, [2, 2]], lambda x: x[None, [0, 1], None, [2, 2]],
           shapes=[(3, 4)], variant="with_none"),
    OpSpec("index_backward",
           lambda g: IndexBackward.apply(g, basic=(Ellipsis,), index=(np.array([0, 2, 2, 0]),), src=(3, 4)),
           lambda g: torch.zeros(3, 4, dtype=g.dtype).index_put(
               (torch.tensor([0, 2, 2, 0]),), g, accumulate=True),
           shapes=[(4, 4)]),
    OpSpec("index_backward",
           lambda g: IndexBackward.apply(g, basic=(Ellipsis,), index=(np.array([0, 2, 2, 0]),), src=(3, 40)),
           lambda g: torch.zeros(3, 40, dtype=g.dtype).index_put(
               (torch.tensor([0, 2, 2, 0]),), g, accumulate=True),
           shapes=[(4, 40)], variant="sorted_rows_path"),
    # assignment and index_put
    OpSpec("index_put", _assign((0, slice(1, None))), _assign((0, slice(1, None))),
           shapes=[(3, 4), (3,)], variant="setitem_basic"),
    OpSpec("index_put", _assign(([0, 2],)), _assign(([0, 2],)),
           shapes=[(3, 4), (4,)], variant="setitem_advanced_broadcast"),
    OpSpec("index_put", _assign_tensor_key, _assign_tensor_key,
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), np.array([2, 0]),
                                  r.uniform(-2, 2, (1, 3))], variant="setitem_tensor_key"),
    OpSpec("index_put", _assign(1), _assign(1), shapes=[(3, 4), ()],
           variant="setitem_scalar_value"),
    OpSpec("index_put", lambda x, i, v: x.index_put((i,), v, accumulate=True),
           lambda x, i, v: x.index_put((i,), v, accumulate=True),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), np.array([1, 1, 0]),
                                  r.uniform(-2, 2, (3, 4))], variant="accumulate"),
    OpSpec("index_put", lambda x, i, j, v: chainrule.index_put(x, (i, j), v),
           lambda x, i, j, v: torch.index_put(x, (i, j), v),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), np.array([0, 2]), np.array([3, 1]),
                                  r.uniform(-2, 2, (2,))], variant="two_indices"),
    OpSpec("index_fill", lambda x, i: x.index_fill(1, i, -1.5), lambda x, i: x.index_fill(1, i, -1.5),
           make_inputs=_with_index((3, 4), np.array([0, -1])), covers=("index_put",)),
    OpSpec("index_fill", lambda x, v, i: x.index_fill(0, i, v), lambda x, v, i: x.index_fill(0, i, v),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.uniform(-2, 2, ()), np.array([2])],
           variant="tensor_value"),
    # gather / scatter
    OpSpec("gather", lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.integers(0, 4, (3, 6))],
           covers=("scatter_add",)),
    OpSpec("gather", lambda x, i: chainrule.gather(x, 0, i), lambda x, i: torch.gather(x, 0, i),
           make_inputs=lambda r: [r.uniform(-2, 2, (4, 5, 2)), r.integers(0, 4, (2, 3, 2))],
           variant="smaller_index"),
    OpSpec("gather", lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i),
           make_inputs=lambda r: [r.uniform(-2, 2, (5,)), np.array([4, 0, 4])], variant="1d"),
    OpSpec("scatter_add", lambda x, i, s: x.scatter_add(1, i, s),
           lambda x, i, s: x.scatter_add(1, i, s),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.integers(0, 4, (3, 5)),
                                  r.uniform(-2, 2, (3, 5))]),
    OpSpec("scatter_add", lambda x, i, s: chainrule.scatter_add(x, 0, i, s),
           lambda x, i, s: torch.scatter_add(x, 0, i, s),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.integers(0, 3, (2, 3)),
                                  r.uniform(-2, 2, (2, 3))], variant="dim0_partial"),
    OpSpec("scatter", lambda x, i, s: x.scatter(1, i, s), lambda x, i, s: x.scatter(1, i, s),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 5)), _perm_rows(r, 3, 5, 2),
                                  r.uniform(-2, 2, (3, 2))]),
    OpSpec("scatter", lambda x, i: x.scatter(0, i, 2.5), lambda x, i: x.scatter(0, i, 2.5),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), np.array([[2, 0, 1, 1]])],
           variant="scalar_value"),
    OpSpec("scatter_add", lambda x, i, s: x.scatter(1, i, s, reduce="add"),
           lambda x, i, s: x.scatter(1, i, s, reduce="add"),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.integers(0, 4, (3, 2)),
                                  r.uniform(-2, 2, (3, 2))], variant="scatter_reduce_add",
           grad=False),
    OpSpec("index_select", lambda x, i: x.index_select(1, i), lambda x, i: x.index_select(1, i),
           make_inputs=_with_index((3, 4), np.array([3, 0, 3])), covers=("index_add",)),
    OpSpec("index_select", lambda x, i: chainrule.index_select(x, 0, i),
           lambda x, i: torch.index_select(x, 0, i),
           make_inputs=_with_index((5, 40), np.array([4, 1, 1, 4, 0])), variant="rows"),
    OpSpec("index_add", lambda x, i, s: x.index_add(0, i, s, alpha=-2.0),
           lambda x, i, s: x.index_add(0, i, s, alpha=-2.0),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 40)), np.array([0, 2, 0, 0, 1]),
                                  r.uniform(-2, 2, (5, 40))]),
    OpSpec("index_add", lambda x, i, s: x.index_add(1, i, s), lambda x, i, s: x.index_add(1, i, s),
           make_inputs=lambda r: [r.uniform(-2, 2, (2, 3, 4)), np.array([2, 2]),
                                  r.uniform(-2, 2, (2, 2, 4))], variant="dim1"),
    # masks and flat positions (composites)
    OpSpec("masked_fill", lambda x, m: x.masked_fill(m, 0.5), lambda x, m: x.masked_fill(m, 0.5),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.random((4,)) > 0.5],
           covers=("where",)),
    OpSpec("masked_fill", lambda x, v, m: x.masked_fill(m, v), lambda x, v, m: x.masked_fill(m, v),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.uniform(-2, 2, ()),
                                  r.random((3, 4)) > 0.5], variant="tensor_value"),
    OpSpec("masked_select", lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.random((2, 1, 4)) > 0.3]),
    OpSpec("masked_scatter", lambda x, m, s: x.masked_scatter(m, s),
           lambda x, m, s: x.masked_scatter(m, s),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)),
                                  np.array([True, False, True, True]), r.uniform(-2, 2, (3, 5))]),
    OpSpec("take", lambda x, i: chainrule.take(x, i), lambda x, i: torch.take(x, i),
           make_inputs=_with_index((3, 4), np.array([[0, -1], [5, 5]]))),
    OpSpec("take_along_dim", lambda x, i: chainrule.take_along_dim(x, i, dim=1),
           lambda x, i: torch.take_along_dim(x, i, dim=1),
           make_inputs=lambda r: [r.uniform(-2, 2, (3, 4)), r.integers(0, 4, (1, 2))]),
    OpSpec("take_along_dim", lambda x, i: chainrule.take_along_dim(x, i),
           lambda x, i: torch.take_along_dim(x, i),
           make_inputs=_with_index((3, 4), np.array([11, 0, 0])), variant="flat"),
]


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


# -- gradients: duplicates accumulate, masks, assignment --------------------------------------


def test_duplicate_indices_accumulate_gradient() -> None:
    x = chainrule.zeros(4, 3, requires_grad=True)
    g = chainrule.arange(15.0).reshape(5, 3)
    x[[1, 3, 1, 1, 0]].backward(g)
    expected = np.zeros((4, 3))
    for row, i in zip(g.numpy(), [1, 3, 1, 1, 0]):
        expected[i] += row
    assert_close(x.grad, expected, check_dtype=False)
    assert_close(x.grad.sum(0), g.sum(0))


def test_duplicate_gather_and_index_select_accumulate() -> None:
    x = chainrule.ones(2, 3, requires_grad=True)
    x.gather(1, chainrule.tensor([[2, 2, 2, 0], [1, 1, 0, 0]])).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 3.0], [2.0, 2.0, 0.0]]
    y = chainrule.ones(3, 2, requires_grad=True)
    y.index_select(0, chainrule.tensor([2, 2, 0, 2])).sum().backward()
    assert y.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]]


def test_row_scatter_fast_path_matches_add_at() -> None:
    rng = np.random.default_rng(0)
    idx = rng.integers(-50, 50, 400)
    g = rng.standard_normal((400, 32)).astype(np.float32)
    x = chainrule.zeros(50, 32, requires_grad=True)
    x[chainrule.tensor(idx)].backward(chainrule.tensor(g))
    expected = np.zeros((50, 32), np.float32)
    np.add.at(expected, idx, g)
    assert_close(x.grad, expected, rtol=1e-5, atol=1e-5, check_dtype=False)


def test_bool_mask_indexing_matches_torch() -> None:
    a = np.random.default_rng(1).standard_normal((3, 4, 2))
    x, t = chainrule.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = x[x > 0], t[t > 0]
    assert_close(ours, theirs)
    g = np.random.default_rng(2).standard_normal(theirs.shape)
    ours.backward(chainrule.tensor(g))
    theirs.backward(torch.tensor(g))
    assert_close(x.grad, t.grad)
    mask = [True, False, True]
    assert_close(x.detach()[mask], t.detach()[mask])
    assert_close(x.detach()[chainrule.tensor(mask), 1], t.detach()[torch.tensor(mask), 1])


def test_setitem_gradient_reaches_old_value_and_values() -> None:
    rng = np.random.default_rng(3)
    a, b, g = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((3, 4))
    results = []
    for lib in (chainrule, torch):
        x = lib.tensor(a, requires_grad=True)
        v = lib.tensor(b, requires_grad=True)
        h = x * 2
        h[[2, 0]] = v * 3
        (h * lib.tensor(g)).sum().backward()
        results.append((h.detach().numpy().copy(), x.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)
    assert results[0][1][1].tolist() == (2 * g[1]).tolist()  # untouched row keeps its gradient
    assert not results[0][1][[0, 2]].any()  # overwritten rows get none


def test_setitem_bumps_version_and_detects_saved_tensor_change() -> None:
    w = chainrule.ones(3, requires_grad=True)
    h = w * 1
    y = h.exp()  # exp saves its output
    v = h._version
    y[0] = 5.0
    assert y._version == v + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_setitem_on_leaf_requiring_grad_raises_but_works_under_no_grad() -> None:
    x = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 2.0
    with chainrule.no_grad():
        x[0] = 2.0
    assert x.tolist() == [2.0, 1.0, 1.0]


def test_setitem_casts_value_to_dtype() -> None:
    x = chainrule.tensor([1, 2, 3])
    x[0] = 7.9
    x[1:] = chainrule.tensor([5.5, 6.5], dtype=chainrule.float64)
    t = torch.tensor([1, 2, 3])
    t[0] = 7.9
    t[1:] = torch.tensor([5.5, 6.5], dtype=torch.float64)
    assert x.tolist() == t.tolist() and x.dtype is chainrule.int64


def test_setitem_under_forward_ad() -> None:
    import chainrule.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        x = fwAD.make_dual(chainrule.zeros(2, 3), chainrule.ones(2, 3))
        y = x * 2
        y[0] = chainrule.tensor([1.0, 2.0, 3.0])
        tangent = fwAD.unpack_dual(y).tangent
    assert tangent.tolist() == [[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]


def _keys(lib):
    t = lib.tensor
    return [
        (1, slice(None), [0, 2]), (slice(None), 1, [0, 2]), ([0, 2], 1), (Ellipsis, [1, 1, 0]),
        ([[0, 1], [2, 3]], slice(1, 3), 2), (None, [0, 3], slice(None), t([4, 4])),
        (t([True, False, True, True]), slice(None, None, 2)), (t(2), [1, 0]), (t([1, 3]), None),
        ([0, 1], t([2, 2]), t([5, 0])), (slice(1, None), [0, 4], None, [1, 1]), [],
        (True, 0), (Ellipsis, t([[True] * 6] * 5)), [[0, 1], [1, 2]], ([3], Ellipsis, [5]),
    ]


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("i", range(16))
def test_getitem_and_setitem_follow_torch_semantics(i: int) -> None:
    rng = np.random.default_rng(i)
    a = rng.standard_normal((4, 5, 6))
    x, t = chainrule.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = x[_keys(chainrule)[i]], t[_keys(torch)[i]]
    assert_close(ours, theirs)
    g = rng.standard_normal(tuple(theirs.shape))
    ours.backward(chainrule.tensor(g))
    theirs.backward(torch.tensor(g))
    assert_close(x.grad, t.grad)
    v = rng.standard_normal(tuple(theirs.shape))
    xo, to = x.detach().clone(), t.detach().clone()
    xo[_keys(chainrule)[i]] = chainrule.tensor(v)
    to[_keys(torch)[i]] = torch.tensor(v)
    assert_close(xo, to)


# -- views --------------------------------------------------------------------------------------


def test_basic_indexing_returns_views_sharing_memory_and_version() -> None:
    x = chainrule.zeros(3, 4)
    row, cols, scalar = x[1], x[:, 1:3], x[2, 3]
    for v in (row, cols, scalar, x[None, ..., ::2]):
        assert np.shares_memory(v.numpy(), x.numpy())
        assert v._base is x
    row[2] = 5.0
    assert x[1, 2].item() == 5.0 and cols[1, 1].item() == 5.0
    assert x._version == cols._version == 1
    scalar.numpy()[...] = 7.0
    assert x[2, 3].item() == 7.0
    assert x[1][1:][0]._base is x


def test_advanced_indexing_copies() -> None:
    x = chainrule.zeros(3, 4)
    y = x[[0, 1]]
    assert not np.shares_memory(y.numpy(), x.numpy())
    assert y._base is None


def test_grad_fn_names() -> None:
    x = chainrule.ones(3, 4, requires_grad=True)
    assert x[1].grad_fn.name() == "SelectBackward0"
    assert x[1:].grad_fn.name() == "SliceBackward0"
    assert x[[0, 1]].grad_fn.name() == "IndexBackward0"
    assert x.gather(1, chainrule.tensor([[0]] * 3)).grad_fn.name() == "GatherBackward0"


def test_double_backward_through_gather_and_index() -> None:
    a = np.random.default_rng(4).standard_normal((3, 4))
    idx = [[0, 0], [3, 1], [2, 2]]
    grads = []
    for lib in (chainrule, torch):
        x = lib.tensor(a, requires_grad=True)
        y = (x.gather(1, lib.tensor(idx)) ** 2).sum() + (x[[0, 0, 2]] ** 3).sum()
        (gx,) = lib.autograd.grad(y, x, create_graph=True)
        (hx,) = lib.autograd.grad((gx * gx).sum(), x)
        grads.append(hx.detach().numpy())
    assert_close(grads[0], grads[1])


# -- integer and bool results -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (5,), ()])
def test_nonzero_and_argwhere(shape: tuple[int, ...]) -> None:
    a = (np.random.default_rng(5).random(shape) > 0.5).astype(np.int64)
    x, t = chainrule.tensor(a), torch.tensor(a)
    assert_close(x.nonzero(), t.nonzero())
    assert_close(chainrule.argwhere(x), torch.argwhere(t))
    for ours, theirs in zip(x.nonzero(as_tuple=True), t.nonzero(as_tuple=True)):
        assert_close(ours, theirs)
    assert x.nonzero().dtype is chainrule.int64


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_multiply_forward() -> None:
    idx = [[0, 1, 0], [2, 2, 1]]
    ours = chainrule.full((2, 3), 2.0).scatter(1, chainrule.tensor(idx), chainrule.full((2, 3), 3.0),
                                               reduce="multiply")
    theirs = torch.full((2, 3), 2.0).scatter(1, torch.tensor(idx), torch.full((2, 3), 3.0),
                                             reduce="multiply")
    assert_close(ours, theirs)


def test_inplace_forms_match_torch() -> None:
    a = np.arange(12.0).reshape(3, 4)
    i = [[1, 0], [2, 3], [0, 0]]
    ops = [
        lambda x, lib: x.scatter_(1, lib.tensor(i), 9.0),
        lambda x, lib: x.scatter_add_(1, lib.tensor(i), lib.ones(3, 2, dtype=x.dtype)),
        lambda x, lib: x.index_add_(0, lib.tensor([2, 2]), lib.ones(2, 4, dtype=x.dtype)),
        lambda x, lib: x.index_fill_(1, lib.tensor([3]), -1.0),
        lambda x, lib: x.masked_fill_(x > 5, 0.0),
        lambda x, lib: x.index_put_((lib.tensor([0, 0]),), lib.ones(4, dtype=x.dtype),
                                    accumulate=True),
        lambda x, lib: x.masked_scatter_(x > 8, lib.arange(20.0, dtype=x.dtype)),
    ]
    for op in ops:
        x, t = chainrule.tensor(a), torch.tensor(a)
        assert op(x, chainrule) is x
        op(t, torch)
        assert_close(x, t)
        assert x._version == 1


def test_inplace_form_records_gradient() -> None:
    a = np.random.default_rng(6).standard_normal((3, 4))
    grads = []
    for lib in (chainrule, torch):
        x = lib.tensor(a, requires_grad=True)
        h = x * 1
        h.masked_fill_(h > 0, 0.0)
        h.index_add_(1, lib.tensor([0, 0]), x[:, :2] * 2)
        (h * h).sum().backward()
        grads.append(x.grad.numpy())
    assert_close(grads[0], grads[1])


# -- errors ---------------------------------------------------------------------------------------


def _raises_like_torch(fn, exc: type[Exception], match: str | None = None) -> None:
    with pytest.raises(exc) as theirs:
        fn(torch)
    with pytest.raises(exc) as ours:
        fn(chainrule)
    if match is not None:
        assert match in str(ours.value), str(ours.value)
        assert match in str(theirs.value), str(theirs.value)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda lib: lib.zeros(3)[5], IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda lib: lib.zeros(3, 4)[:, 7], IndexError,
     "index 7 is out of bounds for dimension 1 with size 4"),
    (lambda lib: lib.zeros(3)[lib.tensor([0, 3])], IndexError, "index 3 is out of bounds"),
    (lambda lib: lib.zeros(3, 4)[1, 2, 3], IndexError, "too many indices for tensor of dimension 2"),
    (lambda lib: lib.zeros(3)[::-1], ValueError, "step must be greater than zero"),
    (lambda lib: lib.zeros(3)[::0], ValueError, "slice step cannot be zero"),
    (lambda lib: lib.zeros(3)[lib.tensor([0.0])], IndexError,
     "tensors used as indices must be long, int, byte or bool tensors"),
    (lambda lib: lib.zeros(3, 4)[lib.tensor([True, False])], IndexError,
     "The shape of the mask [2] at index 0 does not match"),
    (lambda lib: lib.zeros(3, 4)[1.5], IndexError, "only integers, slices"),
    (lambda lib: lib.tensor(1.0)[0], IndexError, "invalid index of a 0-dim tensor"),
    (lambda lib: lib.zeros(3, 4).gather(1, lib.tensor([[5]])), RuntimeError,
     "index 5 is out of bounds for dimension 1 with size 4"),
    (lambda lib: lib.zeros(3, 4).gather(1, lib.tensor([0])), RuntimeError,
     "Index tensor must have the same number of dimensions as input tensor"),
    (lambda lib: lib.zeros(3, 4).index_select(0, lib.tensor([3])), IndexError,
     "index out of range in self"),
    (lambda lib: lib.zeros(3, 4).index_select(0, lib.tensor([[0]])), IndexError,
     "Index is supposed to be a vector"),
    (lambda lib: lib.take(lib.zeros(3, 4), lib.tensor([12])), IndexError,
     "out of range: tried to access index 12 on a tensor of 12 elements."),
    (lambda lib: lib.zeros(3).masked_fill(lib.tensor([1, 0, 1]), 1.0), RuntimeError,
     "masked_fill_ only supports boolean masks, but got mask with dtype long int"),
    (lambda lib: lib.zeros(3).masked_fill(lib.tensor([True, False, True]), lib.ones(2)),
     RuntimeError, "only supports a 0-dimensional value tensor"),
    (lambda lib: lib.zeros(4).masked_scatter(lib.ones(4, dtype=lib.bool), lib.ones(2)),
     RuntimeError, "Number of elements of source < number of ones in mask"),
    (lambda lib: lib.zeros(3, 4).scatter(1, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64)),
     RuntimeError, "scatter(): Expected self.dtype to be equal to src.dtype"),
    (lambda lib: lib.zeros(3, 4).scatter_add(1, lib.tensor([[0], [1], [1]]), lib.ones(1, 1)),
     RuntimeError, "Expected index [3, 1] to be no larger than self [3, 4] apart from dimension 1"),
    (lambda lib: lib.zeros(3, 4).index_add(0, lib.tensor([0]), lib.ones(1, 4, dtype=lib.float64)),
     RuntimeError, "index_add_(): self (Float) and source (Double) must have the same scalar type"),
    (lambda lib: lib.take_along_dim(lib.zeros(3, 4, 5), lib.tensor([[[0], [2]]]), dim=2),
     RuntimeError, "The size of tensor a (4) must match the size of tensor b (2)"),
])
def test_errors_match_torch(fn, exc: type[Exception], match: str) -> None:
    _raises_like_torch(fn, exc, match)


def test_setitem_shape_errors_match_torch() -> None:
    def basic(lib):
        lib.zeros(3, 4)[0] = lib.ones(3)

    def advanced(lib):
        lib.zeros(3, 4)[[0, 1]] = lib.ones(3)

    _raises_like_torch(basic, RuntimeError, "The expanded size of the tensor (4) must match the "
                                            "existing size (3) at non-singleton dimension 0")
    _raises_like_torch(advanced, RuntimeError, "shape mismatch: value tensor of shape [3] cannot "
                                               "be broadcast to indexing result of shape [2, 4]")


# -- every index form torch accepts: reading, writing, index_put_, gradients --------------------


def _index_forms(lib) -> dict:
    """Keys for a (4, 5, 6) tensor, built with ``lib``'s tensors; the same key in both."""
    t = lib.tensor
    mask = np.arange(30).reshape(5, 6) % 4 == 1
    return {
        "range": range(3),
        "range_step": range(0, 4, 2),
        "range_and_tensor": (range(2), t([1, 0])),  # x[range(n), y] of the tutorials
        "empty_range": range(0),
        "list": [0, -1, 2],
        "float_list": [1.0, 3.0],  # torch truncates a sequence of floats to long
        "empty_list": [],
        "nested_list_as_tuple": [[0, 1], [2, 3]],  # the legacy rule: indexes like a tuple
        "nested_list_long": [[3, 1]] * 32,  # 32 or more items: one index of shape (32, 2)
        "list_of_0d_tensors": [t(0), t(1)],
        "tuple_of_nested_lists": ([[0], [1]], [[1, 2]]),
        "tuple_in_tuple": ((0, 1), (1, 2)),
        "int_and_tuple": (0, (1, 2)),
        "numpy_array": np.array([2, 0]),
        "numpy_int": np.int64(1),
        "bool_list": [True, False, True, False],
        "bool_tuple": ((True, False, True, False),),
        "bool_list_dim1": (slice(None), [True, False, True, False, True]),
        "bool_tensor_2d": (Ellipsis, t(mask)),
        "bool_0d_true": t(True),
        "bool_0d_false": t(False),
        "python_true": (True, 0),
        "python_false": False,
        "bool_mask_and_list": (t([True, False, True, False]), [0, 1]),
        "none": None,
        "none_ellipsis_int": (None, Ellipsis, 0),
        "ellipsis_int": (Ellipsis, 1),
        "int_ellipsis_none_int": (1, Ellipsis, None, 2),
        "negative_ints_and_slices": (-1, slice(-3, None), [-2, 0]),
        "slice_clipped": slice(-100, 100),
        "slice_empty": slice(2, 1),
        "int_tensor_0d": t(-1),
        "two_0d_tensors": (t(1), t(2)),
        "int_tensor_3d": t([[[0, 3]], [[1, 2]]]),
        "int32_tensor": t([0, 1], dtype=lib.int32),
        "uint8_tensor_mask": t([1, 0, 1, 1], dtype=lib.uint8),
        "adjacent_after_slice": (slice(None), t([0, 1]), t([1, 2])),
        "separated_by_slice": (t([0, 1]), slice(None), t([1, 2])),  # result dims go first
        "separated_by_none": ([0, 1], None, [2, 3]),
        "separated_by_int": (t([0, 1]), 0, t([1, 2])),
        "int_then_list": (0, slice(None), [1, 2]),
        "broadcast_indices": (t([[0], [1]]), slice(1, 3), t([[1, 2, 0]])),
        "ellipsis_between_lists": ([0, 1], Ellipsis, [1, 0]),
        "slice_list_none_list": (slice(1, None), [0, 4], None, [1, 1]),
    }


_FORMS = list(_index_forms(torch))
# keys that write some position twice: which write wins is unspecified (torch), so setitem
# compares only keys without duplicates
_DUPLICATE_FORMS = {"nested_list_long", "python_true", "slice_list_none_list"}


def _pair(form: str, seed: int):
    a = np.random.default_rng(seed).standard_normal((4, 5, 6))
    return (chainrule.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True),
            _index_forms(chainrule)[form], _index_forms(torch)[form])


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("form", _FORMS)
def test_index_form_reads_like_torch(form: str) -> None:
    x, t, kx, kt = _pair(form, 0)
    ours, theirs = x[kx], t[kt]
    assert_close(ours, theirs)
    g = np.random.default_rng(1).standard_normal(tuple(theirs.shape))  # a random cotangent
    ours.backward(chainrule.tensor(g))
    theirs.backward(torch.tensor(g))
    assert_close(x.grad, t.grad)


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("broadcast", [False, True], ids=["full_value", "broadcast_value"])
@pytest.mark.parametrize("form", [f for f in _FORMS if f not in _DUPLICATE_FORMS])
def test_index_form_writes_like_torch(form: str, broadcast: bool) -> None:
    """``h[key] = v`` on a non-leaf: the result and the gradients of the old ``h`` (zero where
    overwritten) and of ``v`` (summed over broadcast dims) match torch."""
    x, t, kx, kt = _pair(form, 2)
    shape = tuple(t[kt].shape)
    rng = np.random.default_rng(3)
    vshape = (1,) + shape[1:] if broadcast and shape else shape
    b = rng.standard_normal(vshape)
    g = rng.standard_normal((4, 5, 6))
    results = []
    for lib, base, key in ((chainrule, x, kx), (torch, t, kt)):
        v = lib.tensor(b, requires_grad=True)
        h = base * 2
        h[key] = v * 3
        (h * lib.tensor(g)).sum().backward()
        # torch skips h[False] = v entirely (v gets no grad); an empty one is the same here
        gv = v.grad.numpy() if v.grad is not None else np.zeros(vshape)
        results.append((h.detach().numpy().copy(), base.grad.numpy(), gv))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("form", _FORMS)
def test_index_form_writes_a_number_in_place(form: str) -> None:
    x, t, kx, kt = _pair(form, 4)
    xo, to = x.detach().clone(), t.detach().clone()
    if form == "uint8_tensor_mask":  # torch's x[byte_mask] = number is masked_fill_: refused
        _raises_like_torch(lambda lib: (xo if lib is chainrule else to).__setitem__(
            kx if lib is chainrule else kt, -7.5), RuntimeError, "only supports boolean masks")
        return
    xo[kx] = -7.5
    to[kt] = -7.5
    assert_close(xo, to)
    assert xo._version == 1


def _index_put_forms(lib) -> dict:
    t = lib.tensor
    return {
        "one_tensor": (t([0, 0, 2]),),
        "two_tensors": (t([1, 1, 3]), t([2, 2, 0])),
        "three_tensors": (t([0, 0]), t([4, 4]), t([5, 5])),
        "broadcast_tensors": (t([[0], [0]]), t([[1, 1, 2]])),
        "negative": (t([-1, 3]),),
        "bool_mask": (t([True, False, True, True]),),
        "mask_2d": (t(np.arange(20).reshape(4, 5) % 3 == 0),),
        "int32": (t([2, 2], dtype=lib.int32),),
    }


@pytest.mark.parametrize("accumulate", [True, False], ids=["accumulate", "overwrite"])
@pytest.mark.parametrize("form", list(_index_put_forms(torch)))
def test_index_put_forms_match_torch(form: str, accumulate: bool) -> None:
    """``index_put_`` (in place) and ``index_put``: duplicates add up with ``accumulate``;
    values, and gradients of input and values with a random cotangent."""
    rng = np.random.default_rng(5)
    a, g = rng.standard_normal((4, 5, 6)), rng.standard_normal((4, 5, 6))
    shape = tuple(torch.zeros(4, 5, 6)[_index_put_forms(torch)[form]].shape)
    if not accumulate and form in ("one_tensor", "two_tensors", "three_tensors",
                                   "broadcast_tensors", "int32"):
        shape = shape[1:]  # duplicates written twice with one broadcast value: deterministic
    b = rng.standard_normal(shape)
    results = []
    for lib in (chainrule, torch):
        x = lib.tensor(a, requires_grad=True)
        v = lib.tensor(b, requires_grad=True)
        h = x * 1
        out = h.index_put(_index_put_forms(lib)[form], v, accumulate=accumulate)
        h2 = (x * 1).detach()
        assert h2.index_put_(_index_put_forms(lib)[form], v.detach(), accumulate=accumulate) is h2
        (out * lib.tensor(g)).sum().backward()
        results.append((out.detach().numpy(), h2.numpy(), x.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda lib: lib.zeros(4, 6)[range(5)], IndexError,
     "index 4 is out of bounds for dimension 0 with size 4"),
    (lambda lib: lib.zeros(4, 6)[[0, 7]], IndexError,
     "index 7 is out of bounds for dimension 0 with size 4"),
    (lambda lib: lib.zeros(4, 6)[0, [1, -7]], IndexError,
     "index -7 is out of bounds for dimension 0 with size 6"),
    (lambda lib: lib.zeros(4, 6)[(0, 1), (2, 9)], IndexError,
     "index 9 is out of bounds for dimension 1 with size 6"),
    (lambda lib: lib.zeros(4, 6)[-5], IndexError,
     "index -5 is out of bounds for dimension 0 with size 4"),
    (lambda lib: lib.zeros(4, 6)[lib.tensor(5)], IndexError, "index 5 is out of bounds"),
    (lambda lib: lib.zeros(4, 6).__setitem__([0, 9], 1.0), IndexError,
     "index 9 is out of bounds for dimension 0 with size 4"),
    (lambda lib: lib.zeros(4, 6).index_put_((lib.tensor([0, 9]),), lib.tensor(1.0)), IndexError,
     "index 9 is out of bounds for dimension 0 with size 4"),
    (lambda lib: lib.zeros(4, 6).index_put_((lib.tensor([0, 9]),), lib.tensor(1.0),
                                            accumulate=True), IndexError,
     "index 9 is out of bounds for dimension 0 with size 4"),
    (lambda lib: lib.zeros(4, 6)[:, 2:0:-1], ValueError, "step must be greater than zero"),
    (lambda lib: lib.zeros(4, 6)[range(3), ::-2], ValueError, "step must be greater than zero"),
    (lambda lib: lib.zeros(4, 6).__setitem__(slice(None, None, -1), 0.0), ValueError,
     "step must be greater than zero"),
    (lambda lib: lib.zeros(4, 6)[[0, 1], [0, 1, 2]], IndexError,
     "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]"),
    (lambda lib: lib.zeros(4, 6)[[True, False]], IndexError,
     "The shape of the mask [2] at index 0 does not match the shape of the indexed tensor"),
    (lambda lib: lib.zeros(4, 6)[(0, 1.5)], IndexError, "(got float)"),
    (lambda lib: lib.zeros(4, 6).__setitem__(0, [1.0] * 6), TypeError,
     "can't assign a list to a torch.FloatTensor"),
])
def test_index_form_errors_match_torch(fn, exc: type[Exception], match: str) -> None:
    _raises_like_torch(fn, exc, match)
