"""``trace``: run a function once on example inputs and record the primitives it applies.

The tracer hooks the one op registry: while it is active, ``Op.apply`` hands it every op it
runs (``STATE.tracer``; one test in the rare branch that forward AD and anomaly detection
already share, so eager code pays nothing). Each op becomes a node; each tensor it meets is
looked up by identity:

- a traced input, or the output of an op recorded before: that value;
- a tensor sharing the data array of a traced value (``x.detach()``, ``x.data``): a ``detach``
  node (same data, no gradient);
- a module's parameter or buffer, or any tensor that requires grad: a *param* value, read
  from that tensor at every call (so training the module is seen by the graph);
- anything else (Python scalars, which ops turn into cached 0-d tensors, tensors the function
  creates, tensors from its closure): a constant, captured at trace time.

A few library functions compute on raw arrays between primitives (max-pooling's window
search, the batch statistics of normalization, dropout's random mask); while tracing they are
swapped for wrappers that record the whole call as one :class:`~chainrule.jit._kernels.Call`
node, so the graph recomputes what they compute at every call.

What a trace cannot see raises :class:`TraceError` (and ``chainrule.compile`` falls back to
eager mode, saying why): a custom ``autograd.Function``, an in-place op on an input or a
parameter, ``backward()`` inside the function. Python control flow is specialized to the
example: ``Tensor.__bool__``, ``item()``, ``tolist()`` on traced values warn with
:class:`TracerWarning`. With ``check_trace`` (the default, as ``torch.jit.trace``), the
function is traced a second time on inputs with other values; if the two graphs differ (ops,
parameters, or a constant that changed: a value computed outside the registry, such as a
comparison mask or random numbers), the trace depends on the data and is refused.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import random as _random
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import STATE
from chainrule.jit import _kernels, _tree
from chainrule.jit._ir import Graph, Kernel, Value
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = ["trace", "TraceError", "TracerWarning"]


class TraceError(RuntimeError):
    """The function does something a static graph cannot replay (the message says what)."""


class TracerWarning(UserWarning):
    """Tracing specialized the graph on a value (Python control flow on a tensor)."""


# Ops that write into one of their inputs as scratch space: (op name, input index). The
# tracer gives that input a fresh `empty` node instead of capturing it as a constant.
_SCRATCH_INPUTS = {"cross_entropy": 2}


class Tracer:
    """The state of one trace: the graph being built and the map from tensors to values."""

    def __init__(self, graph: Graph, named: dict[int, str], quiet: bool = False,
                 examples: dict[Value, Any] | None = None) -> None:
        self.graph = graph
        self.examples = examples  # when given, every new value's array is kept in it
        self.named = named  # id(parameter or buffer) -> qualified name
        self.by_tensor: dict[int, tuple[Any, Value, int]] = {}
        self.by_array: dict[int, tuple[Any, Value]] = {}
        self.depth = 0  # > 0 inside a recorded library call: its inner ops are not recorded
        self.error: str | None = None
        self.quiet = quiet
        self.specialized: list[str] = []
        self.mutated: set[int] = set()  # tensors a recorded effect node updates in place
        self.in_inplace = 0  # inside Tensor._inplace: its version bump is expected

    # -- the map from tensors to values -----------------------------------------------------
    def bind(self, t: Any, v: Value) -> None:
        self.by_tensor[id(t)] = (t, v)
        if v.kind != "const":
            self.by_array[id(t._data)] = (t._data, v)
        if self.examples is not None and v not in self.examples:
            self.examples[v] = t._data

    def known(self, t: Any) -> Value | None:
        e = self.by_tensor.get(id(t))
        return None if e is None else e[1]

    def value_of(self, t: Any) -> Value:
        e = self.by_tensor.get(id(t))
        if e is not None:
            return e[1]
        a = self.by_array.get(id(t._data))
        if a is not None:  # shares a traced value's array: detach() / .data
            v = self.graph.add_node(_kernels.DETACH, [a[1]], {}, [(a[1].shape, a[1].dtype)]).out
            self.bind(t, v)
            return v
        name = self.named.get(id(t))
        if name is not None or t._requires_grad or isinstance(t, Parameter):
            if name is None:
                name = f"p{len(self.graph.params)}"
            v = self.graph.add_param(name, t)
        else:
            v = self.graph.add_const(t._data)
        self.bind(t, v)
        return v

    def bumped(self, t: Any) -> None:
        """``t`` was changed in place by a path other than ``Tensor._inplace``."""
        a = self.by_array.get(id(t._data))
        v = self.known(t)
        if a is not None and a[1] is not v:
            # an in-place shape change (t_, unsqueeze_): t now holds that view
            self.bind(t, a[1])
            return
        if v is not None and id(t) not in self.mutated:
            self.fail(f"{v.name}: {v.type} was modified in place by code the tracer cannot "
                      f"see (not through an op of the registry)")

    def fail(self, reason: str) -> None:
        if self.error is None:
            self.error = reason

    # -- recording ---------------------------------------------------------------------------
    def record(self, cls: Any, inputs: tuple[Any, ...], params: dict[str, Any],
               result: Any) -> None:
        """Called by ``Op.apply`` for every op while this tracer is active."""
        if self.depth:
            return
        scratch = _SCRATCH_INPUTS.get(cls.name)
        ins = []
        for i, t in enumerate(inputs):
            if i == scratch and self.known(t) is None:
                a = t._data
                v = self.graph.add_node(_kernels.EMPTY, [], {"shape": a.shape, "dtype": a.dtype},
                                        [(a.shape, a.dtype)]).out
                self.bind(t, v)
                ins.append(v)
            else:
                ins.append(self.value_of(t))
        a = result._data
        node = self.graph.add_node(cls, ins, params, [(a.shape, a.dtype)])
        self.bind(result, node.out)

    def call(self, fn: Callable[..., Any], name: str, args: tuple[Any, ...],
             kwargs: dict[str, Any], *, pure: bool = True, effect: bool = False,
             hide: tuple[str, ...] = ()) -> Any:
        """Run ``fn(*args, **kwargs)`` eagerly and record it as one :class:`Call` node."""
        leaves, spec = _tree.flatten((args, kwargs))
        ins = [self.value_of(t) for t in leaves]
        self.depth += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        outs, out_spec = _tree.flatten(result)
        shown = {k: v for k, v in _shown_args(fn, args, kwargs).items()
                 if not isinstance(v, Tensor) and k not in hide}
        kernel = _kernels.Call(fn, name, spec, out_spec, len(outs), shown, pure=pure,
                               effect=effect)
        node = self.graph.add_node(kernel, ins, {}, [(o._data.shape, o._data.dtype)
                                                     for o in outs])
        for t, v in zip(outs, node.outputs):
            self.bind(t, v)  # type: ignore[arg-type]
        if effect:
            self.mutated.update(id(t) for t in leaves)
        return result

    def inplace(self, target: Any, result: Any) -> None:
        """``target`` is about to hold ``result`` (an in-place op computed out of place)."""
        v = self.known(target)
        if v is not None and v.kind == "input":
            self.fail(f"in-place op on an input ({v.name}: {v.type}): a graph does not write "
                      f"into its inputs")
        if v is not None and v.kind == "param" and v.requires_grad:
            self.fail(f"in-place op on a parameter ({v.name}: {v.type})")
        if target._base is not None:
            self.fail("in-place op on a view: the traced graph would not update its base")
        rd, td = result._data, target._data
        if rd.shape != td.shape or rd.dtype != td.dtype:
            self.fail(f"in-place op that broadcasts or casts its result "
                      f"({rd.dtype}{list(rd.shape)} into {td.dtype}{list(td.shape)})")
        if v is not None and v.kind == "const":
            v.data = v.data.copy()  # the constant keeps the value it had when it was read

    def specialize(self, t: Any, what: str) -> None:
        """A Python-level read of a tensor's value: the graph keeps this trace's answer."""
        if self.depth or self.quiet:
            return
        v = self.known(t)
        if (v is not None and v.kind in ("const", "param")) or (v is None and id(t) in self.named):
            return  # a constant, a parameter or a buffer: not data of the call
        msg = (f"{what} on a tensor while tracing: the graph is specialized to this example's "
               f"value (data-dependent Python control flow is not recorded; other inputs "
               f"may take another path)")
        self.specialized.append(what)
        warnings.warn(msg, TracerWarning, stacklevel=4)


def _shown_args(fn: Callable[..., Any], args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    return dict(bound.arguments)


# ---------------------------------------------------------------------------------------------
# Library functions recorded as one call (they compute on raw arrays between primitives)


def _active() -> Tracer | None:
    tracer = STATE._tracer
    return tracer if tracer is not None and not tracer.depth else None


def _traced_max_pool(orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(name: str, nd: int, input: Any, *args: Any) -> Any:
        tracer = _active()
        if tracer is None:
            return orig(name, nd, input, *args)
        return tracer.call(orig, name, (name, nd, input) + args, {}, hide=("name", "nd"))
    return wrapper


def _traced_adaptive_max(orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(name: str, nd: int, input: Any, output_size: Any) -> Any:
        tracer = _active()
        if tracer is None:
            return orig(name, nd, input, output_size)
        return tracer.call(orig, name, (name, nd, input, output_size), {},
                           hide=("name", "nd"))
    return wrapper


def _traced_normalize(orig: Callable[..., Any]) -> Callable[..., Any]:
    def with_tensors(op: Any, x: Any, weight: Any, bias: Any, dims: tuple, eps: float,
                     affine_shape: tuple, view: Any = None) -> Any:
        out, mean, var = orig(op, x, weight, bias, dims, eps, affine_shape, view)
        return out, _backend.wrap(mean), _backend.wrap(var)

    with_tensors.__name__ = "normalize"

    def wrapper(op: Any, x: Any, weight: Any, bias: Any, dims: tuple, eps: float,
                affine_shape: tuple, view: Any = None) -> Any:
        tracer = _active()
        if tracer is None:
            return orig(op, x, weight, bias, dims, eps, affine_shape, view)
        # The statistics come back as traced tensors: the callers' running-average updates
        # then compute on values of the graph.
        return tracer.call(with_tensors, op.name, (op, x, weight, bias, dims, eps,
                                                   affine_shape, view), {},
                           hide=("op", "affine_shape", "view"))
    return wrapper


def _traced_update_running(orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(running: Any, value: Any, momentum: float) -> None:
        tracer = _active()
        if tracer is None or not isinstance(value, Tensor):
            return orig(running, value, momentum)
        rv = tracer.value_of(running)
        vv = tracer.value_of(value)
        tracer.graph.add_node(_kernels.UPDATE_RUNNING, [rv, vv], {"momentum": momentum}, [])
        tracer.mutated.add(id(running))
        tracer.depth += 1
        try:
            _kernels.UPDATE_RUNNING.apply(running, value, momentum=momentum)
        finally:
            tracer.depth -= 1
        return None
    return wrapper


def _traced_dropout(orig: Callable[..., Any]) -> Callable[..., Any]:
    def call(input: Any, p: float, shape: tuple, alpha: bool) -> Any:
        # Out of place even for inplace=True: values in a graph are never overwritten (and
        # the recorded call differentiates its input, which an in-place op would forbid).
        return orig(input, p, True, False, lambda: shape, alpha)

    call.__name__ = "dropout"

    def wrapper(input: Any, p: float, training: bool, inplace: bool, noise_shape: Any,
                alpha: bool) -> Any:
        tracer = _active()
        if tracer is None or p == 0 or p == 1 or not training or input.numel() == 0:
            return orig(input, p, training, inplace, noise_shape, alpha)
        # A random mask drawn at every call: an effect (never merged, never folded).
        return tracer.call(call, "alpha_dropout" if alpha else "dropout",
                           (input, p, tuple(noise_shape()), alpha), {}, pure=False,
                           effect=True, hide=("alpha",))
    return wrapper


def _traced_rrelu(orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                training: bool = False, inplace: bool = False) -> Any:
        tracer = _active()
        if tracer is None or not training:
            return orig(input, lower, upper, training, inplace)
        return tracer.call(orig, "rrelu", (input, lower, upper, training, False), {},
                           pure=False, effect=True, hide=("training", "inplace"))
    return wrapper


# (module, attribute, wrapper factory): private helpers are patched in their own module (the
# callers look them up there); public functions in every chainrule module that exports them.
_CALLS = [
    ("chainrule.ops.pool", "_max_pool", _traced_max_pool),
    ("chainrule.ops.pool", "_adaptive_max", _traced_adaptive_max),
    ("chainrule.ops.norm", "_normalize", _traced_normalize),
    ("chainrule.ops.norm", "_update_running", _traced_update_running),
    ("chainrule.nn.functional._dropout", "_dropout_impl", _traced_dropout),
    ("chainrule.nn.functional._activation", "rrelu", _traced_rrelu),
]


def _tensor_patches() -> dict[str, Callable[..., Any]]:
    """Wrappers for Tensor methods the tracer must see."""
    orig_inplace = Tensor._inplace
    orig_old = Tensor._old
    orig_bump = Tensor._bump
    orig_recording = Tensor._inplace_recording

    def _inplace(self: Any, result: Any) -> Any:
        tracer = _active()
        if tracer is None:
            return orig_inplace(self, result)
        tracer.inplace(self, result)
        tracer.in_inplace += 1
        try:
            out = orig_inplace(self, result)
        finally:
            tracer.in_inplace -= 1
        before = tracer.known(self)
        after = tracer.value_of(result)
        if before is not None and before.kind == "param":
            # A buffer updated in place (num_batches_tracked += 1): an effect node writes the
            # new value into it at every call; later reads see the new value.
            tracer.graph.add_node(_kernels.ASSIGN, [before, after], {}, [])
            tracer.mutated.add(id(self))
        tracer.bind(self, after)
        return out

    def _bump(self: Any) -> None:
        orig_bump(self)
        tracer = _active()
        if tracer is not None and not tracer.in_inplace:
            tracer.bumped(self)

    def _inplace_recording(self: Any, *others: Any) -> bool:
        # While tracing every in-place op takes the recorded path (the op, then _inplace),
        # so that the graph sees it even where no gradient is needed.
        recording = orig_recording(self, *others)
        return recording or _active() is not None

    def _old(self: Any) -> Any:
        t = orig_old(self)
        tracer = _active()
        if tracer is not None:
            tracer.bind(t, tracer.value_of(self))
        return t

    def reader(name: str, what: str) -> Callable[..., Any]:
        orig = getattr(Tensor, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracer = _active()
            if tracer is not None:
                tracer.specialize(self, what)
            return orig(self, *args, **kwargs)

        method.__name__ = name
        return method

    orig_backward = Tensor.backward

    def backward(self: Any, *args: Any, **kwargs: Any) -> None:
        tracer = _active()
        if tracer is not None:
            tracer.fail("backward() called inside the traced function: trace the forward "
                        "computation (chainrule.compile differentiates its graph when "
                        "backward runs) or use chainrule.jit.compile_train_step")
            tracer.depth += 1  # the backward itself runs eagerly, unrecorded
            try:
                return orig_backward(self, *args, **kwargs)
            finally:
                tracer.depth -= 1
        return orig_backward(self, *args, **kwargs)

    patches = {"_inplace": _inplace, "_old": _old, "backward": backward, "_bump": _bump,
               "_inplace_recording": _inplace_recording}
    for name, what in (("__bool__", "Tensor.__bool__ (an `if` or `while` on a tensor)"),
                       ("item", "Tensor.item()"), ("tolist", "Tensor.tolist()"),
                       ("__float__", "float(tensor)"), ("__int__", "int(tensor)"),
                       ("__index__", "using a tensor as an index"),
                       ("numpy", "Tensor.numpy()")):
        patches[name] = reader(name, what)
    return patches


def _function_apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
    tracer = _active()
    if tracer is None:
        return _ORIG_FUNCTION_APPLY.__func__(cls, *args, **kwargs)
    tracer.fail(f"custom autograd.Function {cls.__name__}: its forward and backward are "
                f"Python code the graph cannot record")
    tracer.depth += 1
    try:
        return _ORIG_FUNCTION_APPLY.__func__(cls, *args, **kwargs)
    finally:
        tracer.depth -= 1


_ORIG_FUNCTION_APPLY = Function.__dict__["apply"]


@contextlib.contextmanager
def _patched() -> Iterator[None]:
    """Install the wrappers (library calls, Tensor methods, Function.apply) while tracing."""
    undo: list[tuple[Any, str, Any]] = []
    try:
        for modname, attr, factory in _CALLS:
            module = sys.modules.get(modname)
            if module is None:
                continue
            orig = getattr(module, attr)
            wrapper = factory(orig)
            for mod in list(sys.modules.values()):
                mname = getattr(mod, "__name__", "") or ""
                if (mname == "chainrule" or mname.startswith("chainrule.")) and \
                        getattr(mod, attr, None) is orig:
                    undo.append((mod, attr, orig))
                    setattr(mod, attr, wrapper)
        for name, fn in _tensor_patches().items():
            undo.append((Tensor, name, Tensor.__dict__[name]))
            setattr(Tensor, name, fn)
        undo.append((Function, "apply", _ORIG_FUNCTION_APPLY))
        Function.apply = classmethod(_function_apply)  # type: ignore[assignment]
        yield
    finally:
        for obj, attr, orig in reversed(undo):
            setattr(obj, attr, orig)


# ---------------------------------------------------------------------------------------------
# trace()


def _input_names(fn: Any, args: tuple[Any, ...]) -> list[str]:
    target = fn.forward if isinstance(fn, Module) else fn
    names: list[str] = []
    try:
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    for i, a in enumerate(args):
        base = params[i].name if i < len(params) else f"input{i}"
        leaves, _ = _tree.flatten(a)
        if len(leaves) == 1 and isinstance(a, Tensor):
            names.append(base)
        else:
            names.extend(f"{base}_{k}" for k in range(len(leaves)))
    return names


def _named_tensors(fn: Any) -> dict[int, str]:
    """Names of the tensors the graph reads by identity: a module's parameters and buffers,
    and for a function, those of the modules (and the tensors) its closure and globals
    refer to (``lambda x: model(x)`` sees ``model``'s weights as parameters)."""
    named: dict[int, str] = {}

    def add_module(m: Module, prefix: str) -> None:
        for n, t in m.named_buffers():
            named.setdefault(id(t), prefix + n)
        for n, t in m.named_parameters():
            named.setdefault(id(t), prefix + n)

    fn = getattr(fn, "named_src", fn)  # chainrule.compile's wrapper names its target's tensors
    if isinstance(fn, Module):
        add_module(fn, "")
        return named
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, Module):
        add_module(owner, "")
    func = getattr(fn, "__func__", fn)
    try:
        cv = inspect.getclosurevars(func)
    except (TypeError, ValueError):
        return named
    for scope in (cv.nonlocals, cv.globals):
        for var, obj in scope.items():
            if isinstance(obj, Module):
                add_module(obj, var + ".")
            elif isinstance(obj, Tensor):
                named.setdefault(id(obj), var)
    return named


def _module_state(fn: Any) -> list[tuple[str, int]]:
    if not isinstance(fn, Module):
        return []
    return [(n, id(t)) for n, t in fn.named_parameters()] + \
        [(n, id(t)) for n, t in fn.named_buffers()]


def _trace_once(fn: Any, args: tuple[Any, ...], *, quiet: bool = False, name: str = "graph",
                input_names: list[str] | None = None) -> tuple[Graph, Any]:
    """One trace: (graph, the eager result of the call). The function always runs to the
    end (eagerly); a :class:`TraceError` raised afterwards carries its ``result``."""
    graph = Graph(name)
    tracer = Tracer(graph, _named_tensors(fn), quiet=quiet)
    leaves, graph.in_spec = _tree.flatten(tuple(args))
    if input_names is None:
        input_names = _input_names(fn, args)
    for t, n in zip(leaves, input_names):
        v = graph.add_input(n, t._data.shape, t._data.dtype, t._requires_grad)
        tracer.bind(t, v)
    prev = STATE.tracer
    if prev is not None:
        raise TraceError("trace() inside a trace is not supported")
    state_ids = _module_state(fn)
    with _patched():
        STATE.tracer = tracer
        try:
            result = fn(*args)
        finally:
            STATE.tracer = None
        outs, graph.out_spec = _tree.flatten(result)
        graph.outputs = [tracer.value_of(t) for t in outs]
    if tracer.error is None and _module_state(fn) != state_ids:
        tracer.fail("a parameter or buffer of the module was replaced by another tensor during "
                    "the trace (an attribute assignment the graph cannot replay); update it "
                    "in place instead")
    if tracer.error is not None:
        exc = TraceError(tracer.error)
        exc.result = result  # type: ignore[attr-defined]
        raise exc
    graph.specialized = tracer.specialized
    graph.examples = [t._data.copy() for t in leaves]
    return graph, result


def trace(fn: Callable[..., Any] | Module, example_inputs: Any, *, check_trace: bool = True,
          name: str | None = None) -> Graph:
    """Record the primitives ``fn(*example_inputs)`` applies into a :class:`Graph`.

    ``fn`` is a function of tensors or an ``nn.Module`` (its parameters and buffers become
    *param* values, read from the module at every call). The graph is specialized to the
    example's shapes, dtypes and Python control flow; it prints one line per op, draws with
    :meth:`Graph.to_dot` and runs when called.

    Args:
        fn: the function or module to trace.
        example_inputs: a tensor or a tuple of arguments (tensors, or tuples, lists and
            dicts of tensors; other values are baked into the graph).
        check_trace: trace again on inputs with other values and raise :class:`TraceError`
            when the graphs differ (a data-dependent constant or control flow), as
            ``torch.jit.trace(check_trace=True)``. Default: ``True``.
        name: the graph's name (default: the function's).

    Returns:
        The :class:`Graph`.

    Raises:
        TraceError: for what a graph cannot replay (the message says what).

    Example:
        >>> import chainrule
        >>> from chainrule import jit, nn
        >>> _ = chainrule.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> g = jit.trace(model, chainrule.randn(5, 3))
        >>> print(g)
        Sequential(input: f32[5, 3]) {
          0.weight: f32[4, 3] = param
          0.bias: f32[4] = param
          2.weight: f32[2, 4] = param
          2.bias: f32[2] = param
          v0: f32[3, 4] = permute(0.weight)  dims=(1, 0)
          v1: f32[5, 4] = addmm(0.bias, input, v0)  beta=1 alpha=1
          v2: f32[5, 4] = relu(v1)
          v3: f32[4, 2] = permute(2.weight)  dims=(1, 0)
          v4: f32[5, 2] = addmm(2.bias, v2, v3)  beta=1 alpha=1
          return v4
        }
        >>> x = chainrule.randn(5, 3)
        >>> bool((g(x) == model(x)).all())
        True
    """
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    if name is None:
        name = type(fn).__name__ if isinstance(fn, Module) else getattr(fn, "__name__", "graph")
        if name == "<lambda>":
            name = "graph"
    graph, _ = _trace_once(fn, args, name=name)
    if check_trace:
        check(graph, fn, args)
    return graph


# ---------------------------------------------------------------------------------------------
# check_trace: a second trace on other values must give the same graph


def perturbed(t: Any, rng: np.random.Generator) -> Any:
    """A tensor like ``t`` with other values: its elements permuted and, for floats, scaled
    by factors in [0.5, 1.5] with random signs (so branches on signs and sums change); an
    integer tensor is only permuted (a class index stays a valid class index)."""
    a = t._data
    flat = a.reshape(-1)
    new = flat[rng.permutation(flat.size)] if flat.size > 1 else flat.copy()
    if a.dtype.kind == "f":
        scale = rng.uniform(0.5, 1.5, new.size) * rng.choice([-1.0, 1.0], new.size)
        new = (new * scale).astype(a.dtype)
        if flat.size == 1:
            new = new + np.asarray(0.37, a.dtype)
    out = _backend.wrap(np.ascontiguousarray(new.reshape(a.shape)), t._requires_grad)
    return out


def _snapshot(graph: Graph) -> list[tuple[Any, np.ndarray]]:
    """Copies of the arrays a trace may update in place (parameters, buffers)."""
    return [(v.ref, v.ref._data.copy()) for v in graph.params]


def check(graph: Graph, fn: Any, args: tuple[Any, ...]) -> None:
    """Trace ``fn`` again on perturbed inputs; raise :class:`TraceError` if the graph differs.

    The second trace's side effects are undone: parameters and buffers get their values
    back, and the random generator its state.
    """
    rng = np.random.default_rng(0)
    leaves, spec = _tree.flatten(tuple(args))
    if not leaves:
        return
    other = _tree.unflatten(spec, [perturbed(t, rng) for t in leaves])
    saved = _snapshot(graph)
    rng_state = _random.default_generator.get_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph2, _ = _trace_once(fn, tuple(other), quiet=True,
                                    input_names=[v.name for v in graph.inputs])
    except TraceError:
        raise
    except Exception:  # noqa: BLE001  (the other values may be outside the function's domain)
        return
    finally:
        _random.default_generator.set_state(rng_state)
        for t, arr in saved:
            np.copyto(t._data, arr)
    diff = compare(graph, graph2)
    if diff is not None:
        raise TraceError(f"the trace depends on the input values: {diff}")


def _same_param(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and bool(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_param(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return a is b


def _same_target(a: Any, b: Any) -> bool:
    if isinstance(a, _kernels.Call) and isinstance(b, _kernels.Call):
        return a.name == b.name and _same_param(list(a.shown.values()), list(b.shown.values()))
    if isinstance(a, Kernel) or isinstance(b, Kernel):
        return type(a) is type(b)
    return a is b


def compare(g1: Graph, g2: Graph) -> str | None:
    """The first difference between two traces of one function, or None."""
    corr: dict[int, Value] = {}
    for a, b in zip(g1.inputs, g2.inputs):
        corr[id(a)] = b
    n = min(len(g1.nodes), len(g2.nodes))
    for i in range(n):
        x, y = g1.nodes[i], g2.nodes[i]
        where = f"op #{i} ({x.target.name}, defining {x.outputs[0].name if x.outputs else '-'})"
        if not _same_target(x.target, y.target):
            return (f"data-dependent control flow: {where} became {y.target.name} on other "
                    f"inputs")
        if len(x.inputs) != len(y.inputs):
            return f"data-dependent control flow: {where} takes other inputs"
        for j, (u, w) in enumerate(zip(x.inputs, y.inputs)):
            if u.kind == "const" or w.kind == "const":
                if u.kind != w.kind or not _same_param(u.data, w.data):
                    return (f"input {j} of {where} is a constant computed from the data "
                            f"outside the registry's ops (a comparison, random numbers, "
                            f"item(), NumPy on tensor data); it changed with the inputs")
            elif u.kind == "param":
                if w.kind != "param" or u.ref is not w.ref:
                    return f"input {j} of {where} is another tensor on other inputs"
            elif corr.get(id(u)) is not w:
                return f"data-dependent control flow: input {j} of {where} changed"
        for k in set(x.params) | set(y.params):
            if not _same_param(x.params.get(k), y.params.get(k)):
                return (f"parameter {k!r} of {where} changed with the inputs (computed from "
                        f"the data outside the graph)")
        for o, p in zip(x.outputs, y.outputs):
            if o is not None and p is not None:
                corr[id(o)] = p
    if len(g1.nodes) != len(g2.nodes):
        return (f"data-dependent control flow: {len(g1.nodes)} ops on the example, "
                f"{len(g2.nodes)} on other inputs")
    if len(g1.outputs) != len(g2.outputs):
        return "the number of outputs changed"
    for a, b in zip(g1.outputs, g2.outputs):
        if a.kind == "const" and not _same_param(a.data, b.data):
            return f"output {a.name} is a constant computed from the data outside the graph"
    if not _same_param(_spec_consts(g1.out_spec), _spec_consts(g2.out_spec)):
        return "a Python value the function returns changed with the inputs"
    return None


def _spec_consts(spec: Any) -> list[Any]:
    if spec == _tree.LEAF:
        return []
    if spec[0] == "const":
        v = spec[1]
        return [v] if isinstance(v, (int, float, bool, str, type(None))) else []
    children = spec[-1]
    out: list[Any] = []
    for s in children:
        out.extend(_spec_consts(s))
    return out
