"""``chainrule.compile``: trace on first call, optimize, replay; re-trace when a guard fails.

A compiled function keeps one compiled entry per *guard key*: the shapes, dtypes and
``requires_grad`` flags of its tensor arguments, the values of its other arguments, the grad
mode, and the training flags (and ``requires_grad`` flags of the parameters) of the modules
it uses. A call whose key has no entry traces again; the reason (which guard failed) is
logged on the ``chainrule.jit.recompiles`` logger, shown on stderr when the environment sets
``CHAINRULE_LOGS=recompiles`` (as ``TORCH_LOGS=recompiles``).

An entry runs one of three ways:

- no gradient needed (``no_grad``, or nothing requires grad): the optimized graph's generated
  code, straight on arrays;
- a gradient needed: the forward and backward graphs, derived once (static autodiff), run
  as one autograd node: the forward now, the backward when ``backward()`` reaches it;
- the trace failed (a custom ``autograd.Function``, an in-place op on an input, a value
  computed outside the registry...): eager mode, after a :class:`CompileWarning` naming the
  reason (``fullgraph=True`` raises it instead, as torch's does on a graph break).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import STATE
from chainrule.jit import _tree
from chainrule.jit._autodiff import differentiate
from chainrule.jit._ir import Graph, Value
from chainrule.jit._passes import optimize
from chainrule.jit._trace import TraceError, _trace_once, check
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["compile", "CompileWarning", "OptimizedModule", "CompiledFunction"]

log = logging.getLogger("chainrule.jit.recompiles")
_handler_installed = [False]


def _configure_logging() -> None:
    """``CHAINRULE_LOGS=recompiles`` (comma-separated list) shows recompile reasons on stderr."""
    wanted = {s.strip().lstrip("+") for s in os.environ.get("CHAINRULE_LOGS", "").split(",")}
    if "recompiles" in wanted and not _handler_installed[0]:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[chainrule.compile] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        _handler_installed[0] = True


class CompileWarning(UserWarning):
    """chainrule.compile ran a function eagerly because it could not trace it (says why)."""


_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = ("inductor", "chainrule", "eager", "aot_eager")


class _Options:
    def __init__(self, fullgraph: bool, dynamic: bool | None, backend: Any, mode: str | None,
                 options: dict[str, Any] | None) -> None:
        if mode not in _MODES:
            raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                               f"{', '.join(str(m) for m in _MODES[1:])}")
        if isinstance(backend, str) and backend not in _BACKENDS:
            raise RuntimeError(f"invalid backend {backend!r}: chainrule.compile knows "
                               f"{', '.join(_BACKENDS)}")
        if dynamic:
            warnings.warn("chainrule.compile(dynamic=True): graphs are specialized to shapes; "
                          "a new shape is a recompile", CompileWarning, stacklevel=3)
        self.fullgraph = fullgraph
        self.backend = backend
        passes = dict(options or {})
        unknown = set(passes) - {"dce", "cse", "fold", "simplify", "fuse", "plan_memory",
                                 "check_trace"}
        if unknown:
            raise RuntimeError(f"chainrule.compile: unknown options {sorted(unknown)}")
        self.check_trace = passes.pop("check_trace", True)
        if backend in ("eager", "aot_eager"):  # torch's debugging backends: no optimization
            passes = {k: False for k in ("dce", "cse", "fold", "simplify", "fuse",
                                         "plan_memory")}
        self.passes = passes


class _Entry:
    """What one guard key compiled to."""

    __slots__ = ("mode", "run", "graph", "fwd", "bwd", "wrt_inputs", "wrt_params", "has_grad",
                 "n_out", "out_spec", "reason")

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.run: Any = None
        self.graph: Graph | None = None
        self.fwd: Any = None
        self.bwd: Any = None
        self.wrt_inputs: list[int] = []  # positions of the inputs that take a gradient
        self.wrt_params: list[Any] = []  # the parameters that take a gradient
        self.has_grad: list[bool] = []  # per wrt value: does a gradient reach it
        self.n_out = 0
        self.out_spec: Any = None
        self.reason: str | None = None


def _modules_of(fn: Any) -> list[Module]:
    if isinstance(fn, Module):
        return list(fn.modules())
    mods: list[Module] = []
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, Module):
        mods.extend(owner.modules())
    import inspect

    try:
        cv = inspect.getclosurevars(getattr(fn, "__func__", fn))
    except (TypeError, ValueError):
        return mods
    for scope in (cv.nonlocals, cv.globals):
        for obj in scope.values():
            if isinstance(obj, Module):
                mods.extend(obj.modules())
    return mods


def _leaf_key(x: Any) -> Any:
    if isinstance(x, Tensor):
        a = x._data
        return ("T", a.shape, a.dtype.str, x._requires_grad)
    try:
        hash(x)
        return ("V", type(x).__name__, x)
    except TypeError:
        return ("O", type(x).__name__, id(x))


class _Compiler:
    """The guarded cache of compiled entries for one function or module."""

    def __init__(self, fn: Callable[..., Any], name: str, opts: _Options) -> None:
        self.fn = fn
        self.name = name
        self.opts = opts
        self.cache: dict[Any, _Entry] = {}
        self.last_key: Any = None
        self._modules: list[Module] | None = None
        self._params: list[Any] | None = None
        _configure_logging()

    # -- guards ------------------------------------------------------------------------------
    def modules(self) -> list[Module]:
        if self._modules is None:
            self._modules = _modules_of(self.fn)
        return self._modules

    def key(self, args: tuple, kwargs: dict) -> tuple:
        leaves, spec = _tree.flatten((args, kwargs))
        tensors = tuple(_leaf_key(t) for t in leaves)
        mods = self.modules()
        training = tuple(m.training for m in mods)
        if self._params is None:
            self._params = [p for m in mods[:1] for p in m.parameters()]
        frozen = tuple(p._requires_grad for p in self._params)
        return (tensors, _spec_key(spec), STATE.enabled, training, frozen)

    def describe_miss(self, key: tuple) -> str:
        old = self.last_key
        if old is None:
            return "first call"
        t_old, t_new = old[0], key[0]
        names = ["inputs", "non-tensor arguments", "grad mode", "training mode",
                 "requires_grad of parameters"]
        if len(t_old) != len(t_new):
            return f"number of tensor arguments changed from {len(t_old)} to {len(t_new)}"
        for i, (a, b) in enumerate(zip(t_old, t_new)):
            if a != b:
                if a[1] != b[1]:
                    return f"tensor argument {i}: shape {list(a[1])} -> {list(b[1])}"
                if a[2] != b[2]:
                    return f"tensor argument {i}: dtype {np.dtype(a[2])} -> {np.dtype(b[2])}"
                return f"tensor argument {i}: requires_grad {a[3]} -> {b[3]}"
        if old[2] != key[2]:
            return f"grad mode: is_grad_enabled() {old[2]} -> {key[2]}"
        if old[3] != key[3]:
            mods = self.modules()
            for m, a, b in zip(mods, old[3], key[3]):
                if a != b:
                    return (f"training mode of {type(m).__name__}: "
                            f"{'train' if a else 'eval'} -> {'train' if b else 'eval'}")
        for i, name in enumerate(names):
            if old[i] != key[i]:
                return f"{name} changed"
        return "guard miss"

    # -- calls -------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if STATE._tracer is not None:  # called inside another trace: inline the original
            return self.fn(*args, **kwargs)
        key = self.key(args, kwargs)
        entry = self.cache.get(key)
        if entry is None:
            if self.cache:
                log.info("Recompiling %s: %s", self.name, self.describe_miss(key))
            else:
                log.info("Compiling %s (%s)", self.name, self.describe_miss(key))
            self.last_key = key
            entry, result = self.build(args, kwargs)
            self.cache[key] = entry
            return result
        self.last_key = key
        if entry.mode == "eager":
            return self.fn(*args, **kwargs)
        leaves, _ = _tree.flatten((args, kwargs))
        if entry.mode == "plain":
            outs = entry.run(*[t._data for t in leaves])
            res = [_backend.wrap(a) if isinstance(a, np.ndarray) else a for a in outs]
            return _tree.unflatten(entry.out_spec, res)
        return _tree.unflatten(entry.out_spec, _run_aot(entry, leaves))

    def build(self, args: tuple, kwargs: dict) -> tuple[_Entry, Any]:
        """Trace (the call's eager result is this call's result) and compile an entry."""
        def call(a: tuple, k: dict) -> Any:
            return self.fn(*a, **k)

        call.named_src = self.fn  # type: ignore[attr-defined]
        call_args = (tuple(args), dict(kwargs))
        names = _arg_names(self.fn, args, kwargs)
        result: Any = _NOTHING
        try:
            graph, result = _trace_once(call, call_args, name=self.name, input_names=names)
            if self.opts.check_trace:
                check(graph, call, call_args)
        except TraceError as exc:
            if self.opts.fullgraph:
                raise
            warnings.warn(f"chainrule.compile: {self.name} runs in eager mode: {exc}",
                          CompileWarning, stacklevel=3)
            entry = _Entry("eager")
            entry.reason = str(exc)
            log.info("Falling back to eager for %s: %s", self.name, exc)
            if result is _NOTHING:
                result = getattr(exc, "result", _NOTHING)
            if result is _NOTHING:
                result = self.fn(*args, **kwargs)
            return entry, result
        leaves, _ = _tree.flatten(call_args)
        needs_grad = graph.needs_autograd(leaves)
        entry = _Entry("aot" if needs_grad else "plain")
        entry.out_spec = graph.out_spec
        if needs_grad:
            try:
                _build_aot(entry, graph, leaves, self.opts.passes)
            except TraceError as exc:
                if self.opts.fullgraph:
                    raise
                warnings.warn(f"chainrule.compile: {self.name} runs in eager mode: {exc}",
                              CompileWarning, stacklevel=3)
                log.info("Falling back to eager for %s: %s", self.name, exc)
                entry = _Entry("eager")
                entry.reason = str(exc)
        else:
            entry.graph = optimize(graph, **self.opts.passes)
            entry.run = entry.graph.executor()
        return entry, result


_NOTHING = object()


def _arg_names(fn: Any, args: tuple, kwargs: dict) -> list[str]:
    """Names for the tensors of a call: the parameter names of ``fn`` (``x``, ``target``)."""
    import inspect

    target = fn.forward if isinstance(fn, Module) else fn
    try:
        params = [p.name for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for i, a in enumerate(args):
        base = params[i] if i < len(params) else f"input{i}"
        leaves, _ = _tree.flatten(a)
        names.extend([base] if isinstance(a, Tensor) else
                     [f"{base}_{k}" for k in range(len(leaves))])
    for k, a in kwargs.items():
        leaves, _ = _tree.flatten(a)
        names.extend([k] if isinstance(a, Tensor) else
                     [f"{k}_{j}" for j in range(len(leaves))])
    return names


def _spec_key(spec: Any) -> Any:
    if spec == _tree.LEAF:
        return spec
    kind = spec[0]
    if kind == "const":
        return ("const",) + tuple(_leaf_key(spec[1]))
    if kind == "dict":
        return ("dict", tuple(spec[1]), tuple(_spec_key(s) for s in spec[2]))
    if kind == "namedtuple":
        return ("namedtuple", spec[1], tuple(_spec_key(s) for s in spec[2]))
    return (kind, tuple(_spec_key(s) for s in spec[1]))


# ---------------------------------------------------------------------------------------------
# Forward + backward as one autograd node


def _build_aot(entry: _Entry, graph: Graph, leaves: list[Any], passes: dict) -> None:
    """Split the joint graph into a forward graph (outputs and residuals) and a backward
    graph (residuals and cotangents in, gradients out), each optimized and generated."""
    wrt = [v for v in graph.inputs if v.requires_grad] + \
        [v for v in graph.params if v.requires_grad]
    examples = [t._data for t in leaves]
    n_fwd = len(graph.nodes)
    joint, grads, cots = differentiate(graph, wrt, examples, cotangents="inputs")
    fwd_nodes, bwd_nodes = joint.nodes[:n_fwd], joint.nodes[n_fwd:]
    n_out = len(graph.outputs)
    defined_fwd = set(joint.inputs[:len(graph.inputs)])
    for n in fwd_nodes:
        defined_fwd.update(o for o in n.outputs if o is not None)
    residuals: list[Value] = []
    seen: set[Value] = set()
    for n in bwd_nodes:
        for v in n.inputs:
            if v in defined_fwd and v not in seen:
                seen.add(v)
                residuals.append(v)
    for g in grads:
        if g is not None and g in defined_fwd and g not in seen:
            seen.add(g)
            residuals.append(g)

    fwd = Graph(graph.name + "_forward")
    fwd.inputs = joint.inputs[:len(graph.inputs)]
    fwd.params, fwd.consts = joint.params, joint.consts
    fwd.nodes = fwd_nodes
    fwd.outputs = joint.outputs[:n_out] + residuals
    fwd._counter = joint._counter

    bwd = Graph(graph.name + "_backward")
    bwd.inputs = residuals + cots
    bwd.params, bwd.consts = joint.params, joint.consts
    bwd.nodes = bwd_nodes
    bwd.outputs = [g for g in grads if g is not None]
    bwd._counter = joint._counter
    entry.graph = joint
    entry.fwd = optimize(fwd, **passes)
    entry.bwd = optimize(bwd, **passes)
    entry.run = (entry.fwd.executor(), entry.bwd.executor())
    entry.wrt_inputs = [graph.inputs.index(v) for v in wrt if v.kind == "input"]
    entry.wrt_params = [v.ref for v in wrt if v.kind == "param"]
    entry.has_grad = [g is not None for g in grads]
    entry.n_out = n_out


class _Compiled(Function):
    """The compiled forward and backward of one entry, as one node of the autograd graph."""

    @staticmethod
    def forward(ctx: Any, entry: _Entry, n_in: int, *tensors: Any) -> Any:
        fwd_run, _ = entry.run
        outs = fwd_run(*[t._data for t in tensors[:n_in]])
        ctx.entry = entry
        ctx.n_in = n_in
        ctx.residuals = outs[entry.n_out:]
        return tuple(_backend.wrap(a) for a in outs[:entry.n_out])

    @staticmethod
    def backward(ctx: Any, *gs: Any) -> Any:
        entry = ctx.entry
        _, bwd_run = entry.run
        if ctx.residuals is None:
            raise RuntimeError("Trying to backward through a compiled graph a second time: its "
                               "saved values were freed (chainrule.compile's backward runs once)")
        g_arrays = []
        for g, v in zip(gs, entry.fwd.outputs[:entry.n_out]):
            g_arrays.append(np.zeros(v.shape, v.dtype) if g is None else g._data)
        grads = iter(bwd_run(*ctx.residuals, *g_arrays))
        ctx.residuals = None
        per_wrt = [_backend.wrap(next(grads)) if has else None for has in entry.has_grad]
        k = len(entry.wrt_inputs)
        inputs: list[Any] = [None] * ctx.n_in
        for pos, g in zip(entry.wrt_inputs, per_wrt[:k]):
            inputs[pos] = g
        return (None, None, *inputs, *per_wrt[k:])


def _run_aot(entry: _Entry, leaves: list[Any]) -> list[Any]:
    outs = _Compiled.apply(entry, len(leaves), *leaves, *entry.wrt_params)
    return list(outs) if isinstance(outs, tuple) else [outs]


# ---------------------------------------------------------------------------------------------
# Public wrappers


class CompiledFunction:
    """A function compiled by :func:`compile`; call it as the original.

    ``.graphs()`` returns the optimized graphs of every compiled entry (print them to see
    the code that runs).

    Example:
        >>> import chainrule
        >>> f = chainrule.compile(lambda x: (x * 2).exp())
        >>> with chainrule.no_grad():
        ...     y = f(chainrule.zeros(2))
        ...     y = f(chainrule.zeros(2))
        >>> y, [n.target.name for n in f.graphs()[0].nodes]
        (tensor([1., 1.]), ['fused_0'])
    """

    def __init__(self, fn: Callable[..., Any], opts: _Options) -> None:
        functools.update_wrapper(self, fn)
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", "function"))
        self._compiler = _Compiler(fn, name, opts)
        self._orig_fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiler(*args, **kwargs)

    def graphs(self) -> list[Graph]:
        """The optimized graphs compiled so far (forward and backward for training)."""
        out: list[Graph] = []
        for e in self._compiler.cache.values():
            if e.mode == "plain":
                out.append(e.graph)
            elif e.mode == "aot":
                out += [e.fwd, e.bwd]
        return out


class OptimizedModule(Module):
    """A module compiled by :func:`compile`, as torch's ``OptimizedModule``: calls run the
    compiled forward; ``_orig_mod`` is the original (its state_dict keys gain the
    ``_orig_mod.`` prefix, as in torch).

    Example:
        >>> import chainrule
        >>> fast = chainrule.compile(chainrule.nn.Linear(2, 1))
        >>> list(fast.state_dict())
        ['_orig_mod.weight', '_orig_mod.bias']
    """

    def __init__(self, mod: Module, opts: _Options) -> None:
        super().__init__()
        self._orig_mod = mod
        self._compiler = _Compiler(mod, type(mod).__name__, opts)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiler(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiler(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules")
            if modules and "_orig_mod" in modules:  # as torch's: the original's attributes
                return getattr(modules["_orig_mod"], name)
            raise

    def graphs(self) -> list[Graph]:
        """The optimized graphs compiled so far (forward and backward for training)."""
        return CompiledFunction.graphs(self)  # type: ignore[arg-type]


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend: Any = "inductor", mode: str | None = None,
            options: dict[str, Any] | None = None, disable: bool = False) -> Any:
    """Compile a function or module into static graphs, as ``torch.compile``.

    The first call traces (its eager result is returned); later calls whose guards hold run
    the optimized graph's generated code. In grad mode the backward is derived once from the
    forward graph and runs when ``backward()`` reaches the compiled call.

    Args:
        model: the function or ``nn.Module``; without it, a decorator is returned.
        fullgraph: raise :class:`~chainrule.jit.TraceError` where the trace fails, instead
            of falling back to eager mode.
        dynamic: ``True`` is accepted with a warning: graphs are always specialized to
            shapes (a new shape recompiles).
        backend: ``'inductor'`` (the default, as torch's) or ``'chainrule'``: every pass;
            ``'eager'`` / ``'aot_eager'``: trace and run the graph with no pass.
        mode: torch's modes are accepted; every one runs the same passes here.
        options: switch passes on or off: ``{'fuse': False, 'plan_memory': False, 'dce',
            'cse', 'fold', 'simplify'}``, and ``'check_trace'`` (trace twice to catch
            data-dependent graphs; default ``True``).
        disable: return ``model`` itself.

    Returns:
        A :class:`CompiledFunction`, or an :class:`OptimizedModule` for a module.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> _ = chainrule.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> fast = chainrule.compile(model)
        >>> x = chainrule.randn(3, 4)
        >>> bool((fast(x) - model(x)).abs().max() < 1e-6)
        True
        >>> fast(x).sum().backward()  # the backward graph derived at compile time
        >>> model[0].weight.grad.shape
        chainrule.Size([8, 4])
    """
    if model is None:
        def decorator(m: Any) -> Any:
            return compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, disable=disable)
        return decorator
    if disable:
        return model
    opts = _Options(fullgraph, dynamic, backend, mode, options)
    if isinstance(model, Module):
        return OptimizedModule(model, opts)
    if not callable(model):
        raise RuntimeError(f"chainrule.compile expects a callable or a Module, got "
                           f"{type(model).__name__}")
    return CompiledFunction(model, opts)

