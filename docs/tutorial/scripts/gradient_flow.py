"""Tutorial 06's pictures: gradient flow in a 20-layer sigmoid MLP, and in the fixed ones.

Trains three 20-layer MLPs on the same Gaussian data for a few dozen Adam steps under
``viz.GradientMonitor``: Linear + Sigmoid with the default init, Linear + ReLU with Kaiming
init, and Linear + BatchNorm1d + Sigmoid. For each it writes ``flow_<name>_layers.png`` (the
gradient norm of every weight after the last step, input side on the left) and
``flow_<name>_steps.png`` (every weight's gradient norm over the steps).

Run: python docs/tutorial/scripts/gradient_flow.py [--steps 40] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import chainrule as torch
from chainrule import nn, viz

HERE = Path(__file__).resolve().parent


def make_mlp(kind: str, depth: int = 20, width: int = 64, n_in: int = 32) -> nn.Sequential:
    bn = kind == "batchnorm"
    act = nn.ReLU if kind == "relu_kaiming" else nn.Sigmoid
    layers: list[nn.Module] = []
    for i in range(depth - 1):
        # a bias before BatchNorm is cancelled by the mean subtraction
        layers.append(nn.Linear(n_in if i == 0 else width, width, bias=not bn))
        layers += [nn.BatchNorm1d(width), act()] if bn else [act()]
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    if kind == "relu_kaiming":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return model


def train(kind: str, steps: int) -> tuple[nn.Module, viz.GradientMonitor]:
    torch.manual_seed(0)
    x = torch.randn(256, 32)
    y = (x @ torch.randn(32, 10)).argmax(dim=1)
    model = make_mlp(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    monitor = viz.GradientMonitor(model)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        monitor.step()
        opt.step()
    monitor.close()
    return model, monitor


TITLES = {"sigmoid": "20-layer sigmoid MLP, default init",
          "relu_kaiming": "20-layer ReLU MLP, Kaiming init",
          "batchnorm": "20-layer sigmoid MLP with BatchNorm1d"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=HERE.parent / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for kind, title in TITLES.items():
        model, monitor = train(kind, args.steps)
        viz.plot_gradient_flow(model, args.out / f"flow_{kind}_layers.png",
                               title=f"{title}: gradient norm per layer")
        viz.plot_gradient_flow(monitor, args.out / f"flow_{kind}_steps.png",
                               title=f"{title}: gradient norms over {args.steps} steps")
        first = monitor.history[-1]["grad_norm"]["0.weight"]
        print(f"{kind:<14} first-layer |grad| {first:.2e}  -> {args.out}/flow_{kind}_*.png")


if __name__ == "__main__":
    main()
