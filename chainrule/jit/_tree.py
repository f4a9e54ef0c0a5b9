"""Nested containers of tensors (tuples, lists, dicts) flattened to a list of leaves and back.

A traced function takes and returns such structures; the graph works on the flat list of
tensors, and the spec rebuilds the structure (non-tensor leaves are kept in the spec as they
are, which is how a traced graph returns Python numbers it computed at trace time).
"""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor

__all__ = ["flatten", "unflatten", "LEAF"]

LEAF = "*"  # a tensor slot in a spec


def flatten(obj: Any) -> tuple[list[Any], Any]:
    """``obj`` as (tensors in order, spec): tuples, lists and dicts are walked; a tensor is
    a leaf; anything else is kept in the spec as a constant.

    Example:
        >>> import chainrule
        >>> leaves, spec = flatten((chainrule.ones(1), {"b": chainrule.zeros(1), "k": 3}))
        >>> len(leaves), spec
        (2, ('tuple', ['*', ('dict', ['b', 'k'], ['*', ('const', 3)])]))
    """
    leaves: list[Any] = []
    return leaves, _flatten(obj, leaves)


def _flatten(obj: Any, leaves: list[Any]) -> Any:
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return LEAF
    if isinstance(obj, (tuple, list)) and not hasattr(obj, "_fields"):
        return ("tuple" if isinstance(obj, tuple) else "list",
                [_flatten(o, leaves) for o in obj])
    if isinstance(obj, tuple):  # a namedtuple: rebuilt with its own class
        return ("namedtuple", type(obj), [_flatten(o, leaves) for o in obj])
    if isinstance(obj, dict):
        keys = list(obj)
        return ("dict", keys, [_flatten(obj[k], leaves) for k in keys])
    return ("const", obj)


def unflatten(spec: Any, leaves: list[Any]) -> Any:
    """Rebuild the structure ``spec`` describes, taking tensors from ``leaves`` in order.

    Example:
        >>> leaves, spec = flatten([1, 2])
        >>> unflatten(spec, [])
        [1, 2]
    """
    it = iter(leaves)
    return _unflatten(spec, it)


def _unflatten(spec: Any, it: Any) -> Any:
    if spec == LEAF:
        return next(it)
    kind = spec[0]
    if kind == "const":
        return spec[1]
    if kind == "tuple":
        return tuple(_unflatten(s, it) for s in spec[1])
    if kind == "list":
        return [_unflatten(s, it) for s in spec[1]]
    if kind == "namedtuple":
        return spec[1](*[_unflatten(s, it) for s in spec[2]])
    keys = spec[1]
    return {k: _unflatten(s, it) for k, s in zip(keys, spec[2])}
