"""Static autodiff: the backward graph derived once from the forward graph.

Eager mode runs each op's vjp rule every step, through the engine. Here the same rules run
once, at compile time, under the tracer: each forward node's vjp is called on tensors that
stand for the node's values (the tracer's tensors: the example's arrays, bound to the graph's
values), and the ops the rule applies are recorded as nodes of the graph. The result is one
graph holding the forward pass, then the backward pass, which replays with no engine, no
per-op dispatch and no Node objects.

The engine's own duties are written as nodes too: cotangents that reach a value over several
paths are summed (``add``), a broadcast input's cotangent is summed back to its shape
(``sum_to_size``), a gradient is cast to its leaf's dtype.

Two kinds of node are not traced into: a rule that computes on raw arrays (cross-entropy's,
softmax's, the fused ops that write their gradient with NumPy directly) becomes one
:class:`VjpCall` node that runs the rule at every call; and a :class:`~._kernels.Call` node
(max-pooling, normalization, dropout: eager functions recorded whole) runs recording its own
small autograd graph, which a :class:`CallVjp` node differentiates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import random as _random
from chainrule.autograd.grad_mode import STATE, enable_grad, no_grad
from chainrule.autograd.op import OPS
from chainrule.jit import _kernels
from chainrule.jit._ir import Graph, Kernel, Node, Value, _format_params
from chainrule.jit._trace import TraceError, Tracer, _patched
from chainrule.jit._tree import LEAF

__all__ = ["grad_graph", "differentiate", "VjpCall", "CallVjp", "CallSaving"]

_Add = OPS["add"]
_SumToSize = OPS["sum_to_size"]


class VjpCall(Kernel):
    """An op's vjp rule run as one node: ``grads = op.vjp(g, out, *inputs, **params)``.

    Inputs: the cotangent, then the output (if the rule reads it), then the op's inputs (if
    the rule reads them). Outputs: one gradient per input that takes one.
    """

    def __init__(self, op: Any, needs: tuple[bool, ...], in_shapes: tuple[Any, ...]) -> None:
        self.op = op
        self.name = f"{op.name}_vjp"
        self.needs = needs
        self.in_shapes = in_shapes
        self.n_outputs = sum(needs)

    def forward(self, g: Any, *rest: Any, **params: Any) -> Any:
        op = self.op
        k = 0
        out = None
        if op.needs_output:
            out = _backend.wrap(rest[0])
            k = 1
        if op.needs_inputs:
            ins = [_backend.wrap(a, r) for a, r in zip(rest[k:], self.needs)]
        else:
            ins = [None] * len(self.needs)
        prev = STATE.enabled
        STATE.enabled = False
        try:
            res = op.vjp(_backend.wrap(g), out, *ins, **params)
        finally:
            STATE.enabled = prev
        grads = []
        for r, need, shape in zip(res, self.needs, self.in_shapes):
            if need:
                if r is None:
                    grads.append(np.zeros(shape, dtype=g.dtype))
                    continue
                a = r._data
                if a.shape != shape:
                    a = _backend.sum_to(a, shape)
                grads.append(a)
        return grads[0] if self.n_outputs == 1 else tuple(grads)

    def apply(self, *tensors: Any, **params: Any) -> Any:
        with no_grad():
            out = self.forward(*[t._data for t in tensors], **params)
        if self.n_outputs == 1:
            return _backend.wrap(np.asarray(out))
        return tuple(_backend.wrap(np.asarray(o)) for o in out)

    def describe(self, params: dict[str, Any]) -> str:
        return _format_params(params)


class CallSaving(Kernel):
    """A :class:`~._kernels.Call` node run recording autograd: its outputs, then a residual
    (the call's autograd graph) for :class:`CallVjp`."""

    def __init__(self, call: _kernels.Call, needs: tuple[bool, ...]) -> None:
        self.call = call
        self.needs = needs
        self.name = call.name
        self.n_outputs = call.n_outputs + 1
        self.pure = False
        self.effect = call.effect

    def forward(self, *arrays: Any) -> Any:
        return self.call.forward_saving(self.needs, *arrays)

    def apply(self, *tensors: Any) -> Any:
        with enable_grad():
            out = self.call.apply(*tensors)
        outs = tuple(out) if self.call.n_outputs > 1 else (out,)
        residual = ([t for t, r in zip(tensors, self.needs) if r], list(outs))
        return outs + (residual,)

    def describe(self, params: dict[str, Any]) -> str:
        return self.call.describe(params) + " (saving its graph)"


class CallVjp(Kernel):
    """The gradient of a :class:`CallSaving` node: autograd over the graph it recorded.

    Inputs: the residual, then the cotangents of the call's outputs that received one
    (``present`` says which).
    """

    pure = False

    def __init__(self, name: str, present: tuple[bool, ...], in_shapes: tuple[Any, ...],
                 in_dtypes: tuple[Any, ...]) -> None:
        self.name = f"{name}_vjp"
        self.present = present
        self.n_outputs = len(in_shapes)
        self.in_shapes = in_shapes
        self.in_dtypes = in_dtypes

    def forward(self, residual: Any, *given: Any) -> Any:
        from chainrule.autograd import grad as _grad

        it = iter(given)
        gs = [next(it) if p else None for p in self.present]
        ins, outs = residual
        pairs = [(o, g) for o, g in zip(outs, gs) if g is not None and o.requires_grad]
        grads = _grad([o for o, _ in pairs], ins, [_backend.wrap(g) for _, g in pairs],
                      allow_unused=True)
        res = [np.zeros(s, dtype=d) if r is None else r._data
               for r, s, d in zip(grads, self.in_shapes, self.in_dtypes)]
        return res[0] if self.n_outputs == 1 else tuple(res)


class _Zeros(Kernel):
    """Zeros of a static shape (the cotangent of an output nothing reached)."""

    name = "zeros"

    def forward(self, *, shape: tuple[int, ...], dtype: Any) -> Any:
        return np.zeros(shape, dtype=dtype)


_ZEROS = _Zeros()


def _differentiable(v: Value) -> bool:
    return v.is_array and v.dtype.kind == "f"


def _examples(graph: Graph, inputs: list[np.ndarray]) -> dict[Value, Any]:
    """Every value's array on the example inputs, with the run's side effects undone."""
    saved = [(v.ref, v.ref._data.copy()) for v in graph.params]
    state = _random.default_generator.get_state()
    env: dict[Value, Any] = {}
    try:
        with no_grad():
            graph.run_arrays(inputs, env=env)
    finally:
        _random.default_generator.set_state(state)
        for t, a in saved:
            np.copyto(t._data, a)
    return env


def grad_graph(graph: Graph, wrt: list[Value] | None = None) -> Graph:
    """The forward graph followed by its backward: outputs ``(output, *gradients)``.

    The backward is derived once, statically, from the vjp rules of the graph's ops (see the
    module docstring); ``graph``'s single output must be a scalar (a loss).

    Args:
        graph: a traced graph with one scalar output.
        wrt: the values to differentiate with respect to (default: the inputs and parameters
            that require grad, in that order).

    Returns:
        The joint graph; calling it returns the output and one gradient per ``wrt`` value
        that the output depends on.

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True)
        >>> g = jit.grad_graph(jit.trace(lambda x: (x * x).sum(), x))
        >>> print(g)
        graph(x: f32[2]) {
          c0: f32[] = const 1.
          v0: f32[2] = mul(x, x)
          v1: f32[] = sum(v0)  dim=None keepdim=False
          v2: f32[1] = reshape(c0)  shape=(1,) src=()
          v3: f32[2] = expand(v2)  shape=(2,) src=(1,)
          v4: f32[2] = mul(v3, x)
          v5: f32[2] = mul(v3, x)
          v6: f32[2] = add(v4, v5)
          return (v1, v6)
        }
        >>> g(x)
        (tensor(5., grad_fn=<SumBackward0>), tensor([2., 4.], grad_fn=<AddBackward0>))

        ``sum``'s rule spreads the seed 1 back over x (reshape, expand), ``mul``'s gives one
        product per operand, and the two paths into x are summed; :func:`optimize` merges the
        two equal products.
    """
    if wrt is None:
        wrt = [v for v in graph.inputs if v.requires_grad] + \
            [v for v in graph.params if v.requires_grad]
    if len(graph.outputs) != 1:
        raise RuntimeError(f"grad_graph: the graph must have one (scalar) output, it has "
                           f"{len(graph.outputs)}")
    joint, _, _ = differentiate(graph, wrt, list(graph.examples))
    joint.out_spec = ("tuple", [LEAF] * len(joint.outputs))
    return joint


def differentiate(graph: Graph, wrt: list[Value], example_inputs: list[np.ndarray], *,
                  cotangents: str = "ones") -> tuple[Graph, list[Value | None], list[Value]]:
    """The joint graph: ``graph``'s forward nodes, then the nodes of its backward pass.

    Args:
        graph: a traced forward graph (not changed).
        wrt: the inputs or parameters of ``graph`` to differentiate with respect to.
        example_inputs: arrays for ``graph``'s inputs (the tracer's tensors hold them).
        cotangents: ``'ones'`` for a scalar output (a loss: the seed is 1), or ``'inputs'``
            to take one cotangent per output as new graph inputs (named ``grad_<output>``).

    Returns:
        ``(joint, grads, cot_inputs)``: the joint graph (its outputs are the forward
        outputs, then one gradient per ``wrt`` value that got one), the gradient value of
        each ``wrt`` value (None where no gradient reaches it), and the cotangent inputs.
    """
    joint = graph.copy()
    vmap = {id(a): b for a, b in zip(graph.values(), joint.values())}
    wrt = [vmap[id(v)] for v in wrt]
    saved = [(v.ref, v.ref._data.copy()) for v in joint.params]
    rng_state = _random.default_generator.get_state()
    try:
        return _differentiate(joint, wrt, example_inputs, cotangents)
    finally:  # building the backward ran the forward's effects: undo them
        _random.default_generator.set_state(rng_state)
        for t, a in saved:
            np.copyto(t._data, a)


def _differentiate(joint: Graph, wrt: list[Value], example_inputs: list[np.ndarray],
                   cotangents: str) -> tuple[Graph, list[Value | None], list[Value]]:
    env = _examples(joint, example_inputs)

    rg: set[Value] = set(v for v in wrt if _differentiable(v))
    for node in joint.nodes:
        if isinstance(node.target, (_kernels.Detach, _kernels.Empty)):
            continue
        if any(v in rg for v in node.inputs):
            rg.update(o for o in node.outputs if o is not None and _differentiable(o))

    cot: dict[Value, Value] = {}
    cot_inputs: list[Value] = []
    forward = list(joint.nodes)
    outputs = list(joint.outputs)
    if cotangents == "ones":
        loss = outputs[0]
        if loss.shape != ():
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; the "
                               f"output is {loss.type}")
        if loss in rg:
            seed = cot[loss] = joint.add_const(np.ones((), dtype=loss.dtype))
            env[seed] = seed.data
    else:
        for o in outputs:
            g = joint.add_input(f"grad_{o.name}", o.shape, o.dtype)
            cot_inputs.append(g)
            env[g] = np.ones(o.shape, dtype=o.dtype)
            if o in rg:
                cot[o] = g if o not in cot else _add(joint, env, cot[o], g)

    tracer = Tracer(joint, {}, quiet=True, examples=env)
    prev_enabled = STATE.enabled
    with _patched():
        STATE.enabled = False
        try:
            for node in reversed(forward):
                gs = [None if o is None else cot.get(o) for o in node.outputs]
                if all(g is None for g in gs):
                    continue
                needs = tuple(v in rg for v in node.inputs)
                if not any(needs):
                    continue
                grads = _vjp_node(joint, tracer, env, node, gs, needs)
                for v, gi in zip(node.inputs, grads):
                    if gi is not None:
                        cot[v] = gi if v not in cot else _add(joint, env, cot[v], gi)
        finally:
            STATE.enabled = prev_enabled
            STATE.tracer = None

    grads_out: list[Value | None] = []
    for v in wrt:
        g = cot.get(v)
        if g is not None:
            g = _to_leaf(joint, tracer, env, g, v)
        grads_out.append(g)
    joint.outputs = outputs + [g for g in grads_out if g is not None]
    joint.out_spec = None
    joint.invalidate()
    return joint, grads_out, cot_inputs


def _add(joint: Graph, env: dict, a: Value, b: Value) -> Value:
    """The sum of two cotangents of one value (the engine's accumulation over paths)."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    out = joint.add_node(_Add, [a, b], {}, [(shape, np.result_type(a.dtype, b.dtype))]).out
    env[out] = np.asarray(env[a] + env[b])
    return out


def _to_leaf(joint: Graph, tracer: Tracer, env: dict, g: Value, v: Value) -> Value:
    """The engine's last step at a leaf: cast to its dtype, sum back to its shape."""
    if g.shape != v.shape:
        g = joint.add_node(_SumToSize, [g], {"shape": v.shape}, [(v.shape, g.dtype)]).out
    if g.dtype != v.dtype:
        to_copy = OPS["to_copy"]
        from chainrule._backend import dtypes

        g = joint.add_node(to_copy, [g], {"dtype": dtypes._FROM_NP[v.dtype],
                                          "src": dtypes._FROM_NP[g.dtype]},
                           [(v.shape, v.dtype)]).out
    return g


def _vjp_node(joint: Graph, tracer: Tracer, env: dict, node: Node, gs: list[Value | None],
              needs: tuple[bool, ...]) -> list[Value | None]:
    target = node.target
    if isinstance(target, _kernels.Call):
        return _call_vjp(joint, env, node, gs, needs)
    if isinstance(target, Kernel):
        raise TraceError(f"the graph node {target.name} has no gradient rule")
    (g,) = gs
    traced = _trace_rule(joint, tracer, env, node, g, needs)  # type: ignore[arg-type]
    if traced is not None:
        return traced
    return _opaque_rule(joint, env, node, g, needs)  # type: ignore[arg-type]


def _tensor(tracer: Tracer, env: dict, v: Value, requires_grad: bool = False) -> Any:
    t = _backend.wrap(env[v], requires_grad)
    tracer.bind(t, v)
    return t


def _trace_rule(joint: Graph, tracer: Tracer, env: dict, node: Node, g: Value,
                needs: tuple[bool, ...]) -> list[Value | None] | None:
    """Record the op's vjp rule into the graph; None if the rule computes on raw arrays."""
    op = node.target
    n_nodes, n_consts = len(joint.nodes), len(joint.consts)
    g_t = _tensor(tracer, env, g)
    out_t = _tensor(tracer, env, node.out) if op.needs_output else None
    if op.needs_inputs:
        ins = [_tensor(tracer, env, v, r) for v, r in zip(node.inputs, needs)]
    else:
        ins = [None] * len(node.inputs)
    STATE.tracer = tracer
    try:
        try:
            res = op.vjp(g_t, out_t, *ins, **node.params)
        except NotImplementedError as exc:
            raise TraceError(f"the op {op.name} has no vjp rule to differentiate the graph "
                             f"with") from exc
        ok = all(r is None or tracer.known(r) is not None for r, need in zip(res, needs) if need)
        new_consts = joint.consts[n_consts:]
        ok = ok and all(c.data.ndim == 0 for c in new_consts)
        grads: list[Value | None] = []
        if ok:
            for r, need, v in zip(res, needs, node.inputs):
                if not need or r is None:
                    grads.append(None)
                    continue
                if r._data.shape != v.shape:  # the engine's sum back to a broadcast input
                    r = r.sum_to_size(v.shape)
                grads.append(tracer.value_of(r))
    finally:
        STATE.tracer = None
    if not ok:
        del joint.nodes[n_nodes:]
        del joint.consts[n_consts:]
        return None
    return grads


def _outputs_of(node: Node, env: dict) -> list[Any]:
    with no_grad():
        out = node.target.forward(*[env[v] for v in node.inputs], **node.params)
    if len(node.outputs) == 1:
        return [np.asarray(out) if node.outputs[0].is_array else out]
    return list(out)


def _opaque_rule(joint: Graph, env: dict, node: Node, g: Value,
                 needs: tuple[bool, ...]) -> list[Value | None]:
    op = node.target
    ins = [g]
    if op.needs_output:
        ins.append(node.out)
    if op.needs_inputs:
        ins.extend(node.inputs)
    kernel = VjpCall(op, needs, tuple(v.shape for v in node.inputs))
    types = [(v.shape, g.dtype if v.dtype.kind == "f" else v.dtype)
             for v, r in zip(node.inputs, needs) if r]
    new = joint.add_node(kernel, ins, node.params, types)
    outs = iter(new.outputs)
    for o, a in zip(new.outputs, _outputs_of(new, env)):
        env[o] = a
    return [next(outs) if r else None for r in needs]


def _call_vjp(joint: Graph, env: dict, node: Node, gs: list[Value | None],
              needs: tuple[bool, ...]) -> list[Value | None]:
    """Make the Call node save its autograd graph; a CallVjp node differentiates it."""
    call = node.target
    saving = CallSaving(call, needs)
    residual = Value(joint.fresh_name(), "node", None, None, node, len(node.outputs))
    node.target = saving
    node.outputs = node.outputs + [residual]
    with no_grad():
        res = saving.forward(*[env[v] for v in node.inputs])
    env[residual] = res[-1]
    ins = [v for v, r in zip(node.inputs, needs) if r]
    present = tuple(g is not None for g in gs)
    kernel = CallVjp(call.name, present, tuple(v.shape for v in ins),
                     tuple(v.dtype for v in ins))
    new = joint.add_node(kernel, [residual] + [g for g in gs if g is not None], {},
                         [(v.shape, v.dtype) for v in ins])
    for o, a in zip(new.outputs, _outputs_of(new, env)):
        env[o] = a
    outs = iter(new.outputs)
    return [next(outs) if r else None for r in needs]
