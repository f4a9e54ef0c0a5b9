"""draw_graph: the backward graph of any computation as Graphviz DOT (and SVG/PNG via ``dot``).

Each op node shows its backward node's name, the output's shape and dtype, a short value
summary and, after backward, the gradient that reached it; leaves are named from ``params`` (or
the caller's variable names) and show their value and ``.grad``. Nodes are numbered in the
order the engine runs them; a node that feeds several consumers is marked as the place where
gradients are summed; tensors saved for backward are marked.

Intermediate values and gradients are not kept by the engine (that is what makes it fast and
lean); build the computation inside :func:`record` to keep them for the drawing.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.graph import _FREED, AccumulateGrad, _dependencies, _topological_order
from chainrule.tensor import Tensor

__all__ = ["draw_graph", "Graph", "record", "GraphvizNotFound"]


class GraphvizNotFound(RuntimeError):
    """Raised by :meth:`Graph.render` when Graphviz's ``dot`` program is not installed."""


@contextlib.contextmanager
def record(module: Any = None) -> Iterator[None]:
    """Keep every op's output value (and, after backward, its gradient) for :func:`draw_graph`.

    With ``module`` (an ``nn.Module``), ops are also tagged with the submodule that ran them, for
    ``draw_graph(..., collapse_modules=True)``.

    Example:
        >>> import chainrule
        >>> from chainrule import viz
        >>> x = chainrule.tensor(2.0, requires_grad=True)
        >>> with viz.record():
        ...     y = (x * 3).exp()
        >>> y.grad_fn.next_functions[0][0].value
        array(6., dtype=float32)
    """
    prev = STATE.record
    STATE.record = True
    handles = []
    if module is not None:
        handles = _tag_modules(module)
    try:
        yield
    finally:
        STATE.record = prev
        for h in handles:
            h.remove()


_SCOPE: list[str] = []


def _tag_modules(module: Any) -> list[Any]:
    handles = []
    for name, sub in module.named_modules():
        def pre(mod: Any, args: Any, name: str = name) -> None:
            _SCOPE.append(name or type(mod).__name__)

        def post(mod: Any, args: Any, out: Any, name: str = name) -> None:
            _SCOPE.pop()
            _tag_outputs(out, name or type(mod).__name__)

        handles.append(sub.register_forward_pre_hook(pre))
        handles.append(sub.register_forward_hook(post))
    return handles


def _tag_outputs(out: Any, name: str) -> None:
    """Tag the not-yet-tagged nodes behind a module's output with the module's name."""
    roots = [t.grad_fn for t in (out if isinstance(out, (tuple, list)) else [out])
             if isinstance(t, Tensor) and t.grad_fn is not None]
    stack, seen = list(roots), set()
    while stack:
        node = stack.pop()
        if node in seen or isinstance(node, AccumulateGrad):
            continue
        seen.add(node)
        if "module" in node.metadata:
            continue
        node.metadata["module"] = name
        stack.extend(e[0] for e in node.edges if e is not None)


def _summary(arr: Any) -> str:
    a = np.asarray(arr)
    if a.size == 1:
        return f"{a.reshape(()).item():.4g}"
    if a.dtype.kind == "f":
        return f"mean {a.mean():.3g} std {a.std():.3g}"
    return f"{a.dtype} [{a.min()}..{a.max()}]"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _caller_names(frame_depth: int = 2) -> dict[int, str]:
    frame = inspect.currentframe()
    for _ in range(frame_depth):
        frame = frame.f_back if frame is not None else None
    names: dict[int, str] = {}
    if frame is not None:
        for name, value in frame.f_locals.items():
            if isinstance(value, Tensor) and not name.startswith("_"):
                names.setdefault(id(value), name)
    return names


class Graph:
    """A drawn graph: ``.source`` is DOT text; ``.save`` writes it; ``.render`` runs ``dot``."""

    def __init__(self, source: str, order: list[str]) -> None:
        self.source = source
        self.order = order  # node labels in backward execution order

    def save(self, path: str | Path) -> Path:
        """Write the DOT text to ``path``."""
        path = Path(path)
        path.write_text(self.source)
        return path

    def render(self, path: str | Path) -> Path:
        """Render to SVG or PNG (by the file extension) with Graphviz's ``dot``."""
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"render: unsupported extension {path.suffix!r}; use .svg, .png "
                             f"or .pdf (or .save() for DOT text)")
        path.write_bytes(self._run_dot(fmt))
        return path

    def _run_dot(self, fmt: str) -> bytes:
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizNotFound(
                "Graphviz's `dot` program is needed to render; install it (Debian/Ubuntu: "
                "apt-get install graphviz; macOS: brew install graphviz; conda: conda install "
                "graphviz) or use .source / .save(path) for the DOT text.")
        done = subprocess.run([dot, f"-T{fmt}"], input=self.source.encode(), capture_output=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def _repr_svg_(self) -> str | None:
        try:
            return self._run_dot("svg").decode()
        except GraphvizNotFound:
            return None

    def __str__(self) -> str:
        return self.source


def draw_graph(root: Tensor, *, params: dict[str, Tensor] | None = None,
               show_values: bool = True, show_grads: bool = True,
               collapse_modules: bool = False) -> Graph:
    """Draw the backward graph that produced ``root``.

    Args:
        root: the output tensor (usually a loss).
        params: names for leaf tensors, e.g. ``dict(model.named_parameters())``. Without it,
            leaves are named after the caller's local variables when they can be found.
        show_values: print a value summary in each node (intermediates need :func:`record`).
        show_grads: print the gradient that reached each node, after backward.
        collapse_modules: group ops into one box per ``nn.Module`` (build under
            ``record(model)``).

    Returns:
        A :class:`Graph`; ``graph.source`` is the DOT text.

    Example:
        >>> import chainrule
        >>> from chainrule import viz
        >>> x = chainrule.tensor(-2.0, requires_grad=True)
        >>> y = chainrule.tensor(5.0, requires_grad=True)
        >>> z = chainrule.tensor(-4.0, requires_grad=True)
        >>> with viz.record():
        ...     f = (x + y) * z
        >>> f.backward()
        >>> g = viz.draw_graph(f)
        >>> g.order
        ['MulBackward0', 'z', 'AddBackward0', 'y', 'x']
        >>> 'grad -4' in g.source
        True
    """
    names: dict[int, str] = {}
    if params:
        names = {id(t): n for n, t in params.items()}
    else:
        names = _caller_names()
    if root.grad_fn is None and not root.requires_grad:
        raise RuntimeError("draw_graph: the tensor has no graph (it does not require grad)")
    start = root.grad_fn
    if start is None:
        from chainrule.autograd.graph import grad_accumulator

        start = grad_accumulator(root)
    deps = _dependencies([start])
    order = _topological_order([start], deps)
    ids = {node: f"n{i}" for i, node in enumerate(order)}
    labels_in_order = []
    lines = ["digraph chainrule {", '  rankdir="BT";',
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    clusters: dict[str, list[str]] = {}
    for step, node in enumerate(order, start=1):
        if isinstance(node, AccumulateGrad):
            var = node.variable
            name = names.get(id(var), f"leaf {step}")
            labels_in_order.append(name)
            parts = [f"#{step} {name}", f"{_shape(var._data.shape)} {var.dtype.name}"]
            if show_values:
                parts.append(f"value {_summary(var._data)}")
            if show_grads and var.grad is not None:
                parts.append(f"grad {_summary(var.grad._data)}")
            attrs = 'shape=box, style="rounded,filled", fillcolor="#dbeafe"'
        else:
            labels_in_order.append(node.name())
            meta = node.meta if node is not start else (root._data.shape, root._data.dtype)
            shape_text = f"{_shape(meta[0])} {np.dtype(meta[1]).name}" if meta else \
                "shape kept only under viz.record()"
            parts = [f"#{step} {node.name()}", shape_text]
            if node is start and show_values:
                parts.append(f"value {_summary(root._data)}")
            elif show_values and node.value is not None:
                parts.append(f"value {_summary(node.value)}")
            if show_grads and node.grad is not None:
                parts.append(f"grad {_summary(node.grad._data)}")
            saved = []
            op = node.op
            if getattr(op, "needs_inputs", False):
                saved.append("inputs")
            if getattr(op, "needs_output", False):
                saved.append("output")
            if saved:
                freed = node.versions is _FREED
                parts.append("saves " + " + ".join(saved) + " for backward"
                             + (" (freed)" if freed else ""))
            attrs = 'shape=box, style=filled, fillcolor="#f3f4f6"'
        if deps.get(node, 0) > 1:
            parts.append(f"sums gradients from {deps[node]} paths")
            attrs += ', penwidth=2.5, color="#b91c1c"'
        label = "\\n".join(_escape(p) for p in parts)
        lines.append(f'  {ids[node]} [label="{label}", {attrs}];')
        module = node.metadata.get("module") if node.extra is not None else None
        if collapse_modules and module:
            clusters.setdefault(module, []).append(ids[node])
    for node in order:
        for i, e in enumerate(node.edges):
            if e is not None:
                lines.append(f'  {ids[e[0]]} -> {ids[node]} [label="in {i}"];')
    for k, (module, members) in enumerate(clusters.items()):
        lines.append(f'  subgraph cluster_{k} {{ label="{_escape(module)}"; style=dashed; '
                     + " ".join(f"{m};" for m in members) + " }")
    lines.append("}")
    return Graph("\n".join(lines) + "\n", labels_in_order)
