"""One training step of a Linear+ReLU stack, chainrule vs PyTorch, the same code on both.

Four Linear(1024, 1024) + ReLU layers, batch 256, MSE loss, SGD (lr 1e-3): zero_grad,
forward, backward and the update, timed as a whole step, in milliseconds from the median of
``--repeats`` steps after 3 warm-up steps. ``gflops`` counts the three GEMMs per layer
(forward, input gradient, weight gradient).

Method (``benchmarks/_harness.py``): each framework in a fresh process that never imports the
other, 2 threads, alternating rounds, median ratio with its range.

Run: python benchmarks/bench_nn.py [--quick] [--rounds 5] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
from _harness import Workload, main


def run_step(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    nn = torch.nn
    torch.manual_seed(0)
    layers = []
    for _ in range(4):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    model = nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((256, 1024), dtype=np.float32))
    y = torch.from_numpy(rng.standard_normal((256, 1024), dtype=np.float32))

    def step() -> None:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(10 if args.quick else args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    flops = 3 * 2 * 256 * 1024 * 1024 * 4
    return {"step_ms": t * 1e3, "gflops": flops / t / 1e9}


WORKLOADS = {
    "linear_stack": Workload(run_step, "Linear(1024,1024)+ReLU x4, batch 256, MSE, one SGD step",
                             {"step_ms": "lower"}),
}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=30, help="steps timed per child")


if __name__ == "__main__":
    main(WORKLOADS, description=__doc__, add_arguments=_arguments)
