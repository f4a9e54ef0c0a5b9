"""Conv2d(64 -> 64, 3x3, padding 1) on a 32x64x32x32 float32 batch: chainrule vs PyTorch.

Workloads: ``forward`` (under no_grad) and ``forward_backward`` (gradients for input, weight
and bias from a fixed random cotangent), each in GFLOP/s from the median of ``--repeats``
calls after 3 warm-up calls. FLOPs are counted as torch's profiler does:
2 * N * C_out * C_in * kH * kW * H_out * W_out for the forward, three times that for
forward + backward (data and weight gradients).

Each child also times NumPy's own float32 GEMM on the shape of one sample's im2col product
(64 x 576 @ 576 x 1024) and on a 1024^3 square (``numpy_*_gflops``, printed without a ratio):
the ceiling an im2col convolution on NumPy can reach in that process.

Method (``benchmarks/_harness.py``): each framework in a fresh process that never imports the
other, 2 threads, alternating rounds, median ratio with its range.

Run: python benchmarks/bench_conv.py [--quick] [--rounds 5] [--repeats 10] [--batch 32]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from _harness import Workload, main, median_time

C, H, W, K = 64, 32, 32, 3


def _numpy_gemm(repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((C, C * K * K), dtype=np.float32)
    cols = rng.standard_normal((C * K * K, H * W), dtype=np.float32)
    sq = rng.standard_normal((1024, 1024), dtype=np.float32)
    t_cols = median_time(lambda: a @ cols, 10 * repeats)
    t_sq = median_time(lambda: sq @ sq, 2 * repeats)
    return {"numpy_im2col_gflops": 2 * C * C * K * K * H * W / t_cols / 1e9,
            "numpy_square_gflops": 2 * 1024 ** 3 / t_sq / 1e9}


def _run(torch: Any, args: argparse.Namespace, backward: bool) -> dict[str, float]:
    N = args.batch
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((N, C, H, W), dtype=np.float32))
    w = torch.from_numpy(rng.standard_normal((C, C, K, K), dtype=np.float32) / 24)
    b = torch.from_numpy(rng.standard_normal(C, dtype=np.float32))
    g = torch.from_numpy(rng.standard_normal((N, C, H, W), dtype=np.float32))
    conv2d = torch.nn.functional.conv2d
    repeats = 4 if args.quick else args.repeats
    if backward:
        for t in (x, w, b):
            t.requires_grad_(True)

        def fn() -> None:
            x.grad = w.grad = b.grad = None
            conv2d(x, w, b, padding=1).backward(g)
    else:
        def fn() -> None:
            with torch.no_grad():
                conv2d(x, w, b, padding=1)

    flop = 2 * N * C * C * K * K * H * W * (3 if backward else 1)
    t = median_time(fn, repeats)
    return {"gflops": flop / t / 1e9, "ms": t * 1e3, **_numpy_gemm(repeats)}


def run_forward(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    return _run(torch, args, backward=False)


def run_forward_backward(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    return _run(torch, args, backward=True)


_SHOWN = ("numpy_im2col_gflops", "numpy_square_gflops")
WORKLOADS = {
    "forward": Workload(run_forward, "Conv2d 64->64 3x3 pad 1 on 32x64x32x32, forward",
                        {"gflops": "higher"}, shown=_SHOWN),
    "forward_backward": Workload(run_forward_backward,
                                 "Conv2d 64->64 3x3 pad 1 on 32x64x32x32, forward + backward",
                                 {"gflops": "higher"}, shown=_SHOWN),
}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per child")
    parser.add_argument("--batch", type=int, default=32)


if __name__ == "__main__":
    main(WORKLOADS, description=__doc__, add_arguments=_arguments)
