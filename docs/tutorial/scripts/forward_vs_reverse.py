"""Tutorial 07: the gradient of a scalar loss over n parameters, by forward and reverse mode.

Reverse mode needs one backward sweep whatever n is; forward mode needs one jvp per parameter
(n sweeps). Prints a table and writes docs/tutorial/img/forward_vs_reverse.png.

Run: python docs/tutorial/scripts/forward_vs_reverse.py [--sizes 4 16 64 256] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import chainrule as torch
import chainrule.autograd.forward_ad as fwAD

HERE = Path(__file__).resolve().parent


def loss_fn(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A small two-layer network's squared output, as a function of its flattened weights."""
    n = x.shape[1]
    w1 = w[: n * 8].reshape(n, 8)
    w2 = w[n * 8:].reshape(8, 1)
    return ((torch.tanh(x @ w1) @ w2) ** 2).mean()


def reverse_gradient(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    w = w.detach().requires_grad_()
    loss_fn(w, x).backward()
    return w.grad


def forward_gradient(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    columns = []
    for i in range(w.numel()):  # one forward pass per parameter direction
        tangent = torch.zeros_like(w)
        tangent[i] = 1.0
        with fwAD.dual_level():
            out = loss_fn(fwAD.make_dual(w, tangent), x)
            columns.append(fwAD.unpack_dual(out).tangent)
    return torch.stack(columns)


def measure(sizes: list[int]) -> list[tuple[int, float, float]]:
    rows = []
    for n_in in sizes:
        torch.manual_seed(0)
        x = torch.randn(32, n_in)
        w = torch.randn(n_in * 8 + 8) * 0.3
        t0 = time.perf_counter()
        g_rev = reverse_gradient(w, x)
        t_rev = time.perf_counter() - t0
        t0 = time.perf_counter()
        g_fwd = forward_gradient(w, x)
        t_fwd = time.perf_counter() - t0
        assert float((g_rev - g_fwd).abs().max()) < 1e-4, "the two modes must agree"
        rows.append((w.numel(), t_rev, t_fwd))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 8, 32, 128])
    parser.add_argument("--out", type=Path, default=HERE.parent / "img")
    args = parser.parse_args()
    rows = measure(args.sizes)
    print(f"{'parameters':>10} {'reverse (s)':>12} {'forward (s)':>12} {'forward/reverse':>16}")
    for n, t_rev, t_fwd in rows:
        print(f"{n:>10} {t_rev:>12.4f} {t_fwd:>12.4f} {t_fwd / t_rev:>15.0f}x")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog([r[0] for r in rows], [r[1] for r in rows], "o-", label="reverse mode (1 sweep)")
    ax.loglog([r[0] for r in rows], [r[2] for r in rows], "s-", label="forward mode (n sweeps)")
    ax.set_xlabel("number of parameters n")
    ax.set_ylabel("seconds for the full gradient")
    ax.set_title("Gradient of a scalar loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "forward_vs_reverse.png", dpi=100)
    print(f"wrote {args.out / 'forward_vs_reverse.png'}")


if __name__ == "__main__":
    main()
