"""Data-parallel MNIST MLP over MPI: each rank trains on its share, gradients are averaged.

    python -m chainrule.distributed.launch -n 2 examples/ddp_mnist.py --data ../shared/data/mnist
    mpiexec -n 2 python examples/ddp_mnist.py                  # the same, with the bundled sample

Written as a PyTorch DDP script (``import chainrule as torch``): init_process_group,
DistributedSampler, DistributedDataParallel. ``--batch-size`` is the global batch: each of
the N ranks takes ``batch_size / N`` of it, so N ranks train as one process would on the
whole batch. Rank 0 evaluates and prints.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as torch
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.nn.parallel import DistributedDataParallel as DDP
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset
from chainrule.vision.datasets import MNIST


def load(root: str | None, train: bool) -> tuple[np.ndarray, np.ndarray]:
    ds = MNIST(root, train=train) if root else MNIST.bundled_sample(train=train)
    x = ds.data.numpy().astype(np.float32).reshape(-1, 784) / 255.0
    return (x - 0.1307) / 0.3081, ds.targets.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST root (default: bundled sample)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="global batch size")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=None, help="use this many train images")
    args = parser.parse_args()

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise ValueError(f"--batch-size {args.batch_size} does not divide among {world} ranks")

    x_train, y_train = load(args.data, True)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    sampler = DistributedSampler(train_set, shuffle=True, seed=0)  # rank, world: from dist
    loader = DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler)

    torch.manual_seed(0)  # (rank 0's weights are broadcast anyway)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)

    x_test, y_test = load(args.data, False)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)  # a new permutation each epoch, the same on every rank
        ddp.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(ddp(x), y).backward()  # gradients averaged over the ranks
            opt.step()
        if rank == 0:
            model.eval()
            with torch.no_grad():
                pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
            acc = float((pred == y_test).mean())
            print(f"epoch {epoch}: test accuracy {acc:.4f} ({world} ranks, "
                  f"{time.perf_counter() - start:.1f}s)", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
