"""One training step of a Linear+ReLU stack, chainrule vs PyTorch (same code, same process).

Four Linear(1024, 1024) + ReLU layers, batch 256, MSE loss, SGD: forward, backward and the
update, timed as a whole step (median of ``--repeats``), in blocks per framework so the two
thread pools do not compete for the two cores.

Run: python benchmarks/bench_nn.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import numpy as np


def step_time(backend: str, repeats: int) -> float:
    lib = importlib.import_module(backend)
    if backend == "torch":
        lib.set_num_threads(2)
    nn = lib.nn
    lib.manual_seed(0)
    layers = []
    for _ in range(4):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    model = nn.Sequential(*layers)
    opt = lib.optim.SGD(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((256, 1024), dtype=np.float32))
    y = lib.from_numpy(rng.standard_normal((256, 1024), dtype=np.float32))

    def step() -> None:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    t = step_time("torch", args.repeats)
    c = step_time("chainrule", args.repeats)
    flops = 3 * 2 * 256 * 1024 * 1024 * 4  # forward + two backward GEMMs per layer
    print("Linear(1024,1024)+ReLU x4, batch 256, one SGD step")
    print(f"  torch {t * 1e3:.1f} ms ({flops / t / 1e9:.0f} GFLOP/s)  chainrule "
          f"{c * 1e3:.1f} ms ({flops / c / 1e9:.0f} GFLOP/s)  speed ratio {t / c:.2f}x")


if __name__ == "__main__":
    main()
