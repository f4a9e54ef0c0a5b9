"""Per-op overhead: a 1,000-op chain of element-wise ops on shape (16,), chainrule vs PyTorch.

The chain cycles through a unary op, a binary op with a Python scalar, a binary op with a
tensor and another unary op (tanh, ``* 1.01``, ``+ w``, sigmoid), so it exercises dispatch,
constant handling and the autograd engine; on 16 elements the arithmetic is negligible and
what is measured is each framework's cost per op. Three workloads, each in microseconds per
op from the median of ``--repeats`` chains:

- ``fwd_bwd``: forward recording the graph, then backward (the headline);
- ``forward``: the recording forward alone;
- ``no_grad``: the forward under ``no_grad``.

Method (``benchmarks/_harness.py``): each framework in a fresh process that never imports the
other, 1 thread (on 16 elements threads only add overhead), alternating rounds, median ratio
with its range. Each child also times the same chain in plain NumPy (``numpy_us_per_op``,
printed without a ratio).

Run: python benchmarks/bench_core.py [--quick] [--rounds 5] [--repeats 41]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
from _harness import Workload, main, median_time

N_OPS = 1000


def chain(torch: Any, x: Any, w: Any) -> Any:
    for _ in range(N_OPS // 4):
        x = torch.tanh(x)
        x = x * 1.01
        x = x + w
        x = torch.sigmoid(x)
    return x


def numpy_chain(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    for _ in range(N_OPS // 4):
        x = np.tanh(x)
        x = x * 1.01
        x = x + w
        x = 1 / (1 + np.exp(-x))
    return x


def _us_per_op(fn: Callable[[], Any], repeats: int) -> float:
    return median_time(fn, repeats) / N_OPS * 1e6


def _run(torch: Any, args: argparse.Namespace, which: str) -> dict[str, float]:
    x = torch.ones(16, requires_grad=True)
    w = torch.full((16,), 0.1, requires_grad=True)
    repeats = 11 if args.quick else args.repeats

    def fn() -> None:
        if which == "no_grad":
            with torch.no_grad():
                chain(torch, x, w)
        elif which == "forward":
            chain(torch, x, w)
        else:
            chain(torch, x, w).sum().backward()

    xs, ws = np.ones(16, np.float32), np.full(16, 0.1, np.float32)
    return {"us_per_op": _us_per_op(fn, repeats),
            "numpy_us_per_op": _us_per_op(lambda: numpy_chain(xs, ws), repeats)}


def _workload(which: str, title: str) -> Workload:
    return Workload(lambda torch, args: _run(torch, args, which), title,
                    {"us_per_op": "lower"}, threads=1, shown=("numpy_us_per_op",))


WORKLOADS = {
    "fwd_bwd": _workload("fwd_bwd", "1,000-op chain on (16,), forward + backward"),
    "forward": _workload("forward", "1,000-op chain on (16,), forward recording the graph"),
    "no_grad": _workload("no_grad", "1,000-op chain on (16,), forward under no_grad"),
}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=41, help="chains timed per child")


if __name__ == "__main__":
    main(WORKLOADS, description=__doc__, add_arguments=_arguments)
