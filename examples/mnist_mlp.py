"""Train an MLP (784-512-512-10, ReLU) on MNIST; runs on chainrule or, for comparison, PyTorch.

    python examples/mnist_mlp.py --data ../shared/data/mnist            # chainrule
    python examples/mnist_mlp.py --data ../shared/data/mnist --backend torch

The same code runs on both: the backend module is imported as ``torch``. The data is read by
chainrule's MNIST loader and handed to the backend as arrays. Stops at ``--target`` test
accuracy (default 0.98) or after ``--epochs`` and prints the time it took.
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

from chainrule.vision.datasets import MNIST


def load(root: str | None, train: bool) -> tuple[np.ndarray, np.ndarray]:
    ds = MNIST(root, train=train) if root else MNIST.bundled_sample(train=train)
    x = ds.data.numpy().astype(np.float32).reshape(-1, 784) / 255.0
    return (x - 0.1307) / 0.3081, ds.targets.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST root (default: bundled sample)")
    parser.add_argument("--backend", choices=["chainrule", "torch"], default="chainrule")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch = importlib.import_module(args.backend)
    if args.backend == "torch":
        torch.set_num_threads(2)
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.data, True)
    x_test, y_test = load(args.data, False)
    train_set = torch.utils.data.TensorDataset(torch.from_numpy(x_train),
                                               torch.from_numpy(y_train))
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test)

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        elapsed = time.perf_counter() - start
        print(f"[{args.backend}] epoch {epoch}: test accuracy {acc:.4f}  ({elapsed:.1f}s)")
        if acc >= args.target:
            print(f"[{args.backend}] reached {args.target:.2%} in {elapsed:.1f}s "
                  f"({epoch} epochs)")
            return
    print(f"[{args.backend}] did not reach {args.target:.2%} in {args.epochs} epochs")


if __name__ == "__main__":
    main()
