"""The graph IR: values, nodes and the graph that holds them, printed like a jaxpr.

A :class:`Graph` is a straight-line program in SSA form. Each :class:`Value` is one tensor
(inputs, module parameters and buffers, constants, and the outputs of nodes); each
:class:`Node` applies a *target* to values and defines new ones. A target is either a
primitive of the one op registry (``chainrule.autograd.op.OPS``: the same class eager mode
runs, with its forward, vjp and jvp) or a :class:`Kernel`, an operation that only exists in
graphs (a fused element-wise group, a call into an eager function, a vjp rule run as a
whole).

The graph runs three ways: ``graph.run_arrays`` interprets it on arrays (each node calls its
target's ``forward``), ``graph.run_tensors`` interprets it on tensors through ``Op.apply``
(autograd records as in eager mode), and calling the graph runs the generated code of
:mod:`chainrule.jit._codegen` (one Python function for the whole graph, no per-op dispatch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd.grad_mode import STATE, no_grad
from chainrule.autograd.op import Op
from chainrule.jit import _tree
from chainrule.tensor import Tensor

__all__ = ["Value", "Node", "Graph", "Kernel", "dtype_str", "target_name", "is_pure"]

_DTYPE_SHORT = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64",
                "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "b8"}

_ndarray = np.ndarray


def dtype_str(shape: tuple[int, ...] | None, dtype: Any) -> str:
    """``f32[32, 784]``: the short type of a value, as a jaxpr prints it.

    Example:
        >>> import numpy as np
        >>> dtype_str((2, 3), np.dtype(np.float32)), dtype_str((), np.dtype(np.int64))
        ('f32[2, 3]', 'i64[]')
    """
    if shape is None:
        return "object"
    name = _DTYPE_SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)
    return f"{name}[{', '.join(str(s) for s in shape)}]"


def comment_text(text: str) -> str:
    """``text`` made safe for a ``#`` comment in generated code: on one line, so that no name
    (a parameter's, which a user chose) can end the comment and become code.

    Example:
        >>> comment_text("fc1.weight" + chr(10) + "import os")
        'fc1.weight import os'
    """
    return " ".join(str(text).splitlines())


class Kernel:
    """An operation that exists only in graphs (not a registry primitive).

    Subclasses define ``forward(*arrays, **params)`` (arrays in; one array, or a tuple when
    ``n_outputs > 1``) and ``apply(*tensors, **params)`` (the same on tensors, recording
    autograd). ``pure`` kernels may be merged by common-subexpression elimination and
    evaluated by constant folding; ``effect`` kernels (random draws, buffer updates) are
    never removed or reordered past one another.

    Example:
        >>> class Double(Kernel):
        ...     name = "double"
        ...     def forward(self, x):
        ...         return x * 2
        >>> Double().name
        'double'
    """

    name = "kernel"
    n_outputs = 1
    pure = True
    effect = False

    def forward(self, *arrays: Any, **params: Any) -> Any:
        raise NotImplementedError

    def apply(self, *tensors: Any, **params: Any) -> Any:
        """Run on tensors; the default wraps ``forward`` (no gradient)."""
        with no_grad():
            out = self.forward(*[t._data if isinstance(t, Tensor) else t for t in tensors],
                               **params)
        if self.n_outputs == 1:
            return _backend.wrap(_as_array(out))
        return tuple(_wrap_any(o) for o in out)

    def describe(self, params: dict[str, Any]) -> str:
        """The parameters as printed after the node's inputs."""
        return _format_params(params)

    def __repr__(self) -> str:
        return f"<kernel {self.name}>"


def target_name(target: Any) -> str:
    """The printed name of a node's target: the op's registry name or the kernel's name."""
    return target.name


def is_pure(target: Any) -> bool:
    """Whether equal inputs give equal outputs with no side effect (CSE and folding apply)."""
    if isinstance(target, Kernel):
        return target.pure and not target.effect
    return True


def n_outputs(target: Any) -> int:
    return target.n_outputs if isinstance(target, Kernel) else 1


class Value:
    """One tensor of a graph: an input, a parameter or buffer, a constant, or a node output.

    Attributes:
        name: the printed name (``x``, ``fc1.weight``, ``c0``, ``v3``).
        kind: ``'input'``, ``'param'`` (read from its tensor at every call), ``'const'``
            (captured at trace time) or ``'node'``.
        shape, dtype: static, known at trace time (``None`` for non-array values).
        producer, index: the node that defines it and its output position (node values).
        data: a constant's array; ref: a parameter's tensor.
        requires_grad: an input or parameter that takes a gradient.
        buffer: the preallocated buffer the memory planner gave it, if any.

    Example:
        >>> import numpy as np
        >>> v = Value("x", "input", (2,), np.dtype(np.float32))
        >>> v
        x: f32[2]
    """

    __slots__ = ("name", "kind", "shape", "dtype", "producer", "index", "data", "ref",
                 "requires_grad", "buffer", "__weakref__")

    def __init__(self, name: str, kind: str, shape: tuple[int, ...] | None, dtype: Any,
                 producer: Node | None = None, index: int = 0, data: Any = None,
                 ref: Any = None, requires_grad: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.shape = None if shape is None else tuple(shape)
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.producer = producer
        self.index = index
        self.data = data
        self.ref = ref
        self.requires_grad = requires_grad
        self.buffer: int | None = None

    @property
    def type(self) -> str:
        """``f32[2, 3]``."""
        return dtype_str(self.shape, self.dtype)

    @property
    def is_array(self) -> bool:
        return self.shape is not None

    def __repr__(self) -> str:
        return f"{self.name}: {self.type}"


class Node:
    """One operation of a graph: ``outputs = target(*inputs, **params)``.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: (x * 2).exp(), (chainrule.ones(3),))
        >>> [n.target.name for n in g.nodes]
        ['mul', 'exp']
    """

    __slots__ = ("target", "inputs", "params", "outputs")

    def __init__(self, target: Any, inputs: list[Value], params: dict[str, Any],
                 outputs: list[Value | None]) -> None:
        self.target = target
        self.inputs = list(inputs)
        self.params = dict(params)
        self.outputs = list(outputs)

    @property
    def out(self) -> Value:
        """The single output (most nodes have one)."""
        return self.outputs[0]  # type: ignore[return-value]

    def __repr__(self) -> str:
        return _node_line(self)


def _format_value(v: Any) -> str:
    if isinstance(v, np.ndarray):
        if v.size <= 4:
            return np.array2string(v, separator=", ", threshold=4).replace("\n", "")
        return f"array({dtype_str(v.shape, v.dtype)})"
    if isinstance(v, np.dtype):
        return v.name
    if hasattr(v, "np") and hasattr(v, "is_floating_point"):  # a chainrule dtype
        return v.name
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, Op) or (isinstance(v, type) and issubclass(v, Op)):
        return v.name
    if isinstance(v, (tuple, list)):
        inner = ", ".join(_format_value(x) for x in v)
        return f"({inner}{',' if len(v) == 1 else ''})" if isinstance(v, tuple) else f"[{inner}]"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return repr(v)


def _format_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_format_value(v)}" for k, v in params.items())


def _node_line(node: Node) -> str:
    args = ", ".join(v.name for v in node.inputs)
    target = node.target
    params = target.describe(node.params) if isinstance(target, Kernel) else \
        _format_params(node.params)
    call = f"{target.name}({args}){'  ' + params if params else ''}"
    if not node.outputs:
        return call
    outs = ", ".join("_" if o is None else o.name for o in node.outputs)
    types = ", ".join("_" if o is None else o.type for o in node.outputs)
    bufs = [o.buffer for o in node.outputs if o is not None and o.buffer is not None]
    buf = ""
    if bufs:
        b = bufs[0]
        buf = f"  # in buffer b{b}" if isinstance(b, int) else f"  # in place of {b.name}"
    return f"{outs}: {types} = {call}{buf}"


class Graph:
    """A traced computation: inputs, parameters, constants, nodes in execution order, outputs.

    Call it like the traced function (``graph(x)``). With inputs or parameters that require
    grad (and grad mode on) it runs op by op through ``Op.apply``, so autograd records as in
    eager mode; otherwise it runs generated code, one Python function for the whole graph.
    ``print(graph)`` shows one line per op: output, type, op, inputs and parameters;
    :meth:`to_dot` draws it (Graphviz DOT, through :mod:`chainrule.viz`).

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> def f(x, y, z):
        ...     return (x + y) * z
        >>> g = jit.trace(f, (chainrule.tensor(-2.), chainrule.tensor(5.), chainrule.tensor(-4.)))
        >>> print(g)
        f(x: f32[], y: f32[], z: f32[]) {
          v0: f32[] = add(x, y)
          v1: f32[] = mul(v0, z)
          return v1
        }
        >>> g(chainrule.tensor(1.), chainrule.tensor(2.), chainrule.tensor(3.))
        tensor(9.)
    """

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.params: list[Value] = []
        self.consts: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.in_spec: Any = None
        self.out_spec: Any = _tree.LEAF
        self.kernels_source: list[str] = []  # generated code of fused kernels (for printing)
        self.specialized: list[str] = []  # what tracing specialized on (TracerWarnings)
        self.buffers: list[Any] = []  # preallocated arrays of the memory plan (Value.buffer)
        self.examples: list[Any] = []  # the example input arrays of the trace
        self._executor: Any = None
        self._counter = 0
        self._const_counter = 0

    # -- building ----------------------------------------------------------------------------
    def fresh_name(self) -> str:
        name = f"v{self._counter}"
        self._counter += 1
        return name

    def add_input(self, name: str, shape: tuple[int, ...], dtype: Any,
                  requires_grad: bool = False) -> Value:
        v = Value(name, "input", shape, dtype, requires_grad=requires_grad)
        self.inputs.append(v)
        return v

    def add_param(self, name: str, tensor: Tensor) -> Value:
        v = Value(name, "param", tensor._data.shape, tensor._data.dtype, ref=tensor,
                  requires_grad=tensor.requires_grad)
        self.params.append(v)
        return v

    def add_const(self, data: np.ndarray) -> Value:
        v = Value(f"c{self._const_counter}", "const", data.shape, data.dtype, data=data)
        self._const_counter += 1
        self.consts.append(v)
        return v

    def add_node(self, target: Any, inputs: list[Value], params: dict[str, Any],
                 types: list[tuple[Any, Any] | None]) -> Node:
        """Append ``target(*inputs, **params)`` with outputs of the given (shape, dtype)."""
        node = Node(target, inputs, params, [])
        for i, t in enumerate(types):
            if t is None:
                node.outputs.append(None)
            else:
                node.outputs.append(Value(self.fresh_name(), "node", t[0], t[1], node, i))
        self.nodes.append(node)
        self._executor = None
        return node

    def copy(self) -> Graph:
        """A copy with new values and nodes (targets, parameters' tensors and constants'
        arrays are shared): what a pass transforms, leaving the original as it was."""
        g = Graph(self.name)
        vmap: dict[int, Value] = {}

        def clone(v: Value, kind: str | None = None) -> Value:
            new = Value(v.name, v.kind, v.shape, v.dtype, None, v.index, v.data, v.ref,
                        v.requires_grad)
            new.buffer = v.buffer
            vmap[id(v)] = new
            return new

        g.inputs = [clone(v) for v in self.inputs]
        g.params = [clone(v) for v in self.params]
        g.consts = [clone(v) for v in self.consts]
        for node in self.nodes:
            new = Node(node.target, [vmap[id(v)] for v in node.inputs], node.params, [])
            for o in node.outputs:
                if o is None:
                    new.outputs.append(None)
                else:
                    c = clone(o)
                    c.producer = new
                    new.outputs.append(c)
            g.nodes.append(new)
        g.outputs = [vmap[id(v)] for v in self.outputs]
        g.in_spec, g.out_spec = self.in_spec, self.out_spec
        g.kernels_source = list(self.kernels_source)
        g.specialized = list(self.specialized)
        g._counter, g._const_counter = self._counter, self._const_counter
        g.buffers = list(self.buffers)
        g.examples = self.examples
        return g

    def replace_uses(self, mapping: dict[Value, Value]) -> None:
        """Make every reader of a key of ``mapping`` read its value instead."""
        if not mapping:
            return

        def find(v: Value) -> Value:
            while v in mapping:
                v = mapping[v]
            return v

        for node in self.nodes:
            node.inputs = [find(v) for v in node.inputs]
        self.outputs = [find(v) for v in self.outputs]
        self._executor = None

    def invalidate(self) -> None:
        """Drop the generated executor (after the graph was changed in place)."""
        self._executor = None

    # -- inspection --------------------------------------------------------------------------
    def users(self) -> dict[Value, list[Node]]:
        """For each value, the nodes that read it (in order)."""
        users: dict[Value, list[Node]] = {}
        for node in self.nodes:
            for v in node.inputs:
                users.setdefault(v, []).append(node)
        return users

    def values(self) -> Iterator[Value]:
        yield from self.inputs
        yield from self.params
        yield from self.consts
        for node in self.nodes:
            for o in node.outputs:
                if o is not None:
                    yield o

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        ins = ", ".join(repr(v) for v in self.inputs)
        lines = [f"{self.name}({ins}) {{"]
        used = {id(v) for n in self.nodes for v in n.inputs} | {id(v) for v in self.outputs}
        for v in self.params:
            if id(v) in used:
                lines.append(f"  {v.name}: {v.type} = param")
        for v in self.consts:
            if id(v) in used:
                lines.append(f"  {v.name}: {v.type} = const {_format_value(v.data)}")
        for node in self.nodes:
            lines.append("  " + _node_line(node))
        outs = ", ".join(v.name for v in self.outputs)
        lines.append(f"  return {outs if len(self.outputs) == 1 else '(' + outs + ')'}")
        lines.append("}")
        for src in self.kernels_source:
            lines.append("")
            lines.extend(src.rstrip("\n").splitlines())
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self) -> Any:
        """Graphviz drawing of the graph (a :class:`chainrule.viz.Graph`: ``.source`` is DOT,
        ``.render('g.svg')`` runs ``dot``). Inputs are blue, parameters green, constants grey.

        Example:
            >>> import chainrule
            >>> from chainrule import jit
            >>> g = jit.trace(lambda x: x.exp() * 2, (chainrule.ones(2),))
            >>> 'exp' in g.to_dot().source
            True
        """
        from chainrule.viz import Graph as DotGraph

        ids: dict[int, str] = {}
        lines = ["digraph jit {", '  rankdir="TB";', '  node [fontname="Helvetica", fontsize=10];']
        colors = {"input": "#dbeafe", "param": "#dcfce7", "const": "#f3f4f6"}
        used = {id(v) for n in self.nodes for v in n.inputs} | {id(v) for v in self.outputs}
        k = 0
        for v in [*self.inputs, *self.params, *self.consts]:
            if id(v) not in used and v.kind != "input":
                continue
            ids[id(v)] = f"s{k}"
            k += 1
            label = _escape(f"{v.name}\\n{v.type}")
            lines.append(f'  {ids[id(v)]} [label="{label}", shape=box, style="rounded,filled", '
                         f'fillcolor="{colors[v.kind]}"];')
        order = []
        for i, node in enumerate(self.nodes):
            nid = f"n{i}"
            order.append(node.target.name)
            outs = ", ".join(o.name for o in node.outputs if o is not None)
            types = ", ".join(o.type for o in node.outputs if o is not None)
            label = _escape(f"{outs} = {node.target.name}") + "\\n" + _escape(types)
            lines.append(f'  {nid} [label="{label}", shape=box, style=filled, '
                         f'fillcolor="#fef3c7"];')
            for j, v in enumerate(node.inputs):
                src = ids.get(id(v))
                if src is not None:
                    lines.append(f'  {src} -> {nid} [label="{j}", fontsize=8];')
            for o in node.outputs:
                if o is not None:
                    ids[id(o)] = nid
        for j, v in enumerate(self.outputs):
            lines.append(f'  out{j} [label="output {j}", shape=ellipse];')
            if id(v) in ids:
                lines.append(f"  {ids[id(v)]} -> out{j};")
        lines.append("}")
        return DotGraph("\n".join(lines) + "\n", order)

    # -- running -----------------------------------------------------------------------------
    def _flat_inputs(self, args: tuple[Any, ...]) -> list[Any]:
        leaves, _ = _tree.flatten(tuple(args))
        if len(leaves) != len(self.inputs):
            raise TypeError(f"{self.name}: expected {len(self.inputs)} tensor inputs "
                            f"({', '.join(v.name for v in self.inputs)}), got {len(leaves)}")
        for v, t in zip(self.inputs, leaves):
            a = t._data
            if a.shape != v.shape or a.dtype != v.dtype:
                raise RuntimeError(
                    f"{self.name}: input {v.name!r} was traced as {v.type}, got "
                    f"{dtype_str(a.shape, a.dtype)}; a traced graph is specialized to its "
                    f"shapes and dtypes (chainrule.compile re-traces for new ones)")
        return leaves

    def needs_autograd(self, leaves: list[Any]) -> bool:
        """Whether a call with these input tensors must record autograd."""
        if not STATE.enabled:
            return False
        return any(t._requires_grad for t in leaves) or any(
            v.ref._requires_grad for v in self.params)

    def __call__(self, *args: Any) -> Any:
        leaves = self._flat_inputs(args)
        if self.needs_autograd(leaves):
            outs = self.run_tensors(leaves)
        else:
            arrays = self.executor()(*[t._data for t in leaves])
            outs = [_backend.wrap(a) if isinstance(a, _ndarray) else a for a in arrays]
        return _tree.unflatten(self.out_spec, outs)

    def executor(self) -> Any:
        """The generated function running the graph on arrays (built once, then cached)."""
        if self._executor is None:
            from chainrule.jit._codegen import build_executor

            self._executor = build_executor(self)
        return self._executor

    @property
    def code(self) -> str:
        """The Python source generated for the whole graph (see :func:`build_executor`)."""
        return self.executor().source

    def run_arrays(self, arrays: list[Any], *, env: dict[Value, Any] | None = None) -> list[Any]:
        """Interpret the graph on arrays, node by node (each target's ``forward``).

        With ``env`` (a dict), every value's array is left in it (examples for the static
        autodiff and the tests of each pass).
        """
        env = {} if env is None else env
        for v, a in zip(self.inputs, arrays):
            env[v] = a
        for v in self.params:
            env[v] = v.ref._data
        for v in self.consts:
            env[v] = v.data
        for node in self.nodes:
            ins = [env[v] for v in node.inputs]
            out = node.target.forward(*ins, **node.params)
            if len(node.outputs) == 1:
                env[node.outputs[0]] = _as_array(out) if node.outputs[0].is_array else out
            else:
                for o, a in zip(node.outputs, out):
                    if o is not None:
                        env[o] = _as_array(a) if o.is_array else a
        return [env[v] for v in self.outputs]

    def run_tensors(self, tensors: list[Any]) -> list[Any]:
        """Interpret the graph on tensors through ``Op.apply``: autograd records each op as
        in eager mode, so ``backward()`` works on the results."""
        env: dict[Value, Any] = {}
        for v, t in zip(self.inputs, tensors):
            env[v] = t
        for v in self.params:
            env[v] = v.ref
        for v in self.consts:
            env[v] = _backend.wrap(v.data)
        for node in self.nodes:
            ins = [env[v] for v in node.inputs]
            out = node.target.apply(*ins, **node.params)
            if len(node.outputs) == 1:
                env[node.outputs[0]] = out
            else:
                for o, t in zip(node.outputs, out):
                    if o is not None:
                        env[o] = t
        return [env[v] for v in self.outputs]


def _wrap_any(o: Any) -> Any:
    if o is None or not isinstance(o, (np.ndarray, np.generic)):
        return o  # a residual (an autograd graph kept for a backward node), or nothing
    return _backend.wrap(_as_array(o))


def _as_array(out: Any) -> Any:
    # NumPy reductions return scalars; tensors hold arrays (as Op.apply does)
    return out if out.__class__ is _ndarray else np.asarray(out)


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
