# Source: pytorch/tutorials, beginner_source/basics/autogradqs_tutorial.py ("Learn the Basics:
#   Automatic Differentiation with torch.autograd"), read at commit 1532c0de875b;
#   https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same steps and torch calls;
# this repository commits no third-party code). Changes from the published program:
#   - w and b are drawn with torch.randn as published, then printed only through values that
#     do not depend on the draw; a second, fixed pair (--fixed) makes the gradients printable.
"""A one-layer net's gradients, grad_fn, turning tracking off, and Jacobian-vector products
accumulated over repeated backward calls."""
import torch

x = torch.ones(5)
y = torch.zeros(3)
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
print(f"Gradient function for z = {type(z.grad_fn).__name__}")
print(f"Gradient function for loss = {type(loss.grad_fn).__name__}")
loss.backward()
print(w.grad.shape, b.grad.shape, torch.allclose(w.grad, b.grad.expand(5, 3)))

# the same with fixed values, so the gradients can be compared
w = (torch.arange(15.0).reshape(5, 3) / 10 - 0.7).requires_grad_()
b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.matmul(x, w) + b, y)
loss.backward()
print(loss.item())
print(w.grad)
print(b.grad)

z = torch.matmul(x, w) + b
print(z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print(z.requires_grad)
z = torch.matmul(x, w) + b
z_det = z.detach()
print(z_det.requires_grad)

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"First call\n{inp.grad}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nSecond call\n{inp.grad}")
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nCall after zeroing gradients\n{inp.grad}")
