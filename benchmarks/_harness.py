"""Run a workload in chainrule and in PyTorch the way a user would, and report speed ratios.

The method every benchmark in this folder follows (docs/benchmarks.md, "Method"):

- each framework runs in a fresh Python process that imports it as ``torch`` and never imports
  the other (so neither runs with the other's allocator, thread or import-time settings);
- both read their data through the same path: :func:`mnist_arrays` reads the IDX files with
  NumPy alone, and each child turns the arrays into its own tensors;
- the two frameworks alternate over ``--rounds`` rounds (>= 5 by default; the order flips each
  round, so a slow spell on these shared cores hurts both);
- each figure is the median over rounds of the per-round ratio, with the range in brackets.

The children run without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``: some machines (the
project's among them) set these to pin old OpenBLAS builds to safe kernels, and with them
NumPy's current OpenBLAS runs its AVX2 (Haswell) GEMMs on a processor that has AVX-512, which
a user's machine does not do. ``--machine-blas`` keeps them. The kernel NumPy's OpenBLAS runs
is printed first.

Each round also records how busy the machine was with other processes while each child ran
(Linux: the CPU time /proc/stat counts beyond the child's own), printed as ``other load`` in
cores: on a shared machine that says how far to trust the figures. ``--wait-idle S`` waits
up to S seconds before each child for the other processes to leave the cores free.

A ratio is always "chainrule relative to PyTorch" in speed: above 1.0 chainrule is faster.
For a metric where lower is better (seconds, MB) the ratio is PyTorch's value over chainrule's.

A benchmark script defines workloads, functions ``fn(torch, args) -> {metric: value}`` that
receive the framework module, and calls :func:`main`::

    WORKLOADS = {"mlp": Workload(run_mlp, "MLP epoch", {"samples_per_s": "higher"})}
    if __name__ == "__main__":
        main(WORKLOADS, description=__doc__)

``python bench_x.py`` runs every workload; ``--only mlp``, ``--rounds 7``, ``--quick`` (a
one-minute check: fewer rounds, workloads read ``args.quick`` to shrink themselves) and
``--json out.json`` (every round's raw figures) are the common options.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MNIST_ROOT = ROOT.parent / "shared" / "data" / "mnist"
BACKENDS = ("torch", "chainrule")


@dataclass
class Workload:
    """One measured workload: ``fn(torch_module, args)`` returns its metrics.

    ``metrics`` maps each reported metric to ``"higher"`` or ``"lower"`` (which is better);
    other keys the function returns are kept in ``--json`` output but not compared.
    ``threads`` is the thread count both frameworks get (torch.set_num_threads, and the
    BLAS/OpenMP variables set before the child imports anything). ``shown`` names returned
    keys that are printed as each framework's median without a ratio (context such as NumPy's
    own GEMM rate measured in the same child).
    """

    fn: Callable[[Any, argparse.Namespace], dict[str, float]]
    title: str
    metrics: dict[str, str]
    threads: int = 2
    extra: dict[str, Any] = field(default_factory=dict)
    shown: tuple[str, ...] = ()


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """Seconds per call of ``fn``: the median of ``repeats`` timed calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mnist_arrays(train: bool = True, root: str | os.PathLike | None = None,
                 normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images (N, 28, 28) float32 and labels (N,) int64, read from the IDX .gz files
    with NumPy alone, so a PyTorch child never imports chainrule to get its data."""
    root = Path(root) if root is not None else MNIST_ROOT
    prefix = "train" if train else "t10k"
    with gzip.open(root / f"{prefix}-images-idx3-ubyte.gz", "rb") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(root / f"{prefix}-labels-idx1-ubyte.gz", "rb") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    x = images.astype(np.float32) / 255.0
    if normalize:
        x = (x - np.float32(0.1307)) / np.float32(0.3081)
    return x, labels


def _parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating rounds (default 5, 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a one-minute check")
    parser.add_argument("--only", action="append", default=None, help="run only this workload")
    parser.add_argument("--json", default=None, help="write every round's figures here")
    parser.add_argument("--data", default=str(MNIST_ROOT), help="MNIST IDX folder")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                        help="before each child, wait up to S seconds for idle cores")
    parser.add_argument("--machine-blas", action="store_true",
                        help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for the children")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, default=None, help=argparse.SUPPRESS)
    return parser


def _run_child(workloads: dict[str, Workload], args: argparse.Namespace) -> None:
    work = workloads[args.child]
    torch = importlib.import_module(args.backend)
    if args.backend == "torch":
        torch.set_num_threads(work.threads)
    result = work.fn(torch, args)
    print(json.dumps(result))


def _busy_jiffies() -> int | None:
    """CPU time all processes have used (non-idle jiffies in /proc/stat), None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields) - fields[3] - fields[4]  # minus idle and iowait


def _wait_idle(limit_s: float) -> None:
    """Wait (up to ``limit_s``) until other processes use under 10% of a core for 2 s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = _busy_jiffies()
        if before is None:
            return
        time.sleep(2.0)
        if _busy_jiffies() - before <= 0.1 * 2.0 * os.sysconf("SC_CLK_TCK"):
            return


# Set on some machines to pin old OpenBLAS builds to safe kernels (see the module docstring).
MACHINE_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def child_environment(machine_blas: bool = False) -> dict[str, str]:
    """The environment of a benchmark's child: this one, with this checkout's chainrule first
    on ``PYTHONPATH`` and, unless ``machine_blas``, without the machine's OpenBLAS overrides."""
    env = dict(os.environ)
    if not machine_blas:
        for var in MACHINE_BLAS_VARIABLES:
            env.pop(var, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


_KERNEL_PROBE = """
import ctypes
import numpy  # loads its OpenBLAS
from chainrule._backend.threads import openblas_libraries
for lib in openblas_libraries():
    for fn in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
               "openblas_get_corename64_", "openblas_get_corename"):
        if hasattr(lib, fn):
            getattr(lib, fn).restype = ctypes.c_char_p
            print("OpenBLAS", getattr(lib, fn)().decode()); raise SystemExit
print("not OpenBLAS (unknown kernel)")
"""


def blas_kernel(machine_blas: bool = False) -> str:
    """The GEMM kernel NumPy's OpenBLAS runs in a child, e.g. ``'OpenBLAS SkylakeX'``."""
    done = subprocess.run([sys.executable, "-c", _KERNEL_PROBE], capture_output=True,
                          text=True, env=child_environment(machine_blas))
    return done.stdout.strip() or f"unknown ({done.stderr.strip()[-200:]})"


def _spawn(script: str, name: str, work: Workload, backend: str,
           argv: list[str], wait_idle: float = 0.0,
           machine_blas: bool = False) -> dict[str, float]:
    if wait_idle > 0:
        _wait_idle(wait_idle)
    env = child_environment(machine_blas)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(work.threads)
    cmd = [sys.executable, script, "--child", name, "--backend", backend, *argv]
    busy0, own0, t0 = _busy_jiffies(), os.times(), time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    busy1, own1, t1 = _busy_jiffies(), os.times(), time.monotonic()
    if done.returncode != 0:
        raise RuntimeError(f"{backend} child for {name!r} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if busy0 is not None and busy1 is not None:
        own = (own1.children_user + own1.children_system
               - own0.children_user - own0.children_system)
        others = (busy1 - busy0) / os.sysconf("SC_CLK_TCK") - own
        result["_other_load"] = max(0.0, others) / max(t1 - t0, 1e-9)  # in cores
    return result


def ratio(torch_value: float, chainrule_value: float, better: str) -> float:
    """chainrule's speed relative to PyTorch's (> 1: chainrule is better)."""
    if better == "higher":
        return chainrule_value / torch_value
    return torch_value / chainrule_value


def summarize(rounds: list[dict[str, dict[str, float]]], metric: str,
              better: str) -> tuple[float, float, float, float, float]:
    """(torch median, chainrule median, median ratio, lowest ratio, highest ratio)."""
    t = statistics.median(r["torch"][metric] for r in rounds)
    c = statistics.median(r["chainrule"][metric] for r in rounds)
    ratios = sorted(ratio(r["torch"][metric], r["chainrule"][metric], better) for r in rounds)
    return t, c, statistics.median(ratios), ratios[0], ratios[-1]


def main(workloads: dict[str, Workload], description: str,
         add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
         argv: list[str] | None = None) -> dict[str, list[dict[str, dict[str, float]]]]:
    """Parse the command line; as a child, run one workload; as the parent, alternate
    children over rounds and print each metric's median ratio and range."""
    parser = _parser(description)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    if args.child is not None:
        _run_child(workloads, args)
        return {}
    script = sys.modules["__main__"].__file__ if argv is None else sys.argv[0]
    rounds_n = args.rounds or (3 if args.quick else 5)
    # Everything after the script's name except the parent-only flags goes to each child.
    raw = sys.argv[1:] if argv is None else list(argv)
    child_argv = _strip(raw, {"--rounds": 1, "--only": 1, "--json": 1, "--wait-idle": 1,
                              "--machine-blas": 0})
    names = args.only or list(workloads)
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    print(f"chainrule vs PyTorch, each in a fresh process; median of {rounds_n} alternating "
          f"rounds, range in brackets; ratio > 1: chainrule faster (or smaller)")
    print(f"NumPy's BLAS in the children: {blas_kernel(args.machine_blas)}")
    for name in names:
        work = workloads[name]
        rounds = []
        for i in range(rounds_n):
            order = BACKENDS if i % 2 == 0 else BACKENDS[::-1]
            rounds.append({b: _spawn(script, name, work, b, child_argv, args.wait_idle,
                                     args.machine_blas)
                           for b in order})
        results[name] = rounds
        print(work.title)
        for metric, better in work.metrics.items():
            t, c, med, lo, hi = summarize(rounds, metric, better)
            print(f"  {metric:<22} torch {_fmt(t):>10}  chainrule {_fmt(c):>10}  "
                  f"ratio {med:.2f}x [{lo:.2f}-{hi:.2f}]")
        for key in work.shown:
            t = statistics.median(r["torch"][key] for r in rounds)
            c = statistics.median(r["chainrule"][key] for r in rounds)
            print(f"  {key:<22} torch {_fmt(t):>10}  chainrule {_fmt(c):>10}  (no ratio)")
        loads = [r[b]["_other_load"] for r in rounds for b in BACKENDS if "_other_load" in r[b]]
        if loads:
            print(f"  other load: median {statistics.median(loads):.2f} cores, "
                  f"max {max(loads):.2f} (other processes while the children ran)")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


def _fmt(value: float) -> str:
    """A figure for the table: thousands separators from 1,000 on, else 4 significant digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _strip(argv: list[str], drop: dict[str, int]) -> list[str]:
    out, skip = [], 0
    for a in argv:
        if skip:
            skip -= 1
            continue
        key = a.split("=", 1)[0]
        if key in drop:
            skip = drop[key] if "=" not in a else 0
            continue
        out.append(a)
    return out
