"""Graph passes. Each takes a graph and returns a transformed copy that computes the same
outputs; each can be run alone, and :func:`optimize` runs the ones switched on.

- :func:`eliminate_dead_code`: drop nodes whose outputs nothing reads (effects stay).
- :func:`eliminate_common_subexpressions`: one node for equal ops on equal inputs.
- :func:`fold_constants`: evaluate, once, the nodes whose inputs are all constants.
- :func:`simplify`: algebraic identities (``x * 1``, ``x + 0``, ``-(-x)``, a transpose of a
  transpose, a reshape of a reshape, reshapes and expands to the same shape).
- :func:`~chainrule.jit._fuse.fuse_elementwise`: element-wise chains into generated NumPy
  kernels that write into preallocated buffers.
- :func:`~chainrule.jit._memory.plan_memory`: liveness analysis; values reuse the buffers of
  dead values of the same size and dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.jit._ir import Graph, Kernel, Node, Value, is_pure

__all__ = ["eliminate_dead_code", "eliminate_common_subexpressions", "fold_constants",
           "simplify", "optimize", "PASSES"]


def _is_effect(node: Node) -> bool:
    return isinstance(node.target, Kernel) and node.target.effect


def eliminate_dead_code(graph: Graph) -> Graph:
    """Remove nodes whose outputs are not read by any output or kept node.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> def f(x):
        ...     unused = x.exp()
        ...     return x * 2
        >>> g = jit.trace(f, chainrule.ones(2))
        >>> len(g), len(jit.passes.eliminate_dead_code(g))
        (2, 1)
    """
    g = graph.copy()
    live = set(g.outputs)
    kept = []
    for node in reversed(g.nodes):
        if _is_effect(node) or any(o is not None and o in live for o in node.outputs):
            kept.append(node)
            live.update(node.inputs)
    g.nodes = kept[::-1]
    g.consts = [v for v in g.consts if v in live]
    g.invalidate()
    return g


def _rewired(g: Graph, kept: list[Node], mapping: dict[Value, Value],
             prune_consts: bool = False) -> Graph:
    """``g`` with only the ``kept`` nodes and its outputs read through ``mapping`` (the values
    a pass replaced by others); with ``prune_consts``, the constants nothing uses dropped."""
    g.nodes = kept
    g.outputs = [mapping.get(v, v) for v in g.outputs]
    if prune_consts:
        used = {v for n in g.nodes for v in n.inputs} | set(g.outputs)
        g.consts = [v for v in g.consts if v in used]
    g.invalidate()
    return g


def _freeze(x: Any) -> Any:
    """A hashable key for an op's static parameter (arrays by identity)."""
    if isinstance(x, np.ndarray):
        return ("array", id(x))
    if isinstance(x, (tuple, list)):
        return (type(x).__name__,) + tuple(_freeze(v) for v in x)
    if isinstance(x, dict):
        return ("dict",) + tuple((k, _freeze(v)) for k, v in x.items())
    hash(x)
    return x


def _const_key(v: Value) -> Any:
    if v.data.size > 16:
        return None
    return (v.dtype.str, v.shape, np.ascontiguousarray(v.data).tobytes())


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Compute each pure op on the same inputs with the same parameters once; small equal
    constants are merged first. A buffer updated in place by an effect (batch norm's running
    statistics) counts as a new input after the update.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: x.exp() + x.exp(), chainrule.ones(2))
        >>> len(g), len(jit.passes.eliminate_common_subexpressions(g))
        (3, 2)
    """
    g = graph.copy()
    mapping: dict[Value, Value] = {}
    seen_consts: dict[Any, Value] = {}
    for v in g.consts:
        key = _const_key(v)
        if key is None:
            continue
        if key in seen_consts:
            mapping[v] = seen_consts[key]
        else:
            seen_consts[key] = v
    g.replace_uses(mapping)
    epoch: dict[Value, int] = {}
    seen: dict[Any, Node] = {}
    kept = []
    mapping = {}
    for node in g.nodes:
        node.inputs = [mapping.get(v, v) for v in node.inputs]
        if _is_effect(node):
            for v in node.inputs:
                if v.kind == "param":
                    epoch[v] = epoch.get(v, 0) + 1
            kept.append(node)
            continue
        key = None
        if is_pure(node.target):
            try:
                target_key = _target_key(node.target)
                key = (target_key, tuple((id(v), epoch.get(v, 0)) for v in node.inputs),
                       _freeze(node.params))
            except TypeError:
                key = None
        if key is not None and key in seen:
            for old, new in zip(node.outputs, seen[key].outputs):
                if old is not None and new is not None:
                    mapping[old] = new
            continue
        if key is not None:
            seen[key] = node
        kept.append(node)
    return _rewired(g, kept, mapping, prune_consts=True)


def _target_key(target: Any) -> Any:
    from chainrule.jit._kernels import Call

    if isinstance(target, Call):
        return ("call", target.fn, target.name, _freeze(target.spec),
                _freeze(list(target.shown.items())))
    if isinstance(target, Kernel):
        return target
    return ("op", target.name)  # variants of one primitive (other grad_fn names) compute alike


# Constant folding materializes its results: a fold may not grow the constants beyond this
# (an expand of a scalar to a large shape stays an op).
_FOLD_LIMIT_BYTES = 1 << 16
# Views cost nothing at run time; folding one would store a copy (a transposed weight): kept.
_NO_FOLD = frozenset({"permute", "expand"})


def fold_constants(graph: Graph) -> Graph:
    """Evaluate pure nodes whose inputs are all constants, once, at compile time.

    Parameters and buffers are never folded (they are read at every call), nor transposes
    and expands (views, free at run time), and a result is kept only when it is no larger
    than its inputs (or 64 KB). Like every pass but
    dead-code elimination, it leaves the nodes it made useless for that pass to remove.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: x * (chainrule.tensor([1., 2.]) * 3).exp(), chainrule.ones(2))
        >>> len(g), len(jit.passes.fold_constants(g))
        (3, 1)
    """
    g = graph.copy()
    mapping: dict[Value, Value] = {}
    kept = []
    for node in g.nodes:
        node.inputs = [mapping.get(v, v) for v in node.inputs]
        if (node.outputs and is_pure(node.target) and all(v.kind == "const" for v in node.inputs)
                and all(o is not None and o.is_array for o in node.outputs)
                and node.target.name not in _NO_FOLD):
            limit = max(sum(v.data.nbytes for v in node.inputs), _FOLD_LIMIT_BYTES)
            size = sum(int(np.prod(o.shape)) * o.dtype.itemsize for o in node.outputs)
            if size <= limit:
                out = node.target.forward(*[v.data for v in node.inputs], **node.params)
                outs = [out] if len(node.outputs) == 1 else list(out)
                for o, a in zip(node.outputs, outs):
                    c = g.add_const(np.asarray(a))
                    mapping[o] = c
                continue
        kept.append(node)
    return _rewired(g, kept, mapping, prune_consts=True)


def _const_equals(v: Value, number: float) -> bool:
    return v.kind == "const" and v.data.size <= 4096 and bool(np.all(v.data == number))


def _compose(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    # permute(permute(x, first), second)[i] = x axis first[second[i]]
    return tuple(first[i] for i in second)


def simplify(graph: Graph) -> Graph:
    """Algebraic simplification: ``x * 1``, ``1 * x``, ``x / 1``, ``x + 0``, ``0 + x``,
    ``x - 0``, ``-(-x)``, ``x ** 1``, a permute of a permute (composed, or removed when it is
    the identity), a reshape of a reshape, and reshapes, expands and sums to the same shape.
    A rewrite applies only where the result keeps the node's shape and dtype.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: (-(-x)).t().t() * 1 + 0, chainrule.ones(2, 3))
        >>> s = jit.passes.simplify(g)
        >>> len(g), len(s), len(jit.passes.eliminate_dead_code(s))
        (6, 3, 1)
    """
    g = graph.copy()
    mapping: dict[Value, Value] = {}
    outputs = set(g.outputs)
    kept = []
    for node in g.nodes:
        node.inputs = [mapping.get(v, v) for v in node.inputs]
        if isinstance(node.target, Kernel) or len(node.outputs) != 1:
            kept.append(node)
            continue
        out = node.out
        same = _identity_of(node)
        if same is not None and same.shape == out.shape and same.dtype == out.dtype and not (
                out in outputs and same.kind != "node"):
            mapping[out] = same
            continue
        _rewrite_chain(node)
        if node.target.name == "permute" and node.params["dims"] == tuple(range(len(out.shape))):
            if not (out in outputs and node.inputs[0].kind != "node"):
                mapping[out] = node.inputs[0]
                continue
        kept.append(node)
    return _rewired(g, kept, mapping)


def _identity_of(node: Node) -> Value | None:
    """The input this node returns unchanged, if it is an identity."""
    name = node.target.name
    ins = node.inputs
    if name in ("mul", "add", "sub", "div") and len(ins) == 2:
        x, y = ins
        unit = 1 if name in ("mul", "div") else 0
        if _const_equals(y, unit):
            return x
        if name in ("mul", "add") and _const_equals(x, unit):
            return y
    if name == "neg":
        src = ins[0].producer
        if src is not None and src.target.name == "neg" and ins[0].kind == "node":
            return src.inputs[0]
    if name == "pow_scalar" and node.params.get("exponent") == 1:
        return ins[0]
    if name in ("reshape", "expand", "sum_to_size") and ins[0].shape == node.out.shape:
        return ins[0]
    return None


def _rewrite_chain(node: Node) -> None:
    """permute(permute(x)) -> permute(x); reshape(reshape(x)) -> reshape(x)."""
    name = node.target.name
    src = node.inputs[0].producer if node.inputs else None
    if (src is None or node.inputs[0].kind != "node" or isinstance(src.target, Kernel)
            or src.target.name != name):
        return
    if name == "permute":
        node.inputs = [src.inputs[0]]
        node.params = dict(node.params, dims=_compose(src.params["dims"], node.params["dims"]))
    elif name == "reshape":
        node.inputs = [src.inputs[0]]
        node.params = dict(node.params, src=src.inputs[0].shape)


PASSES = ("dce", "cse", "fold", "simplify", "fuse", "plan_memory")


def optimize(graph: Graph, *, dce: bool = True, cse: bool = True, fold: bool = True,
             simplify: bool = True, fuse: bool = True, plan_memory: bool = True,
             keep_outputs_fresh: bool = True) -> Graph:
    """Run the switched-on passes and return the optimized copy.

    Args:
        graph: a traced graph (not changed).
        dce, cse, fold, simplify, fuse, plan_memory: switch each pass on or off.
        keep_outputs_fresh: the graph's outputs get new arrays at every call (never a
            planned buffer that the next call overwrites).

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: (x * 1).exp() + (x * 1).exp(), chainrule.ones(2))
        >>> opt = jit.optimize(g, fuse=False, plan_memory=False)
        >>> [n.target.name for n in opt.nodes]
        ['exp', 'add']
    """
    from chainrule.jit._fuse import fuse_elementwise
    from chainrule.jit._memory import plan_memory as plan

    g = graph
    if simplify:
        g = globals()["simplify"](g)
    if fold:
        g = fold_constants(g)
    if cse:
        g = eliminate_common_subexpressions(g)
    if simplify:
        g = globals()["simplify"](g)
    if dce:
        g = eliminate_dead_code(g)
    if fuse:
        g = fuse_elementwise(g)
    if plan_memory:
        g = plan(g, keep_outputs_fresh=keep_outputs_fresh)
    if g is graph:
        g = graph.copy()
    return g
