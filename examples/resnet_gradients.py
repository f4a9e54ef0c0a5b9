"""Residual connections keep gradients alive in a deep stack (the lectures' point, measured).

Builds the same deep stack of blocks twice, with and without the skip connection
(``x + F(x)`` against ``F(x)``, with F = Linear -> ReLU -> Linear), runs one backward on the
same batch, and prints the gradient norm of the first layer's weight. Without the skip, each
block multiplies the backward signal by a Jacobian with norm below one and the first layers
get almost nothing; with it, the identity path carries the gradient through untouched.
Also defines a small convolutional ResNet for 1x28x28 images and trains it briefly on the
bundled MNIST sample (skipped with ``--quick``).

Run: python examples/resnet_gradients.py [--depth 30] [--quick]
"""

from __future__ import annotations

import argparse

import chainrule as torch
from chainrule import nn
from chainrule.nn import functional as F


class MLPBlock(nn.Module):
    """``x + F(x)`` (or just ``F(x)`` with ``skip=False``), F = Linear -> ReLU -> Linear."""

    def __init__(self, width: int, skip: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(F.relu(self.fc1(x)))
        return x + out if self.skip else out


def deep_stack(depth: int, width: int, skip: bool) -> nn.Sequential:
    return nn.Sequential(*[MLPBlock(width, skip) for _ in range(depth)], nn.Linear(width, 1))


def first_layer_grad_norm(depth: int, skip: bool, width: int = 32, seed: int = 0) -> float:
    """One backward through the stack; the norm of the first Linear's weight gradient."""
    torch.manual_seed(seed)
    model = deep_stack(depth, width, skip)
    torch.manual_seed(1)  # the same batch for both variants
    x, y = torch.randn(64, width), torch.randn(64, 1)
    F.mse_loss(model(x), y).backward()
    return model[0].fc1.weight.grad.norm().item()


class ResidualBlock(nn.Module):
    """The ResNet basic block: conv-BN-ReLU-conv-BN, plus the input, then ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class SmallResNet(nn.Module):
    """A stem, ``blocks`` residual blocks at 14x14, global average pooling, a classifier."""

    def __init__(self, channels: int = 16, blocks: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.head = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


def train_small_resnet(steps: int = 60) -> float:
    """A few Adam steps on the bundled MNIST sample; returns the test accuracy."""
    from chainrule.vision.datasets import MNIST

    torch.manual_seed(0)
    train, test = MNIST.bundled_sample(train=True), MNIST.bundled_sample(train=False)
    x = (train.data.float().unsqueeze(1) / 255 - 0.1307) / 0.3081
    xt = (test.data.float().unsqueeze(1) / 255 - 0.1307) / 0.3081
    model = SmallResNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,))
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), train.targets[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return (model(xt[:1000]).argmax(1) == test.targets[:1000]).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="skip the ResNet training run")
    args = parser.parse_args()
    plain = first_layer_grad_norm(args.depth, skip=False)
    residual = first_layer_grad_norm(args.depth, skip=True)
    print(f"{args.depth} blocks, first layer's weight gradient norm:")
    print(f"  without skip connections: {plain:.3e}")
    print(f"  with skip connections:    {residual:.3e}   ({residual / plain:.1e} times larger)")
    if not args.quick:
        print(f"small ResNet, 60 Adam steps on the MNIST sample: test accuracy "
              f"{train_small_resnet():.3f}")


if __name__ == "__main__":
    main()
