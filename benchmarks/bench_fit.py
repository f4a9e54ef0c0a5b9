"""fit's overhead over a hand-written loop doing the same work, chainrule only.

Both variants train the same MLP (784-512-256-10, SGD with momentum, batch 128) on
``--train-size`` MNIST images for ``--epochs`` epochs from the same seed, keep the running loss
and accuracy of every batch, and evaluate loss and accuracy on the 10,000 test images after
each epoch: the hand-written loop does by hand exactly what ``chainrule.train.fit`` does (no
callbacks, no progress bar). Each round is a fresh process that runs the two one after the
other, each from a fresh model (the order flips each round, so warm-up favours neither); the
figure is the median over ``--rounds`` rounds (>= 5) of fit's time over the loop's, with the
range. Running the pair back to back in one process keeps them under the same machine load,
which on shared cores matters more than anything measured here. Both wall time and the
process's CPU time are reported: on a loaded machine the CPU time (with one BLAS thread, so no
thread spins while it waits for a core) is the steadier measure of the work each variant
does. Both variants must end with bit-identical weights (checked every round).

Data comes through ``benchmarks/_harness.py``'s NumPy reader (``mnist_arrays``), as in the
other benchmarks.

Run: python benchmarks/bench_fit.py [--rounds 5] [--epochs 1] [--train-size 30000] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import MNIST_ROOT, child_environment, mnist_arrays  # noqa: E402

VARIANTS = ("loop", "fit")


def _setup(args: argparse.Namespace):
    import chainrule
    from chainrule import nn, optim
    from chainrule.train import seed_everything
    from chainrule.utils.data import DataLoader, TensorDataset

    n = 10000 if args.quick else args.train_size
    x, y = mnist_arrays(True, args.data)
    xt, yt = mnist_arrays(False, args.data)
    train = TensorDataset(chainrule.from_numpy(x[:n, None]), chainrule.from_numpy(y[:n]))
    test = TensorDataset(chainrule.from_numpy(xt[:, None]), chainrule.from_numpy(yt))
    seed_everything(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                          nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return (model, opt, nn.CrossEntropyLoss(), DataLoader(train, batch_size=128, shuffle=True),
            DataLoader(test, batch_size=1000))


def run_loop(args: argparse.Namespace) -> tuple[float, object]:
    import chainrule

    model, opt, loss_fn, train, test = _setup(args)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.epochs):
        model.train()
        loss_sum, correct, seen = 0.0, 0.0, 0
        for x, y in train:
            opt.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            n = y.shape[0]
            seen += n
            loss_sum += loss.item() * n
            with chainrule.no_grad():
                correct += float((out.argmax(-1) == y).float().mean().item()) * n
        model.eval()
        val_loss, val_correct, val_seen = 0.0, 0.0, 0
        with chainrule.no_grad():
            for x, y in test:
                out = model(x)
                n = y.shape[0]
                val_seen += n
                val_loss += loss_fn(out, y).item() * n
                val_correct += float((out.argmax(-1) == y).float().mean().item()) * n
        print(f"loop: loss {loss_sum / seen:.4f} acc {correct / seen:.4f} val_loss "
              f"{val_loss / val_seen:.4f} val_acc {val_correct / val_seen:.4f}", file=sys.stderr)
    return time.perf_counter() - start, time.process_time() - cpu, model


def run_fit(args: argparse.Namespace) -> tuple[float, object]:
    from chainrule.train import fit

    model, opt, loss_fn, train, test = _setup(args)
    start, cpu = time.perf_counter(), time.process_time()
    fit(model, loss_fn, opt, train, test, epochs=args.epochs, file=sys.stderr)
    return time.perf_counter() - start, time.process_time() - cpu, model


def _digest(model) -> str:
    h = hashlib.sha256()
    for v in model.state_dict().values():
        h.update(v.numpy().tobytes())
    return h.hexdigest()[:16]


def _child(args: argparse.Namespace) -> None:
    out = {}
    for variant in args.child.split(","):
        seconds, cpu, model = (run_fit if variant == "fit" else run_loop)(args)
        out[variant] = {"seconds": seconds, "cpu": cpu, "digest": _digest(model)}
    print(json.dumps(out))


def _spawn(order: tuple[str, ...], argv: list[str]) -> dict:
    env = child_environment()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    done = subprocess.run([sys.executable, __file__, "--child", ",".join(order), *argv],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{order} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=30000)
    parser.add_argument("--quick", action="store_true", help="10,000 training images")
    parser.add_argument("--data", default=str(MNIST_ROOT))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    argv = ["--epochs", str(args.epochs), "--data", args.data,
            "--train-size", str(args.train_size)] + (["--quick"] if args.quick else [])
    size = 10000 if args.quick else args.train_size
    print(f"fit vs a hand-written loop, {args.epochs} epoch(s) of {size:,} MNIST images + "
          f"test-set evaluation each, {args.rounds} rounds (a fresh process each, the two "
          "back to back, order alternating)")
    ratios: dict[str, list[float]] = {"seconds": [], "cpu": []}
    times = {(v, k): [] for v in VARIANTS for k in ratios}
    for i in range(args.rounds):
        order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]
        got = _spawn(order, argv)
        if got["fit"]["digest"] != got["loop"]["digest"]:
            raise RuntimeError("fit and the loop ended with different weights")
        for k in ratios:
            for v in VARIANTS:
                times[(v, k)].append(got[v][k])
            ratios[k].append(got["fit"][k] / got["loop"][k])
        print(f"  round {i + 1} ({order[0]} first): wall loop {got['loop']['seconds']:.2f}s "
              f"fit {got['fit']['seconds']:.2f}s ({ratios['seconds'][-1]:.3f}); cpu loop "
              f"{got['loop']['cpu']:.2f}s fit {got['fit']['cpu']:.2f}s "
              f"({ratios['cpu'][-1]:.3f})", flush=True)
    for k, label in (("seconds", "wall time"), ("cpu", "CPU time")):
        r = ratios[k]
        med = statistics.median(r)
        print(f"fit / loop {label}: median {med:.3f} [{min(r):.3f}-{max(r):.3f}] (overhead "
              f"{100 * (med - 1):+.1f}%; loop median {statistics.median(times[('loop', k)]):.2f}s,"
              f" fit median {statistics.median(times[('fit', k)]):.2f}s)")
    print("weights identical in every round")


if __name__ == "__main__":
    main()
