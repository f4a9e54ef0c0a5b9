"""``Parameter`` and ``Buffer``: the tensors a Module registers when they are assigned to it.

A :class:`Parameter` is a Tensor that requires grad by default and that a Module lists in
``parameters()`` when it is assigned as an attribute. A :class:`Buffer` marks a tensor to be
registered as a buffer (state that is saved but not trained, such as running statistics).
"""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor, _init

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: ``requires_grad=True`` and listed by its Module.

    ``Parameter(t)`` shares ``t``'s memory (and version counter), as torch does; operations on
    a Parameter return plain Tensors.

    Args:
        data: the initial value. Default: an empty tensor.
        requires_grad: whether the parameter requires gradient. Default: ``True``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Parameter(chainrule.ones(2))
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            from chainrule.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor as data, but got "
                            f"{type(data).__name__}")
        p = object.__new__(cls)
        _init(p, data._data, False)
        p._vbox = data._shared_vbox()
        if requires_grad:
            p.requires_grad = True  # the setter raises for integer dtypes, as torch
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # all the work is in __new__ (Tensor.__init__ would rebuild the data)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        new = Parameter(Tensor._make(self._data.copy()), self._requires_grad)
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new


class _BufferMeta(type):
    # A Buffer call returns a plain Tensor carrying a mark; isinstance checks that mark, so
    # the tensor a module stores is an ordinary Tensor, as torch's Buffer does.
    def __instancecheck__(cls, instance: Any) -> bool:
        if cls is Buffer:
            return isinstance(instance, Tensor) and bool(instance._extra) and \
                "buffer_persistent" in instance._extra
        return super().__instancecheck__(instance)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor to be registered as a buffer when assigned to a Module.

    Args:
        data: the buffer tensor.
        persistent: whether the buffer is part of the module's ``state_dict``. Default: ``True``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.Module()
        >>> m.running = nn.Buffer(chainrule.zeros(2))
        >>> list(m.state_dict())
        ['running']
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Any:  # type: ignore[misc]
        if data is None:
            from chainrule.creation import empty

            data = empty(0)
        t = data.detach()
        t._requires_grad = data._requires_grad
        t._extras()["buffer_persistent"] = persistent
        return t
