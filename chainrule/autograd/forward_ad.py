"""Forward-mode AD: dual tensors carry a tangent that every op pushes forward with its jvp.

Inside ``with dual_level():``, ``make_dual(x, t)`` attaches tangent ``t`` to ``x``; each op whose
inputs carry tangents computes its output's tangent with its ``jvp`` rule (missing tangents are
zeros), and ``unpack_dual(y)`` returns ``(primal, tangent)``. One level at a time, as torch.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from chainrule import _backend
from chainrule.autograd.grad_mode import STATE

__all__ = ["dual_level", "make_dual", "unpack_dual", "enter_dual_level", "exit_dual_level",
           "UnpackedDualTensor"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])

_live_duals: list = []  # tensors carrying a tangent at the current level, cleared on exit
_level_id = [0]  # counts levels opened, so a tangent kept by a Node is used at its level only


def enter_dual_level() -> int:
    """Open a forward-AD level and return its index (0). Nesting is not supported, as torch."""
    if STATE.fw_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    STATE.fw_level = 0
    _level_id[0] += 1
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the current level; tangents made at it are dropped."""
    STATE.fw_level = -1
    for ref in _live_duals:
        t = ref()
        if t is not None:
            t._fw_grad = None
    _live_duals.clear()


class dual_level:
    """Context manager for a forward-AD level.

    Example:
        >>> import chainrule
        >>> import chainrule.autograd.forward_ad as fwAD
        >>> x = chainrule.tensor([1.0, 2.0])
        >>> with fwAD.dual_level():
        ...     y = fwAD.make_dual(x, chainrule.tensor([1.0, 0.0])) ** 2
        ...     fwAD.unpack_dual(y).tangent
        tensor([2., 0.])
    """

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: object) -> None:
        exit_dual_level()


def _register(t: Any) -> None:
    import weakref

    _live_duals.append(weakref.ref(t))


def make_dual(tensor: Any, tangent: Any, *, level: int | None = None) -> Any:
    """A view of ``tensor`` carrying ``tangent`` (same shape) at the current level."""
    if STATE.fw_level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if not tensor.dtype.is_floating_point:
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    dual = tensor.view_as(tensor)
    dual._fw_grad = tangent if tangent.dtype is tensor.dtype else tangent.to(tensor.dtype)
    _register(dual)
    return dual


def unpack_dual(tensor: Any, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of a dual tensor; tangent is ``None`` for a plain tensor."""
    tangent = tensor._fw_grad if STATE.fw_level >= 0 else None
    primal = tensor.view_as(tensor) if tangent is not None else tensor
    if tangent is not None:
        primal._fw_grad = None
    return UnpackedDualTensor(primal, tangent)


def apply_jvp(op: Any, result: Any, inputs: tuple, params: dict) -> None:
    """Called by ``Op.apply`` at an open level: push the inputs' tangents through ``op.jvp``."""
    tangents = [t._fw_grad for t in inputs]
    if all(d is None for d in tangents):
        return
    wrap = _backend.wrap
    xp = _backend.xp
    tangents = [d if d is not None else wrap(xp.zeros_like(t._data))
                for d, t in zip(tangents, inputs)]
    # Tangent arithmetic must not itself push tangents (that would be a second-order
    # forward pass done by accident), so the level is closed while the rule runs.
    STATE.fw_level = -1
    try:
        t_out = op.jvp(*tangents, result, *inputs, **params)
    finally:
        STATE.fw_level = 0
    if t_out is None:
        return
    if t_out._data.shape != result._data.shape:
        t_out = t_out.expand(result._data.shape).contiguous()
    if t_out._data.dtype != result._data.dtype:
        t_out = t_out.to(result.dtype)
    result._fw_grad = t_out
    _register(result)
    node = result.grad_fn
    if node is not None and node.out is not None:
        # The node's vjp reads its output: keep the output's tangent so that differentiating
        # that vjp in forward mode (jacfwd over jacrev) sees how `out` moves too.
        node.out_tangent = (_level_id[0], t_out)


def restore_tangent(out: Any, saved: tuple[int, Any]) -> None:
    """Give a Node's rebuilt output its tangent back, if saved at the level still open."""
    level, tangent = saved
    if STATE.fw_level >= 0 and level == _level_id[0]:
        out._fw_grad = tangent
        _register(out)

