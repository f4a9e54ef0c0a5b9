"""Per-op overhead: a 1,000-op chain of element-wise ops on shape (16,), chainrule vs PyTorch.

Three measurements per framework, in one process, interleaved so both see the same machine
load: forward with autograd recording, forward + backward, forward under no_grad. The chain
cycles through a unary op, a binary op with a Python scalar, a binary op with a tensor and
another unary op, so it exercises dispatch, constant handling and the engine.

Run: python benchmarks/bench_core.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

N_OPS = 1000


def chain(lib: Any, x: Any, w: Any) -> Any:
    for _ in range(N_OPS // 4):
        x = lib.tanh(x)
        x = x * 1.01
        x = x + w
        x = lib.sigmoid(x)
    return x


def numpy_chain(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    for _ in range(N_OPS // 4):
        x = np.tanh(x)
        x = x * 1.01
        x = x + w
        x = 1 / (1 + np.exp(-x))
    return x


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(lib: Any) -> dict[str, Callable[[], Any]]:
    x = lib.ones(16, requires_grad=True)
    w = lib.full((16,), 0.1, requires_grad=True)

    def fwd() -> Any:
        return chain(lib, x, w)

    def fwd_bwd() -> None:
        chain(lib, x, w).sum().backward()

    def no_grad() -> Any:
        with lib.no_grad():
            return chain(lib, x, w)

    return {"forward (autograd)": fwd, "forward+backward": fwd_bwd, "forward (no_grad)": no_grad}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    import torch

    import chainrule

    torch.set_num_threads(1)  # tiny tensors: threads only add overhead for both
    cases = {"torch": measure(torch), "chainrule": measure(chainrule)}
    for fns in cases.values():  # warm up
        for fn in fns.values():
            fn()
    times: dict[str, dict[str, list[float]]] = {k: {n: [] for n in v} for k, v in cases.items()}
    for _ in range(args.repeats):
        for lib, fns in cases.items():
            for name, fn in fns.items():
                times[lib][name].append(_time(fn))
    xs, ws = np.ones(16, np.float32), np.full(16, 0.1, np.float32)
    numpy_us = statistics.median(_time(lambda: numpy_chain(xs, ws))
                                 for _ in range(args.repeats)) / N_OPS * 1e6

    print(f"{N_OPS}-op element-wise chain on shape (16,); median of {args.repeats} runs")
    print(f"{'measurement':<22}{'torch us/op':>12}{'chainrule us/op':>17}{'ratio':>8}")
    for name in cases["torch"]:
        t = statistics.median(times["torch"][name]) / N_OPS * 1e6
        c = statistics.median(times["chainrule"][name]) / N_OPS * 1e6
        print(f"{name:<22}{t:>12.2f}{c:>17.2f}{c / t:>7.2f}x")
    print(f"{'plain numpy':<22}{'':>12}{numpy_us:>17.2f}")


if __name__ == "__main__":
    main()
