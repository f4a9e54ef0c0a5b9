"""trace_backward reproduces the lectures' hand-worked examples."""

from __future__ import annotations

import math

import chainrule
from chainrule import viz


def test_lecture_example_numbers() -> None:
    x = chainrule.tensor(-2.0, requires_grad=True)
    y = chainrule.tensor(5.0, requires_grad=True)
    z = chainrule.tensor(-4.0, requires_grad=True)
    trace = viz.trace_backward((x + y) * z, names={"x": x, "y": y, "z": z})
    by_node = {r["node"]: r for r in trace.rows}
    assert by_node["MulBackward0"]["upstream"] == 1.0
    assert by_node["MulBackward0"]["local"] == [-4.0, 3.0]          # multiplication switches
    assert by_node["AddBackward0"]["local"] == [1.0, 1.0]           # addition distributes
    assert dict(by_node["AddBackward0"]["passes"]) == {"x": -4.0, "y": -4.0}
    assert (by_node["x"]["upstream"], by_node["y"]["upstream"], by_node["z"]["upstream"]) == (
        -4.0, -4.0, 3.0)
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)
    assert [r["step"] for r in trace.rows] == list(range(1, len(trace.rows) + 1))


def test_accumulation_over_two_paths_is_reported() -> None:
    x1 = chainrule.tensor(2.0, requires_grad=True)
    x2 = chainrule.tensor(0.5, requires_grad=True)
    trace = viz.trace_backward(x1 * x2 + chainrule.sin(x2), names={"x1": x1, "x2": x2})
    sums = [r for r in trace.rows if "x2" in r["accumulates"]]
    assert len(sums) == 2  # the product and the sine both send to x2
    x2_row = next(r for r in trace.rows if r["node"] == "x2")
    assert math.isclose(x2_row["upstream"], 2.0 + math.cos(0.5), rel_tol=1e-6)


def test_table_prints_every_step() -> None:
    a = chainrule.tensor(3.0, requires_grad=True)
    trace = viz.trace_backward(chainrule.maximum(a, chainrule.tensor(1.0)) * 2)
    text = str(trace)
    assert "MulBackward0" in text and "MaximumBackward0" in text and "a" in text
    assert len(text.splitlines()) == len(trace.rows) + 2
    assert trace.rows[-1]["upstream"] == 2.0  # max routes the gradient to the larger input


def test_tensor_gradients_trace() -> None:
    w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    trace = viz.trace_backward((w * w).sum())
    assert trace.rows[-1]["node"] == "w"
    assert trace.rows[-1]["upstream"].tolist() == [2.0, -4.0]
