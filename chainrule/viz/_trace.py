"""trace_backward: run backward and record every step, as the lectures walk a graph by hand.

Each row is one node's turn in the engine: the upstream gradient that reached it, its local
derivative with respect to each input, what it passes to each input (upstream times local, by
the chain rule), and whether that input is a place where gradients from several paths add up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.graph import AccumulateGrad, Node, _dependencies, run_backward
from chainrule.tensor import Tensor
from chainrule.viz._graph import _caller_names

__all__ = ["trace_backward", "BackwardTrace"]


def _value(t: Any) -> Any:
    if t is None:
        return None
    arr = t._data if isinstance(t, Tensor) else np.asarray(t)
    return arr.reshape(()).item() if arr.size == 1 else arr.copy()


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, np.ndarray):
        return np.array2string(v, precision=3, separator=",", threshold=6, edgeitems=2)
    return str(v)


class BackwardTrace:
    """The record of one backward pass: ``rows`` (a list of dicts) and a printable table.

    Row keys: ``step``, ``node`` (label), ``op`` (backward node name), ``upstream``,
    ``local`` (list, one per input), ``passes`` (list of ``(input label, gradient)``),
    ``accumulates`` (input labels where several gradients are summed).
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        header = f"{'step':>4}  {'node':<18}{'upstream':>12}  {'local':<24}passes"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            local = ", ".join(_fmt(v) for v in r["local"]) if r["local"] else "-"
            passes = ", ".join(f"{name} <- {_fmt(v)}" for name, v in r["passes"]) or \
                "(accumulated into .grad)"
            acc = f"   [sums at {', '.join(r['accumulates'])}]" if r["accumulates"] else ""
            lines.append(f"{r['step']:>4}  {r['node']:<18}{_fmt(r['upstream']):>12}  "
                         f"{local:<24}{passes}{acc}")
        return "\n".join(lines)

    __repr__ = __str__


def trace_backward(root: Tensor, gradient: Tensor | None = None, *,
                   names: dict[str, Tensor] | None = None,
                   retain_graph: bool = False) -> BackwardTrace:
    """Run ``root.backward(gradient)`` and record each step of the reverse sweep.

    Leaves are labelled from ``names`` (``{"x": x}``) or, by default, the caller's variable
    names; op nodes by their backward node name. The local derivative of a node with respect to
    an input is its vjp applied to a cotangent of ones (for element-wise ops: the derivative
    itself; for scalars: the partial derivative).

    Example:
        >>> import chainrule
        >>> from chainrule import viz
        >>> x = chainrule.tensor(-2.0, requires_grad=True)
        >>> y = chainrule.tensor(5.0, requires_grad=True)
        >>> z = chainrule.tensor(-4.0, requires_grad=True)
        >>> trace = viz.trace_backward((x + y) * z)
        >>> [(r["node"], r["upstream"]) for r in trace.rows]
        [('MulBackward0', 1.0), ('z', 3.0), ('AddBackward0', -4.0), ('y', -4.0), ('x', -4.0)]
        >>> trace.rows[0]["local"], trace.rows[0]["passes"]
        ([-4.0, 3.0], [('AddBackward0', -4.0), ('z', 3.0)])
    """
    label_of = {id(t): n for n, t in names.items()} if names else _caller_names()
    start = root.grad_fn
    deps = _dependencies([start]) if start is not None else {}

    def label(node: Node) -> str:
        if isinstance(node, AccumulateGrad):
            return label_of.get(id(node.variable), "leaf")
        return node.name()

    rows: list[dict[str, Any]] = []

    def observe(node: Node, g: Any, g_in: Any) -> None:
        row: dict[str, Any] = {"step": len(rows) + 1, "node": label(node), "op": node.name(),
                               "upstream": _value(g), "local": [], "passes": [],
                               "accumulates": []}
        if g_in is not None:
            ones = Tensor._make(np.ones_like(g._data))
            local = node._vjp(ones, create_graph=False)
            for i, e in enumerate(node.edges):
                if e is None:
                    continue
                row["local"].append(_value(local[i]))
                row["passes"].append((label(e[0]), _value(g_in[i])))
                if deps.get(e[0], 0) > 1:
                    row["accumulates"].append(label(e[0]))
        rows.append(row)

    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        gradient = Tensor._make(np.ones_like(root._data))
    run_backward([root], [gradient], retain_graph, False, observer=observe)
    return BackwardTrace(rows)
