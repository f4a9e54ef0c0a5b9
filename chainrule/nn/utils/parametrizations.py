"""Parametrizations built on :mod:`chainrule.nn.utils.parametrize`: weight normalization."""

from __future__ import annotations

from typing import Any

from chainrule.nn.modules.module import Module
from chainrule.nn.utils import parametrize
from chainrule.tensor import Tensor

__all__ = ["weight_norm"]


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm over every dim but ``dim`` (kept, size 1 elsewhere); over all of ``v`` when
    ``dim == -1``, as torch.norm_except_dim."""
    if dim == -1:
        return v.norm(p=2)
    dims = tuple(d for d in range(v.ndim) if d != dim)
    if not dims:
        return v.abs()
    return v.norm(p=2, dim=dims, keepdim=True)


class _WeightNorm(Module):
    """``w = g * v / ||v||``, the norm taken over every dim but ``dim``."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    r"""Weight normalization (Salimans & Kingma, 2016): ``w = g * v / ||v||``.

    The direction ``v`` and the magnitude ``g`` are learned separately; the norm is over every
    dimension but ``dim`` (one magnitude per output unit for ``dim=0``; ``dim=None`` normalises
    the whole tensor). Decoupling the length of each weight vector from its direction makes the
    gradient of ``v`` orthogonal to ``v`` and rescales it by ``g / ||v||``, which conditions
    the optimization like batch normalization does, without depending on the mini-batch.

    ``g`` is stored as ``parametrizations.<name>.original0`` and ``v`` as ``original1`` (torch's
    keys); old ``<name>_g`` / ``<name>_v`` state_dict entries are renamed on load.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.utils.parametrizations.weight_norm(nn.Linear(20, 40))
        >>> m.parametrizations.weight.original0.shape, m.parametrizations.weight.original1.shape
        (chainrule.Size([40, 1]), chainrule.Size([40, 20]))
        >>> list(m.state_dict())
        ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict: dict, prefix: str, local_metadata: Any,
                                 strict: bool, missing_keys: list, unexpected_keys: list,
                                 error_msgs: list) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module
