"""draw_graph: DOT that parses, with the labels the lectures draw."""

from __future__ import annotations

import shutil

import pydot
import pytest

import chainrule
from chainrule import viz


def _lecture_graph():
    x = chainrule.tensor(-2.0, requires_grad=True)
    y = chainrule.tensor(5.0, requires_grad=True)
    z = chainrule.tensor(-4.0, requires_grad=True)
    with viz.record():
        q = x + y
        f = q * z
    f.backward()
    return f, {"x": x, "y": y, "z": z}


def test_dot_parses_and_has_every_node() -> None:
    f, names = _lecture_graph()
    g = viz.draw_graph(f, params=names)
    (parsed,) = pydot.graph_from_dot_data(g.source)
    labels = [n.get_label() for n in parsed.get_nodes() if n.get_label()]
    text = " ".join(labels)
    for expected in ["MulBackward0", "AddBackward0", "#1", "x", "y", "z", "grad -4", "grad 3",
                     "value -12", "value 3", "() float32"]:
        assert expected in text, expected
    assert len(parsed.get_edges()) == 4


def test_backward_order_is_numbered_in_execution_order() -> None:
    f, names = _lecture_graph()
    g = viz.draw_graph(f, params=names)
    assert g.order[0] == "MulBackward0"
    assert g.order.index("AddBackward0") < g.order.index("x")
    assert set(g.order) == {"MulBackward0", "AddBackward0", "x", "y", "z"}


def test_fan_out_and_saved_tensors_are_marked() -> None:
    x1 = chainrule.tensor(2.0, requires_grad=True)
    x2 = chainrule.tensor(0.5, requires_grad=True)
    f = x1 * x2 + chainrule.sin(x2)
    g = viz.draw_graph(f, params={"x1": x1, "x2": x2})
    assert "sums gradients from 2 paths" in g.source
    assert "saves inputs for backward" in g.source


def test_leaves_are_named_from_caller_locals() -> None:
    weight = chainrule.ones(3, requires_grad=True)
    loss = (weight * 2).sum()
    assert "weight" in viz.draw_graph(loss).order


def test_save_writes_dot(tmp_path) -> None:
    f, names = _lecture_graph()
    path = viz.draw_graph(f, params=names).save(tmp_path / "g.dot")
    assert path.read_text().startswith("digraph")


def test_render_svg_or_explains_how_to_install(tmp_path) -> None:
    f, names = _lecture_graph()
    g = viz.draw_graph(f, params=names)
    if shutil.which("dot"):
        out = g.render(tmp_path / "g.svg")
        assert "<svg" in out.read_text()
        assert g._repr_svg_().lstrip().startswith("<")
    else:
        with pytest.raises(viz.GraphvizNotFound, match="apt-get install graphviz"):
            g.render(tmp_path / "g.svg")
        assert g._repr_svg_() is None


def test_collapse_modules_groups_ops_by_module() -> None:
    from chainrule import nn

    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    with viz.record(model):
        loss = model(chainrule.randn(2, 3)).sum()
    g = viz.draw_graph(loss, params=dict(model.named_parameters()), collapse_modules=True)
    (parsed,) = pydot.graph_from_dot_data(g.source)
    assert len(parsed.get_subgraphs()) >= 2
    assert "0.weight" in g.source


def test_no_graph_raises() -> None:
    with pytest.raises(RuntimeError, match="no graph"):
        viz.draw_graph(chainrule.ones(2))
