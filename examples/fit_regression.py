"""Fit a small two-layer network to a noisy sine with chainrule's autograd and plain SGD.

Run: python examples/fit_regression.py
Every parameter's gradient comes from one call to ``loss.backward()``.
"""

from __future__ import annotations

import chainrule as torch


def main(steps: int = 400, lr: float = 0.05) -> float:
    torch.manual_seed(0)
    x = torch.linspace(-3, 3, 256).reshape(256, 1)
    y = torch.sin(x) + 0.05 * torch.randn(256, 1)

    w1 = (torch.randn(1, 32) * 0.5).requires_grad_()
    b1 = torch.zeros(32, requires_grad=True)
    w2 = (torch.randn(32, 1) * 0.2).requires_grad_()
    b2 = torch.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]

    for step in range(steps + 1):
        hidden = torch.tanh(x @ w1 + b1)
        pred = hidden @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    return loss.item()


if __name__ == "__main__":
    main()
