"""Nodes of the backward graph and the engine that walks it.

A :class:`Node` is what ``y.grad_fn`` returns: it remembers the op, its static parameters, the
values the op's vjp needs, and one edge per input (``(node, output_index)`` or ``None``).
Leaves that require grad end in an :class:`AccumulateGrad` node that adds into ``.grad``.

The engine is iterative: it orders the reachable nodes topologically (Kahn's algorithm over
dependency counts), then visits them once each, calling each op's vjp, summing cotangents that
arrive over several paths, and freeing each node's saved values right after use unless
``retain_graph``. Nothing here knows about any specific op.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd import anomaly as _anomaly
from chainrule.autograd import forward_ad as _forward_ad
from chainrule.autograd.grad_mode import STATE

__all__ = ["Node", "AccumulateGrad", "run_backward", "edge_of", "queue_callback"]

_ndarray = np.ndarray
_asarray = np.asarray

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)

_INFERENCE_SAVED_MSG = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`."
)

# From 3.14 the interpreter may borrow stack references, so refcounts undercount: never steal.
_BORROWED_REFS = sys.version_info >= (3, 14)


def edge_of(t: Any) -> tuple[Node, int] | None:
    """The graph edge a tensor contributes as an input: its grad_fn, its accumulator, or None."""
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._out_idx)
    if t._requires_grad:
        return (grad_accumulator(t), 0)
    return None


def grad_accumulator(t: Any) -> AccumulateGrad:
    """The (cached) AccumulateGrad node of leaf ``t``; cached weakly so no cycle forms."""
    ref = t._accum
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._accum = weakref.ref(acc)
    return acc


class _NodeExtra:
    """Rarely used per-node state, kept off the hot path: hooks, retain_grad, anomaly trace."""

    __slots__ = ("pre_hooks", "post_hooks", "tensor_hooks", "retained", "trace", "metadata",
                 "value", "grad", "out_tangent")

    def __init__(self) -> None:
        self.pre_hooks: list | None = None
        self.post_hooks: list | None = None
        self.tensor_hooks: list | None = None
        self.retained: Any = None
        self.trace: str | None = None
        self.metadata: dict = {}
        self.value: Any = None  # the output array, kept only under STATE.record (viz)
        self.grad: Any = None  # the gradient that reached the node, kept only when recording
        self.out_tangent: Any = None  # (dual-level id, tangent of `out`), see forward_ad


def _extra_property(name: str) -> property:
    def get(self: Node) -> Any:
        ex = self.extra
        return None if ex is None else getattr(ex, name)

    def set(self: Node, value: Any) -> None:
        if self.extra is None:
            self.extra = _NodeExtra()
        setattr(self.extra, name, value)

    return property(get, set)


_FREED = ["freed"]  # sentinel stored in Node.versions once saved values are released
# The version counter of every tensor never modified in place: shared and immutable, so tensors
# cost one list fewer; the first in-place change (Tensor._bump) gives the tensor a list of its own.
ZERO_VERSION = (0,)


class _Zeros:
    """Node.versions when every saved input was at version 0 (the common case): indexes as 0."""

    __slots__ = ()

    def __getitem__(self, i: int) -> int:
        return 0


_UNMODIFIED = _Zeros()


def _saved_versions(inputs: Sequence[Any]) -> Any:
    """The version of each input a node saves (the rare path of Node.__init__); an inference
    tensor cannot be saved, as in torch (it has no version counter to check)."""
    for t in inputs:
        if t._extra is not None and t.is_inference():
            raise RuntimeError(_INFERENCE_SAVED_MSG)
    for t in inputs:
        if t._vbox[0]:
            return [t._vbox[0] for t in inputs]
    return _UNMODIFIED


class Node:
    """One recorded operation in the backward graph (``y.grad_fn``).

    Example:
        >>> import chainrule
        >>> x = chainrule.ones(2, requires_grad=True)
        >>> y = (x * 3).sum()
        >>> y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
        ('SumBackward0', 'MulBackward0')
    """

    # `next` holds the node each input's gradient goes to (None where none does); `next_idx` the
    # output index at that node, None when all are 0 (single-output producers, nearly always).
    # Few objects per node on purpose: the Python GC's cost grows with every one kept alive.
    __slots__ = ("op", "params", "inputs", "versions", "out", "out_vbox", "next", "next_idx",
                 "in_shapes", "extra", "__weakref__")
    n_outputs = 1
    custom_release = False  # True where a subclass frees its saved values its own way

    def __init__(self, op: Any, inputs: Sequence[Any], params: dict, result: Any) -> None:
        self.op = op
        self.params = params
        self.extra = None
        flags = op._flags
        # This runs for every recorded op: one- and two-input ops take unrolled paths.
        self.in_shapes = None
        n = len(inputs)
        if n == 2:
            a, b = inputs
            fa = a.grad_fn
            if fa is None and a._requires_grad:
                fa = grad_accumulator(a)
            fb = b.grad_fn
            if fb is None and b._requires_grad:  # a leaf (x + bias): its cached accumulator
                fb = b._accum() if b._accum is not None else None
                if fb is None:
                    fb = grad_accumulator(b)
            self.next = (fa, fb)
            self.next_idx = (a._out_idx, b._out_idx) if a._out_idx or b._out_idx else None
            if flags & 4:  # broadcasts: keep the input shapes if one that takes a gradient
                sa = a._data.shape  # was broadcast (x * 0.5 needs nothing)
                sb = b._data.shape
                if sa != sb:
                    shape = result._data.shape
                    if (fa is not None and sa != shape) or (fb is not None and sb != shape):
                        self.in_shapes = (sa, sb)
        elif n == 1:
            t = inputs[0]
            fn = t.grad_fn
            if fn is None and t._requires_grad:
                fn = grad_accumulator(t)
            self.next = (fn,)
            self.next_idx = (t._out_idx,) if t._out_idx else None
        else:
            children = []
            indexed = False
            for t in inputs:
                fn = t.grad_fn
                if fn is None and t._requires_grad:
                    fn = grad_accumulator(t)
                children.append(fn)
                if t._out_idx:
                    indexed = True
            self.next = tuple(children)
            self.next_idx = tuple([t._out_idx for t in inputs]) if indexed else None
        out = result._data
        if flags & 4 and n != 2:  # as above, for any number of inputs
            shape = out.shape
            for t in inputs:
                if t._requires_grad and t._data.shape != shape:
                    self.in_shapes = tuple([t._data.shape for t in inputs])
                    break
        if flags & 1:  # needs_inputs: keep them, with their versions to detect in-place edits
            self.inputs = inputs
            self.versions = _UNMODIFIED
            for t in inputs:
                # _extra is set only on tensors with hooks or made under inference_mode (rare)
                if t._vbox[0] or t._extra is not None:
                    self.versions = _saved_versions(inputs)
                    break
        else:
            self.inputs = None
            self.versions = None
        if flags & 2:  # needs_output: keep it, with a version counter of its own to check
            self.out = out
            box = result._vbox
            if box is ZERO_VERSION:
                box = result._vbox = [0]
            self.out_vbox = box
        else:
            self.out = None
            self.out_vbox = None
        if STATE.special:
            if STATE.anomaly:
                self.trace = _anomaly.creation_trace()
            if STATE.record:
                self.value = out

    @property
    def edges(self) -> list[tuple[Node, int] | None]:
        """One ``(node, output_index)`` per input, ``None`` where no gradient flows."""
        idx = self.next_idx or (0,) * len(self.next)
        return [None if c is None else (c, i) for c, i in zip(self.next, idx)]

    @edges.setter
    def edges(self, edges: Sequence[tuple[Node, int] | None]) -> None:
        self.next = tuple(None if e is None else e[0] for e in edges)
        idx = tuple(0 if e is None else e[1] for e in edges)
        self.next_idx = idx if any(idx) else None

    @property
    def meta(self) -> tuple[tuple[int, ...], Any] | None:
        """The output's ``(shape, dtype)`` where it is known (saved, or recorded), else None."""
        arr = self.out if self.out is not None else self.value
        return None if arr is None else (arr.shape, arr.dtype)

    pre_hooks = _extra_property("pre_hooks")
    post_hooks = _extra_property("post_hooks")
    tensor_hooks = _extra_property("tensor_hooks")
    retained = _extra_property("retained")
    trace = _extra_property("trace")
    value = _extra_property("value")
    grad = _extra_property("grad")
    out_tangent = _extra_property("out_tangent")

    @property
    def metadata(self) -> dict:
        """A dict for user annotations, as torch's ``Node.metadata``."""
        if self.extra is None:
            self.extra = _NodeExtra()
        return self.extra.metadata

    # -- torch's public Node interface ---------------------------------------------------------
    def name(self) -> str:
        """The torch-style name, e.g. ``'MulBackward0'``."""
        return type(self).__name__

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        """One ``(node, output_index)`` pair per input, ``(None, 0)`` where no gradient flows."""
        return tuple(e if e is not None else (None, 0) for e in self.edges)  # type: ignore

    def register_hook(self, fn: Callable) -> _RemovableHandle:
        """Call ``fn(grad_inputs, grad_outputs)`` after this node's vjp; may return new inputs."""
        if self.post_hooks is None:
            self.post_hooks = []
        self.post_hooks.append(fn)
        return _RemovableHandle(self.post_hooks, fn)

    def register_prehook(self, fn: Callable) -> _RemovableHandle:
        """Call ``fn(grad_outputs)`` before this node's vjp; may return new grad_outputs."""
        if self.pre_hooks is None:
            self.pre_hooks = []
        self.pre_hooks.append(fn)
        return _RemovableHandle(self.pre_hooks, fn)

    def __call__(self, *grads: Any) -> Any:
        """Apply this node's vjp to output gradients (as torch's ``grad_fn(g)``)."""
        result = self._vjp(grads[0] if self.n_outputs == 1 else list(grads), STATE.enabled)
        return result[0] if len(result) == 1 else tuple(result)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    # -- saved values ------------------------------------------------------------------------
    def _vjp(self, g: Any, create_graph: bool) -> Any:
        """The op's vjp for output cotangent ``g`` (a list for multi-output nodes), after
        checking that no saved value was freed or modified in place since it was saved."""
        op = self.op
        if create_graph and op.once_differentiable:
            raise RuntimeError(
                f"trying to differentiate twice a function that was marked with "
                f"@once_differentiable: {self.name()} computes its vjp on raw arrays, so it "
                f"supports first derivatives only")
        inputs = self.inputs
        out = self.out
        if out is None:
            if inputs is None:
                if self.versions is _FREED:
                    raise RuntimeError(_FREED_MSG)
                if len(self.next) == 2 and not self.params:  # add, sub, ...
                    return op.vjp(g, None, None, None)
                return op.vjp(g, None, *((None,) * len(self.next)), **self.params)
            out_t = None
        else:
            if self.out_vbox[0]:
                raise _modified_error(self, "output 0", out.shape, out.dtype, self.out_vbox[0], 0)
            out_t = _backend.make_tensor(out)
            if create_graph and not op.once_differentiable:
                # An alias of the output carrying this node: derivatives of a rule that reads
                # `out` flow back into this node, which makes double backward exact.
                out_t._requires_grad = True
                out_t.grad_fn = self
            if self.extra is not None and self.extra.out_tangent is not None:
                _forward_ad.restore_tangent(out_t, self.extra.out_tangent)
            if inputs is None:
                if len(self.next) == 1 and not self.params:  # tanh, sigmoid, exp, ...
                    return op.vjp(g, out_t, None)
                return op.vjp(g, out_t, *((None,) * len(self.next)), **self.params)
        versions = self.versions
        for i, t in enumerate(inputs):
            if t._vbox[0] != versions[i]:
                raise _modified_error(self, f"input {i}", t._data.shape, t._data.dtype,
                                      t._vbox[0], versions[i])
        if self.params:
            return op.vjp(g, out_t, *inputs, **self.params)
        return op.vjp(g, out_t, *inputs)  # (an empty **params costs a dict copy)

    def _release(self) -> None:
        if self.inputs is not None or self.out is not None:
            self.versions = _FREED
        self.inputs = None
        self.out = None


def _modified_error(node: Node, which: str, shape: tuple, dtype: Any, now: int, then: int):
    dims = ", ".join(str(s) for s in shape)
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{dtype} [{dims}]], which is {which} of {node.name()}, is at version {now}; "
        f"expected version {then} instead. Hint: the tensor was changed in place (an op ending "
        f"in '_', or an assignment into it) after {node.name()} saved it for backward; use an "
        f"out-of-place op or .clone() it first.")


class AccumulateGrad(Node):
    """The node at a leaf that requires grad: adds the arriving gradient into ``leaf.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.op = None
        self.params = {}
        self.next = ()
        self.next_idx = None
        self.inputs = None
        self.versions = None
        self.out = None
        self.out_vbox = None
        self.in_shapes = None
        self.extra = None

    @property
    def meta(self) -> tuple[tuple[int, ...], Any]:
        return (self.variable._data.shape, self.variable._data.dtype)

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


class _RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


RemovableHandle = _RemovableHandle


def _dependencies(roots: list[Node]) -> dict[Node, int]:
    """For each reachable node, how many edges point at it (iterative DFS, no recursion)."""
    deps: dict[Node, int] = {}
    # Roots may repeat (several outputs of one multi-output node): count each node's edges once.
    stack = list(dict.fromkeys(roots))
    for r in roots:
        deps.setdefault(r, 0)
    get = deps.get
    push = stack.append
    pop = stack.pop
    while stack:
        for child in pop().next:
            if child is not None:
                n = get(child)
                if n is None:
                    deps[child] = 1
                    push(child)
                else:
                    deps[child] = n + 1
    return deps


def _topological_order(roots: list[Node], deps: dict[Node, int] | None = None) -> list[Node]:
    """Reachable nodes, each after every node that sends it a gradient (Kahn's algorithm)."""
    deps = dict(deps) if deps is not None else _dependencies(roots)
    order = []
    ready = [r for r in dict.fromkeys(roots) if deps[r] == 0]
    while ready:
        node = ready.pop()
        order.append(node)
        for child in node.next:
            if child is not None:
                n = deps[child] - 1
                deps[child] = n
                if n == 0:
                    ready.append(child)
    return order


def _needed(order: list[Node], targets: set[Node]) -> set[Node]:
    """Nodes on some path to a target; visiting the order backwards sees children first."""
    needed: set[Node] = set()
    for node in reversed(order):
        if node in targets:
            needed.add(node)
            continue
        for child in node.next:
            if child is not None and child in needed:
                needed.add(node)
                break
    return needed


def _add(a: Any, b: Any) -> Any:
    return b if a is None else a + b


# Callbacks queued while a backward runs (torch's Engine.queue_callback), one list per running
# backward: backward calls can nest (a hook may call backward), and each list runs when its own
# backward has finished. DistributedDataParallel waits for its all-reduces in one.
_final_callbacks: list[list[Callable[[], None]]] = []


def queue_callback(callback: Callable[[], None]) -> None:
    """Run ``callback()`` when the backward now running has finished (every ``.grad`` written).

    Only valid during backward (from a hook), as torch's
    ``Variable._execution_engine.queue_callback``; a callback may queue further callbacks.

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.graph import queue_callback
        >>> x = chainrule.ones(2, requires_grad=True)
        >>> _ = x.register_hook(lambda g: queue_callback(lambda: print("done:", x.grad)))
        >>> (x * 3).sum().backward()
        done: tensor([3., 3.])
    """
    if not _final_callbacks:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _final_callbacks[-1].append(callback)


def _run_final_callbacks() -> None:
    callbacks = _final_callbacks[-1]
    try:
        i = 0
        while i < len(callbacks):  # (a callback may append more)
            callbacks[i]()
            i += 1
    finally:
        _final_callbacks.pop()


def run_backward(
    roots: Sequence[Any],
    grad_roots: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Any] | None = None,
    accumulate: bool = True,
    observer: Callable[[Node, Any, Any], None] | None = None,
) -> list[Any] | None:
    """Backpropagate ``grad_roots`` from ``roots``.

    With ``accumulate``, leaf gradients add into ``.grad`` (only for ``inputs`` when given).
    Without it (``autograd.grad``), the gradients reaching ``inputs`` are returned instead.
    ``observer(node, grad_output, grad_inputs)`` is called at each node's turn, in execution
    order (``grad_inputs`` is None at leaves): ``viz.trace_backward`` records with it.
    """
    grads: dict[Node, Any] = {}
    root_nodes = []
    for t, g in zip(roots, grad_roots):
        e = edge_of(t)
        if e is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        node, idx = e
        root_nodes.append(node)
        _deliver(grads, node, idx, g)

    deps = _dependencies(root_nodes)

    targets: dict[Node, Any] = {}
    needed = None
    if inputs is not None:
        for t in inputs:
            e = edge_of(t)
            if e is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets[e[0]] = t
        needed = _needed(_topological_order(root_nodes, deps), set(targets))
    captured: dict[Node, Any] = {}

    prev_mode = STATE.enabled
    STATE.enabled = create_graph
    anomaly = STATE.anomaly
    if anomaly:  # ops run by vjp rules are judged by the backward check, which names the node
        _anomaly.in_backward[0] += 1
    # Kahn's algorithm, executed as it goes: a node runs once every edge into it has delivered.
    ready = [r for r in dict.fromkeys(root_nodes) if deps[r] == 0]
    special = bool(targets) or observer is not None
    make = _backend.make_tensor
    pop_ready = ready.pop
    push_ready = ready.append
    pop_grad = grads.pop
    get_grad = grads.get
    _final_callbacks.append([])
    try:
        while ready:
            node = pop_ready()
            g = pop_grad(node, None)
            g_in = None
            if g is not None and (needed is None or node in needed):
                if special or node.extra is not None or node.__class__ is AccumulateGrad:
                    g_in = _run_special(node, g, targets, captured, accumulate,
                                        inputs is None, needed, create_graph, observer)
                else:
                    g_in = node._vjp(g, create_graph)
            if g_in is None:  # nothing to deliver: only release the inputs' dependencies
                for child in node.next:
                    if child is not None:
                        n = deps[child] - 1
                        deps[child] = n
                        if n == 0:
                            push_ready(child)
                continue
            if node.in_shapes is not None:
                g_in = _unbroadcast(node, g_in)
            if anomaly:
                _check_anomaly(node, g_in)
            i = -1
            for child in node.next:
                i += 1
                if child is None:
                    continue
                gi = g_in[i]
                if gi is not None:
                    if child.n_outputs != 1:
                        idx = node.next_idx
                        _deliver(grads, child, 0 if idx is None else idx[i], gi)
                    else:
                        prev = get_grad(child)
                        if prev is None:
                            grads[child] = gi
                        elif create_graph:
                            grads[child] = prev + gi
                        else:  # summing paths needs no graph: add the arrays directly
                            total = prev._data + gi._data
                            if total.__class__ is not _ndarray:  # 0-d sums give scalars
                                total = _asarray(total)
                            grads[child] = make(total)
                n = deps[child] - 1
                deps[child] = n
                if n == 0:
                    push_ready(child)
            gi = None  # (a stale reference would make a leaf copy the gradient it could own)
            if not retain_graph:
                if node.custom_release:
                    node._release()
                elif node.inputs is not None or node.out is not None:
                    node.versions = _FREED  # (Node._release, inlined: runs for every node)
                    node.inputs = None
                    node.out = None
    except BaseException:
        _final_callbacks.pop()
        raise
    finally:
        STATE.enabled = prev_mode
        if anomaly:
            _anomaly.in_backward[0] -= 1
    if _final_callbacks[-1]:
        _run_final_callbacks()
    else:
        _final_callbacks.pop()

    if accumulate:
        return None
    return [captured.get(edge_of(t)[0]) for t in inputs]  # type: ignore[union-attr]


def _run_special(node: Node, g: Any, targets: dict, captured: dict, accumulate: bool,
                 all_leaves: bool, needed: set | None, create_graph: bool,
                 observer: Callable | None = None) -> Any:
    """The uncommon cases of a node's turn: hooks, leaves, targets of ``grad``/``inputs=``,
    recording for drawings and traces.

    Returns the input cotangents to deliver, or None when the node stops the sweep.
    """
    if node.extra is not None:
        g = _pre_hooks(node, node.extra, g, create_graph)
        if node.extra.value is not None:
            node.extra.grad = g
    if observer is not None and node.__class__ is AccumulateGrad:
        observer(node, g, None)
    if node.__class__ is AccumulateGrad:
        if accumulate:
            if all_leaves or node in targets:
                _accumulate_into_leaf(node.variable, g, create_graph)
        else:
            captured[node] = g
        return None
    if node in targets:
        if accumulate:
            _accumulate_into_leaf(targets[node], g, create_graph)
        else:
            captured[node] = g
        if not any(c is not None and c in needed for c in node.next):  # type: ignore
            return None
    g_in = node._vjp(g, create_graph)
    if node.extra is not None and node.extra.post_hooks:
        for hook in node.extra.post_hooks:
            res = hook(tuple(g_in), (g,))
            if res is not None:
                g_in = list(res)
    if observer is not None:
        observer(node, g, g_in)
    return g_in


def _unbroadcast(node: Node, g_in: Any) -> list[Any]:
    """Sum each cotangent back to its input's shape (the adjoint of broadcasting)."""
    out = []
    for gi, shape in zip(g_in, node.in_shapes):  # type: ignore[arg-type]
        if gi is not None and gi._data.shape != shape:
            gi = gi.sum_to_size(shape)
        out.append(gi)
    return out


def _check_anomaly(node: Node, g_in: Any) -> None:
    for i, (c, gi) in enumerate(zip(node.next, g_in)):
        if c is not None and gi is not None:
            _anomaly.check_backward(node, i, gi)


def _pre_hooks(node: Node, extra: _NodeExtra, g: Any, create_graph: bool) -> Any:
    if extra.tensor_hooks:
        g = _run_tensor_hooks(extra.tensor_hooks, g)
    if extra.retained is not None:
        _retain(node, g, create_graph)
    if extra.pre_hooks:
        for hook in extra.pre_hooks:
            res = hook((g,))
            if res is not None:
                g = res[0]
    return g


def _deliver(grads: dict, node: Node, idx: int, g: Any) -> None:
    if node.n_outputs == 1:
        prev = grads.get(node)
        grads[node] = g if prev is None else prev + g
    else:
        slots = grads.get(node)
        if slots is None:
            slots = grads[node] = [None] * node.n_outputs
        slots[idx] = _add(slots[idx], g)


def _run_tensor_hooks(hooks: list, g: Any) -> Any:
    for hook in hooks:
        res = hook(g)
        if res is not None:
            g = res
    return g


class OutputHook:
    """A tensor hook on output ``idx`` of a multi-output node (custom Functions): the node's
    gradient is a list, and the hook sees and replaces only its tensor's slot."""

    __slots__ = ("idx", "fn")

    def __init__(self, idx: int, fn: Callable) -> None:
        self.idx = idx
        self.fn = fn

    def __call__(self, grads: list) -> list | None:
        g = grads[self.idx]
        if g is None:
            return None
        res = self.fn(g)
        if res is None:
            return None
        grads = list(grads)
        grads[self.idx] = res
        return grads


class RetainGradHook:
    """``retain_grad()`` on one output of a multi-output node, as an :class:`OutputHook`."""

    __slots__ = ("ref",)

    def __init__(self, tensor: Any) -> None:
        self.ref = weakref.ref(tensor)

    def __call__(self, g: Any) -> None:
        t = self.ref()
        if t is None:
            return
        create_graph = STATE.enabled  # the engine records the backward only for create_graph
        if t.grad is None:
            t.grad = g if create_graph else g.detach().clone()
        else:
            t.grad = t.grad + g


def _retain(node: Node, g: Any, create_graph: bool) -> None:
    t = node.retained()
    if t is None or t.grad_fn is not node:
        return
    if t.grad is None:
        t.grad = g if create_graph else g.detach().clone()
    elif create_graph:
        t.grad = t.grad + g
    else:
        t.grad._data = _asarray(t.grad._data + g._data)


def _accumulate_into_leaf(var: Any, g: Any, create_graph: bool) -> None:
    # The references to g that only the engine holds, for _own: run_backward's local,
    # _run_special's argument, this frame's. Any other holder (a second leaf that Add's vjp
    # gave the same tensor, a hook that kept it) shows as one more.
    engine_refs = 3
    if var._hooks is not None:
        g = _run_tensor_hooks(var._hooks, g)
        engine_refs = 0  # a hook may have kept what it saw or returned: never steal
    if g.dtype is not var.dtype:
        g = g.to(var.dtype)
        engine_refs = 1  # a fresh tensor: only this frame holds it
    if g._data.shape != var._data.shape:
        g = g.sum_to_size(var._data.shape)
        engine_refs = 1
    if var.grad is None:
        if create_graph:
            var.grad = g
        else:
            var.grad = _backend._tensor_class._make(_own(g, engine_refs))
    elif create_graph or var.grad.requires_grad:
        var.grad = var.grad + g
    else:
        var.grad._data += g._data  # in place, as torch does when not building a graph
    post = var._post_acc_hooks
    if post is not None:
        for hook in post:
            hook(var)


def _own(g: Any, engine_refs: int) -> Any:
    """An array for ``.grad`` that aliases nothing else: the gradient's own buffer when no
    other object can see it (torch steals the buffer the same way), else a copy.
    ``engine_refs``: the references to ``g`` the caller's frames hold (0: always copy)."""
    arr = g._data
    if _BORROWED_REFS or not engine_refs:
        return arr.copy()
    # References to g: the engine's, this frame's argument, getrefcount's argument.
    # References to arr: g._data, this frame's local, getrefcount's argument.
    if not (arr.flags.c_contiguous and arr.flags.writeable
            and sys.getrefcount(g) <= engine_refs + 2 and sys.getrefcount(arr) <= 3):
        return arr.copy()
    base = arr.base
    if base is None:
        return arr
    # A contiguous view of a buffer that only it refers to (a matmul result reshaped or
    # transposed back): the buffer is as private as arr. References to base: arr's, this
    # frame's local, getrefcount's argument, and the data of g's base tensor when g is a
    # view tensor whose base nothing else holds (its references: g._base, this frame's
    # local, getrefcount's argument).
    if base.__class__ is not _ndarray or base.base is not None:
        return arr.copy()
    limit = 3
    owner = g._base
    if owner is not None and owner._data is base:
        if sys.getrefcount(owner) > 3:
            return arr.copy()
        limit = 4
    return arr if sys.getrefcount(base) <= limit else arr.copy()
