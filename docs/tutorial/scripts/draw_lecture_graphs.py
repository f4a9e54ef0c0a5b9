"""Tutorial 02's pictures: the lectures' graphs drawn by chainrule.viz after backward.

Writes f_xyz.{dot,svg} (f = (x + y) z) and two_paths.{dot,svg} (f = x1 x2 + sin x2); the
SVGs need Graphviz's ``dot``, the DOT text is always written.

Run: python docs/tutorial/scripts/draw_lecture_graphs.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import chainrule as torch
from chainrule import viz

HERE = Path(__file__).resolve().parent


def lecture_graphs() -> dict[str, viz.Graph]:
    x = torch.tensor(-2.0, requires_grad=True)
    y = torch.tensor(5.0, requires_grad=True)
    z = torch.tensor(-4.0, requires_grad=True)
    with viz.record():
        f = (x + y) * z
    f.backward()
    first = viz.draw_graph(f, params={"x": x, "y": y, "z": z})

    x1 = torch.tensor(2.0, requires_grad=True)
    x2 = torch.tensor(0.5, requires_grad=True)
    with viz.record():
        g = x1 * x2 + torch.sin(x2)
    g.backward()
    second = viz.draw_graph(g, params={"x1": x1, "x2": x2})
    return {"f_xyz": first, "two_paths": second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, graph in lecture_graphs().items():
        graph.save(args.out / f"{name}.dot")
        try:
            graph.render(args.out / f"{name}.svg")
            print(f"wrote {args.out / name}.dot and .svg")
        except viz.GraphvizNotFound:
            print(f"wrote {args.out / name}.dot (install Graphviz for the SVG)")


if __name__ == "__main__":
    main()
