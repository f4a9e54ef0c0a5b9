"""``compile_train_step``: one training step (forward, backward, update) as one static graph.

The step's loss is traced once; its backward is derived once from that graph (static
autodiff, from the same vjp rules eager mode runs); both go into one graph, optimized (the
element-wise chains of forward and backward fused, every intermediate and every gradient in
a buffer planned once and reused at every step) and generated as one Python function. A call
then runs that function on the batch's arrays; each parameter's update runs inside it, right
after the parameter's gradient (:class:`OptimizerUpdate`: the gradient goes to ``.grad`` and
the optimizer's per-parameter update works on the arrays in place; SGD with momentum through
the BLAS library's ``axpby`` and ``axpy``). An optimizer with its own ``step()`` or with
step hooks runs ``optimizer.step()`` after the function instead. Nothing is dispatched op by
op and no autograd node is built.

Guards and fallback are :func:`chainrule.compile`'s: a batch of another shape (the last,
smaller one of an epoch), another dtype or a change of training mode compiles again (logged
under ``CHAINRULE_LOGS=recompiles``); a model the tracer cannot follow trains eagerly, after
a :class:`~chainrule.jit.CompileWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule._backend import random as _random
from chainrule.autograd.grad_mode import enable_grad
from chainrule.jit import _tree
from chainrule.jit._autodiff import differentiate
from chainrule.jit._compile import CompileWarning, _Compiler, _Options, log
from chainrule.jit._ir import Graph, Kernel, Node
from chainrule.jit._passes import optimize
from chainrule.jit._trace import TraceError, _trace_once, check
from chainrule.nn.modules.module import Module
from chainrule.optim.optimizer import _scalar
from chainrule.optim.sgd import SGD
from chainrule.tensor import Tensor

__all__ = ["compile_train_step", "TrainStep"]


class _StepEntry:
    __slots__ = ("mode", "graph", "run", "fused", "run_fused", "params", "grads", "reason")

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.graph: Graph | None = None  # forward, backward and (when fused) the updates
        self.run: Any = None  # forward and backward; the update runs after it
        self.fused: Graph | None = None
        self.run_fused: Any = None  # forward, backward and each parameter's update inside
        self.params: list[Any] = []  # parameters that get a gradient, in output order
        self.grads: list[Any] = []  # one reusable .grad tensor per parameter
        self.reason: str | None = None


class OptimizerUpdate(Kernel):
    """One parameter's optimizer update, inside the generated step: ``p.grad`` takes the
    gradient and the optimizer updates ``p`` (and its state) in place, as its ``step()``
    would for that parameter."""

    n_outputs = 0
    pure = False
    effect = True

    def __init__(self, optimizer: Any, param: Any, group: dict, grad: Any) -> None:
        self.name = "optimizer_update"
        self.optimizer = optimizer
        self.param = param
        self.group = group
        self.grad = grad
        self.plain_sgd = type(optimizer) is SGD
        self.checked: list[Any] = [None]  # (p, g, buf) arrays found fit for BLAS, pointers

    def forward(self, p: Any, g: Any) -> tuple[()]:
        grad = self.grad
        grad._data = g
        param = self.param
        param.grad = grad
        if not (self.plain_sgd and _sgd_blas(self.optimizer, param, p, g, self.group,
                                             self.checked)):
            self.optimizer._step_param(param, grad, self.group)
        return ()

    def describe(self, params: dict[str, Any]) -> str:
        return type(self.optimizer).__name__


# SGD with momentum updates through the BLAS library's axpby and axpy (one pass each over
# the arrays) instead of NumPy's four passes (``buf *= m; buf += g; p += -lr * buf``): about
# twice as fast on the MLP's weights (0.11 against 0.06 ms for 784x512 on one core).
_AXPY: dict[str, Any] | None = None


def _blas_axpy() -> dict[str, Any]:
    """NumPy's OpenBLAS ``cblas_?axpby`` and ``cblas_?axpy`` by dtype char ('f', 'd'), from
    the process's loaded libraries (as ``chainrule._backend.threads`` finds its thread
    count); empty where there is no OpenBLAS to call."""
    global _AXPY
    if _AXPY is not None:
        return _AXPY
    import ctypes

    from chainrule._backend.threads import openblas_libraries

    found: dict[str, Any] = {}
    vp = ctypes.c_void_p
    # (symbol prefix, suffix, integer type): NumPy's wheels bundle scipy-openblas with 64-bit
    # integers and a ``64_`` suffix; a system OpenBLAS exports plain cblas names
    kinds = (("scipy_cblas_", "64_", ctypes.c_int64), ("scipy_cblas_", "", ctypes.c_int),
             ("cblas_", "64_", ctypes.c_int64), ("cblas_", "", ctypes.c_int))
    for lib in openblas_libraries():
        if found:
            break
        for prefix, suffix, idx in kinds:
            fns = {c: (getattr(lib, f"{prefix}{c}axpby{suffix}", None),
                       getattr(lib, f"{prefix}{c}axpy{suffix}", None)) for c in "sd"}
            if not all(a is not None and b is not None for a, b in fns.values()):
                continue
            for c, (axpby, axpy) in fns.items():
                num = ctypes.c_float if c == "s" else ctypes.c_double
                axpby.argtypes = [idx, num, vp, idx, num, vp, idx]
                axpby.restype = None
                axpy.argtypes = [idx, num, vp, idx, vp, idx]
                axpy.restype = None
                found["f" if c == "s" else "d"] = (axpby, axpy)
            break
    _AXPY = found
    return found


def _sgd_blas(opt: Any, param: Any, p: np.ndarray, g: np.ndarray, group: dict,
              checked: list[Any]) -> bool:
    """SGD's update of one parameter (momentum, no dampening, weight decay, Nesterov or
    maximize) as ``buf = g + m * buf`` (axpby) and ``p += -lr * buf`` (axpy) on the arrays;
    False, having done nothing, where that does not apply (the first step, which creates the
    momentum buffer, other settings, dtypes or layouts). The buffer gets the same values as
    ``buf *= m; buf += g``; ``p`` may differ by an ulp (one rounding of ``p - lr * buf``
    where NumPy rounds the product first). ``checked[0]`` keeps the last arrays found fit
    and their addresses, so later steps on the same arrays skip the checks."""
    momentum = group["momentum"]
    if (momentum == 0 or group["dampening"] != 0 or group["nesterov"] or group["maximize"]
            or group["weight_decay"] != 0):
        return False
    state = opt.state.get(param)
    buf = state.get("momentum_buffer") if state else None
    if buf is None:
        return False
    buf = buf._data
    seen = checked[0]
    if seen is None or seen[0] is not p or seen[1] is not g or seen[2] is not buf:
        fns = _blas_axpy().get(p.dtype.char)
        if (fns is None or g.dtype != p.dtype or buf.dtype != p.dtype
                or not p.flags.c_contiguous or not g.flags.c_contiguous
                or not buf.flags.c_contiguous or g.shape != p.shape or buf.shape != p.shape):
            return False
        seen = checked[0] = (p, g, buf, fns, p.ctypes.data, g.ctypes.data, buf.ctypes.data)
    _, _, _, (axpby, axpy), pp, gp, bp = seen
    n = p.size
    axpby(n, 1.0, gp, 1, momentum, bp, 1)
    axpy(n, -_scalar(group["lr"]), bp, 1, pp, 1)
    param._bump()
    return True


def _fusable_optimizer(opt: Any) -> bool:
    """Whether the optimizer's step is the base class's loop over ``_step_param`` (its
    per-parameter update can then run inside the generated step)."""
    from chainrule.optim.optimizer import Optimizer

    return type(opt).step is Optimizer.step and hasattr(opt, "_step_param")


def _hooks(opt: Any) -> bool:
    from chainrule.optim import optimizer as _opt

    return bool(_opt._global_optimizer_pre_hooks or _opt._global_optimizer_post_hooks
                or opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks)


def _with_updates(graph: Graph, optimizer: Any, params: list[Any],
                  grads: list[Any]) -> Graph:
    """``graph`` with one :class:`OptimizerUpdate` node per parameter, placed right after
    the parameter's last read (or a view of it) and its gradient's computation: the update
    runs while the gradient is still in cache, and the step needs no second pass."""
    from chainrule.jit._memory import FRESH

    g = graph.copy()
    groups = {id(p): grp for grp in optimizer.param_groups for p in grp["params"]}
    by_ref = {id(v.ref): v for v in g.params}
    outs = g.outputs[1:]
    inserts: dict[int, list[Node]] = {}
    for p, grad_t, gv in zip(params, grads, outs):
        pv = by_ref[id(p)]
        aliases = {pv}
        last = -1
        for i, node in enumerate(g.nodes):
            if any(v in aliases for v in node.inputs):
                last = i
                if isinstance(node.target, Kernel) or node.target.name not in FRESH:
                    aliases.update(o for o in node.outputs if o is not None)
            if gv in node.outputs:
                last = max(last, i)
        kernel = OptimizerUpdate(optimizer, p, groups[id(p)], grad_t)
        inserts.setdefault(last, []).append(Node(kernel, [pv, gv], {}, []))
    nodes: list[Node] = []
    for i, node in enumerate(g.nodes):
        nodes.append(node)
        nodes.extend(inserts.get(i, []))
    nodes[:0] = inserts.get(-1, [])
    g.nodes = nodes
    g.outputs = g.outputs[:1]
    g.invalidate()
    return g


class TrainStep:
    """A compiled training step; ``step(*batch)`` trains on one batch and returns the loss.

    ``step.graph`` is the optimized forward-and-backward graph of the last compiled batch
    shape (``print(step.graph)`` shows it and its fused kernels; ``step.graph.code`` the
    generated function). Build it with :func:`compile_train_step`.

    Example:
        >>> import chainrule
        >>> from chainrule import jit, nn
        >>> model = nn.Linear(3, 1)
        >>> opt = chainrule.optim.SGD(model.parameters(), lr=0.1)
        >>> x, y = chainrule.randn(8, 3), chainrule.randn(8, 1)
        >>> step = jit.compile_train_step(model, nn.functional.mse_loss, opt, (x, y))
        >>> step(x, y).shape, model.weight.grad.shape
        (chainrule.Size([]), chainrule.Size([1, 3]))
    """

    def __init__(self, model: Module, loss_fn: Callable[..., Any], optimizer: Any,
                 opts: _Options) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self._opts = opts

        def loss(*batch: Any) -> Any:
            return loss_fn(model(batch[0]), *batch[1:])

        loss.named_src = model  # type: ignore[attr-defined]
        self._loss = loss
        self._guards = _Compiler(model, type(model).__name__ + "_train_step", opts)
        self._cache: dict[Any, _StepEntry] = {}

    @property
    def graph(self) -> Graph | None:
        key = self._guards.last_key
        entry = self._cache.get(key) if key is not None else None
        if entry is None:
            return None
        return entry.fused if entry.fused is not None else entry.graph

    def __call__(self, *batch: Any) -> Any:
        if not batch:
            raise TypeError("a train step takes the batch: step(inputs, *targets)")
        key = self._guards.key(batch, {})
        entry = self._cache.get(key)
        if entry is None:
            log.info("%s %s: %s", "Recompiling" if self._cache else "Compiling",
                     self._guards.name, self._guards.describe_miss(key))
            self._guards.last_key = key
            entry, loss = self._build(batch)
            self._cache[key] = entry
            if loss is not None:  # the trace ran this step's forward eagerly: finish it so
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                return loss.detach()
        self._guards.last_key = key
        if entry.mode == "eager":
            self.optimizer.zero_grad()
            with enable_grad():
                loss = self._loss(*batch)
                loss.backward()
            self.optimizer.step()
            return loss.detach()
        arrays = [t._data for t in _tree.flatten(batch)[0]]
        if entry.run_fused is not None and not _hooks(self.optimizer):
            self.optimizer._opt_called = True  # (read by LR schedulers, as step() sets it)
            (loss,) = entry.run_fused(*arrays)
            return _backend.wrap(np.array(loss))
        outs = entry.run(*arrays)
        for p, g, a in zip(entry.params, entry.grads, outs[1:]):
            g._data = a
            p.grad = g
        self.optimizer.step()
        return _backend.wrap(np.array(outs[0]))

    def _build(self, batch: tuple) -> tuple[_StepEntry, Any]:
        """Trace and compile for this batch; also returns the traced (eager) loss, or None."""
        leaves, _ = _tree.flatten(batch)
        names = ["input"] + [f"target{i}" if len(leaves) > 2 else "target"
                             for i in range(len(leaves) - 1)]
        result = None
        try:
            with enable_grad():
                try:
                    graph, result = _trace_once(self._loss, tuple(batch),
                                                name=self._guards.name, input_names=names)
                except TraceError as exc:
                    result = getattr(exc, "result", None)
                    raise
                if self._opts.check_trace:
                    check(graph, self._loss, tuple(batch))
            if not isinstance(result, Tensor) or result._data.shape != ():
                raise TraceError("the loss must be a scalar tensor, got "
                                 f"{getattr(result, 'shape', type(result).__name__)}")
            wrt = [v for v in graph.params if v.requires_grad]
            joint, grads, _ = differentiate(graph, wrt, [t._data for t in leaves])
        except TraceError as exc:
            if self._opts.fullgraph:
                raise
            warnings.warn(f"compile_train_step: {self._guards.name} trains in eager mode: "
                          f"{exc}", CompileWarning, stacklevel=3)
            log.info("Falling back to eager for %s: %s", self._guards.name, exc)
            entry = _StepEntry("eager")
            entry.reason = str(exc)
            ok = isinstance(result, Tensor) and result.grad_fn is not None
            return entry, result if ok else None
        entry = _StepEntry("compiled")
        joint.outputs = [joint.outputs[0]] + [g for g in grads if g is not None]
        entry.graph = optimize(joint, keep_outputs_fresh=False, **self._opts.passes)
        entry.run = entry.graph.executor()
        entry.params = [v.ref for v, g in zip(wrt, grads) if g is not None]
        entry.grads = [_backend.wrap(np.zeros(v.shape, v.dtype)) for v, g in zip(wrt, grads)
                       if g is not None]
        if _fusable_optimizer(self.optimizer):
            entry.fused = _with_updates(entry.graph, self.optimizer, entry.params,
                                        entry.grads)
            entry.run_fused = entry.fused.executor()
        return entry, result


def compile_train_step(model: Module, loss_fn: Callable[..., Any], optimizer: Any,
                       example_batch: Any = None, *, fullgraph: bool = False,
                       options: dict[str, Any] | None = None) -> TrainStep:
    """Compile ``loss_fn(model(inputs), *targets)``, its backward and the optimizer's update
    into one training step.

    ``step(inputs, *targets)`` then does what ``optimizer.zero_grad(); loss =
    loss_fn(model(inputs), *targets); loss.backward(); optimizer.step()`` does, and returns
    the loss (detached). Each parameter's ``.grad`` holds the step's gradient afterwards (a
    buffer the next step overwrites: copy it to keep it).

    Args:
        model: the module to train (its parameters that require grad are updated).
        loss_fn: ``loss_fn(output, *targets) -> scalar tensor``, e.g. ``F.cross_entropy``.
        optimizer: any chainrule optimizer over the model's parameters.
        example_batch: ``(inputs, *targets)`` to compile for now; without it the first call
            compiles.
        fullgraph: raise instead of training eagerly when the step cannot be traced.
        options: pass switches, as for :func:`chainrule.compile`.

    Returns:
        A :class:`TrainStep`.

    Example:
        >>> import chainrule
        >>> from chainrule import nn, jit
        >>> import chainrule.nn.functional as F
        >>> _ = chainrule.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> opt = chainrule.optim.SGD(model.parameters(), lr=0.1)
        >>> step = jit.compile_train_step(model, F.cross_entropy, opt)
        >>> x, y = chainrule.randn(16, 4), chainrule.randint(0, 3, (16,))
        >>> losses = [step(x, y).item() for _ in range(20)]
        >>> losses[-1] < losses[0]
        True
    """
    opts = _Options(fullgraph, None, "inductor", None, options)
    step = TrainStep(model, loss_fn, optimizer, opts)
    if example_batch is not None:
        batch = example_batch if isinstance(example_batch, tuple) else (example_batch,)
        key = step._guards.key(batch, {})
        step._guards.last_key = key
        # compile without training: the trace's forward is discarded, its effects undone
        state = [(t, t._data.copy()) for t in model.buffers()]
        rng = _random.default_generator.get_state()
        entry, _ = step._build(batch)
        _random.default_generator.set_state(rng)
        for t, a in state:
            np.copyto(t._data, a)
        step._cache[key] = entry
    return step
