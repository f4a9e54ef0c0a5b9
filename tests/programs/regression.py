# Source: pytorch/examples, regression/main.py ("Linear regression"), read at commit
#   77f55b912142e11fcfdf5b530231fb9c52f181e8; https://github.com/pytorch/examples.
#   License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same task and torch calls;
# this repository commits no third-party code). Changes from the published program:
#   - torch.manual_seed(--seed) first, so a run is repeatable (published: unseeded);
#   - --max-batches bounds the loop (published: until the loss is below 1e-3).
"""Fit a random degree-4 polynomial with one linear layer over (x, x^2, x^3, x^4), updating
parameters through ``param.data`` until the smooth-L1 loss is below 1e-3."""
import argparse
from itertools import count

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--max-batches", type=int, default=100000)
args = parser.parse_args()
torch.manual_seed(args.seed)

POLY_DEGREE = 4
W_target = torch.randn(POLY_DEGREE, 1) * 5
b_target = torch.randn(1) * 5


def make_features(x):
    """The matrix with columns x, x^2, x^3, x^4."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    result = "y = "
    for i, w in enumerate(W):
        result += "{:+.2f} x^{} ".format(w, i + 1)
    result += "{:+.2f}".format(b[0])
    return result


def get_batch(batch_size=32):
    x = make_features(torch.randn(batch_size))
    return x, f(x)


fc = torch.nn.Linear(W_target.size(0), 1)
for batch_idx in count(1):
    batch_x, batch_y = get_batch()
    fc.zero_grad()
    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    loss = output.item()
    output.backward()
    for param in fc.parameters():
        param.data.add_(-0.1 * param.grad)
    if loss < 1e-3 or batch_idx >= args.max_batches:
        break

print("Loss: {:.6f} after {} batches".format(loss, batch_idx))
print("==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias))
print("==> Actual function:\t" + poly_desc(W_target.view(-1), b_target))
