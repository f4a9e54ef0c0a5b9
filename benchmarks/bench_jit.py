"""Compiled training step vs eager mode, chainrule and PyTorch (and torch.compile).

One training step (forward, backward, optimizer update) on a fixed batch of real MNIST, three
ways per framework process: chainrule eager and ``chainrule.jit.compile_train_step``;
PyTorch eager and ``torch.compile`` (its default inductor backend, which builds C++ kernels
with the system's gcc on the CPU). Inside one process the two ways alternate in blocks, so a
slow spell on these shared cores hurts both; compilation is excluded (warm-up steps).

Workloads: the MLP 784-512-512-10 (SGD with momentum) at batch 32 and 128, and the
pytorch/examples MNIST CNN (Adam, batch 64, dropout on).

The harness prints each metric's chainrule/PyTorch ratio; the summary adds the ratios the
issue asks for: chainrule compiled over chainrule eager (goal >= 1.3x at batch 32), over
PyTorch eager, and over torch.compile.

Run: python benchmarks/bench_jit.py [--quick] [--rounds 5] [--threads 2] [--no-torch-compile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Workload, main, mnist_arrays  # noqa: E402


def _mlp(torch: Any) -> Any:
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def _cnn(torch: Any) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from mnist_cnn import build

    return build(torch)


def _batch(torch: Any, args: argparse.Namespace, n: int, image: bool) -> tuple[Any, Any]:
    x, y = mnist_arrays(train=True, root=args.data)
    x = x[:n].reshape(n, 1, 28, 28) if image else x[:n].reshape(n, 784)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y[:n])


def _steps(torch: Any, args: argparse.Namespace, kind: str, batch: int) -> dict[str, float]:
    """Steps per second, eager and compiled, measured in alternating blocks."""
    F = torch.nn.functional
    image = kind == "cnn"
    x, y = _batch(torch, args, batch, image)
    build = _cnn if image else _mlp
    loss_fn = F.nll_loss if image else F.cross_entropy

    def make_opt(model: Any) -> Any:
        if image:
            return torch.optim.Adam(model.parameters(), lr=1e-3)
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    torch.manual_seed(0)
    eager_model = build(torch)
    eager_opt = make_opt(eager_model)

    def eager() -> None:
        eager_opt.zero_grad()
        loss_fn(eager_model(x), y).backward()
        eager_opt.step()

    torch.manual_seed(0)
    comp_model = build(torch)
    comp_opt = make_opt(comp_model)
    compiled: Any = None
    if torch.__name__ == "chainrule":
        step = torch.jit.compile_train_step(comp_model, loss_fn, comp_opt, (x, y))

        def compiled() -> None:
            step(x, y)
    elif not args.no_torch_compile:
        fast = torch.compile(comp_model)

        def compiled() -> None:
            comp_opt.zero_grad()
            loss_fn(fast(x), y).backward()
            comp_opt.step()

    quick = args.quick
    per_block = {"mlp": 40 if quick else 100, "cnn": 2 if quick else 4}[kind]
    blocks = 3 if quick else 6
    warm = 3 if image else 20
    fns = {"eager": eager}
    if compiled is not None:
        fns["compiled"] = compiled
    for fn in fns.values():
        for _ in range(warm):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(blocks):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(per_block):
                fn()
            times[name].append((time.perf_counter() - t0) / per_block)
    out = {f"{k}_steps_per_s": 1.0 / statistics.median(v) for k, v in times.items()}
    if "compiled_steps_per_s" not in out:
        out["compiled_steps_per_s"] = float("nan")
    return out


def run_mlp32(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    return _steps(torch, args, "mlp", 32)


def run_mlp128(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    return _steps(torch, args, "mlp", 128)


def run_cnn(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    return _steps(torch, args, "cnn", 64)


def _threads() -> int:
    """--threads N (read before the harness parses: a workload's thread count is fixed)."""
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 2


METRICS = {"eager_steps_per_s": "higher", "compiled_steps_per_s": "higher"}
THREADS = _threads()
WORKLOADS = {
    "mlp32": Workload(run_mlp32, "MLP 784-512-512-10, SGD momentum, batch 32: one step",
                      METRICS, threads=THREADS),
    "mlp128": Workload(run_mlp128, "MLP 784-512-512-10, SGD momentum, batch 128: one step",
                       METRICS, threads=THREADS),
    "cnn": Workload(run_cnn, "MNIST CNN (pytorch/examples), Adam, batch 64: one step",
                    METRICS, threads=THREADS),
}


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-torch-compile", action="store_true",
                        help="skip torch.compile (it compiles C++ kernels at start-up)")
    parser.add_argument("--threads", type=int, default=2,
                        help="BLAS/OpenMP threads of both frameworks (default 2)")


def _summary(results: dict[str, list[dict[str, dict[str, float]]]]) -> None:
    print("\nchainrule's compiled step relative to (speed, median over rounds [range]):")
    for name, rounds in results.items():
        parts = []
        for label, other in (("chainrule eager", ("chainrule", "eager_steps_per_s")),
                             ("PyTorch eager", ("torch", "eager_steps_per_s")),
                             ("torch.compile", ("torch", "compiled_steps_per_s"))):
            ratios = sorted(r["chainrule"]["compiled_steps_per_s"] / r[other[0]][other[1]]
                            for r in rounds if r[other[0]][other[1]] == r[other[0]][other[1]])
            if ratios:
                parts.append(f"{label} {statistics.median(ratios):.2f}x "
                             f"[{ratios[0]:.2f}-{ratios[-1]:.2f}]")
        print(f"  {name:<7} " + ";  ".join(parts))


if __name__ == "__main__":
    res = main(WORKLOADS, description=__doc__, add_arguments=_options)
    if res:
        _summary(res)
