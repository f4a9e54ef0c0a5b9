# Source: pytorch/tutorials, beginner_source/examples_nn/polynomial_optim.py
#   ("Learning PyTorch with Examples: PyTorch: optim"), read at commit 96efa19f4e1b;
#   https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same task and the same torch
# calls; this repository commits no third-party code). Changes from the published program:
#   - the number of steps is an argument (--steps, default 2000 as published).
"""The cubic fit with nn.Sequential and the RMSprop optimizer."""
import argparse
import math

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=2000)
args = parser.parse_args()

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
for t in range(args.steps):
    loss = loss_fn(model(xx), y)
    if t % 100 == 99:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

linear_layer = model[0]
print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
      f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
