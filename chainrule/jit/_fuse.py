"""Element-wise fusion: chains of element-wise ops become one generated NumPy kernel.

NumPy runs one pass per ufunc, so fusion here does not save memory passes the way a GPU
kernel would; what it saves is what costs most on small and mid-sized tensors: the Python
dispatch of each op and the allocation of each intermediate. A fused group is a chain (a
tree) of element-wise nodes of one output shape whose intermediates have no other reader;
it becomes one :class:`Fused` node whose kernel is a Python function generated from the
group, calling the ufuncs with ``out=`` so that every intermediate lands in the output
buffer (or in a preallocated temporary where an op cannot work in place):

    def fused_0(a0, a1, out):
        # v1 = add(v0, fc1.bias)
        _np.add(a0, a1, out=out)
        # v2 = relu(v1)
        _np.maximum(out, _zero_f32, out=out)
        return out

The templates below are the element-wise ops' forwards written with ``out=``; each says
which inputs it may overwrite (``inplace``), which the fusion and the memory planner use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd.op import OPS
from chainrule.jit._ir import Graph, Kernel, Node, Value, comment_text

__all__ = ["fuse_elementwise", "Fused", "TEMPLATES", "lower_elementwise"]


class _Template:
    """How to compute one element-wise op into ``out``: ``emit(args, out, params, const)``
    returns code lines; ``inplace`` holds the input positions ``out`` may alias."""

    def __init__(self, emit: Callable[..., list[str]], inplace: tuple[int, ...]) -> None:
        self.emit = emit
        self.inplace = frozenset(inplace)


def _ufunc(name: str, arity: int) -> _Template:
    def emit(args: list[str], out: str, params: dict, const: Callable[..., str]) -> list[str]:
        return [f"_np.{name}({', '.join(args)}, out={out})"]
    return _Template(emit, tuple(range(arity)))


def _relu(args: list[str], out: str, params: dict, const: Callable[..., str]) -> list[str]:
    return [f"_np.maximum({args[0]}, {const(0)}, out={out})"]


def _sigmoid(args: list[str], out: str, params: dict, const: Callable[..., str]) -> list[str]:
    # 0.5 * (1 + tanh(x / 2)): Sigmoid.forward's formula, which never overflows
    h = const(0.5)
    return [f"_np.multiply({args[0]}, {h}, out={out})", f"_np.tanh({out}, out={out})",
            f"_np.multiply({out}, {h}, out={out})", f"_np.add({out}, {h}, out={out})"]


def _tanh_backward(args: list[str], out: str, params: dict,
                   const: Callable[..., str]) -> list[str]:
    g, y = args  # g (1 - y^2)
    return [f"_np.multiply({y}, {y}, out={out})", f"_np.subtract({const(1)}, {out}, out={out})",
            f"_np.multiply({out}, {g}, out={out})"]


def _sigmoid_backward(args: list[str], out: str, params: dict,
                      const: Callable[..., str]) -> list[str]:
    g, y = args  # g y (1 - y)
    return [f"_np.subtract({const(1)}, {y}, out={out})", f"_np.multiply({out}, {y}, out={out})",
            f"_np.multiply({out}, {g}, out={out})"]


def _relu_backward(args: list[str], out: str, params: dict,
                   const: Callable[..., str]) -> list[str]:
    g, y = args  # g [y > 0]; a NaN or inf gradient at a dead unit still gives 0 (as torch)
    return [f"_relu_bwd({g}, {y}, {const(0)}, {out})"]


def _relu_bwd(g: Any, y: Any, zero: Any, out: Any) -> Any:
    """ReluBackward.forward into ``out``: the mask as floats, multiplied in place."""
    if np.isfinite(g).all():
        np.greater(y, zero, out=out)
        np.multiply(out, g, out=out)
    else:
        out[...] = np.where(y > zero, g, zero)
    return out


def _pow_scalar(args: list[str], out: str, params: dict, const: Callable[..., str]) -> list[str]:
    e = params["exponent"]
    if e == 2:
        return [f"_np.multiply({args[0]}, {args[0]}, out={out})"]
    return [f"_np.power({args[0]}, {float(e)!r}, out={out})"]


TEMPLATES: dict[str, _Template] = {
    "add": _ufunc("add", 2), "sub": _ufunc("subtract", 2), "mul": _ufunc("multiply", 2),
    "div": _ufunc("divide", 2), "neg": _ufunc("negative", 1), "exp": _ufunc("exp", 1),
    "expm1": _ufunc("expm1", 1), "log": _ufunc("log", 1), "log1p": _ufunc("log1p", 1),
    "sqrt": _ufunc("sqrt", 1), "sin": _ufunc("sin", 1), "cos": _ufunc("cos", 1),
    "tanh": _ufunc("tanh", 1), "abs": _ufunc("absolute", 1),
    "maximum": _ufunc("maximum", 2), "minimum": _ufunc("minimum", 2),
    "relu": _Template(_relu, (0,)),
    "sigmoid": _Template(_sigmoid, (0,)),
    "tanh_backward": _Template(_tanh_backward, (1,)),
    "sigmoid_backward": _Template(_sigmoid_backward, ()),
    "relu_backward": _Template(_relu_backward, (1,)),
    "pow_scalar": _Template(_pow_scalar, (0,)),
}


def template_of(node: Node) -> _Template | None:
    """The template of an element-wise node of floating dtype, or None."""
    if isinstance(node.target, Kernel) or len(node.outputs) != 1:
        return None
    t = TEMPLATES.get(node.target.name)
    if t is None or OPS.get(node.target.name) is None:
        return None
    out = node.out
    if out.dtype is None or out.dtype.kind != "f" or not out.shape:
        return None
    if node.target.name == "pow_scalar" and not isinstance(node.params.get("exponent"),
                                                           (int, float)):
        return None
    for v in node.inputs:
        if v.dtype != out.dtype:
            return None
    return t


class _Consts:
    """0-d constants of generated code, one per (value, dtype), bound in its namespace."""

    def __init__(self, env: dict[str, Any], dtype: Any) -> None:
        self.env = env
        self.dtype = np.dtype(dtype)

    def __call__(self, value: float) -> str:
        name = f"_k{str(value).replace('.', '_').replace('-', 'm')}_{self.dtype.name}"
        if name not in self.env:
            arr = np.asarray(value, dtype=self.dtype)
            arr.flags.writeable = False
            self.env[name] = arr
        return name


class Fused(Kernel):
    """A group of element-wise nodes run as one generated function.

    ``members`` are the group's nodes (in order, the last one defines the output); the
    node's inputs are the values the group reads from outside. ``inplace_inputs`` are the
    input positions whose buffer the output may take (see the memory planner).
    """

    n_outputs = 1
    pure = True

    def __init__(self, name: str, members: list[Node], inputs: list[Value]) -> None:
        self.name = name
        self.members = members
        self.inputs = inputs
        out = members[-1].out
        self.shape, self.dtype = out.shape, out.dtype
        self.env: dict[str, Any] = {"_np": np, "_relu_bwd": _relu_bwd}
        self.source, self.inplace_inputs = self._generate()
        code = compile(self.source, f"<chainrule.jit {name}>", "exec")
        exec(code, self.env)  # noqa: S102  (generated above from the graph's nodes)
        self.fn = self.env[name]

    def _generate(self) -> tuple[str, frozenset[int]]:
        members = self.members
        index = {id(m): i for i, m in enumerate(members)}
        producer = {id(o): m for m in members for o in m.outputs}
        ext = {id(v): f"a{i}" for i, v in enumerate(self.inputs)}
        storage: dict[int, str] = {id(members[-1]): "out"}
        temps: list[str] = []
        for m in reversed(members):
            ins = [(k, producer[id(v)]) for k, v in enumerate(m.inputs) if id(v) in producer]
            tmpl = template_of(m)
            assert tmpl is not None
            # The producer computed last may write into this node's storage, if the
            # template allows that input to alias its output; the others get temporaries.
            ins.sort(key=lambda kp: index[id(kp[1])])
            chosen = None
            if ins and ins[-1][0] in tmpl.inplace and sum(1 for k, p in ins
                                                          if p is ins[-1][1]) == 1:
                chosen = ins[-1][1]
                storage[id(chosen)] = storage[id(m)]
            for _, p in ins:
                if p is not chosen and id(p) not in storage:
                    name = f"_t{len(temps)}"
                    temps.append(name)
                    storage[id(p)] = name
        for name in temps:
            self.env[name] = np.empty(self.shape, dtype=self.dtype)
        const = _Consts(self.env, self.dtype)
        args = ", ".join(ext[id(v)] for v in self.inputs)
        lines = [f"def {self.name}({args}{', ' if args else ''}out):"]
        for m in members:
            names = []
            for v in m.inputs:
                p = producer.get(id(v))
                names.append(storage[id(p)] if p is not None else ext[id(v)])
            tmpl = template_of(m)
            assert tmpl is not None
            ins_text = comment_text(", ".join(v.name for v in m.inputs))
            lines.append(f"    # {m.out.name} = {m.target.name}({ins_text})")
            lines.extend("    " + ln for ln in tmpl.emit(names, storage[id(m)], m.params, const))
        lines.append("    return out")
        # External inputs the output may alias: read only by the first node that writes
        # `out`, at positions its template allows.
        writers = [m for m in members if storage[id(m)] == "out"]
        first = writers[0]
        inplace = set()
        tmpl = template_of(first)
        for i, v in enumerate(self.inputs):
            readers = [(m, k) for m in members for k, u in enumerate(m.inputs) if u is v]
            if (all(m is first and k in tmpl.inplace for m, k in readers)  # type: ignore
                    and v.shape == self.shape and v.dtype == self.dtype):
                inplace.add(i)
        return "\n".join(lines) + "\n", frozenset(inplace)

    def forward(self, *arrays: Any) -> Any:
        return self.fn(*arrays, np.empty(self.shape, dtype=self.dtype))

    def apply(self, *tensors: Any) -> Any:
        env = {id(v): t for v, t in zip(self.inputs, tensors)}
        for m in self.members:
            out = m.target.apply(*[env[id(v)] for v in m.inputs], **m.params)
            env[id(m.out)] = out
        return env[id(self.members[-1].out)]

    def describe(self, params: dict[str, Any]) -> str:
        return "[" + ", ".join(m.target.name for m in self.members) + "]"

    def codegen(self, node: Node, args: list[str], outs: list[str | None],
                ns: Any) -> list[str]:
        fn = ns.bind(self.fn, "_fused")
        out = node.out
        return [f"{out.name} = {fn}({', '.join(args)}{', ' if args else ''}{out_expr(out, ns)})"]


def out_expr(v: Value, ns: Any) -> str:
    """Where the code computing ``v`` writes: its planned buffer, the array of the value it
    overwrites in place, or a new array."""
    b = v.buffer
    if isinstance(b, int):
        return f"_b{b}"
    if isinstance(b, Value):
        return b.name
    return f"_np.empty({v.shape!r}, {ns.bind(v.dtype, '_dt')})"


def lower_elementwise(node: Node, args: list[str], ns: Any) -> list[str] | None:
    """Code computing one element-wise node into its buffer (codegen's lowering)."""
    tmpl = template_of(node)
    if tmpl is None:
        return None
    out = node.out
    const = _Consts(ns.env, out.dtype)
    ns.env.setdefault("_relu_bwd", _relu_bwd)
    target = out_expr(out, ns)
    if target.startswith("_np.empty"):
        lines = [f"{out.name} = {target}"]
        target = out.name
    elif target != out.name:
        lines = [f"{out.name} = {target}"]
        target = out.name
    else:
        lines = []
    return lines + tmpl.emit(args, target, node.params, const)


def fuse_elementwise(graph: Graph, *, min_size: int = 2) -> Graph:
    """Replace chains of element-wise nodes by :class:`Fused` nodes (generated kernels).

    Two element-wise nodes of one output shape are fused when the first one's output is
    read only by the second (and is not an output of the graph); nodes that read a buffer
    an effect updates in place stay apart (they must not move past the update).

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x, b: ((x + b).relu() * 2).exp(), (chainrule.ones(2, 3),
        ...                                                        chainrule.ones(3)))
        >>> f = jit.passes.fuse_elementwise(g)
        >>> [n.target.name for n in f.nodes]
        ['fused_0']
        >>> print(f.nodes[0].target.source)
        def fused_0(a0, a1, a2, out):
            # v0 = add(x, b)
            _np.add(a0, a1, out=out)
            # v1 = relu(v0)
            _np.maximum(out, _k0_float32, out=out)
            # v2 = mul(v1, c0)
            _np.multiply(out, a2, out=out)
            # v3 = exp(v2)
            _np.exp(out, out=out)
            return out
        <BLANKLINE>
    """
    g = graph.copy()
    users = g.users()
    outputs = set(g.outputs)
    mutated = {v for n in g.nodes if isinstance(n.target, Kernel) and n.target.effect
               for v in n.inputs if v.kind == "param"}
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    pos = {id(n): i for i, n in enumerate(g.nodes)}
    fusible = [template_of(n) is not None and not any(v in mutated for v in n.inputs)
               for n in g.nodes]
    for i, node in enumerate(g.nodes):
        if not fusible[i]:
            continue
        for v in node.inputs:
            p = v.producer
            if (v.kind == "node" and p is not None and fusible[pos[id(p)]]
                    and p.out.shape == node.out.shape and v not in outputs
                    and len(users.get(v, [])) == 1):
                parent[find(pos[id(p)])] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(g.nodes)):
        if fusible[i]:
            groups.setdefault(find(i), []).append(i)
    new_nodes: list[Node] = []
    placed: dict[int, list[int]] = {}
    for members in groups.values():
        if len(members) >= min_size:
            placed[max(members)] = members
    skip = {i for ms in placed.values() for i in ms}
    count = 0
    for i, node in enumerate(g.nodes):
        if i in placed:
            members = [g.nodes[k] for k in sorted(placed[i])]
            inside = {id(o) for m in members for o in m.outputs}
            ext: list[Value] = []
            for m in members:
                for v in m.inputs:
                    if id(v) not in inside and all(v is not e for e in ext):
                        ext.append(v)
            kernel = Fused(f"fused_{count}", members, ext)
            count += 1
            out = members[-1].out
            fused = Node(kernel, ext, {}, [out])
            out.producer = fused
            out.index = 0
            new_nodes.append(fused)
        elif i not in skip:
            new_nodes.append(node)
    g.nodes = new_nodes
    g.kernels_source = [n.target.source for n in g.nodes if isinstance(n.target, Fused)]
    g.invalidate()
    return g
