# Source: pytorch/tutorials, beginner_source/examples_tensor/polynomial_tensor.py
#   ("Learning PyTorch with Examples: PyTorch: Tensors"), read at commit 088bc52a7655;
#   https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same task and the same torch
# calls; this repository commits no third-party code). Changes from the published program:
#   - the number of steps is an argument (--steps, default 2000 as published).
"""Fit y = sin(x) with a cubic a + b x + c x^2 + d x^3, gradients written by hand."""
import argparse
import math

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=2000)
args = parser.parse_args()

dtype = torch.float
device = torch.device("cpu")

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)
coef = [torch.randn((), device=device, dtype=dtype) for _ in range(4)]
lr = 1e-6
for step in range(args.steps):
    a, b, c, d = coef
    y_pred = a + (b * x) + (c * x.pow(2)) + (d * x.pow(3))
    loss = (y_pred - y).pow(2).sum().item()
    if step % 100 == 99:
        print(step, loss)
    grad_y_pred = -2.0 * (y - y_pred)
    grads = [grad_y_pred.sum()] + [torch.matmul(input=grad_y_pred, other=x.pow(k)).sum()
                                   for k in (1, 2, 3)]
    for p, g in zip(coef, grads):
        p -= lr * g
a, b, c, d = coef
print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
