"""Vanishing gradients, measured: a deep sigmoid MLP starves its first layer; fixes do not.

Run: python examples/vanishing_gradients.py [--quick] [--depth 20]

Builds four 20-layer networks on the same data and prints, for each, the gradient norm of
the first layer's weight after one backward pass and how many parameters
``chainrule.viz.gradient_stats`` flags as vanishing / ok / exploding:

- ``sigmoid``: Linear + Sigmoid with the default init. Each layer multiplies the backward
  signal by at most sigma' <= 1/4 times a weight of size ~1/sqrt(3): it shrinks geometrically.
- ``relu+kaiming``: Linear + ReLU with Kaiming (He) init, std sqrt(2 / fan_in), which keeps
  the variance of activations and gradients constant from layer to layer.
- ``sigmoid+batchnorm``: the sigmoid net with BatchNorm1d before each sigmoid, keeping
  pre-activations in sigmoid's steep middle.
- ``sigmoid+residual``: the sigmoid net with skip connections, h + f(h): the identity path
  carries the gradient past every layer unchanged.

Then trains each for 150 Adam steps (30 with ``--quick``) and prints the loss before and
after: the sigmoid net does not move, the other three learn.
"""

from __future__ import annotations

import argparse
from collections import Counter

import chainrule as torch
from chainrule import nn, viz

VARIANTS = ("sigmoid", "relu+kaiming", "sigmoid+batchnorm", "sigmoid+residual")


class Residual(nn.Module):
    """``h + body(h)``: the skip connection adds an identity path to the gradient."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def make_mlp(variant: str, depth: int = 20, width: int = 64, n_in: int = 32,
             n_out: int = 10) -> nn.Sequential:
    """A ``depth``-Linear-layer MLP of the given variant (see the module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"make_mlp: unknown variant {variant!r}; expected one of {VARIANTS}")
    bn = variant == "sigmoid+batchnorm"
    # BatchNorm subtracts the batch mean, so a bias before it gets exactly zero gradient
    layers: list[nn.Module] = [nn.Linear(n_in, width, bias=not bn)]
    for _ in range(depth - 2):
        if variant == "sigmoid":
            layers += [nn.Sigmoid(), nn.Linear(width, width)]
        elif variant == "relu+kaiming":
            layers += [nn.ReLU(), nn.Linear(width, width)]
        elif bn:
            layers += [nn.BatchNorm1d(width), nn.Sigmoid(), nn.Linear(width, width, bias=False)]
        else:
            layers += [Residual(nn.Sequential(nn.Sigmoid(), nn.Linear(width, width)))]
    if bn:
        layers.append(nn.BatchNorm1d(width))
    layers += [nn.ReLU() if variant == "relu+kaiming" else nn.Sigmoid(), nn.Linear(width, n_out)]
    model = nn.Sequential(*layers)
    if variant == "relu+kaiming":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return model


def make_data(n: int = 256, n_in: int = 32, n_out: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian inputs labelled by a random linear map (learnable, not trivial)."""
    x = torch.randn(n, n_in)
    y = (x @ torch.randn(n_in, n_out)).argmax(dim=1)
    return x, y


def first_layer_grad(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> float:
    """||d loss / d W_1|| after one backward of the cross-entropy on ``(x, y)``."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return float(model[0].weight.grad.norm())


def measure(variant: str, depth: int = 20, steps: int = 0, seed: int = 0) -> dict:
    """First-layer gradient norm, gradient_stats flag counts and the loss before/after."""
    torch.manual_seed(seed)
    x, y = make_data()
    model = make_mlp(variant, depth)
    grad = first_layer_grad(model, x, y)
    flags = Counter(viz.gradient_stats(model).flags().values())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss0 = loss = nn.functional.cross_entropy(model(x), y).item()
    for _ in range(steps):
        opt.zero_grad()
        out = nn.functional.cross_entropy(model(x), y)
        out.backward()
        opt.step()
        loss = out.item()
    return {"variant": variant, "first_grad": grad, "flags": dict(flags), "loss0": loss0,
            "loss": loss}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps")
    parser.add_argument("--depth", type=int, default=20)
    args = parser.parse_args(argv)
    steps = 30 if args.quick else 150
    print(f"{args.depth}-layer MLPs, width 64, 256 samples; then {steps} Adam steps")
    print(f"{'variant':<20}{'|dL/dW1|':>11}  {'vanishing':>9} {'ok':>4} {'exploding':>9}"
          f"  {'loss':>14}")
    results = []
    for variant in VARIANTS:
        r = measure(variant, args.depth, steps)
        f = r["flags"]
        print(f"{variant:<20}{r['first_grad']:>11.2e}  {f.get('vanishing', 0):>9} "
              f"{f.get('ok', 0):>4} {f.get('exploding', 0):>9}  "
              f"{r['loss0']:>6.3f} -> {r['loss']:.3f}")
        results.append(r)
    return results


if __name__ == "__main__":
    main()
