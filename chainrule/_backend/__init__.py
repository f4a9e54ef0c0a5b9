"""Array backends. The only package that knows which array library runs.

``xp`` is the array namespace ops use (NumPy on the CPU; CuPy will plug in for CUDA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._backend.dtypes import dtype

__all__ = ["xp", "device", "sum_to", "wrap", "register_tensor_class", "dtype"]

xp = np  # the CPU namespace; ops call xp.* so a CuPy backend can plug in


class device:
    """Where a tensor's data lives: ``chainrule.device('cpu')``, as ``torch.device``.

    Example:
        >>> import chainrule
        >>> chainrule.device('cpu')
        device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if ":" in type:
            type, idx = type.split(":")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}")
        self.type = type
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"


CPU = device("cpu")


def check_device(d: Any) -> device:
    """Validate a requested device; only the CPU backend exists in this build."""
    dev = d if isinstance(d, device) else device(str(d))
    if dev.type != "cpu":
        raise RuntimeError(
            "Torch not compiled with CUDA enabled: chainrule's CUDA backend (CuPy) is not "
            "available in this build; use device='cpu'")
    return CPU


_SCALARS: dict[tuple[Any, Any], np.ndarray] = {}


def scalar(value: float, dtype: Any) -> np.ndarray:
    """A cached read-only 0-d array: NumPy takes twice as long for ``a * 2`` as for
    ``a * scalar(2, a.dtype)`` on small arrays (converting the Python number each call)."""
    key = (value, dtype)
    arr = _SCALARS.get(key)
    if arr is None:
        arr = np.asarray(value, dtype=dtype)
        arr.flags.writeable = False
        _SCALARS[key] = arr
    return arr


class ScalarsByDtype(dict):
    """``scalar(value, dtype)`` for one value, indexed by dtype: ``ONE[a.dtype]``. A dict
    subscript costs a third of a call to :func:`scalar`, which matters in per-op kernels.

    Example:
        >>> import numpy as np
        >>> ScalarsByDtype(0.5)[np.dtype(np.float32)]
        array(0.5, dtype=float32)
    """

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, dtype: Any) -> np.ndarray:
        arr = self[dtype] = scalar(self.value, dtype)
        return arr


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast array ``g`` back down to ``shape`` (the adjoint of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        out = out.reshape(out.shape[lead:])
    return out


# The one sanctioned upward reference: Op.apply must build Tensors, but Tensor is defined on
# top of autograd/ and ops/. tensor.py registers its class here when it is imported.
_tensor_class: Any = None


make_tensor: Any = None  # Tensor._make, bound at registration (hot path: one lookup)


def register_tensor_class(cls: type) -> None:
    """Called once by ``chainrule.tensor`` so lower layers can build Tensors."""
    global _tensor_class, make_tensor
    _tensor_class = cls
    make_tensor = cls._make


def wrap(array: np.ndarray, requires_grad: bool = False) -> Any:
    """A Tensor over ``array`` (no copy)."""
    return _tensor_class._make(array, requires_grad)


def _make_tensor(array: np.ndarray) -> Any:
    return _tensor_class._make(array, False)
