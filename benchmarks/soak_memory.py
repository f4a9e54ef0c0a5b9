"""Memory soak: train the MNIST MLP for many steps and watch the process's resident memory.

A leak of one small array per step is invisible in one epoch and fatal in a long run. This
trains a 784-128-10 MLP (ReLU, cross-entropy, SGD with momentum, batch 32) for ``--steps``
steps (10,000 by default) on MNIST (the IDX files through ``_harness.mnist_arrays``; random
data with ``--synthetic``), samples the resident set size (RSS) every ``--every`` steps
(500), prints the curve, and the growth after warm-up: from the sample at ``--warmup`` steps
(1,000) to the last, in percent and in MB. The goal is below 1%.

chainrule only (this measures chainrule against itself, not a speed ratio against PyTorch).
Run from the repository root::

    python benchmarks/soak_memory.py            # 10,000 steps
    python benchmarks/soak_memory.py --steps 1500 --every 250 --warmup 500 --json out.json

The last line of the output is one JSON object with every figure, for scripts and tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time

# One BLAS thread (set before NumPy loads): memory does not depend on it, and threads that
# spin on shared cores only make the run slow.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # this checkout's chainrule, wherever the script is started from
sys.path.insert(0, HERE)


def rss_mb() -> float:
    """The current resident set size in MB (Linux: /proc; elsewhere: the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def data(synthetic: bool, n: int = 60000) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training set as (N, 784) float32 and labels, or ``n`` random samples."""
    if not synthetic:
        try:
            from _harness import mnist_arrays

            x, y = mnist_arrays(train=True)
            return x.reshape(len(x), -1), y
        except OSError:
            print("MNIST files not found: using random data (--synthetic)", file=sys.stderr)
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, 784), dtype=np.float32),
            rng.integers(0, 10, n).astype(np.int64))


def soak(steps: int, every: int, warmup: int, batch_size: int = 32,
         synthetic: bool = False, samples: int = 60000, leak_bytes: int = 0) -> dict:
    """Train for ``steps`` steps, sampling RSS every ``every``; the figures as a dict.

    ``leak_bytes`` keeps that many bytes alive per step: a deliberate leak, to check that
    the measurement sees one (tests/test_memory.py)."""
    import chainrule as torch
    from chainrule import nn

    torch.manual_seed(0)
    x_all, y_all = data(synthetic, samples)
    x_all, y_all = torch.from_numpy(x_all), torch.from_numpy(y_all)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    order = np.random.default_rng(0).permutation(len(x_all))
    batches = len(order) // batch_size

    leaked = []
    curve = [(0, rss_mb())]
    start = time.perf_counter()
    for step in range(1, steps + 1):
        b = (step - 1) % batches
        idx = torch.from_numpy(order[b * batch_size:(b + 1) * batch_size])
        loss = loss_fn(model(x_all[idx]), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if leak_bytes:
            leaked.append(np.ones(leak_bytes, dtype=np.uint8))
        if step % every == 0:
            curve.append((step, rss_mb()))
    seconds = time.perf_counter() - start
    gc.collect()
    base = dict(curve).get(warmup, curve[0][1])
    final = curve[-1][1]
    return {"steps": steps, "every": every, "warmup": warmup, "batch_size": batch_size,
            "curve": curve, "rss_at_warmup_mb": base, "rss_final_mb": final,
            "growth_mb": final - base, "growth_pct": 100 * (final - base) / base,
            "seconds": seconds, "final_loss": float(loss.item())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--every", type=int, default=500, help="sample RSS every N steps")
    p.add_argument("--warmup", type=int, default=1000,
                   help="growth is measured from the sample at this step")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--synthetic", action="store_true", help="random data instead of MNIST")
    p.add_argument("--samples", type=int, default=60000, help="how many, with --synthetic")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    p.add_argument("--leak-bytes", type=int, default=0,
                   help="keep this many bytes per step (a deliberate leak, to test the soak)")
    args = p.parse_args(argv)
    if args.warmup % args.every or args.warmup > args.steps:
        p.error("--warmup must be a multiple of --every, and at most --steps")
    r = soak(args.steps, args.every, args.warmup, args.batch_size, args.synthetic,
             args.samples, args.leak_bytes)
    print(f"{'step':>7}  {'RSS MB':>8}")
    for step, mb in r["curve"]:
        mark = "  <- warm-up ends" if step == args.warmup else ""
        print(f"{step:>7}  {mb:>8.1f}{mark}")
    print(f"growth after warm-up (step {args.warmup} -> {args.steps}): "
          f"{r['growth_mb']:+.2f} MB ({r['growth_pct']:+.2f}%); "
          f"{args.steps} steps in {r['seconds']:.1f} s, final loss {r['final_loss']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
