"""MNIST training throughput, chainrule vs PyTorch, same code on both (imported as ``torch``).

Measures, on full MNIST (../shared/data/mnist by default):
  - MLP 784-512-512-10 (ReLU, cross-entropy, SGD momentum 0.9, batch 128), one epoch:
    train samples/s, peak RSS of the process, and the DataLoader's share of the epoch;
  - the pytorch/examples CNN (Adam, batch 64) over ``--cnn-batches`` batches: samples/s.
Each framework runs in its own subprocess (so peak RSS is its own); torch uses 2 threads.
The two frameworks alternate over ``--rounds`` rounds and each figure is the median of the
rounds' ratios, with their range: on a shared 2-core machine one run's ratio can move by 30%.

Run: python benchmarks/bench_mnist.py [--data DIR] [--cnn-batches 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"


def _data(root: str) -> tuple[np.ndarray, np.ndarray]:
    from chainrule.vision.datasets import MNIST

    ds = MNIST(root, train=True)
    x = (ds.data.numpy().astype(np.float32) / 255.0 - 0.1307) / 0.3081
    return x, ds.targets.numpy()


def run_mlp(backend: str, root: str) -> dict[str, float]:
    torch = importlib.import_module(backend)
    if backend == "torch":
        torch.set_num_threads(2)
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    x, y = _data(root)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x.reshape(-1, 784)), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    t0 = time.perf_counter()
    for _ in loader:  # the loader alone: what the epoch pays for data
        pass
    loader_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    epoch_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"samples_per_s": len(ds) / epoch_s, "epoch_s": epoch_s, "loader_s": loader_s,
            "peak_rss_mb": peak_mb, "final_loss": float(loss.item())}


def run_cnn(backend: str, root: str, batches: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "examples"))
    from mnist_cnn import build

    torch = importlib.import_module(backend)
    if backend == "torch":
        torch.set_num_threads(2)
    F = torch.nn.functional
    torch.manual_seed(0)
    x, y = _data(root)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x[:, None]), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)
    model = build(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    it = iter(loader)
    for _ in range(3):  # warm-up
        xb, yb = next(it)
        opt.zero_grad()
        F.nll_loss(model(xb), yb).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(batches):
        xb, yb = next(it)
        opt.zero_grad()
        F.nll_loss(model(xb), yb).backward()
        opt.step()
    return {"samples_per_s": batches * 64 / (time.perf_counter() - t0)}


def _child(args: argparse.Namespace) -> None:
    if args.workload == "mlp":
        print(json.dumps(run_mlp(args.backend, args.data)))
    else:
        print(json.dumps(run_cnn(args.backend, args.data, args.cnn_batches)))


def _spawn(workload: str, backend: str, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", "--workload", workload, "--backend", backend,
           "--data", str(args.data), "--cnn-batches", str(args.cnn_batches)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--cnn-batches", type=int, default=60)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=["mlp", "cnn"], help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=["chainrule", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    print(f"median over {args.rounds} alternating rounds (range in brackets)")
    rounds = [{b: _spawn("mlp", b, args) for b in ("torch", "chainrule")}
              for _ in range(args.rounds)]

    def summary(key: str, fmt: str) -> str:
        t = statistics.median(r["torch"][key] for r in rounds)
        c = statistics.median(r["chainrule"][key] for r in rounds)
        ratios = sorted(r["chainrule"][key] / r["torch"][key] for r in rounds)
        return (f"torch {t:{fmt}}  chainrule {c:{fmt}}  ratio {statistics.median(ratios):.2f}x "
                f"[{ratios[0]:.2f}-{ratios[-1]:.2f}]")

    print("MLP 784-512-512-10, SGD momentum, batch 128, one epoch of MNIST (60,000)")
    print(f"  train samples/s: {summary('samples_per_s', ',.0f')}")
    print(f"  peak RSS MB:     {summary('peak_rss_mb', '.0f')}")
    share_c = statistics.median(100 * r["chainrule"]["loader_s"] / r["chainrule"]["epoch_s"]
                                for r in rounds)
    share_t = statistics.median(100 * r["torch"]["loader_s"] / r["torch"]["epoch_s"]
                                for r in rounds)
    print(f"  DataLoader share of the epoch: chainrule {share_c:.1f}%  (torch {share_t:.1f}%)")
    if not args.skip_cnn:
        rounds = [{b: _spawn("cnn", b, args) for b in ("torch", "chainrule")}
                  for _ in range(args.rounds)]
        print(f"CNN (pytorch/examples), Adam, batch 64, {args.cnn_batches} batches")
        print(f"  train samples/s: {summary('samples_per_s', ',.0f')}")

if __name__ == "__main__":
    main()
