"""Tutorial 04's picture: six optimizers' paths on one ill-conditioned loss surface.

The surface is a narrow valley, ``f(x, y) = 0.5 (u^2 + 20 v^2)`` in coordinates (u, v)
rotated by 30 degrees, from the start point (-4, 3). Writes optimizer_paths.png to --out.

Run: python docs/tutorial/scripts/optimizer_paths.py [--steps 60] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import chainrule as torch

HERE = Path(__file__).resolve().parent
COS, SIN = math.cos(math.pi / 6), math.sin(math.pi / 6)

OPTIMIZERS = {
    "SGD": lambda p: torch.optim.SGD(p, lr=0.02),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.8),
    "Nesterov": lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.8, nesterov=True),
    "AdaGrad": lambda p: torch.optim.Adagrad(p, lr=0.8),
    "RMSProp": lambda p: torch.optim.RMSprop(p, lr=0.05),
    "Adam": lambda p: torch.optim.Adam(p, lr=0.2),
}


def loss_surface(w: torch.Tensor) -> torch.Tensor:
    u = COS * w[0] + SIN * w[1]
    v = -SIN * w[0] + COS * w[1]
    return 0.5 * (u * u + 20 * v * v)


def path(name: str, steps: int) -> list[tuple[float, float, float]]:
    """(x, y, loss) after each step of optimizer ``name`` from (-4, 3)."""
    w = torch.tensor([-4.0, 3.0], requires_grad=True)
    opt = OPTIMIZERS[name]([w])
    points = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_surface(w)
        loss.backward()
        points.append((w[0].item(), w[1].item(), loss.item()))
        opt.step()
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--out", type=Path, default=HERE.parent / "img")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    xs, ys = np.meshgrid(np.linspace(-5, 3, 200), np.linspace(-3, 4, 200))
    u, v = COS * xs + SIN * ys, -SIN * xs + COS * ys
    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.contour(xs, ys, 0.5 * (u * u + 20 * v * v), levels=np.geomspace(0.01, 200, 18),
               colors="#cbd5e1", linewidths=0.8)
    for name in OPTIMIZERS:
        pts = path(name, args.steps)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], ".-", ms=3, lw=1.2,
                label=f"{name} (loss {pts[-1][2]:.2g})")
    ax.plot([0], [0], "k*", ms=10)
    ax.set_title(f"{args.steps} steps on a narrow valley from (-4, 3)")
    ax.legend(fontsize=8)
    args.out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out / "optimizer_paths.png", dpi=100)
    print(f"wrote {args.out / 'optimizer_paths.png'}")


if __name__ == "__main__":
    main()
