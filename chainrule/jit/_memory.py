"""Memory planning: which preallocated buffer each value is computed into.

The values that generated code computes itself (fused groups, single element-wise ops,
matrix products) can be written into a buffer allocated once, at compile time, and reused
at every call, instead of a new array per op per call. Liveness analysis over the node order
gives each value the interval between its definition and its last read; a value whose
interval has ended frees its buffer, and a later value of the same shape and dtype takes it.

Aliasing is what makes this subtle: an op like ``reshape`` or ``permute`` returns a view of
its input, so a buffer stays busy while any view of it is alive. Ops are assumed to return
views of their inputs unless they are known to allocate (``_FRESH``), and the interval of a
buffer is the union over all its views. An element-wise op may also write its result over
an input that dies at that op (``x = relu(x)`` in place), where its template allows it.

Graph inputs, parameters and constants are never written. Outputs of the graph get new
arrays at every call unless ``keep_outputs_fresh=False`` (a training step, whose gradient
outputs go straight to the optimizer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.jit._fuse import Fused, template_of
from chainrule.jit._ir import Graph, Kernel, Node, Value

__all__ = ["plan_memory", "FRESH"]

# Registry ops whose forward always returns a new array (never a view of an input).
FRESH = frozenset({
    "add", "sub", "mul", "div", "neg", "exp", "expm1", "log", "log1p", "sqrt", "sin", "cos",
    "tanh", "sigmoid", "relu", "abs", "pow_scalar", "tanh_backward", "sigmoid_backward",
    "relu_backward", "maximum", "minimum", "where", "clamp", "leaky_relu", "softplus",
    "matmul", "mm", "bmm", "addmm", "convolution", "conv_transpose", "conv_weight_grad",
    "cross_entropy", "nll_loss", "log_softmax", "softmax", "sum", "mean", "max_pool",
    "max_pool_backward", "avg_pool", "avg_pool_backward", "clone", "to_copy", "pow",
})


def _planned_op(node: Node) -> bool:
    """Whether generated code computes this node into a buffer it is given."""
    if isinstance(node.target, Fused):
        return True
    if isinstance(node.target, Kernel) or len(node.outputs) != 1:
        return False
    if template_of(node) is not None:
        return True
    return lowerable_matmul(node)


def lowerable_matmul(node: Node) -> bool:
    """A 2-D matrix product (or addmm with unit coefficients) of floating matrices."""
    name = node.target.name
    if name not in ("matmul", "mm", "addmm"):
        return False
    ins = node.inputs[-2:]
    if any(v.shape is None or len(v.shape) != 2 for v in ins):
        return False
    if node.out.dtype.kind != "f" or any(v.dtype != node.out.dtype for v in node.inputs):
        return False
    if name == "addmm":
        return node.params.get("beta") == 1 and node.params.get("alpha") == 1
    return True


def _inplace_positions(node: Node) -> frozenset[int]:
    if isinstance(node.target, Fused):
        return node.target.inplace_inputs
    t = template_of(node)
    return t.inplace if t is not None else frozenset()


def _fresh(node: Node) -> bool:
    if _planned_op(node):
        return True
    return not isinstance(node.target, Kernel) and node.target.name in FRESH


def plan_memory(graph: Graph, *, keep_outputs_fresh: bool = True) -> Graph:
    """Assign preallocated buffers (``Value.buffer``) by liveness; see the module docstring.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: (x @ x).relu() @ x, chainrule.ones(4, 4))
        >>> p = jit.passes.plan_memory(g, keep_outputs_fresh=False)
        >>> [(n.out.name, n.out.buffer) for n in p.nodes]
        [('v0', 0), ('v1', v0: f32[4, 4]), ('v2', 1)]
    """
    g = graph.copy()
    order = {id(n): i for i, n in enumerate(g.nodes)}
    end = len(g.nodes)
    # Storage classes: a value and every view of it share one (union-find over values).
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.get(i, i) != i:
            parent[i] = parent.get(parent[i], parent[i])
            i = parent[i]
        return i

    for node in g.nodes:
        if _fresh(node):
            continue
        outs = [o for o in node.outputs if o is not None and o.is_array]
        for v in node.inputs:
            if v.is_array:
                for o in outs:
                    parent[find(id(o))] = find(id(v))
    last: dict[int, int] = {}
    for node in g.nodes:
        for v in node.inputs:
            r = find(id(v))
            last[r] = max(last.get(r, -1), order[id(node)])
    for v in g.outputs:
        last[find(id(v))] = end + 1
    for v in [*g.inputs, *g.params, *g.consts]:
        last[find(id(v))] = end + 1  # never reused: they are not the graph's to write
    # Storage that reaches an output (the output itself, or what an output is a view of)
    # must be new at every call when outputs are kept fresh: no planned buffer for it.
    escaping = {find(id(v)) for v in g.outputs} if keep_outputs_fresh else set()
    free: dict[tuple[Any, Any], list[int]] = {}
    buffers: list[np.ndarray] = []
    owner: dict[int, int] = {}  # buffer -> storage class root
    for v in g.values():
        v.buffer = None
    for i, node in enumerate(g.nodes):
        if _planned_op(node):
            out = node.out
            fresh_out = find(id(out)) in escaping
            reused = _reuse_input(node, out, find, last, i)
            if reused is not None and fresh_out and _buffered(reused):
                reused = None  # an escaping value must not live in a planned buffer
            if reused is not None:
                out.buffer = reused
                # the storage class of the overwritten input now lives on in `out`
                r_in, r_out = find(id(reused)), find(id(out))
                last[r_in] = max(last.get(r_in, -1), last.get(r_out, -1))
                parent[r_out] = r_in
                if r_out in escaping:
                    escaping.add(r_in)
                b = reused.buffer
                if isinstance(b, int):
                    owner[b] = r_in
            elif not fresh_out:
                # (the roots are looked up here: reuse above merges storage classes)
                root = find(id(out))
                layout = _order(node, any(find(id(v)) == root for v in g.outputs), buffers)
                key = (out.shape, out.dtype.str, layout)
                pool = free.get(key)
                if pool:
                    b = pool.pop()
                else:
                    b = len(buffers)
                    buffers.append(np.empty(out.shape, dtype=out.dtype, order=layout))
                out.buffer = b
                owner[b] = find(id(out))
        # release the buffers whose storage class is not read after this node
        for b, r in list(owner.items()):
            if last.get(find(r), -1) <= i:
                key = (buffers[b].shape, buffers[b].dtype.str, _layout(buffers[b]))
                free.setdefault(key, []).append(b)
                del owner[b]
    g.buffers = buffers
    g.invalidate()
    return g


def _layout(a: np.ndarray) -> str:
    """'F' for an array laid out column-major only (a 2-D buffer held transposed), else 'C'."""
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def _order(node: Node, is_output: bool, buffers: list[np.ndarray]) -> str:
    """The layout of the buffer a planned value gets: column-major ('F') for a matrix
    product ``(M, K) @ (K, N)`` whose row count ``M`` is its smallest dimension (a batch of
    activations times a weight: codegen then computes the transposed product, ``(N, M)``,
    which OpenBLAS runs at about twice the speed for a batch of 32 against 512 or 784
    features), and for an element-wise value computed from such a buffer; row-major ('C')
    otherwise, and always for the graph's outputs (gradients go to the optimizer, which
    updates row-major parameters)."""
    if is_output:
        return "C"
    out = node.out
    if out.shape is None or len(out.shape) != 2:
        return "C"
    if not isinstance(node.target, Kernel) and lowerable_matmul(node):
        m, k = node.inputs[-2].shape
        n = out.shape[1]
        # (a small product, such as a cotangent of 10 logits times the last weight, follows
        # the activations it meets next: its time is the same either way)
        return "F" if m < n and (m < k or 2 * m * n * k < 1 << 20) else "C"
    for v in node.inputs:
        if v.shape == out.shape and v.dtype == out.dtype:
            b = v.buffer
            while isinstance(b, Value):
                b = b.buffer
            if isinstance(b, int) and _layout(buffers[b]) == "F":
                return "F"
    return "C"


def _buffered(v: Value) -> bool:
    """Whether ``v`` is computed into a planned buffer (directly or in place of one)."""
    b = v.buffer
    while isinstance(b, Value):
        b = b.buffer
    return isinstance(b, int)


def _reuse_input(node: Node, out: Value, find: Any, last: dict[int, int],
                 i: int) -> Value | None:
    """An input whose array this element-wise node may overwrite: it dies here, nothing
    else shares its memory, and its array is one the graph allocated."""
    positions = _inplace_positions(node)
    for k, v in enumerate(node.inputs):
        if k not in positions or v.kind != "node" or v.shape != out.shape or \
                v.dtype != out.dtype:
            continue
        if sum(1 for u in node.inputs if u is v) != 1:
            continue
        if last.get(find(id(v)), -1) != i:
            continue
        p = v.producer
        if p is None or not _fresh(p):
            continue
        return v
    return None
