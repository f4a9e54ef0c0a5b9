"""Tensor: an n-dimensional array that records the operations applied to it.

A Tensor holds a backend array (``numpy.ndarray`` on the CPU) and, when it requires grad, the
:class:`~chainrule.autograd.graph.Node` that produced it (``grad_fn``). Methods and operators
are one-line bindings to the functions in ``chainrule/ops`` (each ops module lists the names it
attaches in ``TENSOR_METHODS``); what lives here is state, conversion and autograd entry points.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule._tensor_str import tensor_repr
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.graph import ZERO_VERSION, OutputHook, RemovableHandle, RetainGradHook

__all__ = ["Tensor", "Size"]

_ndarray = np.ndarray
_new = object.__new__
_INFERENCE = {"inference": True}  # shared _extra of tensors made under inference_mode
_INFERENCE_INPLACE_MSG = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details.")


class Size(tuple):
    """A tensor's shape: a tuple of ints, as ``torch.Size``.

    Example:
        >>> import chainrule
        >>> chainrule.zeros(2, 3).shape
        chainrule.Size([2, 3])
    """

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        n = 1
        for s in self:
            n *= s
        return n

    # Slices, sums and repeats of a Size are Sizes, as torch.Size.
    def __getitem__(self, key: Any) -> Any:
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other: Any) -> Size:
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other: Any) -> Size:
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n: Any) -> Size:
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__


class Tensor:
    """A multi-dimensional array with automatic differentiation, as ``torch.Tensor``.

    Build tensors with :func:`chainrule.tensor`, :func:`chainrule.zeros` and friends;
    ``Tensor(data)`` and ``Tensor(*sizes)`` work as torch's legacy constructor (float32).

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    # NumPy must not treat a Tensor as an array in binary ops (np_array @ t would return an
    # ndarray): with __array_ufunc__ = None it returns NotImplemented and Python calls ours.
    __array_ufunc__ = None
    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_out_idx", "_vbox", "_fw_grad",
                 "_accum", "_base", "_extra", "__weakref__")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dtype = dtypes.to_dtype(kwargs.pop("dtype", None))
        if kwargs.pop("device", None) not in (None, "cpu"):
            raise RuntimeError("only the cpu device is available in this build")
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            src = args[0]
            arr = src._data.astype(dtype.np) if isinstance(src, Tensor) else np.array(
                src, dtype=dtype.np)
        elif not args:  # Tensor() is an empty 1-d tensor, as torch
            arr = np.empty((0,), dtype=dtype.np)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            arr = np.empty(tuple(int(s) for s in shape), dtype=dtype.np)
        _init(self, arr, False)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Wrap an array without copying (internal fast constructor)."""
        t = _new(cls)
        t._data = data
        t._requires_grad = requires_grad
        t._grad = None
        t.grad_fn = None
        t._out_idx = 0
        t._vbox = ZERO_VERSION
        t._fw_grad = None
        t._accum = None
        t._base = None
        # Rarely used state (hooks, inference flag) lives in one optional dict, off the hot path.
        t._extra = _INFERENCE if STATE.inference else None
        return t

    def _extras(self) -> dict:
        """The per-tensor dict of rarely used state, created on first use."""
        if self._extra is None or self._extra is _INFERENCE:
            self._extra = {"inference": self._extra is _INFERENCE}
        return self._extra

    @property
    def _hooks(self) -> list | None:
        return self._extra.get("hooks") if self._extra else None

    @property
    def _post_acc_hooks(self) -> list | None:
        return self._extra.get("post_acc_hooks") if self._extra else None

    # -- basic attributes -----------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for differentiation."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if value and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if value and self._extra is not None and self.is_inference() and not STATE.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = bool(value)

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward`` (``None`` until then).

        Assigning checks what torch checks: a tensor (or ``None``) of this tensor's size and
        dtype.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{_C_NAMES[value.dtype.name]}' "
                    f"to a tensor with grad_dtype '{dtypes.scalar_type_name(self.dtype)}'. The "
                    "gradient must match the tensor's grad_dtype (defaults to the tensor's "
                    "dtype).")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a "
                    f"tensor of size '{list(self._data.shape)}'. Please ensure that the gradient "
                    "and the tensor are the same size")
        self._grad = value

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, detached from the graph (as ``torch``'s ``.data``).

        Note: DESIGN.md calls the backend array ``Tensor.data``; torch programs use ``.data`` as
        a Tensor (``p.data.copy_(...)``), so the array is ``Tensor._data`` and ``.data`` keeps
        torch's meaning.
        """
        t = Tensor._make(self._data)
        t._vbox = self._shared_vbox()
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def shape(self) -> Size:
        """The size of each dimension, as a :class:`Size`."""
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def dtype(self) -> dtypes.dtype:
        """The element type, e.g. ``chainrule.float32``."""
        return dtypes._FROM_NP[self._data.dtype]

    @property
    def device(self) -> _backend.device:
        """Where the data lives (``device(type='cpu')``)."""
        return _backend.CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation (user-created, or no grad)."""
        return self.grad_fn is None

    @property
    def is_floating_point_(self) -> bool:
        return self.dtype.is_floating_point

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating type."""
        return self._data.dtype.kind == "f"

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """Whether the data is laid out in row-major order without gaps."""
        return bool(self._data.flags.c_contiguous)

    def is_inference(self) -> bool:
        """Whether the tensor was created inside :class:`chainrule.inference_mode`."""
        return bool(self._extra) and bool(self._extra.get("inference"))

    def stride(self, dim: int | None = None) -> Any:
        """Strides in elements, as torch (NumPy's byte strides divided by the item size)."""
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def data_ptr(self) -> int:
        """Address of the first element."""
        return int(self._data.__array_interface__["data"][0])

    @property
    def _version(self) -> int:
        """How many times this tensor (or a view of its memory) was modified in place."""
        if self._extra is not None and self.is_inference():
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._vbox[0]

    @property
    def retains_grad(self) -> bool:
        """Whether a non-leaf keeps its ``.grad`` (see :meth:`retain_grad`)."""
        fn = self.grad_fn
        if fn is not None and fn.n_outputs != 1:
            return any(isinstance(h, OutputHook) and h.idx == self._out_idx
                       and isinstance(h.fn, RetainGradHook) for h in fn.tensor_hooks or ())
        return fn is not None and fn.retained is not None

    @property
    def output_nr(self) -> int:
        return self._out_idx

    # -- conversion -----------------------------------------------------------------------------
    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists of numbers."""
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory (as torch on the CPU)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        t = Tensor._make(self._data)
        t._vbox = self._shared_vbox()
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place; it becomes a leaf."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return ``self``."""
        self.requires_grad = requires_grad
        return self

    def cpu(self) -> Tensor:
        """This tensor (data already on the CPU)."""
        return self

    def cuda(self, device: Any = None) -> Tensor:
        """Move to CUDA: not available in this build; raises as torch without CUDA does."""
        _backend.check_device("cuda")
        return self

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __repr__(self) -> str:
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)  # str(self) for '', TypeError otherwise (torch)

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("chainrule tensors are not picklable: use chainrule.save (safetensors)")

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        new = type(self)._make(self._data.copy(), self._requires_grad) \
            if type(self) is Tensor else self._clone_leaf()
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    def _clone_leaf(self) -> Tensor:
        new = object.__new__(type(self))
        _init(new, self._data.copy(), self._requires_grad)
        return new

    # -- autograd entry points ----------------------------------------------------------------
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (one reverse sweep).

        Args:
            gradient: the cotangent of ``self``; required unless ``self`` has one element.
            retain_graph: keep saved values for another backward. Default: ``create_graph``.
            create_graph: record the backward itself, for higher-order derivatives.
            inputs: accumulate only into these tensors.
        """
        from chainrule.autograd import backward as _backward

        _backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one.

        Example:
            >>> import chainrule
            >>> x = chainrule.ones(2, requires_grad=True)
            >>> _ = x.register_hook(lambda g: g * 10)
            >>> (x * 2).sum().backward()
            >>> x.grad
            tensor([20., 20.])
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            hooks = self._extras().setdefault("hooks", [])
        else:
            node = self.grad_fn
            if node.tensor_hooks is None:
                node.tensor_hooks = []
            hooks = node.tensor_hooks
            if node.n_outputs != 1:
                hook = OutputHook(self._out_idx, hook)
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Call ``hook(tensor)`` after a gradient is accumulated into this leaf's ``.grad``."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = self._extras().setdefault("post_acc_hooks", [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            if self.grad_fn.n_outputs != 1:  # one of several outputs (custom Function)
                if not self.retains_grad:
                    self.register_hook(RetainGradHook(self))
                return
            self.grad_fn.retained = weakref.ref(self)

    # -- in-place machinery -------------------------------------------------------------------
    def _check_inplace(self) -> None:
        """Raise, as torch, for an in-place change to an inference tensor outside
        inference_mode (called where ``self._extra`` is set: the rare case)."""
        if self.is_inference() and not STATE.inference:
            raise RuntimeError(_INFERENCE_INPLACE_MSG)

    def _bump(self) -> None:
        """Count one in-place change (shared with every view of the same memory)."""
        if self._extra is not None:  # (after paths that write first: a last safeguard)
            self._check_inplace()
        box = self._vbox
        if box is ZERO_VERSION:
            self._vbox = [1]
        else:
            box[0] += 1

    def _shared_vbox(self) -> list:
        """This tensor's version counter as a list that views and aliases can share."""
        box = self._vbox
        if box is ZERO_VERSION:
            box = self._vbox = [0]
        return box

    def _inplace(self, result: Tensor) -> Tensor:
        """Make ``self`` hold ``result`` (computed out of place): the shared in-place path.

        Under grad recording, ``self`` takes ``result``'s history; otherwise the values are
        written into ``self``'s memory (so views see them). The version counter is bumped.
        """
        if self._extra is not None:
            self._check_inplace()
        rd = result._data
        sd = self._data
        if rd.dtype != sd.dtype and not _can_cast(rd.dtype, sd.dtype):
            raise RuntimeError(
                f"result type {dtypes.scalar_type_name(dtypes._FROM_NP[rd.dtype])} can't be "
                f"cast to the desired output type "
                f"{dtypes.scalar_type_name(dtypes._FROM_NP[sd.dtype])}")
        if rd.shape != sd.shape:
            if np.broadcast_shapes(rd.shape, sd.shape) != sd.shape:
                raise RuntimeError(
                    f"output with shape {list(sd.shape)} doesn't match the broadcast shape "
                    f"{list(np.broadcast_shapes(rd.shape, sd.shape))}")
        if result.grad_fn is not None:
            if self.grad_fn is None and self._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self._base is not None:
                # Writing through a view changes its base: record that on the base's history.
                from chainrule.ops.views import rebase_view

                rebase_view(self, result)
                self._bump()
                return self
            if rd.shape != sd.shape or rd.dtype != sd.dtype:
                result = result.expand(sd.shape).to(self.dtype)
                rd = result._data
            self._data[...] = rd
            self.grad_fn = result.grad_fn
            self._out_idx = result._out_idx
            self._requires_grad = True
        else:
            if self.grad_fn is None and self._requires_grad and STATE.enabled:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            np.copyto(sd, rd, casting="unsafe")
        if result._fw_grad is not None or self._fw_grad is not None:
            self._fw_grad = result._fw_grad
        self._bump()
        return self

    def _inplace_recording(self, *others: Any) -> bool:
        """Whether an in-place op on self with these operands must be recorded."""
        if self._extra is not None:  # every in-place path asks this before it writes
            self._check_inplace()
        if not STATE.enabled:
            return False
        if self._requires_grad:
            return True
        for o in others:
            if isinstance(o, Tensor) and o._requires_grad:
                return True
        return False

    def _old(self) -> Tensor:
        """A snapshot of self's value and history, the input of a recorded in-place op."""
        t = Tensor._make(self._data.copy(), self._requires_grad)
        t.grad_fn = self.grad_fn
        t._out_idx = self._out_idx
        t._fw_grad = self._fw_grad
        if self.grad_fn is None and self._requires_grad:
            t._accum = self._accum
        return t


# C type names, as torch's messages print dtypes in some places ('double', 'long int')
_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}


def _init(t: Tensor, arr: np.ndarray, requires_grad: bool) -> None:
    # The same fields as Tensor._make, which repeats them inline: _make runs for every op's
    # result, and a call from it to here measured 60 ns (about 2% of a recorded op).
    t._data = arr
    t._requires_grad = requires_grad
    t._grad = None
    t.grad_fn = None
    t._out_idx = 0
    t._vbox = ZERO_VERSION
    t._fw_grad = None
    t._accum = None
    t._base = None
    t._extra = _INFERENCE if STATE.inference else None


def _can_cast(src: np.dtype, dst: np.dtype) -> bool:
    # torch's canCast: no float -> integral, no non-bool -> bool
    if src.kind == "f" and dst.kind in "iub":
        return False
    if src.kind != "b" and dst.kind == "b":
        return False
    return True


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def attach_methods(module: Any) -> None:
    """Bind the functions an ops module lists in ``TENSOR_METHODS`` as Tensor methods."""
    for name, target in module.TENSOR_METHODS.items():
        setattr(Tensor, name, getattr(module, target) if isinstance(target, str) else target)


_backend.register_tensor_class(Tensor)
