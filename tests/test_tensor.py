"""Tensor: attributes, conversion, printing, type promotion, creation, RNG and version
counters, each checked against PyTorch running the same code."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest
import torch

import chainrule


def canon(x):
    """A library-neutral form of a result: tensors as (shape, dtype, values)."""
    if isinstance(x, (chainrule.Tensor, torch.Tensor)):
        values = x.detach().tolist() if x.numel() else []
        return ("tensor", tuple(x.shape), str(x.dtype).split(".")[-1], values, x.requires_grad)
    if isinstance(x, (chainrule.dtype, torch.dtype)):
        return ("dtype", str(x).split(".")[-1])
    if isinstance(x, (chainrule.Size, torch.Size)):
        return ("Size", tuple(x))
    if isinstance(x, (chainrule.device, torch.device)):
        return ("device", str(x))
    if isinstance(x, (tuple, list)):
        return type(x).__name__, tuple(canon(v) for v in x)
    if isinstance(x, float) and np.isnan(x):
        return "nan"
    return x


def run(fn, lib):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return canon(fn(lib))
    except Exception as e:  # the same exception type is part of the contract
        return ("raises", type(e).__name__)


def same_as_torch(fn):
    ours, theirs = run(fn, chainrule), run(fn, torch)
    assert ours == theirs, f"\nchainrule: {ours}\ntorch:     {theirs}"


def m(lib):
    return lib.arange(6.0).reshape(2, 3)


ATTRIBUTES = {
    "shape": lambda L: m(L).shape,
    "size": lambda L: (m(L).size(), m(L).size(1), m(L).size(-1)),
    "size_out_of_range": lambda L: m(L).size(2),
    "dims": lambda L: (m(L).dim(), m(L).ndim, m(L).numel(), m(L).ndimension(), m(L).nelement()),
    "element_size": lambda L: (m(L).element_size(), L.ones(1, dtype=L.int16).element_size()),
    "dtype_device": lambda L: (m(L).dtype, m(L).device, m(L).is_cuda),
    "T": lambda L: m(L).T,
    "T_1d": lambda L: L.arange(3).T,
    "T_3d": lambda L: L.ones(2, 3, 4).T.shape,
    "mT": lambda L: L.arange(24).reshape(2, 3, 4).mT,
    "mT_1d": lambda L: L.ones(3).mT,
    "leaf_grad_fields": lambda L: (m(L).is_leaf, m(L).grad, m(L).grad_fn, m(L).requires_grad),
    "nonleaf_fields": lambda L: (lambda x: ((x * 2).is_leaf, (x * 2).requires_grad,
                                             (x * 2).grad_fn.name(), x.is_leaf))(
        L.ones(2, requires_grad=True)),
    "stride_contiguous": lambda L: (m(L).stride(), m(L).T.stride(), m(L).T.is_contiguous(),
                                    m(L).T.contiguous().is_contiguous(), m(L).stride(1)),
    "size_object": lambda L: (m(L).shape[0:1], m(L).shape + (4,), m(L).shape.numel(),
                              m(L).shape == (2, 3)),
}

CONVERSIONS = {
    "item": lambda L: (L.tensor([2.5]).item(), L.tensor(3).item(), L.tensor(True).item()),
    "item_many": lambda L: m(L).item(),
    "tolist": lambda L: (m(L).tolist(), L.tensor(1.5).tolist(), L.tensor([[True]]).tolist()),
    "python_numbers": lambda L: (int(L.tensor(3.7)), float(L.tensor(2)), bool(L.tensor([0.0])),
                                 [10, 20, 30][L.tensor(1)]),
    "bool_ambiguous": lambda L: bool(m(L)),
    "index_float": lambda L: [1, 2][L.tensor(1.0)],
    "casts": lambda L: (m(L).double(), m(L).float(), m(L).long(), m(L).int(), m(L).bool(),
                        m(L).half(), m(L).short(), m(L).char(), m(L).byte()),
    "to": lambda L: (m(L).to(L.int64), m(L).to("cpu"), m(L).to(L.ones(1, dtype=L.float64)),
                     m(L).to("cpu", L.float16), m(L).to(dtype=L.int32)),
    "to_same_is_self": lambda L: (m(L).to(L.float32) is not None,
                                  (lambda x: x.to(L.float32) is x)(m(L))),
    "type_as": lambda L: m(L).type_as(L.ones(1, dtype=L.int16)),
    "type_dtype": lambda L: m(L).type(L.float64),
    "clone": lambda L: (lambda x: (x.clone().data_ptr() != x.data_ptr(), x.clone()))(m(L)),
    "detach": lambda L: (lambda x: (x.detach().data_ptr() == x.data_ptr(),
                                    x.detach().requires_grad))(L.ones(2, requires_grad=True)),
    "numpy_requires_grad": lambda L: L.ones(2, requires_grad=True).numpy(),
    "len": lambda L: (len(m(L)), len(L.zeros(0, 3))),
    "len_0d": lambda L: len(L.tensor(1.0)),
    "iter": lambda L: [t for t in m(L)],
    "iter_0d": lambda L: list(L.tensor(1.0)),
    "array": lambda L: (np.asarray(m(L)).dtype.name, np.asarray(m(L), dtype=np.float64).dtype.name,
                        np.asarray(m(L)).tolist()),
    "new_methods": lambda L: (lambda x: (x.new_zeros(2), x.new_ones(2, 2), x.new_full((2,), 2.7),
                                         x.new_tensor([1.5, 2]), x.new_empty(3).shape))(
        L.ones(2, dtype=L.int32)),
    "legacy_constructor": lambda L: (L.Tensor(2, 3).shape, L.Tensor([1, 2]), L.Tensor().shape),
    "is_helpers": lambda L: (L.is_tensor(m(L)), L.is_tensor(np.ones(1)),
                             L.is_floating_point(m(L)), L.numel(m(L))),
    "requires_grad_int": lambda L: L.ones(2, dtype=L.int64).requires_grad_(),
    "data_is_detached": lambda L: L.ones(2, requires_grad=True).data.requires_grad,
}


@pytest.mark.parametrize("name", list(ATTRIBUTES))
def test_attributes_match_torch(name):
    same_as_torch(ATTRIBUTES[name])


@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_conversions_match_torch(name):
    same_as_torch(CONVERSIONS[name])


def test_numpy_and_from_numpy_share_memory():
    x = chainrule.zeros(3)
    x.numpy()[0] = 5.0
    assert x[0].item() == 5.0
    a = np.zeros(3)
    t = chainrule.from_numpy(a)
    a[1] = 7.0
    assert t.tolist() == [0.0, 7.0, 0.0]
    assert chainrule.as_tensor(a).data_ptr() == t.data_ptr()  # no copy when nothing changes
    assert chainrule.tensor(a).data_ptr() != t.data_ptr()  # tensor() always copies


def test_format_len_iter():
    x = chainrule.tensor(3.14159)
    assert f"{x:.2f}" == "3.14" and f"{chainrule.tensor([1.5, 2.0])}" == "tensor([1.5000, 2.0000])"
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{chainrule.ones(2):>10}"
    rows = list(chainrule.arange(6).reshape(3, 2))
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]


# -- printing ---------------------------------------------------------------------------------
def repr_cases(L):
    t = L.tensor
    x = t([1.0, 2.0], requires_grad=True)
    return [
        t(1.0), t(3), t(True), t(-0.5), t(1e-8), t(1e10), t(123456.789), t(float("nan")),
        t(float("inf")), t([]), t([1.0, 2.0, 3.0]), t([1, 2, 3]), t([True, False]),
        t([1.5, -2.25, 3.0]), t([0.1, 0.25, 100.0]), t([1e-5, 1.0]), t([1e-3, 1.0]),
        t([1.0, 1e5]), t([1e-10, 1e10]), t([1.0, float("nan"), float("-inf")]),
        t([[1.0, 2.0], [3.0, 4.0]]), t([[1, -2], [30, 4]]), t([[1.123456, 2.0], [3.0, -4.5]]),
        t([0.0, 0.0]), t([-0.0, 1.0]), t([1.0, 2.0], dtype=L.float64),
        t([1.0, 2.5], dtype=L.float16), t([1, 2], dtype=L.int32), t([1, 2], dtype=L.uint8),
        t([1, 2], dtype=L.int8), t([1, 2], dtype=L.int16), t([1e-8, 2.0], requires_grad=True),
        L.zeros(0, 3), L.zeros(2, 0), L.zeros(0), L.zeros(0, dtype=L.int64),
        L.zeros(0, dtype=L.bool), L.zeros(0, dtype=L.float64), L.arange(12.0).reshape(3, 4),
        L.arange(24).reshape(2, 3, 4), L.arange(2000.0), L.arange(2000),
        L.arange(1500).reshape(30, 50) * 1.5, L.ones(2, 2, 2, 2), L.arange(5000.0).reshape(10, 500),
        t([123456789.0, 1.0]), t([0.001, 0.01]), t([12345.678, 0.5]), t([-1e-4, 2.0]),
        t([1e8, 1.0]), t([99999999.0, 1.0]), t([1, 2, 3]) * 1000000,
        t([1, -2, 3]) * 10000000000, t([[1e-8, 1.0], [2.0, 3.0]], dtype=L.float64),
        L.linspace(0, 1, 7), t([2.0]) ** 0.5, t(0.1, dtype=L.float64),
        t([0.1, 0.2], dtype=L.float64), L.arange(100.0).reshape(10, 10) / 7,
        L.arange(60.0).reshape(3, 4, 5) - 30, x, x * 2, (x * 2).sum(), x.exp(), x[0],
        t([[True, False], [False, True]]), t([-1, 10, -100]),
    ]


def _normalize_suffix_wrap(s):
    # 'chainrule.' is 4 characters longer than 'torch.': a suffix torch fits on the last line
    # may wrap onto the next for us (same rule, longer text), so compare with suffixes inline.
    return re.sub(r",\n\s+(dtype=|grad_fn=|requires_grad=|size=|tangent=)", r", \1", s)


def _same_reprs():
    for i, (ours, theirs) in enumerate(zip(repr_cases(chainrule), repr_cases(torch))):
        want = _normalize_suffix_wrap(repr(theirs).replace("torch.", "chainrule."))
        assert _normalize_suffix_wrap(repr(ours)) == want, f"case {i}:\n{ours!r}\n{want}"


def test_repr_matches_torch():
    _same_reprs()


PRINT_OPTIONS = [dict(precision=2), dict(sci_mode=True), dict(sci_mode=False),
                 dict(threshold=5), dict(threshold=5, edgeitems=1), dict(threshold=5, edgeitems=0),
                 dict(linewidth=40), dict(profile="short"), dict(profile="full", linewidth=120)]


@pytest.mark.parametrize("opts", PRINT_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                          o.items()))
def test_repr_with_print_options_matches_torch(opts):
    try:
        chainrule.set_printoptions(**opts)
        torch.set_printoptions(**opts)
        _same_reprs()
        rng = np.random.default_rng(0)
        for a in (rng.standard_normal((5, 7)) * 10, rng.standard_normal((4, 3, 30)),
                  rng.integers(-1000, 1000, (50, 50)), rng.standard_normal(200) * 1e-6):
            ours = repr(chainrule.tensor(a))
            theirs = repr(torch.tensor(a)).replace("torch.", "chainrule.")
            assert _normalize_suffix_wrap(ours) == _normalize_suffix_wrap(theirs)
    finally:
        chainrule.set_printoptions(profile="default", sci_mode=None)
        torch.set_printoptions(profile="default", sci_mode=None)


def test_repr_suffix_wraps_at_linewidth():
    x = chainrule.arange(8.0) * 1000.5
    assert repr(x.requires_grad_()) == (
        "tensor([   0.0000, 1000.5000, 2001.0000, 3001.5000, 4002.0000, 5002.5000,\n"
        "        6003.0000, 7003.5000], requires_grad=True)")
    y = chainrule.tensor([1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5], dtype=chainrule.float64)
    assert repr(y * 111.25) == (
        "tensor([166.8750, 278.1250, 389.3750, 500.6250, 611.8750, 723.1250, 834.3750,\n"
        "        945.6250], dtype=chainrule.float64)")


def test_repr_of_dual_tensor_shows_tangent():
    import chainrule.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        d = fwAD.make_dual(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.5, 1.0]))
        assert repr(d) == "tensor([1., 2.], tangent=tensor([0.5000, 1.0000]))"


# -- type promotion ---------------------------------------------------------------------------
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _operand(L, name, zero_dim):
    d = getattr(L, name)
    return L.ones((), dtype=d) if zero_dim else L.ones(2, dtype=d)


@pytest.mark.parametrize("a", DTYPES)
def test_result_type_and_add_dtype_match_torch(a):
    for b, za, zb in itertools.product(DTYPES, [False, True], [False, True]):
        expected = str(torch.result_type(_operand(torch, a, za), _operand(torch, b, zb)))
        expected = expected.replace("torch.", "chainrule.")
        got = chainrule.result_type(_operand(chainrule, a, za), _operand(chainrule, b, zb))
        assert repr(got) == expected, (a, za, b, zb)
        out = _operand(chainrule, a, za) + _operand(chainrule, b, zb)
        assert repr(out.dtype) == expected, (a, za, b, zb)


@pytest.mark.parametrize("a", DTYPES)
def test_promotion_with_python_scalars_matches_torch(a):
    for s in (True, 2, 2.5):
        expected = str(torch.result_type(_operand(torch, a, False), s))
        got = chainrule.result_type(_operand(chainrule, a, False), s)
        assert repr(got) == expected.replace("torch.", "chainrule."), (a, s)
        assert repr((_operand(chainrule, a, False) * s).dtype) == repr(got)


def test_promote_types_and_default_dtype():
    assert chainrule.promote_types(chainrule.int32, chainrule.float16) is chainrule.float16
    assert chainrule.promote_types(chainrule.uint8, chainrule.int8) is chainrule.int16
    try:
        chainrule.set_default_dtype(chainrule.float64)
        assert chainrule.tensor([1.5]).dtype is chainrule.float64
        assert chainrule.ones(1).dtype is chainrule.float64
        assert repr(chainrule.tensor([1.5])) == "tensor([1.5000])"
    finally:
        chainrule.set_default_dtype(chainrule.float32)
    assert repr(chainrule.tensor([1.5], dtype=chainrule.float64)) == \
        "tensor([1.5000], dtype=chainrule.float64)"


# -- creation ---------------------------------------------------------------------------------
CREATION = {
    "tensor_float": lambda L: L.tensor([1.0, 2]),
    "tensor_int": lambda L: L.tensor([1, 2]),
    "tensor_bool": lambda L: L.tensor([True]),
    "tensor_scalar": lambda L: L.tensor(3.5),
    "tensor_nested": lambda L: L.tensor([[1, 2], [3, 4]]),
    "tensor_empty": lambda L: L.tensor([]),
    "tensor_np32": lambda L: L.tensor(np.ones(2, np.float32)),
    "tensor_np64": lambda L: L.tensor(np.ones(2)),
    "tensor_np_int32": lambda L: L.tensor(np.ones(2, np.int32)),
    "tensor_dtype": lambda L: L.tensor([1, 2], dtype=L.float64),
    "tensor_mixed": lambda L: L.tensor([1, 2.5, True]),
    "tensor_of_tensors": lambda L: L.tensor([L.tensor(1.0), L.tensor(2.0)]),
    "tensor_ragged": lambda L: L.tensor([[1, 2], [3]]),
    "tensor_string": lambda L: L.tensor("a"),
    "as_tensor": lambda L: L.as_tensor([1, 2]),
    "as_tensor_np": lambda L: L.as_tensor(np.arange(3)),
    "as_tensor_dtype": lambda L: L.as_tensor(np.arange(3), dtype=L.float32),
    "from_numpy": lambda L: L.from_numpy(np.arange(3, dtype=np.int16)),
    "zeros": lambda L: (L.zeros(2, 3), L.zeros((2, 3)), L.zeros([2]), L.zeros(0)),
    "zeros_negative": lambda L: L.zeros(-1),
    "ones": lambda L: (L.ones(2, dtype=L.int32), L.ones(2, 1, requires_grad=True)),
    "full": lambda L: (L.full((2,), 3), L.full((2,), 3.0), L.full((2,), True),
                       L.full((2, 2), 7, dtype=L.float64)),
    "empty": lambda L: (L.empty(2, 3).shape, L.empty(2, 3).dtype, L.empty_like(L.ones(2)).shape),
    "like": lambda L: (L.zeros_like(L.ones(2, 3, dtype=L.float64)),
                       L.ones_like(L.ones(2, dtype=L.int8)), L.full_like(L.ones(2, dtype=L.int32),
                                                                         2.7),
                       L.ones_like(L.ones(2), dtype=L.int64)),
    "random_like": lambda L: tuple((r.shape, r.dtype) for r in (
        L.rand_like(L.ones(2, 2)), L.randn_like(L.ones(3, dtype=L.float64)),
        L.randint_like(L.ones(3), 5))),
    "arange": lambda L: (L.arange(5), L.arange(0, 1, 0.25), L.arange(2, 7), L.arange(5, 0, -1.5),
                         L.arange(3, dtype=L.float64), L.arange(4.0), L.arange(L.tensor(3))),
    "arange_awkward_float": lambda L: L.arange(0, 0.3, 0.1).shape,
    "linspace": lambda L: (L.linspace(0, 1, 5), L.linspace(0, 10, 4, dtype=L.int64),
                           L.linspace(2, 3, 1), L.linspace(0, 1, 0)),
    "logspace": lambda L: (L.logspace(0, 2, 3), L.logspace(0, 3, 4, base=2)),
    "eye": lambda L: (L.eye(3), L.eye(2, 4), L.eye(2, dtype=L.int64)),
    "random_shapes": lambda L: tuple((r.shape, r.dtype) for r in (
        L.rand(2, 3), L.randn(4), L.rand(2, dtype=L.float64), L.randint(0, 10, (3,)),
        L.randint(10, (2, 2)), L.randint(0, 3, (2,), dtype=L.int32), L.randperm(5),
        L.randperm(4, dtype=L.float32), L.normal(0.0, 1.0, (2, 3)),
        L.normal(L.zeros(3), L.ones(3)), L.normal(L.zeros(2, 2), 2.0), L.normal(1.0, L.ones(4)),
        L.bernoulli(L.full((3,), 0.5)), L.bernoulli(L.ones(3), 0.3),
        L.multinomial(L.tensor([0.2, 0.3, 0.5]), 2),
        L.multinomial(L.ones(2, 4), 3, replacement=True))),
    "multinomial_too_many": lambda L: L.multinomial(L.tensor([0.5, 0.5]), 3),
    "scalar_tensor": lambda L: L.scalar_tensor(3),
}


@pytest.mark.parametrize("name", list(CREATION))
def test_creation_matches_torch(name):
    same_as_torch(CREATION[name])


def test_random_values_are_in_range_and_distributed():
    chainrule.manual_seed(0)
    u = chainrule.rand(20000)
    n = chainrule.randn(20000, dtype=chainrule.float64)
    assert 0.0 <= u.min().item() and u.max().item() < 1.0
    assert abs(u.mean().item() - 0.5) < 0.02 and abs(n.std().item() - 1.0) < 0.03
    r = chainrule.randint(3, 7, (1000,))
    assert set(r.tolist()) == {3, 4, 5, 6}
    assert sorted(chainrule.randperm(10).tolist()) == list(range(10))
    b = chainrule.bernoulli(chainrule.full((10000,), 0.25))
    assert abs(b.mean().item() - 0.25) < 0.02
    draws = chainrule.multinomial(chainrule.tensor([0.0, 0.0, 1.0]), 4, replacement=True)
    assert draws.tolist() == [2, 2, 2, 2]
    g = chainrule.normal(chainrule.tensor([100.0, -100.0]), chainrule.tensor([1e-3, 1e-3]))
    assert abs(g[0].item() - 100) < 0.1 and abs(g[1].item() + 100) < 0.1


def test_manual_seed_and_generator_state_reproduce_streams():
    chainrule.manual_seed(123)
    a = chainrule.randn(5)
    chainrule.manual_seed(123)
    assert chainrule.equal(a, chainrule.randn(5))
    assert chainrule.initial_seed() == 123
    state = chainrule.get_rng_state()
    b = chainrule.rand(3)
    chainrule.set_rng_state(state)
    assert chainrule.equal(b, chainrule.rand(3))

    g = chainrule.Generator().manual_seed(7)
    first = chainrule.randint(0, 100, (6,), generator=g)
    saved = g.get_state()
    second = chainrule.randn(4, generator=g)
    g.set_state(saved)
    assert chainrule.equal(second, chainrule.randn(4, generator=g))
    assert not chainrule.equal(first, chainrule.randint(0, 100, (6,), generator=g))
    g2 = chainrule.Generator().manual_seed(7)
    assert chainrule.equal(first, chainrule.randint(0, 100, (6,), generator=g2))
    assert g2.initial_seed() == 7
    # a private generator leaves the default stream alone
    chainrule.manual_seed(5)
    x = chainrule.rand(2)
    chainrule.manual_seed(5)
    chainrule.rand(2, generator=chainrule.Generator().manual_seed(99))
    assert chainrule.equal(x, chainrule.rand(2))


# -- in-place ops and version counters --------------------------------------------------------
def _versions(L):
    v = L.zeros(4)
    w = v[1:3]
    seen = [(v._version, w._version)]
    v.add_(1)
    seen.append((v._version, w._version))
    w.mul_(2)
    seen.append((v._version, w._version))
    v.zero_()
    v.fill_(3)
    v[0] = 5
    v.copy_(L.ones(4))
    seen.append(v._version)
    v += 1
    seen.append(v._version)
    seen.append(v.clone()._version)
    d = v.detach()
    d.add_(1)
    seen.append((v._version, d._version))
    seen.append(v.tolist())
    return seen


def test_inplace_ops_bump_shared_version_counters_like_torch():
    assert _versions(chainrule) == _versions(torch)


def test_inplace_op_on_nonleaf_keeps_graph():
    xc = chainrule.tensor([1.0, 2.0], requires_grad=True)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    for x in (xc, xt):
        y = x * 2
        y.mul_(3)
        y.add_(x)
        y.sum().backward()
    assert xc.grad.tolist() == xt.grad.tolist() == [7.0, 7.0]
