# Source: pytorch/tutorials, beginner_source/examples_autograd/polynomial_autograd.py
#   ("Learning PyTorch with Examples: PyTorch: Tensors and autograd"), read at commit
#   92f11a171bb3; https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same task and the same torch
# calls; this repository commits no third-party code). Changes from the published program:
#   - the number of steps is an argument (--steps, default 2000 as published).
"""The cubic fit of sin(x), with autograd computing the gradients."""
import argparse
import math

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=2000)
args = parser.parse_args()

dtype = torch.float
device = "cpu"
torch.set_default_device(device)

x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
a = torch.randn((), dtype=dtype, requires_grad=True)
b = torch.randn((), dtype=dtype, requires_grad=True)
c = torch.randn((), dtype=dtype, requires_grad=True)
d = torch.randn((), dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(args.steps):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= learning_rate * p.grad
            p.grad = None

print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
