"""gradcheck and gradgradcheck: compare autograd's derivatives with finite differences.

The numerical Jacobian uses central differences ``(f(x + eps e_j) - f(x - eps e_j)) / 2 eps``
on float64 inputs. Reverse mode builds the analytical Jacobian one row at a time (a vjp with
each one-hot cotangent); forward mode one column at a time (a jvp with each one-hot tangent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd import forward_ad
from chainrule.autograd.grad_mode import no_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical derivatives disagree."""


def _tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_tensor(x: Any) -> bool:
    return isinstance(x, _backend._tensor_class)


def _diff_inputs(inputs: tuple[Any, ...]) -> list[int]:
    return [i for i, t in enumerate(inputs) if _is_tensor(t) and t.requires_grad]


def _float_outputs(outputs: tuple[Any, ...]) -> list[Any]:
    return [o for o in outputs if _is_tensor(o) and o._data.dtype.kind == "f"]


def _numerical_jacobian(func: Callable, inputs: tuple[Any, ...], idx: list[int],
                        eps: float) -> list[list[np.ndarray]]:
    """J[i][k]: d output k / d input idx[i], shape (numel(out_k), numel(in_i))."""
    with no_grad():
        base = _float_outputs(_tuple(func(*inputs)))
        jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for o in base] for i in idx]
        for a, i in enumerate(idx):
            arr = inputs[i]._data
            flat = arr.reshape(-1) if arr.flags.c_contiguous else None
            if flat is None:
                raise ValueError("gradcheck expects contiguous inputs")
            for j in range(arr.size):
                orig = flat[j].item()
                flat[j] = orig + eps
                plus = [o._data.astype(np.float64).ravel() for o in
                        _float_outputs(_tuple(func(*inputs)))]
                flat[j] = orig - eps
                minus = [o._data.astype(np.float64).ravel() for o in
                         _float_outputs(_tuple(func(*inputs)))]
                flat[j] = orig
                for k in range(len(base)):
                    jac[a][k][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _reverse_jacobian(func: Callable, inputs: tuple[Any, ...], idx: list[int]
                      ) -> list[list[np.ndarray]]:
    from chainrule.autograd import grad as autograd_grad

    outputs = _float_outputs(_tuple(func(*inputs)))
    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for o in outputs] for i in idx]
    T = _backend._tensor_class
    diff = [inputs[i] for i in idx]
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for r in range(out._data.size):
            cot = np.zeros(out._data.shape, dtype=out._data.dtype)
            cot.reshape(-1)[r] = 1
            grads = autograd_grad([out], diff, [T._make(cot)], retain_graph=True,
                                  allow_unused=True)
            for a, g in enumerate(grads):
                if g is not None:
                    jac[a][k][r, :] = g._data.astype(np.float64).ravel()
    return jac


def _forward_jacobian(func: Callable, inputs: tuple[Any, ...], idx: list[int]
                      ) -> list[list[np.ndarray]]:
    T = _backend._tensor_class
    jac: list[list[np.ndarray]] = []
    for i in idx:
        n = inputs[i]._data.size
        cols: list[np.ndarray] | None = None
        for j in range(n):
            with forward_ad.dual_level():
                duals = list(inputs)
                for i2 in idx:
                    tangent = np.zeros(inputs[i2]._data.shape, dtype=inputs[i2]._data.dtype)
                    if i2 == i:
                        tangent.reshape(-1)[j] = 1
                    duals[i2] = forward_ad.make_dual(inputs[i2], T._make(tangent))
                outs = _float_outputs(_tuple(func(*duals)))
                if cols is None:
                    cols = [np.zeros((o._data.size, n)) for o in outs]
                for k, o in enumerate(outs):
                    t = forward_ad.unpack_dual(o).tangent
                    if t is not None:
                        cols[k][:, j] = t._data.astype(np.float64).ravel()
        jac.append(cols or [])
    return jac


def _compare(kind: str, analytical: list[list[np.ndarray]], numerical: list[list[np.ndarray]],
             idx: list[int], atol: float, rtol: float) -> str | None:
    for a, i in enumerate(idx):
        for k, num in enumerate(numerical[a]):
            ana = analytical[a][k] if k < len(analytical[a]) else np.zeros_like(num)
            if not np.allclose(ana, num, rtol=rtol, atol=atol, equal_nan=False):
                return (f"Jacobian mismatch for output {k} with respect to input {i} "
                        f"({kind} mode),\nnumerical:{num}\nanalytical:{ana}\n")
    return None


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check ``func``'s derivatives against central finite differences (as torch's gradcheck).

    Inputs that require grad should be float64. Reverse mode is checked by default,
    forward mode with ``check_forward_ad=True``.

    Returns:
        True if every Jacobian matches; otherwise raises :class:`GradcheckError` (or returns
        False when ``raise_exception=False``).

    Example:
        >>> import chainrule
        >>> x = chainrule.randn(3, dtype=chainrule.float64, requires_grad=True)
        >>> chainrule.autograd.gradcheck(lambda t: (t * t).sin(), (x,), check_forward_ad=True)
        True
    """
    inputs = _tuple(inputs)
    idx = _diff_inputs(inputs)
    if not idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i in idx:
        if inputs[i]._data.dtype != np.float64:
            import warnings

            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          f"point. This check will likely fail if all the inputs are not of "
                          f"double precision floating point.", stacklevel=2)
    numerical = _numerical_jacobian(func, inputs, idx, eps)
    failures = []
    if check_backward_ad:
        err = _compare("reverse", _reverse_jacobian(func, inputs, idx), numerical, idx, atol,
                       rtol)
        if err:
            failures.append(err)
    if check_forward_ad:
        err = _compare("forward", _forward_jacobian(func, inputs, idx), numerical, idx, atol,
                       rtol)
        if err:
            failures.append(err)
    if failures:
        if raise_exception:
            raise GradcheckError("\n".join(failures))
        return False
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of the vjp ``(inputs, v) -> v^T J(inputs)``.

    ``grad_outputs`` default to random float64 tensors that require grad, as torch.
    ``check_fwd_over_rev`` also checks the vjp's forward-mode derivative.

    Example:
        >>> import chainrule
        >>> x = chainrule.randn(3, dtype=chainrule.float64, requires_grad=True)
        >>> chainrule.autograd.gradgradcheck(lambda t: t.exp() * t, (x,))
        True
    """
    from chainrule.autograd import grad as autograd_grad

    inputs = _tuple(inputs)
    idx = _diff_inputs(inputs)
    T = _backend._tensor_class
    outputs = _float_outputs(_tuple(func(*inputs)))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(T._make(rng.standard_normal(o._data.shape), True) for o in outputs)
    grad_outputs = _tuple(grad_outputs)
    n_in = len(inputs)

    def vjp_fn(*args: Any) -> tuple[Any, ...]:
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _float_outputs(_tuple(func(*ins))) if o.requires_grad]
        diff = [ins[i] for i in idx]
        grads = autograd_grad(outs, diff, list(gos)[:len(outs)], create_graph=True,
                              allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(vjp_fn, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev)
