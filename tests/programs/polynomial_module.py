# Source: pytorch/tutorials, beginner_source/examples_nn/polynomial_module.py
#   ("Learning PyTorch with Examples: PyTorch: Custom nn Modules"), read at commit
#   c53e7d4efc0e; https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same task and the same torch
# calls; this repository commits no third-party code). Changes from the published program:
#   - the number of steps is an argument (--steps, default 2000 as published).
"""The cubic fit as a custom nn.Module with four scalar Parameters, trained with SGD."""
import argparse
import math

import torch


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return (f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + "
                f"{self.d.item()} x^3")


parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=2000)
args = parser.parse_args()

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
model = Polynomial3()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
for t in range(args.steps):
    loss = criterion(model(x), y)
    if t % 100 == 99:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f"Result: {model.string()}")
