"""The pytorch/examples MNIST CNN (two convs, max-pool, dropout, two linears, log_softmax,
nll_loss) on chainrule or, for comparison, PyTorch.

    python examples/mnist_cnn.py --data ../shared/data/mnist            # chainrule
    python examples/mnist_cnn.py --data ../shared/data/mnist --backend torch

Same code on both backends (imported as ``torch``); Adam, batch 64. Stops at ``--target`` test
accuracy (default 0.99) or after ``--epochs`` and prints the time it took.
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

from chainrule.vision.datasets import MNIST


def load(root: str | None, train: bool) -> tuple[np.ndarray, np.ndarray]:
    ds = MNIST(root, train=train) if root else MNIST.bundled_sample(train=train)
    x = ds.data.numpy().astype(np.float32)[:, None] / 255.0
    return (x - 0.1307) / 0.3081, ds.targets.numpy()


def build(torch):
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

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST root (default: bundled sample)")
    parser.add_argument("--backend", choices=["chainrule", "torch"], default="chainrule")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each epoch after this many batches (for quick runs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch = importlib.import_module(args.backend)
    if args.backend == "torch":
        torch.set_num_threads(2)
    F = torch.nn.functional
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.data, True)
    x_test, y_test = load(args.data, False)
    train_set = torch.utils.data.TensorDataset(torch.from_numpy(x_train),
                                               torch.from_numpy(y_train))
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test)

    model = build(torch)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for i, (x, y) in enumerate(loader):
            if args.max_batches is not None and i >= args.max_batches:
                break
            opt.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for j in range(0, len(yt), 1000):
                correct += (model(xt[j:j + 1000]).argmax(1) == yt[j:j + 1000]).sum().item()
        acc = correct / len(yt)
        elapsed = time.perf_counter() - start
        print(f"[{args.backend}] epoch {epoch}: test accuracy {acc:.4f}  ({elapsed:.1f}s)")
        if acc >= args.target:
            print(f"[{args.backend}] reached {args.target:.2%} in {elapsed:.1f}s "
                  f"({epoch} epochs)")
            return
    print(f"[{args.backend}] did not reach {args.target:.2%} in {args.epochs} epochs")


if __name__ == "__main__":
    main()
