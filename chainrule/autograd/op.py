"""The Op base class: one primitive = forward + vjp + jvp in one class.

Contract (DESIGN.md section 3):

- ``forward(*arrays, **params) -> array``: backend arrays in, one array out. Static
  parameters are keyword-only with PyTorch's names.
- ``vjp(g, out, *inputs, **params) -> tuple``: one cotangent per input (``None`` where not
  differentiable), written with Tensor operations so it is itself differentiable. ``out`` is
  ``None`` unless the class sets ``needs_output``; the inputs are ``None`` unless it sets
  ``needs_inputs`` (the default), so nothing is kept alive that the rule does not read.
- ``jvp(*tangents, out, *inputs, **params) -> Tensor``: forward mode; missing tangents arrive
  as zeros.

The engine sums a cotangent back to its input's broadcast shape (for ops that set
``broadcasts``), accumulates over paths, switches grad mode, runs hooks and frees saved values.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

import numpy as np

from chainrule import _backend
from chainrule.autograd import anomaly as _anomaly
from chainrule.autograd import forward_ad as _forward_ad
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.graph import Node, edge_of

__all__ = ["Op", "OPS"]

OPS: dict[str, type[Op]] = {}

_ndarray = np.ndarray


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class Op:
    """Base class of every primitive. Subclassing registers the op in :data:`OPS`.

    Class attributes:
        needs_inputs: the vjp reads the input values (else they are not saved).
        needs_output: the vjp reads the forward result.
        broadcasts: inputs may broadcast; the engine sums cotangents back to their shapes.
        once_differentiable: the vjp works on raw arrays; a second backward raises.
    """

    name: ClassVar[str]
    backward_name: ClassVar[str]
    needs_inputs: ClassVar[bool] = True
    needs_output: ClassVar[bool] = False
    broadcasts: ClassVar[bool] = False
    once_differentiable: ClassVar[bool] = False
    _node_cls: ClassVar[type[Node]]
    _flags: ClassVar[int]
    _variants: ClassVar[dict[str, type[Op]]]

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = _snake(cls.__name__)
        if "backward_name" not in cls.__dict__:
            cls.backward_name = f"{cls.__name__}Backward0"
        # A Node subclass per op, so type(y.grad_fn).__name__ is 'MulBackward0' as in torch.
        cls._node_cls = type(cls.backward_name, (Node,), {"__slots__": ()})
        # The three flags packed in one int: Node.__init__ reads a single class attribute.
        cls._flags = cls.needs_inputs | (cls.needs_output << 1) | (cls.broadcasts << 2)
        if register:
            prev = OPS.get(cls.name)
            if prev is not None and prev is not cls and not _same_source(prev, cls):
                raise RuntimeError(f"two primitives registered as {cls.name!r}")
            OPS[cls.name] = cls

    @classmethod
    def variant(cls, backward_name: str) -> type[Op]:
        """This primitive under another grad_fn name: the same math, torch's overload's name.

        torch names overloads of one op apart (``x.sum()`` gives ``SumBackward0``,
        ``x.sum(0)`` ``SumBackward1``). A variant is a subclass that only renames the node; it
        keeps the parent's ``name`` (anomaly messages) and is not added to :data:`OPS`, since
        it is no new primitive. Variants are cached per class: one subclass per name.

        Example:
            >>> import chainrule
            >>> from chainrule.ops.reduce import Sum
            >>> SumDim = Sum.variant("SumBackward1")
            >>> SumDim is Sum.variant("SumBackward1"), SumDim.name
            (True, 'sum')
            >>> x = chainrule.ones(2, 3, requires_grad=True)
            >>> SumDim.apply(x, dim=(0,), keepdim=False)
            tensor([2., 2., 2.], grad_fn=<SumBackward1>)
        """
        cache = cls.__dict__.get("_variants")  # not inherited: a subclass has its own cache
        if cache is None:
            cache = cls._variants = {}
        sub = cache.get(backward_name)
        if sub is None:
            namespace = {"name": cls.name, "backward_name": backward_name,
                         "__module__": cls.__module__, "__doc__": cls.__doc__}
            sub = cache[backward_name] = type(cls)(cls.__name__, (cls,), namespace,
                                                   register=False)
        return sub

    @staticmethod
    def forward(*arrays: Any, **params: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def vjp(g: Any, out: Any, *inputs: Any, **params: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @staticmethod
    def jvp(*args: Any, **params: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run the forward on the inputs' arrays, wrap the result, and record a Node if needed."""
        # Unrolled for one and two inputs: building an argument list costs as much as the op.
        n = len(inputs)
        try:
            # (Passing an empty **params costs a dict copy per call: skipped when empty.)
            if n == 1:
                if params:
                    out = cls.forward(inputs[0]._data, **params)
                else:
                    out = cls.forward(inputs[0]._data)
            elif n == 2:
                if params:
                    out = cls.forward(inputs[0]._data, inputs[1]._data, **params)
                else:
                    out = cls.forward(inputs[0]._data, inputs[1]._data)
            else:
                out = cls.forward(*[t._data for t in inputs], **params)
        except ValueError as exc:
            if cls.broadcasts:
                raise _broadcast_error(inputs) from exc
            raise
        if out.__class__ is not _ndarray:
            out = np.asarray(out)  # NumPy reductions return scalars; tensors hold arrays
        result = _backend.make_tensor(out)
        state = STATE
        if state.enabled:
            for t in inputs:
                if t._requires_grad:
                    result._requires_grad = True
                    result.grad_fn = cls._node_cls(cls, inputs, params, result)
                    break
        if state.special:  # forward AD, anomaly detection, recording for drawings, tracing
            if state.fw_level >= 0:
                _forward_ad.apply_jvp(cls, result, inputs, params)
            if state.anomaly:
                _anomaly.check_forward(cls.name, result)
            if state._tracer is not None:  # chainrule.jit.trace records the op into its graph
                state._tracer.record(cls, inputs, params, result)
        return result


def _same_source(a: type, b: type) -> bool:
    """The same class imported twice (a test runner importing a module file under a second
    name), which is not a clash of two different primitives."""
    try:
        return (a.__qualname__ == b.__qualname__
                and inspect.getsourcefile(a) == inspect.getsourcefile(b))
    except TypeError:
        return False


def _broadcast_error(inputs: Any) -> RuntimeError:
    """torch's message for operands whose shapes do not broadcast (NumPy's is a ValueError)."""
    shapes = [t._data.shape for t in inputs]
    for a_i in range(len(shapes)):
        for b_i in range(a_i + 1, len(shapes)):
            a, b = shapes[a_i], shapes[b_i]
            for k in range(1, min(len(a), len(b)) + 1):
                if a[-k] != b[-k] and a[-k] != 1 and b[-k] != 1:
                    dim = max(len(a), len(b)) - k
                    return RuntimeError(
                        f"The size of tensor a ({a[-k]}) must match the size of tensor b "
                        f"({b[-k]}) at non-singleton dimension {dim}")
    return RuntimeError(f"shapes {[list(s) for s in shapes]} cannot be broadcast together")


# edge_of is re-exported for ops that build Nodes by hand (custom Function, fused kernels).
edge_of = edge_of
