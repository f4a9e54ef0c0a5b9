# Source: pytorch/tutorials, beginner_source/examples_nn/dynamic_net.py
#   ("Learning PyTorch with Examples: Control Flow + Weight Sharing"), read at commit
#   1d189709801e; https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same task and the same torch
# calls; this repository commits no third-party code). Changes from the published program:
#   - the number of steps is an argument (--steps, default 30000 as published), and Python's
#     `random` is seeded (--seed) so both frameworks see the same sequence of graph shapes.
"""A polynomial whose degree (3, 4 or 5) is drawn at random on every forward pass, reusing
one parameter for the 4th and 5th powers: a dynamic graph with weight sharing."""
import argparse
import math
import random

import torch


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x ** exp
        return y

    def string(self):
        return (f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + "
                f"{self.d.item()} x^3 + {self.e.item()} x^4 ? + {self.e.item()} x^5 ?")


parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=30000)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
random.seed(args.seed)

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
model = DynamicNet()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
every = max(args.steps // 15, 1)
for t in range(args.steps):
    loss = criterion(model(x), y)
    if t % every == every - 1:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f"Result: {model.string()}")
