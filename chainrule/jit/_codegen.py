"""Code generation: one Python function per graph, with no per-op dispatch.

:func:`build_executor` writes the source of a function that takes the graph's input arrays
and returns its output arrays: one line per node, calling the op's ``forward`` directly (its
static parameters bound once with ``functools.partial``) or, for the ops it knows, the NumPy
calls themselves. Values the memory planner gave a buffer (``Value.buffer``) are computed
into that preallocated buffer with ``out=``. The source is generated from the graph alone
(names are the graph's value names, never user strings) and compiled with ``exec``; it is
kept in ``executor.source`` and printed by ``print(graph.code)``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from chainrule._backend import threads
from chainrule.jit._ir import Graph, Kernel, Node, Value, comment_text

__all__ = ["build_executor"]

class _Namespace:
    """The globals of generated code: every object it refers to, under generated names."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {"_np": np, "_asarray": np.asarray, "_nd": np.ndarray}
        self._ids: dict[int, str] = {}

    def bind(self, obj: Any, prefix: str) -> str:
        key = id(obj)
        name = self._ids.get(key)
        if name is None:
            name = f"{prefix}{len(self._ids)}"
            self._ids[key] = name
            self.env[name] = obj
        return name


def _target_call(ns: _Namespace, node: Node) -> str:
    target = node.target
    fwd = target.forward
    if node.params:
        fwd = functools.partial(fwd, **node.params)
    return ns.bind(fwd, "_f")


def build_executor(graph: Graph, *, names: dict[Value, str] | None = None) -> Any:
    """Generate, compile and return the function that runs ``graph`` on arrays.

    The returned function has a ``source`` attribute (the generated Python code).
    """
    ns = _Namespace()
    var: dict[int, str] = {}
    lines = []
    in_names = []
    for k, v in enumerate(graph.inputs):
        name = f"i{k}"
        var[id(v)] = name
        in_names.append(name)
    body: list[str] = []
    for k, v in enumerate(graph.params):
        name = f"p{k}"
        var[id(v)] = name
        body.append(f"    {name} = {ns.bind(v.ref, '_P')}._data  # {comment_text(v.name)}")
    for v in graph.consts:
        var[id(v)] = ns.bind(v.data, "_c")
    buffers = getattr(graph, "buffers", None) or []
    for b, arr in enumerate(buffers):
        ns.env[f"_b{b}"] = arr
    for node in graph.nodes:
        for o in node.outputs:
            if o is not None:
                var[id(o)] = o.name
        args = [var[id(v)] for v in node.inputs]
        body.extend("    " + ln for ln in _node_code(ns, node, args, var))
    outs = [var[id(v)] for v in graph.outputs]
    ret = f"({', '.join(outs)}{',' if len(outs) == 1 else ''})"
    lines.append(f"def run({', '.join(in_names)}):")
    lines.extend(body)
    lines.append(f"    return {ret}")
    source = "\n".join(lines) + "\n"
    code = compile(source, f"<chainrule.jit {graph.name}>", "exec")
    exec(code, ns.env)  # noqa: S102  (source generated above from the graph, no user text)
    fn = ns.env["run"]
    fn.source = source
    fn.namespace = ns.env
    return fn


def _matmul_code(node: Node, args: list[str], ns: _Namespace) -> list[str]:
    from chainrule.jit._fuse import out_expr

    out = node.out
    target = out_expr(out, ns)
    lines = [f"{out.name} = {target}"] if target != out.name else []
    x, y = args[-2:]
    # a column-major buffer (memory planning chose it): compute the transposed product,
    # y.T @ x.T, into its row-major transpose (the same dot products, a faster BLAS path)
    buf = ns.env.get(target) if isinstance(out.buffer, int) else None
    # (threads.matmul: OpenBLAS's threads, or chainrule's while it splits other work, such
    # as convolutions, so that the two never spin against each other on the same cores)
    ns.env.setdefault("_mm", threads.matmul)
    if buf is not None and buf.flags.f_contiguous and not buf.flags.c_contiguous:
        mm = f"_mm({y}.T, {x}.T, {out.name}.T)"
    else:
        mm = f"_mm({x}, {y}, {out.name})"
    if node.target.name == "addmm":
        return lines + [mm, f"_np.add({out.name}, {args[0]}, out={out.name})"]
    return lines + [mm]


def _column_sum_code(ns: _Namespace, node: Node, args: list[str]) -> list[str] | None:
    """A bias's gradient, ``(M, N) -> (N,)``, as ``ones(M) @ g``: one BLAS call, where NumPy's
    ``sum(axis=0)`` over a column-major ``g`` (memory planning lays out a batch's activations
    so) runs one short reduction per column, about six times slower."""
    (x,) = node.inputs
    out = node.out
    if (x.shape is None or len(x.shape) != 2 or out.shape != x.shape[1:]
            or x.dtype.kind != "f" or out.dtype != x.dtype):
        return None
    ones = ns.bind(np.ones(x.shape[0], dtype=x.dtype), "_ones")
    return [f"{out.name} = _np.matmul({ones}, {args[0]})"]


def _node_code(ns: _Namespace, node: Node, args: list[str], var: dict[int, str]) -> list[str]:
    from chainrule.jit._fuse import lower_elementwise
    from chainrule.jit._memory import lowerable_matmul

    target = node.target
    outs = node.outputs
    if not isinstance(target, Kernel) and len(outs) == 1:
        code = lower_elementwise(node, args, ns)
        if code is not None:
            return code
        if lowerable_matmul(node):
            return _matmul_code(node, args, ns)
    if not isinstance(target, Kernel) and target.name == "sum_to_size":
        code = _column_sum_code(ns, node, args)
        if code is not None:
            return code
    gen = getattr(target, "codegen", None)
    if gen is not None:
        code = gen(node, args, [None if o is None else o.name for o in outs], ns)
        if code is not None:
            return code
    call = f"{_target_call(ns, node)}({', '.join(args)})"
    if len(outs) == 0:
        return [call]
    if len(outs) == 1:
        o = outs[0]
        lines = [f"{o.name} = {call}"]
        if o.is_array and o.shape == ():
            lines.append(f"if {o.name}.__class__ is not _nd: {o.name} = _asarray({o.name})")
        return lines
    names = ", ".join("_" if o is None else o.name for o in outs)
    lines = [f"{names}, = {call}" if len(outs) == 1 else f"{names} = {call}"]
    for o in outs:
        if o is not None and o.is_array and o.shape == ():
            lines.append(f"if {o.name}.__class__ is not _nd: {o.name} = _asarray({o.name})")
    return lines
