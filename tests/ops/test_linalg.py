"""Matrix products against PyTorch (forward, vjp, jvp), finite differences, every matmul shape
combination, einsum equations, and torch's error types and messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _einsum(eq: str):
    return lambda *xs: chainrule.einsum(eq, *xs)


def _torch_einsum(eq: str):
    return lambda *xs: torch.einsum(eq, *xs)


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ba", [(3, 2)]),
    ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ik->i", [(2, 3), (2, 4)]),
    ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (4, 3, 2)]),
    ("...ij,...jk", [(5, 1, 2, 3), (4, 3, 2)]),
    ("i...->...", [(2, 3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ii,ij->j", [(3, 3), (3, 4)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
]

SPECS = [
    # matmul: every dimensionality pair torch distinguishes
    OpSpec("dot", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(3,), (3,)], variant="matmul"),
    OpSpec("mm", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(2, 3), (3, 4)], variant="matmul"),
    OpSpec("mv", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(2, 3), (3,)], variant="matmul"),
    OpSpec("bmm", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(2, 2, 3), (2, 3, 4)],
           variant="matmul"),
    OpSpec("bmm", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(1, 2, 3), (4, 3, 2)],
           variant="broadcast_batch"),
    OpSpec("matmul", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(3,), (3, 4)],
           variant="vec_mat"),
    OpSpec("matmul", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(4, 2, 3), (3, 2)],
           variant="batch_mat"),
    OpSpec("matmul", lambda x, y: x @ y.transpose(0, 1), lambda x, y: x @ y.transpose(0, 1),
           shapes=[(4, 2, 3), (2, 3)], variant="batch_mat_transposed"),
    OpSpec("matmul", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(4, 2, 3), (3,)],
           variant="batch_vec"),
    OpSpec("matmul", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(3,), (2, 3, 4)],
           variant="vec_batch"),
    OpSpec("matmul", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(2, 3), (4, 3, 2)],
           variant="mat_batch"),
    OpSpec("matmul", lambda x, y: x @ y, lambda x, y: x @ y, shapes=[(3, 1, 2, 3), (4, 3, 2)],
           variant="broadcast_4d"),
    OpSpec("matmul", lambda x, y: chainrule.matmul(x, y), lambda x, y: torch.matmul(x, y),
           shapes=[(2, 1, 2, 3), (1, 3, 3, 2)], variant="broadcast_both"),
    OpSpec("mm", lambda x, y: chainrule.mm(x, y), lambda x, y: torch.mm(x, y),
           shapes=[(3, 4), (4, 2)]),
    OpSpec("bmm", lambda x, y: chainrule.bmm(x, y), lambda x, y: torch.bmm(x, y),
           shapes=[(2, 3, 4), (2, 4, 2)]),
    OpSpec("mv", lambda x, y: chainrule.mv(x, y), lambda x, y: torch.mv(x, y),
           shapes=[(3, 4), (4,)]),
    OpSpec("dot", lambda x, y: chainrule.dot(x, y), lambda x, y: torch.dot(x, y),
           shapes=[(5,), (5,)]),
    OpSpec("vdot", lambda x, y: chainrule.vdot(x, y), lambda x, y: torch.vdot(x, y),
           shapes=[(5,), (5,)]),
    OpSpec("inner", lambda x, y: chainrule.inner(x, y), lambda x, y: torch.inner(x, y),
           shapes=[(2, 3), (4, 3)]),
    OpSpec("outer", lambda x, y: chainrule.outer(x, y), lambda x, y: torch.outer(x, y),
           shapes=[(3,), (4,)]),
    OpSpec("ger", lambda x, y: x.ger(y), lambda x, y: x.outer(y), shapes=[(3,), (2,)]),
    # fused and composite affine products
    OpSpec("addmm", lambda c, x, y: chainrule.addmm(c, x, y), lambda c, x, y: torch.addmm(c, x, y),
           shapes=[(4,), (3, 2), (2, 4)]),
    OpSpec("addmm", lambda c, x, y: chainrule.addmm(c, x, y, beta=0.5, alpha=-2.0),
           lambda c, x, y: torch.addmm(c, x, y, beta=0.5, alpha=-2.0),
           shapes=[(3, 4), (3, 2), (2, 4)], variant="beta_alpha"),
    OpSpec("addmm", lambda c, x, y: c.addmm(x, y, beta=0.0), lambda c, x, y: c.addmm(x, y, beta=0.0),
           shapes=[(3, 1), (3, 2), (2, 4)], variant="beta0"),
    OpSpec("addmv", lambda c, x, y: chainrule.addmv(c, x, y, beta=0.5, alpha=2.0),
           lambda c, x, y: torch.addmv(c, x, y, beta=0.5, alpha=2.0),
           shapes=[(3,), (3, 2), (2,)]),
    OpSpec("addr", lambda c, x, y: chainrule.addr(c, x, y, alpha=3.0),
           lambda c, x, y: torch.addr(c, x, y, alpha=3.0), shapes=[(3, 4), (3,), (4,)]),
    OpSpec("baddbmm", lambda c, x, y: chainrule.baddbmm(c, x, y, beta=2.0),
           lambda c, x, y: torch.baddbmm(c, x, y, beta=2.0),
           shapes=[(3, 4), (2, 3, 2), (2, 2, 4)]),
    OpSpec("addbmm", lambda c, x, y: chainrule.addbmm(c, x, y, alpha=0.5),
           lambda c, x, y: torch.addbmm(c, x, y, alpha=0.5),
           shapes=[(3, 4), (2, 3, 2), (2, 2, 4)]),
    # einsum family
    *[OpSpec("einsum", _einsum(eq), _torch_einsum(eq), shapes=shapes, variant=eq)
      for eq, shapes in EINSUMS],
    OpSpec("einsum", lambda x, y: chainrule.einsum(x, [0, 1], y, [1, 2], [0, 2]),
           lambda x, y: torch.einsum(x, [0, 1], y, [1, 2], [0, 2]), shapes=[(2, 3), (3, 4)],
           variant="sublist"),
    OpSpec("einsum", lambda x, y: chainrule.einsum("ij,jk", [x, y]),
           lambda x, y: torch.einsum("ij,jk", [x, y]), shapes=[(2, 3), (3, 4)],
           variant="list_operands"),
    OpSpec("tensordot", lambda x, y: chainrule.tensordot(x, y), lambda x, y: torch.tensordot(x, y),
           shapes=[(2, 3, 4), (3, 4, 2)]),
    OpSpec("tensordot", lambda x, y: chainrule.tensordot(x, y, dims=([0, 2], [2, 0])),
           lambda x, y: torch.tensordot(x, y, dims=([0, 2], [2, 0])),
           shapes=[(2, 3, 4), (4, 5, 2)], variant="dim_lists"),
    OpSpec("tensordot", lambda x, y: chainrule.tensordot(x, y, dims=0),
           lambda x, y: torch.tensordot(x, y, dims=0), shapes=[(2, 3), (4,)], variant="outer"),
    OpSpec("trace", lambda x: chainrule.trace(x), lambda x: torch.trace(x), shapes=[(3, 3)]),
    OpSpec("trace", lambda x: x.trace(), lambda x: x.trace(), shapes=[(3, 5)], variant="wide"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


# -- matmul: every shape combination, against torch, with gradients ----------------------------

_MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)),
    ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 4)),
    ((6, 1, 2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((4, 1, 2, 3), (1, 5, 3, 2)),
    ((2, 0, 3), (3, 4)), ((1, 1, 3), (3,)),
]


@pytest.mark.parametrize("xs,ys", _MATMUL_SHAPES, ids=str)
def test_matmul_shapes_and_grads_match_torch(xs: tuple, ys: tuple) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(xs), rng.standard_normal(ys)
    x, y = chainrule.tensor(a, requires_grad=True), chainrule.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, tout = x @ y, tx @ ty
    assert_close(out, tout)
    g = rng.standard_normal(tuple(tout.shape))
    out.backward(chainrule.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


def test_matmul_skips_gradient_of_operand_without_grad() -> None:
    x = chainrule.randn(4, 3)
    w = chainrule.randn(3, 2, requires_grad=True)
    (x @ w).sum().backward()
    assert x.grad is None and w.grad is not None
    assert_close(w.grad, x.sum(0).reshape(3, 1).expand(3, 2))


def test_matmul_float32_stays_float32_and_integer_matmul_works() -> None:
    x = chainrule.ones(2, 3)
    assert (x @ chainrule.ones(3, 2)).dtype is chainrule.float32
    ints = chainrule.arange(6).reshape(2, 3) @ chainrule.arange(6).reshape(3, 2)
    assert ints.tolist() == (torch.arange(6).reshape(2, 3) @ torch.arange(6).reshape(3, 2)).tolist()


def test_matmul_operator_forms() -> None:
    a = np.arange(6.0).reshape(2, 3)
    x = chainrule.tensor(a)
    assert_close(x @ np.ones((3, 2)), torch.tensor(a) @ torch.ones(3, 2, dtype=torch.float64))
    assert_close(chainrule.Tensor.__rmatmul__(x, np.ones((2, 2))),
                 torch.ones(2, 2, dtype=torch.float64) @ torch.tensor(a))
    assert_close(x.matmul(chainrule.tensor(a).transpose(0, 1)), torch.tensor(a) @ torch.tensor(a).T)


def test_grad_fn_names_match_torch() -> None:
    x = chainrule.ones(2, 3, requires_grad=True)
    assert (x @ chainrule.ones(3, 2)).grad_fn.name() == "MmBackward0"
    assert chainrule.addmm(chainrule.ones(2), x, chainrule.ones(3, 2)).grad_fn.name() == \
        "AddmmBackward0"
    v = chainrule.ones(3, requires_grad=True)
    assert chainrule.dot(v, v).grad_fn.name() == "DotBackward0"
    assert chainrule.mv(x, v).grad_fn.name() == "MvBackward0"


def test_double_backward_through_matmul_and_einsum() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    results = []
    for lib in (chainrule, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        z = lib.einsum("ij,jk->ik", x, y).tanh().sum() + ((x @ y) ** 2).sum()
        gx, gy = lib.autograd.grad(z, (x, y), create_graph=True)
        hx, hy = lib.autograd.grad((gx ** 2).sum() + (gy ** 3).sum(), (x, y))
        results.append((hx.detach().numpy(), hy.detach().numpy()))
    assert_close(results[0][0], results[1][0])
    assert_close(results[0][1], results[1][1])


def test_einsum_result_does_not_alias_input() -> None:
    x = chainrule.ones(3, 3)
    d = chainrule.einsum("ii->i", x)
    t = chainrule.einsum("ij->ji", x)
    assert not np.shares_memory(d.numpy(), x.numpy())
    assert not np.shares_memory(t.numpy(), x.numpy())


# -- errors ---------------------------------------------------------------------------------------


def _raises_like_torch(fn, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc) as theirs:
        fn(torch)
    with pytest.raises(exc) as ours:
        fn(chainrule)
    assert match in str(theirs.value), str(theirs.value)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("xs,ys,match", [
    ((32, 64), (128, 10), "mat1 and mat2 shapes cannot be multiplied (32x64 and 128x10)"),
    ((4,), (5,), "inconsistent tensor size, expected tensor [4] and src [5]"),
    ((2, 3), (4,), "size mismatch, got input (2), mat (2x3), vec (4)"),
    ((3,), (4, 5), "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)"),
    ((2, 3, 4), (5, 6), "mat1 and mat2 shapes cannot be multiplied (6x4 and 5x6)"),
    ((7, 3, 4), (5,), "size mismatch, got input (21), mat (21x4), vec (5)"),
    ((2, 3, 4), (3, 4, 6), "The size of tensor a (2) must match the size of tensor b (3)"),
    ((2, 7, 3, 4), (3, 5, 6), "at non-singleton dimension 1"),
    ((3,), (2, 4, 5), "Expected size for first two dimensions of batch2 tensor to be: [2, 3]"),
    ((7, 3, 4), (2, 1, 5, 6), "batch2 tensor to be: [14, 4] but got: [14, 5]."),
    ((), (3,), "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
])
def test_matmul_errors_match_torch(xs: tuple, ys: tuple, match: str) -> None:
    _raises_like_torch(lambda lib: lib.randn(xs) @ lib.randn(ys), RuntimeError, match)


@pytest.mark.parametrize("fn,match", [
    (lambda lib: lib.mm(lib.randn(3), lib.randn(3, 4)), "self must be a matrix"),
    (lambda lib: lib.mm(lib.randn(3, 3), lib.randn(3)), "mat2 must be a matrix"),
    (lambda lib: lib.mm(lib.randn(3, 4), lib.randn(3, 4)), "cannot be multiplied (3x4 and 3x4)"),
    (lambda lib: lib.bmm(lib.randn(3, 4), lib.randn(3, 4, 6)), "batch1 must be a 3D tensor"),
    (lambda lib: lib.bmm(lib.randn(2, 3, 4), lib.randn(3, 4, 6)),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [3, 4]."),
    (lambda lib: lib.mv(lib.randn(3, 4), lib.randn(5)), "size mismatch, got input (3)"),
    (lambda lib: lib.mv(lib.randn(3, 4), lib.randn(4, 1)), "vector + matrix @ vector expected"),
    (lambda lib: lib.dot(lib.randn(3, 1), lib.randn(3)), "1D tensors expected, but got 2D and 1D"),
    (lambda lib: lib.dot(lib.randn(3), lib.randn(3).double()),
     "dot : expected both vectors to have same dtype, but found Float and Double"),
    (lambda lib: lib.randn(3, 4) @ lib.randn(4, 5).double(),
     "expected m1 and m2 to have the same dtype, but got: float != double"),
    (lambda lib: lib.outer(lib.randn(3, 1), lib.randn(2)), "outer: Expected 1-D argument self"),
    (lambda lib: lib.trace(lib.randn(3)), "trace: expected a matrix, but got tensor with dim 1"),
    (lambda lib: lib.einsum("ij,jk->ik", lib.randn(2, 3), lib.randn(4, 4)),
     "einsum(): subscript j has size 4 for operand 1 which does not broadcast with previously "
     "seen size 3"),
    (lambda lib: lib.einsum("ij,jk->ik", lib.randn(2, 3)),
     "einsum(): fewer operands were provided than specified in the equation"),
    (lambda lib: lib.einsum("iij->j", lib.randn(2, 3, 4)),
     "einsum(): subscript i is repeated for operand 0 but the sizes don't match, 3 != 2"),
    (lambda lib: lib.einsum("ij,jk", lib.randn(2, 3), lib.randn(3, 4).double()),
     "expected scalar type Float but found Double"),
    (lambda lib: lib.tensordot(lib.randn(3, 4), lib.randn(5, 6), dims=1),
     "contracted dimensions need to match"),
])
def test_errors_match_torch(fn, match: str) -> None:
    with pytest.raises(RuntimeError) as theirs:
        fn(torch)
    with pytest.raises(RuntimeError) as ours:
        fn(chainrule)
    assert match in str(theirs.value), str(theirs.value)
    assert match in str(ours.value), str(ours.value)
