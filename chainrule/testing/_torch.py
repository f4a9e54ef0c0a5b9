"""compare_with_torch and op specs: check an op's forward, vjp and jvp against PyTorch.

For people writing their own ops: give a chainrule callable, its PyTorch twin and NumPy
inputs; the forward values, the vector-Jacobian product with a random cotangent and the
Jacobian-vector product with a random tangent must all agree. PyTorch is imported only here,
only when these functions run.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd import forward_ad
from chainrule.testing._comparison import assert_close, default_tolerances

__all__ = ["compare_with_torch", "OpSpec", "check_against_torch", "check_gradients"]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a test dependency
        raise ImportError("compare_with_torch needs PyTorch: pip install 'chainrule[test]'") \
            from exc
    return torch


def _outputs(x: Any) -> list[Any]:
    if isinstance(x, (tuple, list)):
        out = []
        for item in x:
            out.extend(_outputs(item))
        return out
    return [x]


def _is_diff(arr: np.ndarray) -> bool:
    return arr.dtype.kind == "f"


def compare_with_torch(fn: Callable[..., Any], torch_fn: Callable[..., Any],
                       *inputs: np.ndarray, check_grad: bool = True, check_jvp: bool = True,
                       rtol: float | None = None, atol: float | None = None,
                       seed: int = 0) -> None:
    """Check ``fn`` against ``torch_fn`` on the same NumPy ``inputs``: forward, vjp and jvp.

    Floating inputs are differentiable; integer and bool inputs are passed as plain tensors.
    Outputs may be a tensor or a (nested) tuple of tensors.

    Raises:
        AssertionError: naming what disagreed (forward output k, vjp for input i, ...).

    Example:
        >>> import numpy as np, chainrule
        >>> from chainrule.testing import compare_with_torch
        >>> x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
        >>> compare_with_torch(lambda t: t.tanh() * 2, lambda t: t.tanh() * 2, x)
    """
    torch = _import_torch()
    T = _backend._tensor_class
    rng = np.random.default_rng(seed)
    ours_in = [T._make(a.copy(), _is_diff(a) and check_grad) for a in inputs]
    theirs_in = [torch.tensor(a.copy(), requires_grad=bool(_is_diff(a) and check_grad))
                 for a in inputs]
    ours_out = _outputs(fn(*ours_in))
    theirs_out = _outputs(torch_fn(*theirs_in))
    if len(ours_out) != len(theirs_out):
        raise AssertionError(f"forward: {len(ours_out)} outputs, torch gives {len(theirs_out)}")
    for k, (o, t) in enumerate(zip(ours_out, theirs_out)):
        if not isinstance(o, T):
            assert_close(o, t.item() if hasattr(t, "item") else t, check_dtype=False,
                         msg=f"forward output {k}")
            continue
        r, a = (rtol, atol) if rtol is not None else default_tolerances(o._data.dtype)
        assert_close(o, t, rtol=r, atol=a, equal_nan=True, msg=f"forward output {k}")
    if not check_grad:
        return
    diff_idx = [i for i, a in enumerate(inputs) if _is_diff(a)]
    if not diff_idx:
        return
    _check_vjp(torch, ours_in, theirs_in, ours_out, theirs_out, diff_idx, rng, rtol, atol)
    if check_jvp:
        _check_jvp(torch, fn, torch_fn, inputs, diff_idx, rng, rtol, atol)


def _check_vjp(torch: Any, ours_in: list, theirs_in: list, ours_out: list, theirs_out: list,
               diff_idx: list[int], rng: np.random.Generator, rtol: Any, atol: Any) -> None:
    from chainrule.autograd import grad as cr_grad

    T = _backend._tensor_class
    pairs = [(o, t) for o, t in zip(ours_out, theirs_out)
             if isinstance(o, T) and o.requires_grad and t.requires_grad]
    if not pairs:
        return
    cots = [rng.standard_normal(o._data.shape).astype(o._data.dtype) for o, _ in pairs]
    ours_g = cr_grad([o for o, _ in pairs], [ours_in[i] for i in diff_idx],
                     [T._make(c) for c in cots], allow_unused=True)
    theirs_g = torch.autograd.grad([t for _, t in pairs], [theirs_in[i] for i in diff_idx],
                                   [torch.tensor(c) for c in cots], allow_unused=True)
    for i, og, tg in zip(diff_idx, ours_g, theirs_g):
        if tg is None:
            tg = torch.zeros_like(theirs_in[i])
        og_arr = np.zeros(ours_in[i]._data.shape, ours_in[i]._data.dtype) if og is None \
            else og._data
        r, a = (rtol, atol) if rtol is not None else default_tolerances(og_arr.dtype, kind="grad")
        assert_close(og_arr, tg.detach().numpy(), rtol=r, atol=a, equal_nan=True,
                     msg=f"vjp for input {i}")


def _check_jvp(torch: Any, fn: Callable, torch_fn: Callable, inputs: Sequence[np.ndarray],
               diff_idx: list[int], rng: np.random.Generator, rtol: Any, atol: Any) -> None:
    T = _backend._tensor_class
    tangents = {i: rng.standard_normal(inputs[i].shape).astype(inputs[i].dtype)
                for i in diff_idx}

    def torch_part(*diff: Any) -> Any:
        args = [torch.tensor(a.copy()) for a in inputs]
        for i, d in zip(diff_idx, diff):
            args[i] = d
        out = _outputs(torch_fn(*args))
        return tuple(o for o in out if o.dtype.is_floating_point)

    _, t_tangents = torch.func.jvp(torch_part, tuple(torch.tensor(inputs[i].copy())
                                                     for i in diff_idx),
                                   tuple(torch.tensor(tangents[i]) for i in diff_idx))
    with forward_ad.dual_level():
        args = [T._make(a.copy()) for a in inputs]
        for i in diff_idx:
            args[i] = forward_ad.make_dual(args[i], T._make(tangents[i]))
        outs = [o for o in _outputs(fn(*args)) if isinstance(o, T) and o._data.dtype.kind == "f"]
        ours = [forward_ad.unpack_dual(o).tangent for o in outs]
    for k, (o, t) in enumerate(zip(ours, t_tangents)):
        arr = np.zeros(t.shape, dtype=t.detach().numpy().dtype) if o is None else o._data
        r, a = (rtol, atol) if rtol is not None else default_tolerances(arr.dtype, kind="grad")
        assert_close(arr, t.detach().numpy(), rtol=r, atol=a, equal_nan=True,
                     msg=f"jvp of output {k}")


@dataclass
class OpSpec:
    """One test case of an op: a chainrule callable, its PyTorch twin and an input domain.

    Example:
        >>> spec = OpSpec("exp", lambda x: x.exp(), lambda x: x.exp(), shapes=[(2, 3)])
        >>> spec.id
        'exp'
    """

    name: str
    fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    shapes: Sequence[tuple[int, ...]] = ((3, 4),)
    low: float = -2.0
    high: float = 2.0
    make_inputs: Callable[[np.random.Generator], list[np.ndarray]] | None = None
    variant: str = ""
    covers: tuple[str, ...] = ()
    grad: bool = True
    jvp: bool = True
    second_order: bool = True
    rtol: float | None = None
    atol: float | None = None

    @property
    def id(self) -> str:
        """The test id: the name, plus the variant when given."""
        return f"{self.name}-{self.variant}" if self.variant else self.name

    def inputs(self, dtype: Any = np.float64) -> list[np.ndarray]:
        """Deterministic inputs for this spec; floating ones cast to ``dtype``."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        if self.make_inputs is not None:
            arrays = [np.asarray(a) for a in self.make_inputs(rng)]
        else:
            arrays = [rng.uniform(self.low, self.high, size=s) for s in self.shapes]
        return [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]


def check_against_torch(spec: OpSpec) -> None:
    """Forward in float32 and float64, vjp and jvp, each against PyTorch."""
    for dtype in (np.float32, np.float64):
        compare_with_torch(spec.fn, spec.torch_fn, *spec.inputs(dtype), check_grad=spec.grad,
                           check_jvp=spec.grad and spec.jvp, rtol=spec.rtol, atol=spec.atol,
                           seed=zlib.crc32(spec.id.encode()))


def check_gradients(spec: OpSpec) -> None:
    """float64 finite-difference gradcheck, reverse and forward mode, and second order."""
    from chainrule.autograd.gradcheck import gradcheck, gradgradcheck

    T = _backend._tensor_class
    arrays = spec.inputs(np.float64)
    tensors = [T._make(a, a.dtype.kind == "f") for a in arrays]
    gradcheck(spec.fn, tensors, check_forward_ad=spec.jvp, atol=1e-5, rtol=1e-3)
    if spec.second_order:
        gradgradcheck(spec.fn, tensors, atol=1e-5, rtol=1e-3)
