"""MNIST training throughput and memory, chainrule vs PyTorch, the same code on both.

Workloads (full MNIST from ../shared/data/mnist unless ``--data``):

- ``mlp``: MLP 784-512-512-10 (ReLU, cross-entropy, SGD lr 0.05 momentum 0.9, batch 128),
  one epoch of 60,000 images: train samples/s, and the process's peak RSS;
- ``cnn``: the pytorch/examples MNIST CNN (two 3x3 convolutions, max-pool, dropout, two
  linears, log_softmax, nll_loss; Adam lr 1e-3, batch 64) over ``--cnn-batches`` batches after
  3 warm-up batches: train samples/s.

Method (``benchmarks/_harness.py``): each framework runs in a fresh process that imports it as
``torch`` and never imports the other, with 2 threads; the two alternate over the rounds and
each figure is the median of the per-round ratios, with their range.

The data path is the same for both, and is not the framework's: the harness reads the IDX
files with NumPy, a NumPy generator shuffles the indices, and each batch is gathered in NumPy
and handed over with ``from_numpy``. Each framework's own ``DataLoader`` over a
``TensorDataset`` is the other way a user might write it, but the two loaders do different
work (torch's default sampler indexes the dataset sample by sample and stacks the samples;
chainrule's batches whole index arrays), so the figure would mix the loader into the step.
``--loader dataloader`` measures that variant.

Run: python benchmarks/bench_mnist.py [--quick] [--rounds 5] [--only mlp] [--cnn-batches 100]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from _harness import Workload, main, mnist_arrays


def batches(torch: Any, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
            loader: str) -> Iterator[tuple[Any, Any]]:
    """Shuffled batches of (x, y) as the framework's tensors (see the module docstring)."""
    if loader == "dataloader":
        torch.manual_seed(seed)
        ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        yield from torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True)
        return
    perm = np.random.default_rng(seed).permutation(len(x))
    for i in range(0, len(x), batch_size):
        idx = perm[i:i + batch_size]
        yield torch.from_numpy(x[idx]), torch.from_numpy(y[idx])


def run_mlp(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    x, y = mnist_arrays(root=args.data)
    x = x.reshape(-1, 784)
    if args.quick:
        x, y = x[:20_000], y[:20_000]
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    t0 = time.perf_counter()
    for xb, yb in batches(torch, x, y, 128, 0, args.loader):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    epoch_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"samples_per_s": len(x) / epoch_s, "peak_rss_mb": peak_mb, "epoch_s": epoch_s,
            "final_loss": float(loss.item())}


def cnn(torch: Any) -> Any:
    """The pytorch/examples MNIST network (defined here: examples/mnist_cnn.py imports
    chainrule, which the PyTorch child must not)."""
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def run_cnn(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    F = torch.nn.functional
    torch.manual_seed(0)
    x, y = mnist_arrays(root=args.data)
    n_batches = 20 if args.quick else args.cnn_batches
    warmup = 3
    x, y = x[:(n_batches + warmup) * 64, None], y[:(n_batches + warmup) * 64]
    model = cnn(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    it = batches(torch, x, y, 64, 0, args.loader)
    for _ in range(warmup):
        xb, yb = next(it)
        opt.zero_grad()
        F.nll_loss(model(xb), yb).backward()
        opt.step()
    t0 = time.perf_counter()
    for xb, yb in it:
        opt.zero_grad()
        loss = F.nll_loss(model(xb), yb)
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - t0
    return {"samples_per_s": n_batches * 64 / elapsed, "ms_per_batch": elapsed / n_batches * 1e3,
            "final_loss": float(loss.item())}


WORKLOADS = {
    "mlp": Workload(run_mlp, "MLP 784-512-512-10, SGD momentum 0.9, batch 128, one epoch",
                    {"samples_per_s": "higher", "peak_rss_mb": "lower"}),
    "cnn": Workload(run_cnn, "pytorch/examples CNN, Adam, batch 64",
                    {"samples_per_s": "higher"}),
}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cnn-batches", type=int, default=100,
                        help="CNN batches timed after 3 warm-up batches (20 with --quick)")
    parser.add_argument("--loader", choices=["numpy", "dataloader"], default="numpy",
                        help="the data path (see the module docstring)")


if __name__ == "__main__":
    main(WORKLOADS, description=__doc__, add_arguments=_arguments)
