"""Conv2d(64 -> 64, 3x3, padding 1) on a 32x64x32x32 float32 batch: chainrule vs PyTorch.

Forward and forward + backward (gradients for input, weight and bias) in GFLOP/s, for both
frameworks in one process on 2 threads, interleaved so that both see the same machine load;
the best of the repeats is reported (the least disturbed run). Also measured: NumPy's float32
GEMM on the shape the forward's columns give (64 x 576 x 1024, one sample) and on a
1024^3 square, the larger being the practical peak an im2col convolution can reach, and the
fraction of it each figure reaches.

FLOPs counted as torch's profiler does: 2 * N * C_out * C_in * kH * kW * H_out * W_out for
the forward, three times that for forward + backward (data and weight gradients).

Run: python benchmarks/bench_conv.py [--repeats 15] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cases(lib: Any, x_np: np.ndarray, w_np: np.ndarray, b_np: np.ndarray,
          g_np: np.ndarray) -> dict[str, Callable[[], Any]]:
    x = lib.tensor(x_np, requires_grad=True)
    w = lib.tensor(w_np, requires_grad=True)
    b = lib.tensor(b_np, requires_grad=True)
    g = lib.tensor(g_np)

    def forward() -> Any:
        with lib.no_grad():
            return lib.nn.functional.conv2d(x, w, b, padding=1)

    def forward_backward() -> None:
        x.grad = w.grad = b.grad = None
        lib.nn.functional.conv2d(x, w, b, padding=1).backward(g)

    return {"forward": forward, "forward+backward": forward_backward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    import torch

    import chainrule
    import chainrule.nn  # noqa: F401

    torch.set_num_threads(2)
    N, C, H, W, K = args.batch, 64, 32, 32, 3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = (rng.standard_normal((C, C, K, K), dtype=np.float32) / 24).astype(np.float32)
    b = rng.standard_normal(C, dtype=np.float32)
    g = rng.standard_normal((N, C, H, W), dtype=np.float32)
    flop = 2 * N * C * C * K * K * H * W
    flops = {"forward": flop, "forward+backward": 3 * flop}

    a = rng.standard_normal((C, C * K * K), dtype=np.float32)
    cols = rng.standard_normal((C * K * K, H * W), dtype=np.float32)
    sq = rng.standard_normal((1024, 1024), dtype=np.float32)
    gemm = {"gemm": lambda: a @ cols, "square": lambda: sq @ sq}
    gemm_flop = {"gemm": 2 * C * C * K * K * H * W, "square": 2 * 1024 ** 3}

    fns = {"torch": cases(torch, x, w, b, g), "chainrule": cases(chainrule, x, w, b, g)}
    for per_lib in fns.values():  # warm up
        for fn in per_lib.values():
            fn()
    # Blocks, not call-by-call interleaving: torch's OpenMP workers and NumPy's OpenBLAS
    # threads spin-wait for a while after each call, and on 2 cores a pool that is still
    # spinning steals a core from the other library (measured: torch's forward halves). Each
    # round runs one library's calls back to back, then pauses so the spinning stops.
    best: dict[tuple[str, str], float] = {}
    blocks = [("numpy", gemm)] + list(fns.items())
    for _ in range(args.repeats):
        for lib, per_lib in blocks:
            time.sleep(0.3)
            for name, fn in per_lib.items():
                for _ in range(10 if lib == "numpy" else 3):
                    t = _time(fn)
                    best[lib, name] = min(best.get((lib, name), 1e9), t)

    rates = {k: gemm_flop[k] / best["numpy", k] / 1e9 for k in gemm}
    peak = max(rates.values())
    print(f"Conv2d({C}->{C}, {K}x{K}, padding=1) on {N}x{C}x{H}x{W} float32, 2 threads, "
          f"best of {args.repeats}")
    print(f"numpy float32 GEMM: {rates['gemm']:.1f} GFLOP/s on the im2col shape "
          f"({C}x{C * K * K} @ {C * K * K}x{H * W}), {rates['square']:.1f} on 1024^3; "
          f"peak = the larger")
    print(f"{'':18s}{'torch':>10s}{'chainrule':>12s}{'ratio':>8s}{'of GEMM peak':>14s}")
    for name in ("forward", "forward+backward"):
        rates = {lib: flops[name] / best[lib, name] / 1e9 for lib in fns}
        print(f"{name:18s}{rates['torch']:10.1f}{rates['chainrule']:12.1f}"
              f"{rates['chainrule'] / rates['torch']:8.2f}{rates['chainrule'] / peak:14.2f}"
              f"   GFLOP/s ({best['chainrule', name] * 1e3:.1f} ms vs "
              f"{best['torch', name] * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
