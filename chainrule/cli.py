"""The ``chainrule`` command: ``chainrule train`` trains a model on MNIST and reports accuracy.

With no options it trains a small MLP on the MNIST sample bundled with the package, offline,
in well under a minute on two cores; ``--data DIR`` uses a full MNIST (the four IDX .gz
files, or torchvision's ``MNIST/raw`` layout) instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_model", "train"]


def build_model(name: str) -> Any:
    """The ``--model`` choices: a 784-512-256-10 ReLU MLP with dropout 0.2, or
    pytorch/examples' MNIST CNN."""
    from chainrule import nn

    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(128, 10))
    raise ValueError(f"unknown model {name!r}: choose mlp or cnn")


def _load(root: str | None, train: bool) -> Any:
    """MNIST images as normalised float tensors (N, 1, 28, 28) and int64 labels."""
    import chainrule
    from chainrule.vision.datasets import MNIST

    ds = MNIST(root, train=train) if root is not None else MNIST.bundled_sample(train=train)
    x = ds.data.float().unsqueeze(1) / 255.0
    x = (x - 0.1307) / 0.3081  # the usual MNIST mean and std
    return chainrule.utils.data.TensorDataset(x, ds.targets)


def evaluate(model: Any, loader: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader``."""
    import chainrule
    import chainrule.nn.functional as F

    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with chainrule.no_grad():
        for x, y in loader:
            out = model(x)
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            correct += int((out.argmax(1) == y).sum().item())
            total += len(y)
    model.train()
    return loss_sum / total, correct / total


def train(model: str = "mlp", data: str | None = None, epochs: int = 8,
          batch_size: int = 64, lr: float | None = None, optimizer: str = "adam",
          seed: int = 0, save: str | None = None, progress: bool = True,
          out: Any = None) -> dict[str, float]:
    """Train and evaluate; returns the final train loss, test loss and test accuracy.

    Example:
        >>> from chainrule.cli import train
        >>> result = train(epochs=1, progress=False, out=open("/dev/null", "w"))
        >>> result["test_accuracy"] > 0.9
        True
    """
    import chainrule
    import chainrule.nn.functional as F
    from chainrule import optim
    from chainrule.utils.data import DataLoader

    out = out or sys.stdout
    chainrule.manual_seed(seed)
    train_set, test_set = _load(data, True), _load(data, False)
    g = chainrule.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=g)
    test_loader = DataLoader(test_set, batch_size=1000)
    net = build_model(model)
    if optimizer == "adam":
        opt = optim.Adam(net.parameters(), lr=lr if lr is not None else 1e-3)
    elif optimizer == "sgd":
        opt = optim.SGD(net.parameters(), lr=lr if lr is not None else 0.05, momentum=0.9)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose sgd or adam")
    # Cosine decay to zero over the run: the last epochs take small steps, which steadies the
    # test accuracy of a small network trained on a small sample.
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train_loader))
    print(f"chainrule train: {model} on {len(train_set)} training and {len(test_set)} test "
          f"images ({'bundled sample' if data is None else data}), {optimizer}, "
          f"batch {batch_size}, {epochs} epoch(s)", file=out)
    train_loss = float("nan")
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        running, seen = 0.0, 0
        batches = _progress(train_loader, epoch, epochs, progress, out)
        for x, y in batches:
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            schedule.step()
            running += loss.item() * len(y)
            seen += len(y)
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{running / seen:.4f}", refresh=False)
        train_loss = running / seen
        test_loss, acc = evaluate(net, test_loader)
        print(f"epoch {epoch}: train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {acc:.2%}  ({time.perf_counter() - start:.1f}s)", file=out)
    if save:
        chainrule.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, save)
        print(f"saved model and optimizer state to {save}", file=out)
    return {"train_loss": train_loss, "test_loss": test_loss, "test_accuracy": acc}


def _progress(loader: Any, epoch: int, epochs: int, enabled: bool, out: Any) -> Any:
    """A tqdm bar on a terminal; plain iteration (one line per epoch is printed) otherwise."""
    if not enabled or not getattr(out, "isatty", lambda: False)():
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=f"epoch {epoch}/{epochs}", file=out, leave=False, unit="batch")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script."""
    parser = argparse.ArgumentParser(prog="chainrule", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a model on MNIST and report test accuracy")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--data", default=None, help="MNIST root (default: the bundled sample)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 1e-3 for adam, 0.05 for sgd)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="save model and optimizer state here")
    args = parser.parse_args(argv)
    if args.command == "train":
        train(model=args.model, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
              lr=args.lr, optimizer=args.optimizer, seed=args.seed, save=args.save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
