"""``chainrule.jit``: static graphs — trace, optimize, compile.

The other half of the lectures' contrast between dynamic graphs (PyTorch, Chainer: the graph
is recorded as the code runs) and static ones (Theano, TF1, ``torch.jit``, ``jax.jit``: the
graph is captured once, then optimized and replayed). chainrule gives both over one op
registry:

- :func:`trace` runs a function or module once and records the primitives it applies into a
  :class:`Graph` that prints like a jaxpr, draws with :mod:`chainrule.viz` and can be called.
"""

from __future__ import annotations

from chainrule.jit import _passes as passes
from chainrule.jit._autodiff import grad_graph
from chainrule.jit._compile import CompiledFunction, CompileWarning, OptimizedModule, compile
from chainrule.jit._fuse import fuse_elementwise
from chainrule.jit._ir import Graph, Kernel, Node, Value
from chainrule.jit._memory import plan_memory
from chainrule.jit._passes import optimize
from chainrule.jit._trace import TraceError, TracerWarning, trace
from chainrule.jit._train import TrainStep, compile_train_step

for _cls in (TraceError, TracerWarning, CompileWarning):
    _cls.__module__ = "chainrule.jit"  # tracebacks name them where users import them
del _cls
passes.fuse_elementwise = fuse_elementwise  # type: ignore[attr-defined]
passes.plan_memory = plan_memory  # type: ignore[attr-defined]

__all__ = ["trace", "grad_graph", "optimize", "compile", "compile_train_step", "TrainStep",
           "CompileWarning", "CompiledFunction", "OptimizedModule", "passes", "Graph", "Node",
           "Value", "Kernel", "TraceError", "TracerWarning"]
