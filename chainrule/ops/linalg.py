"""Matrix products: matmul and its special cases (mm, bmm, mv, dot), addmm, einsum, tensordot.

``matmul`` follows torch's rules exactly: 1-D operands are promoted to a row or column and the
added dim is removed again, leading (batch) dims broadcast. Its vjp is two more matmuls,
summed back over broadcast batch dims. Matmul is the hot path of every MLP, so the forward
calls the BLAS-backed ``xp.matmul`` directly and the vjp skips operands that need no gradient.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import threads as _threads
from chainrule.autograd.op import Op
from chainrule.ops._util import inplace_method, to_tensor
from chainrule.ops.indexing import _dtype_name

xp = _backend.xp

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm",
           "addmv", "addr", "baddbmm", "addbmm", "einsum", "tensordot", "trace"]


def _mT(t: Any) -> Any:
    return t.transpose(-1, -2)


# ---------------------------------------------------------------------------------------------
# Primitives


class Matmul(Op):
    """out = x @ y (1-D promotion, broadcast batch dims);  d out = dx @ y + x @ dy."""

    @staticmethod
    def forward(x, y):
        # (_threads.matmul: NumPy's matmul, split over chainrule's threads when large, never
        # waking the BLAS library's own; see chainrule/_backend/threads.py)
        if x.ndim > 2 and y.ndim == 2 and x.flags.c_contiguous:
            # Measured: one folded GEMM beats NumPy's per-batch loop for (B, T, k) @ (k, m).
            out = _threads.matmul(x.reshape(-1, x.shape[-1]), y)
            return out.reshape(x.shape[:-1] + y.shape[1:])
        return _threads.matmul(x, y)

    @staticmethod
    def vjp(g, out, x, y):
        return _matmul_vjp(g, x, y)

    @staticmethod
    def jvp(x_dot, y_dot, out, x, y):
        return Matmul.apply(x_dot, y) + Matmul.apply(x, y_dot)


class Mm(Matmul):
    """out = x @ y for matrices;  d out = dx @ y + x @ dy."""


class Bmm(Matmul):
    """out[b] = x[b] @ y[b] for batches of matrices;  d out = dx @ y + x @ dy."""


class Mv(Matmul):
    """out = A @ v for a matrix and a vector;  d out = dA @ v + A @ dv."""


class Dot(Matmul):
    """out = sum_i x_i y_i for vectors;  d out = dx . y + x . dy."""


def _transposed(t: Any) -> bool:
    a = t._data
    return a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous


def _matrix_grads(g: Any, x: Any, y: Any, need_x: bool, need_y: bool) -> tuple[Any, Any]:
    """``g @ y^T`` and ``x^T @ g`` for matrices, each computed in the memory layout of its
    operand: when an operand is a transposed view (Linear's ``weight.t()``), its gradient is
    computed as the transpose of a row-major product, so that the gradient reaching the
    weight is contiguous. Measured: this saves a 4 MB transposed copy per 1024x1024 Linear
    per step (about a third of the step)."""
    gx = gy = None
    if need_x:
        gx = _mT(Matmul.apply(y, _mT(g))) if _transposed(x) else Matmul.apply(g, _mT(y))
    if need_y:
        gy = _mT(Matmul.apply(_mT(g), x)) if _transposed(y) else Matmul.apply(_mT(x), g)
    return gx, gy


def _matmul_vjp(g: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Cotangents of x @ y: ``g @ y^T`` and ``x^T @ g``, with 1-D operands promoted and
    broadcast batch dims summed away. An operand that needs no gradient is skipped."""
    need_x, need_y = x._requires_grad, y._requires_grad
    xd, yd = x._data.ndim, y._data.ndim
    if xd == 2 and yd == 2:
        return _matrix_grads(g, x, y, need_x, need_y)
    if xd == 1 and yd == 1:
        return (g * y if need_x else None), (g * x if need_y else None)
    x2 = x.unsqueeze(0) if xd == 1 else x
    y2 = y.unsqueeze(-1) if yd == 1 else y
    g2 = g.unsqueeze(-2) if xd == 1 else g
    if yd == 1:
        g2 = g2.unsqueeze(-1)
    gx = gy = None
    if need_x:
        gx = Matmul.apply(g2, _mT(y2)).sum_to_size(x2._data.shape)
        if xd == 1:
            gx = gx.reshape(x._data.shape)
    if need_y:
        if yd == 2 and x2._data.ndim > 2:
            # Fold the batch into one GEMM rather than a batched product summed afterwards.
            k, m = x2._data.shape[-1], g2._data.shape[-1]
            gy = Matmul.apply(_mT(x2.reshape(-1, k)), g2.reshape(-1, m))
        else:
            gy = Matmul.apply(_mT(x2), g2).sum_to_size(y2._data.shape)
        if yd == 1:
            gy = gy.reshape(y._data.shape)
    return gx, gy


class Addmm(Op):
    """out = beta c + alpha (x @ y) for matrices x, y (c broadcasts);
    d out = beta dc + alpha (dx @ y + x @ dy)."""

    broadcasts = True

    @staticmethod
    def forward(c, x, y, *, beta, alpha):
        out = _threads.matmul(x, y)
        if alpha != 1:
            out *= alpha
        if beta == 0:
            return out  # torch ignores c entirely (even NaN) when beta == 0
        if beta != 1:
            c = c * beta
        out += c
        return out

    @staticmethod
    def vjp(g, out, c, x, y, *, beta, alpha):
        ga = g if alpha == 1 else g * alpha
        gc = None
        if c._requires_grad:
            gc = g if beta == 1 else g * beta
        gx, gy = _matrix_grads(ga, x, y, x._requires_grad, y._requires_grad)
        return gc, gx, gy

    @staticmethod
    def jvp(c_dot, x_dot, y_dot, out, c, x, y, *, beta, alpha):
        prod = Matmul.apply(x_dot, y) + Matmul.apply(x, y_dot)
        return c_dot * beta + prod * alpha


class Einsum(Op):
    """out = einsum(equation, *xs) for an explicit equation (no ellipsis, sizes agree);
    d out = sum_k einsum(equation, xs with x_k replaced by dx_k)."""

    @staticmethod
    def forward(*xs, equation):
        out = xp.einsum(equation, *xs, optimize=len(xs) > 1)
        for x in xs:
            # einsum may return a view of an operand (transpose, diagonal); tensors don't alias
            if xp.may_share_memory(out, x):
                return out.copy()
        return out

    @staticmethod
    def vjp(g, out, *xs, equation):
        lhs, out_term = equation.split("->")
        terms = lhs.split(",")
        return tuple(_einsum_grad(g, xs, terms, out_term, k) if xs[k]._requires_grad else None
                     for k in range(len(xs)))

    @staticmethod
    def jvp(*args, equation):
        n = len(args) // 2
        tangents, xs = args[:n], args[n + 1:]
        total = None
        for k in range(n):
            ops = list(xs)
            ops[k] = tangents[k]
            term = Einsum.apply(*ops, equation=equation)
            total = term if total is None else total + term
        return total


def _einsum_grad(g: Any, xs: Sequence[Any], terms: list[str], out_term: str, k: int) -> Any:
    """The cotangent of operand k: einsum of g with the other operands onto k's labels.

    A label repeated in operand k (a diagonal) is renamed and tied back by an identity
    operand; a label summed only inside operand k makes the gradient constant along it.
    """
    ops = [g]
    subs = [out_term]
    for j, t in enumerate(xs):
        if j != k:
            ops.append(t)
            subs.append(terms[j])
    used = set("".join(terms) + out_term)
    free = iter(c for c in string.ascii_letters if c not in used)
    shape = xs[k]._data.shape
    target = []
    seen: set[str] = set()
    for pos, c in enumerate(terms[k]):
        if c in seen:
            fresh = next(free)
            ops.append(_backend.wrap(xp.eye(shape[pos], dtype=g._data.dtype)))
            subs.append(c + fresh)
            target.append(fresh)
        else:
            seen.add(c)
            target.append(c)
    available = set("".join(subs))
    kept = "".join(c for c in target if c in available)
    grad = Einsum.apply(*ops, equation=",".join(subs) + "->" + kept)
    if len(kept) != len(target):
        grad = grad.reshape(tuple(n if c in available else 1 for c, n in zip(target, shape)))
        grad = grad.expand(shape)
    return grad


# ---------------------------------------------------------------------------------------------
# Errors with torch's text


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _dtype_check(x: Any, y: Any) -> None:
    if x._data.dtype is not y._data.dtype and x._data.dtype != y._data.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_c_name(x)} != {_c_name(y)}")


def _c_name(t: Any) -> str:
    names = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
             "float16": "c10::Half", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool"}
    return names[t.dtype.name]


def _matmul_error(xs: tuple[int, ...], ys: tuple[int, ...]) -> RuntimeError:
    """The message torch gives for a failed matmul of these shapes (it folds and batches the
    operands first, and reports the failing internal op)."""
    xd, yd = len(xs), len(ys)
    if xd == 1 and yd == 1:
        return _dot_size_error(xs, ys)
    if xd == 2 and yd == 1:
        return RuntimeError(f"size mismatch, got input ({xs[0]}), mat ({_dims(xs)}), vec "
                            f"({ys[0]})")
    if xd <= 2 and yd == 2:
        x2 = (1,) + xs if xd == 1 else xs
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims(x2)} and "
                            f"{_dims(ys)})")
    if xd >= 3 and yd <= 2:
        rows = _prod(xs[:-1])
        if yd == 1:
            return RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{xs[-1]}), "
                                f"vec ({ys[0]})")
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{xs[-1]} and "
                            f"{_dims(ys)})")
    xb = xs[:-2] if xd >= 2 else ()
    yb = ys[:-2] if yd >= 2 else ()
    nb = max(len(xb), len(yb))
    xb = (1,) * (nb - len(xb)) + tuple(xb)
    yb = (1,) * (nb - len(yb)) + tuple(yb)
    for i, (a, b) in enumerate(zip(xb, yb)):
        if a != b and a != 1 and b != 1:
            return RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                                f"({b}) at non-singleton dimension {i}")
    batch = _prod(max(a, b) for a, b in zip(xb, yb))
    k = xs[-1]
    k2 = ys[-2] if yd >= 2 else ys[0]
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{batch}, {k}] but got: [{batch}, {k2}].")


def _dot_size_error(xs: tuple[int, ...], ys: tuple[int, ...]) -> RuntimeError:
    return RuntimeError(f"inconsistent tensor size, expected tensor [{xs[0]}] and src [{ys[0]}] "
                        f"to have the same number of elements, but got {xs[0]} and {ys[0]} "
                        f"elements respectively")


def _check_expand(src: tuple[int, ...], target: tuple[int, ...]) -> None:
    """Raise torch's expand error unless ``src`` broadcasts to ``target``."""
    lead = len(target) - len(src)
    for i, n in enumerate(src):
        if lead < 0 or (n != 1 and n != target[i + lead]):
            j = max(i + lead, 0)
            raise RuntimeError(
                f"The expanded size of the tensor ({target[j] if j < len(target) else 1}) must "
                f"match the existing size ({n}) at non-singleton dimension {j}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(src)}")


def _apply_matmul(op: type[Op], x: Any, y: Any) -> Any:
    try:
        return op.apply(x, y)
    except ValueError:
        raise _matmul_error(x._data.shape, y._data.shape) from None


# ---------------------------------------------------------------------------------------------
# Public functions

_BY_NDIM = {(2, 2): Mm, (3, 3): Bmm, (2, 1): Mv, (1, 1): Dot}


def matmul(input: Any, other: Any, *, out: Any = None) -> Any:
    """Matrix product with torch's rules: ``dot`` for two vectors, ``mm`` for matrices, a 1-D
    operand promoted to a row (left) or column (right) and the added dim removed again, and
    leading batch dims broadcast.

    Example:
        >>> import chainrule
        >>> a = chainrule.ones(2, 3)
        >>> (a @ chainrule.ones(3, 4)).shape, (chainrule.ones(5, 1, 2, 3) @ chainrule.ones(3)).shape
        (chainrule.Size([2, 4]), chainrule.Size([5, 1, 2]))
    """
    x = input if input.__class__ is _backend._tensor_class else to_tensor(input)
    y = other if other.__class__ is _backend._tensor_class else to_tensor(other)
    xd, yd = x._data.ndim, y._data.ndim
    if xd == 0 or yd == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{xd}D and {yd}D")
    if x._data.dtype is not y._data.dtype:
        _dtype_check(x, y)
    result = _apply_matmul(_BY_NDIM.get((xd, yd), Matmul), x, y)
    return _out(result, out)


def mm(input: Any, mat2: Any, *, out: Any = None) -> Any:
    """Product of two matrices, ``(n, k) @ (k, m) -> (n, m)``.

    Example:
        >>> import chainrule
        >>> chainrule.mm(chainrule.tensor([[1., 2.]]), chainrule.tensor([[3.], [4.]]))
        tensor([[11.]])
    """
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _dtype_check(input, mat2)
    return _out(_apply_matmul(Mm, input, mat2), out)


def bmm(input: Any, mat2: Any, *, out: Any = None) -> Any:
    """Batched matrix product, ``(b, n, k) @ (b, k, m) -> (b, n, m)`` (no broadcasting).

    Example:
        >>> import chainrule
        >>> chainrule.bmm(chainrule.ones(2, 3, 4), chainrule.ones(2, 4, 5)).shape
        chainrule.Size([2, 3, 5])
    """
    xs, ys = input._data.shape, mat2._data.shape
    if len(xs) != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if len(ys) != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if ys[0] != xs[0] or ys[1] != xs[2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{xs[0]}, {xs[2]}] but got: [{ys[0]}, {ys[1]}].")
    _dtype_check(input, mat2)
    return _out(Bmm.apply(input, mat2), out)


def mv(input: Any, vec: Any, *, out: Any = None) -> Any:
    """Matrix-vector product, ``(n, k) @ (k,) -> (n,)``.

    Example:
        >>> import chainrule
        >>> chainrule.mv(chainrule.tensor([[1., 2.], [3., 4.]]), chainrule.tensor([1., 1.]))
        tensor([3., 7.])
    """
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, "
                           f"{vec._data.ndim}")
    _dtype_check(input, vec)
    return _out(_apply_matmul(Mv, input, vec), out)


def dot(input: Any, tensor: Any, *, out: Any = None) -> Any:
    """Inner product of two vectors, ``sum_i x_i y_i`` (a 0-dim tensor).

    Example:
        >>> import chainrule
        >>> chainrule.dot(chainrule.tensor([1., 2.]), chainrule.tensor([3., 4.]))
        tensor(11.)
    """
    xd, yd = input._data.ndim, tensor._data.ndim
    if xd != 1 or yd != 1:
        raise RuntimeError(f"1D tensors expected, but got {xd}D and {yd}D tensors")
    if input._data.dtype != tensor._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_dtype_name(input)} and {_dtype_name(tensor)}")
    if input._data.shape != tensor._data.shape:
        raise _dot_size_error(input._data.shape, tensor._data.shape)
    return _out(Dot.apply(input, tensor), out)


def vdot(input: Any, other: Any, *, out: Any = None) -> Any:
    """``dot`` with the first argument conjugated; the same as ``dot`` for real tensors.

    Example:
        >>> import chainrule
        >>> chainrule.vdot(chainrule.tensor([1., 2.]), chainrule.tensor([3., 4.]))
        tensor(11.)
    """
    return dot(input, other, out=out)


def inner(input: Any, other: Any, *, out: Any = None) -> Any:
    """Sum of products over the last dims: ``inner(a, b)[i.., j..] = sum_k a[i.., k] b[j.., k]``
    (a scalar operand multiplies).

    Example:
        >>> import chainrule
        >>> chainrule.inner(chainrule.ones(2, 3), chainrule.ones(4, 3)).shape
        chainrule.Size([2, 4])
    """
    if input._data.ndim == 0 or other._data.ndim == 0:
        return _out(input * other, out)
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input._data.shape)} and {list(other._data.shape)}")
    return _out(tensordot(input, other, dims=([-1], [-1])), out)


def outer(input: Any, vec2: Any, *, out: Any = None) -> Any:
    """Outer product of two vectors, ``out[i, j] = x_i y_j``.

    Example:
        >>> import chainrule
        >>> chainrule.outer(chainrule.tensor([1., 2.]), chainrule.tensor([1., 10., 100.]))
        tensor([[  1.,  10., 100.],
                [  2.,  20., 200.]])
    """
    if input._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input._data.ndim}-D")
    if vec2._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return _out(input.reshape(-1, 1) * vec2, out)


def ger(input: Any, vec2: Any, *, out: Any = None) -> Any:
    """Alias of :func:`outer`.

    Example:
        >>> import chainrule
        >>> chainrule.ger(chainrule.ones(2), chainrule.ones(3)).shape
        chainrule.Size([2, 3])
    """
    return outer(input, vec2, out=out)


def _scaled_sum(input: Any, prod: Any, beta: Any, alpha: Any) -> Any:
    """``beta * input + alpha * prod``; input is ignored when beta is 0, as torch."""
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod.expand(np.broadcast_shapes(input._data.shape, prod._data.shape))
    return prod + (input if beta == 1 else input * beta)


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1,
          out: Any = None) -> Any:
    """``beta * input + alpha * (mat1 @ mat2)``; ``input`` broadcasts to the product's shape.

    One fused primitive: the bias is added into the GEMM's fresh output buffer.

    Example:
        >>> import chainrule
        >>> b = chainrule.tensor([1., 2.])
        >>> chainrule.addmm(b, chainrule.ones(3, 4), chainrule.ones(4, 2))
        tensor([[5., 6.],
                [5., 6.],
                [5., 6.]])
    """
    if mat1._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if mat1._data.dtype != mat2._data.dtype:
        raise RuntimeError(_same_dtype_message("mat1", mat1, mat2))
    n, k = mat1._data.shape
    k2, m = mat2._data.shape
    if k != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})")
    c = input if input.__class__ is _backend._tensor_class else to_tensor(input, mat1.dtype)
    _check_expand(c._data.shape, (n, m))
    if c._data.dtype != mat1._data.dtype:
        raise RuntimeError(_same_dtype_message("self", c, mat2))
    return _out(Addmm.apply(c, mat1, mat2, beta=beta, alpha=alpha), out)


def _same_dtype_message(name: str, a: Any, mat2: Any) -> str:
    """addmm's (and so Linear's) words for mismatched dtypes, as torch."""
    return (f"{name} and mat2 must have the same dtype, but got "
            f"{_backend.dtypes.scalar_type_name(a.dtype)} and "
            f"{_backend.dtypes.scalar_type_name(mat2.dtype)}")


def addmv(input: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1,
          out: Any = None) -> Any:
    """``beta * input + alpha * (mat @ vec)``.

    Example:
        >>> import chainrule
        >>> chainrule.addmv(chainrule.ones(2), chainrule.ones(2, 3), chainrule.ones(3), beta=2)
        tensor([5., 5.])
    """
    return _out(_scaled_sum(input, mv(mat, vec), beta, alpha), out)


def addr(input: Any, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1,
         out: Any = None) -> Any:
    """``beta * input + alpha * outer(vec1, vec2)``.

    Example:
        >>> import chainrule
        >>> chainrule.addr(chainrule.zeros(2, 2), chainrule.ones(2), chainrule.tensor([1., 2.]))
        tensor([[1., 2.],
                [1., 2.]])
    """
    return _out(_scaled_sum(input, outer(vec1, vec2), beta, alpha), out)


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1,
            out: Any = None) -> Any:
    """``beta * input + alpha * bmm(batch1, batch2)``; ``input`` broadcasts.

    Example:
        >>> import chainrule
        >>> chainrule.baddbmm(chainrule.ones(3, 5), chainrule.ones(2, 3, 4),
        ...                   chainrule.ones(2, 4, 5)).shape
        chainrule.Size([2, 3, 5])
    """
    return _out(_scaled_sum(input, bmm(batch1, batch2), beta, alpha), out)


def addbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1,
           out: Any = None) -> Any:
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``.

    Example:
        >>> import chainrule
        >>> chainrule.addbmm(chainrule.zeros(3, 5), chainrule.ones(2, 3, 4),
        ...                  chainrule.ones(2, 4, 5))[0, 0]
        tensor(8.)
    """
    return _out(_scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha), out)


def _sublist_term(sub: Sequence[Any]) -> str:
    term = []
    for s in sub:
        if s is Ellipsis:
            term.append("...")
        else:
            s = int(s)
            if not 0 <= s < 52:
                raise ValueError(f"einsum(): expected subscript to be within the range [0, 52), "
                                 f"but got {s}")
            term.append(string.ascii_letters[s])
    return "".join(term)


def _einsum_args(args: tuple) -> tuple[str, list[Any]]:
    if not args:
        raise RuntimeError("einsum(): must specify the equation string and at least one "
                           "operand, or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        operands = list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        return args[0], operands
    operands = list(args[0::2])
    subs = list(args[1::2])
    out_term = None
    if len(args) % 2 == 1:
        out_term = _sublist_term(args[-1])
        operands = operands[:-1]
    eq = ",".join(_sublist_term(s) for s in subs)
    if out_term is not None:
        eq += "->" + out_term
    return eq, operands


def einsum(*args: Any) -> Any:
    """Sum of products over the labels an equation names, as ``torch.einsum``: for
    ``"ij,jk->ik"``, ``out[i, k] = sum_j a[i, j] b[j, k]``.

    Supports implicit outputs (labels seen once, sorted), ``...`` with broadcasting, size-1
    broadcasting of labels, repeated labels (diagonals) and the sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.

    Example:
        >>> import chainrule
        >>> a, b = chainrule.ones(2, 3), chainrule.ones(3, 4)
        >>> chainrule.einsum("ij,jk->ik", a, b).shape, chainrule.einsum("ii", chainrule.eye(3))
        (chainrule.Size([2, 4]), tensor(3.))
    """
    equation, operands = _einsum_args(args)
    operands = [to_tensor(o) for o in operands]
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    for t in operands[1:]:
        if t._data.dtype != operands[0]._data.dtype:
            raise RuntimeError(f"expected scalar type {_dtype_name(operands[0])} but found "
                               f"{_dtype_name(t)}")
    letters = set(c for c in equation if c.isalpha())
    for c in equation:
        if not (c.isalpha() and c.isascii()) and c not in ",.->":
            raise RuntimeError(f"einsum(): invalid subscript given at index "
                               f"{equation.index(c)} in the equation string, subscripts must be "
                               f"in [a-zA-Z]")
    n_ell = 0
    for i, (term, t) in enumerate(zip(terms, operands)):
        n_named = len(term.replace("...", ""))
        if "..." in term:
            n_ell = max(n_ell, t._data.ndim - n_named)
        elif n_named != t._data.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n_named}) "
                               f"does not match the number of dimensions ({t._data.ndim}) for "
                               f"operand {i} and no ellipsis was given")
    ell = "".join([c for c in string.ascii_letters if c not in letters][:n_ell])
    full_terms = []
    for term, t in zip(terms, operands):
        if "..." in term:
            k = t._data.ndim - len(term.replace("...", ""))
            term = term.replace("...", ell[n_ell - k:] if k else "")
        full_terms.append(term)
    if arrow:
        out_term = rhs.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for c in "".join(terms):
            if c != ".":
                counts[c] = counts.get(c, 0) + 1
        out_term = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    sizes: dict[str, int] = {}
    for i, (term, t) in enumerate(zip(full_terms, operands)):
        seen: dict[str, int] = {}
        for c, n in zip(term, t._data.shape):
            if c in seen and seen[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but "
                                   f"the sizes don't match, {n} != {seen[c]}")
            seen[c] = n
            prev = sizes.get(c, 1)
            if n != 1 and prev != 1 and n != prev:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {prev}")
            sizes[c] = max(prev, n)
    for c in out_term:
        if out_term.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                               f"output")
        if c not in sizes:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation "
                               f"for any input operand")
    broadcast = []
    for term, t in zip(full_terms, operands):
        target = tuple(sizes[c] for c in term)
        broadcast.append(t.expand(target) if target != t._data.shape else t)
    eq = ",".join(full_terms) + "->" + out_term
    return Einsum.apply(*broadcast, equation=eq)


def tensordot(a: Any, b: Any, dims: Any = 2, out: Any = None) -> Any:
    """Contract ``a``'s last ``dims`` dims with ``b``'s first ``dims`` dims, or the dim lists
    ``dims = (dims_a, dims_b)``.

    Example:
        >>> import chainrule
        >>> chainrule.tensordot(chainrule.ones(3, 4, 5), chainrule.ones(4, 5, 6)).shape
        chainrule.Size([3, 6])
    """
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, (int, np.integer)) or (hasattr(dims, "ndim") and dims.ndim == 0):
        d = int(dims)
        if d < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={d}")
        if d > na or d > nb:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={d}")
        dims_a, dims_b = list(range(na - d, na)), list(range(d))
    else:
        dims_a, dims_b = ([int(i) for i in _as_list(x)] for x in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    dims_a = [i % na for i in dims_a]
    dims_b = [i % nb for i in dims_b]
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(na)]
    tb = [next(letters) for _ in range(nb)]
    for i, j in zip(dims_a, dims_b):
        sa, sb = a._data.shape[i], b._data.shape[j]
        if sa != sb:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} "
                               f"in dim {i} and second has size {sb} in dim {j}")
        tb[j] = ta[i]
    out_term = [c for i, c in enumerate(ta) if i not in dims_a]
    out_term += [c for j, c in enumerate(tb) if j not in dims_b]
    eq = "".join(ta) + "," + "".join(tb) + "->" + "".join(out_term)
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected scalar type {_dtype_name(a)} but found {_dtype_name(b)}")
    return _out(Einsum.apply(a, b, equation=eq), out)


def _as_list(x: Any) -> list:
    if hasattr(x, "tolist"):
        x = x.tolist()
    return [x] if isinstance(x, int) else list(x)


def trace(input: Any) -> Any:
    """Sum of the main diagonal of a matrix (need not be square).

    Example:
        >>> import chainrule
        >>> chainrule.trace(chainrule.tensor([[1., 2.], [3., 4.]]))
        tensor(5.)
    """
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim "
                           f"{input._data.ndim}")
    n = min(input._data.shape)
    sq = input[:n, :n] if input._data.shape != (n, n) else input
    if input._data.dtype.kind in "biu" and input._data.dtype != np.int64:
        sq = sq.long()
    return Einsum.apply(sq, equation="ii->")


def _out(result: Any, out: Any) -> Any:
    if out is None:
        return result
    out._inplace(result)
    return out


def _rmatmul(self: Any, other: Any) -> Any:
    return matmul(other, self)


TENSOR_METHODS: dict[str, Any] = {n: n for n in __all__ if n not in ("einsum", "tensordot")}
TENSOR_METHODS.update({"__matmul__": "matmul", "__rmatmul__": "_rmatmul"})
for _name in ("addmm", "addmv", "addr", "baddbmm", "addbmm"):
    _fn = inplace_method(globals()[_name])
    globals()[_name + "_"] = _fn
    TENSOR_METHODS[_name + "_"] = _fn
del _name, _fn
