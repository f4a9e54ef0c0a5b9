"""A small Vision Transformer on MNIST: 7x7 patches, a class token, learned position
embeddings and a stack of pre-norm nn.TransformerEncoderLayer; runs on chainrule or PyTorch.

    python examples/vit_mnist.py --data ../shared/data/mnist            # chainrule
    python examples/vit_mnist.py --data ../shared/data/mnist --backend torch

Each 28x28 image becomes 16 patches of 49 pixels, each projected to ``--dim`` features; a
learned class token is prepended and a learned position embedding added; ``--depth`` encoder
layers (self-attention over the 17 tokens, then an MLP, each with LayerNorm before it and a
residual connection) follow, and the class token's final features are classified by a
LayerNorm and a Linear layer. AdamW with a linear warm-up and cosine decay of the learning
rate. Stops at ``--target`` test accuracy (default 0.97) or after ``--epochs`` and prints the
time it took.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from typing import Any

import numpy as np

from chainrule.vision.datasets import MNIST


def load(root: str | None, train: bool) -> tuple[np.ndarray, np.ndarray]:
    ds = MNIST(root, train=train) if root else MNIST.bundled_sample(train=train)
    x = ds.data.numpy().astype(np.float32)[:, None] / 255.0
    return (x - 0.1307) / 0.3081, ds.targets.numpy()


def build(torch: Any, dim: int = 64, depth: int = 4, heads: int = 4, mlp: int = 128,
          patch: int = 7, dropout: float = 0.0) -> Any:
    nn = torch.nn
    n_patches = (28 // patch) ** 2

    class ViT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patch = patch
            self.embed = nn.Linear(patch * patch, dim)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.randn(1, n_patches + 1, dim) * 0.02)
            layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 10)

        def forward(self, x: Any) -> Any:
            b, p = x.shape[0], self.patch
            g = 28 // p
            # (B, 1, 28, 28) -> (B, g*g, p*p): row-major patches of p x p pixels
            x = x.reshape(b, g, p, g, p).permute(0, 1, 3, 2, 4).reshape(b, g * g, p * p)
            tokens = torch.cat([self.cls.expand(b, -1, -1), self.embed(x)], dim=1) + self.pos
            return self.head(self.norm(self.encoder(tokens)[:, 0]))

    return ViT()


def evaluate(torch: Any, model: Any, x: Any, y: Any) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for j in range(0, len(y), 1000):
            correct += int((model(x[j:j + 1000]).argmax(1) == y[j:j + 1000]).sum().item())
    model.train()
    return correct / len(y)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST root (default: bundled sample)")
    parser.add_argument("--backend", choices=["chainrule", "torch"], default="chainrule")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--mlp", type=int, default=128)
    parser.add_argument("--target", type=float, default=0.97)
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each epoch after this many batches (for quick runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2,
                        help="torch's threads (for chainrule's BLAS, set OPENBLAS_NUM_THREADS "
                             "before starting)")
    args = parser.parse_args(argv)

    torch = importlib.import_module(args.backend)
    if args.backend == "torch":
        torch.set_num_threads(args.threads)
    F = torch.nn.functional
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.data, True)
    x_test, y_test = load(args.data, False)
    train_set = torch.utils.data.TensorDataset(torch.from_numpy(x_train),
                                               torch.from_numpy(y_train))
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test)

    model = build(torch, args.dim, args.depth, args.heads, args.mlp)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    per_epoch = len(loader) if args.max_batches is None else min(len(loader), args.max_batches)
    total = per_epoch * args.epochs

    def schedule(step: int) -> float:  # linear warm-up, then cosine decay to zero
        if step < args.warmup:
            return (step + 1) / args.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - args.warmup) / max(1, total - args.warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    print(f"[{args.backend}] {sum(p.numel() for p in model.parameters()):,} parameters")
    start = time.perf_counter()
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
        for i, (x, y) in enumerate(loader):
            if args.max_batches is not None and i >= args.max_batches:
                break
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(torch, model, xt, yt)
        elapsed = time.perf_counter() - start
        print(f"[{args.backend}] epoch {epoch}: loss {loss.item():.3f}  test accuracy "
              f"{acc:.4f}  ({elapsed:.1f}s)")
        if acc >= args.target:
            print(f"[{args.backend}] reached {args.target:.2%} in {elapsed:.1f}s "
                  f"({epoch} epochs)")
            return acc
    print(f"[{args.backend}] did not reach {args.target:.2%} in {args.epochs} epochs")
    return acc


if __name__ == "__main__":
    main()
