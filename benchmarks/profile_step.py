"""Where a training step's time goes: the MLP and CNN steps of bench_mnist.py against their
compute floor.

For each model, one fixed batch, ``--steps`` steps after warm-up:

1. Phases, in chainrule and in PyTorch (each in a fresh process that never imports the other,
   2 threads, alternating rounds as in ``benchmarks/_harness.py``): ``zero_grad``, forward
   (model and loss), backward, optimizer ``step``, in ms per step; ratios as in every
   benchmark here (> 1: chainrule faster).
2. In chainrule only, a breakdown of the step. Every primitive's ``forward`` and ``vjp`` is
   wrapped with a timer that keeps exclusive time (a vjp that calls ops is charged only its
   own work). Each op's time is charged to a class:

   - GEMM ops (matmul, addmm and the convolutions, im2col included) in the forward and in
     the backward; next to them the *GEMM floor*: NumPy's ``matmul`` alone on the same
     shapes, timed in the same process, with the same threads (a convolution counts as one
     im2col GEMM per sample: positions x (channels * taps) @ (channels * taps) x
     out-channels, or its equivalent for the two gradients);
   - element-wise and other ops (activations, losses, reductions, pooling, dropout), forward
     and backward;
   - the optimizer's step and zero_grad (their wall time);
   - the rest of the forward and backward wall time, "outside primitives": Python overhead
     (module calls, tensor and graph-node creation, the engine's loop, gradient
     accumulation) and the NumPy work functions do before calling a primitive (dropout's
     random mask, max-pool's window search).

   The wrappers cost about a microsecond per op of their own, so the breakdown comes from
   separate steps (medians per step), after the phase timing.

Run: python benchmarks/profile_step.py [--only mlp|cnn] [--rounds 3] [--steps 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np
from _harness import Workload, main
from bench_mnist import cnn

PHASES = ("zero_grad_ms", "forward_ms", "backward_ms", "step_ms", "total_ms")
GEMM_OPS = {"matmul", "mm", "bmm", "mv", "dot", "addmm", "convolution", "conv_transpose",
            "conv_weight_grad"}


def _model(torch: Any, which: str) -> tuple[Any, Any, Any, Any, Any]:
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if which == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x = rng.standard_normal((128, 784), dtype=np.float32)
        y = rng.integers(0, 10, 128)
        return model, opt, torch.from_numpy(x), torch.from_numpy(y), F.cross_entropy
    model = cnn(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    return model, opt, torch.from_numpy(x), torch.from_numpy(y), F.nll_loss


def _phases(model: Any, opt: Any, x: Any, y: Any, loss_fn: Any, steps: int,
            timer: _OpTimer | None = None) -> dict[str, float]:
    """Median ms per phase over ``steps`` steps. With a ``timer``, also the median per step
    of each breakdown row (see the module docstring), from the same steps."""
    times: dict[str, list[float]] = defaultdict(list)
    clock = time.perf_counter
    for _ in range(steps):
        if timer is not None:
            timer.spent.clear()
            timer.phase = "forward"
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        loss = loss_fn(model(x), y)
        if timer is not None:
            timer.phase = "backward"
        t2 = clock()
        loss.backward()
        t3 = clock()
        opt.step()
        t4 = clock()
        walls = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)
        for name, dt in zip(PHASES, walls):
            times[name].append(dt * 1e3)
        if timer is not None:
            for phase, wall in (("forward", walls[1]), ("backward", walls[2])):
                gemm = sum(v for (p, name, _), v in timer.spent.items()
                           if p == phase and name in GEMM_OPS)
                other = sum(v for (p, name, _), v in timer.spent.items()
                            if p == phase and name not in GEMM_OPS)
                times[f"{phase}_gemm_ms"].append(gemm * 1e3)
                times[f"{phase}_elementwise_ms"].append(other * 1e3)
                times[f"{phase}_overhead_ms"].append((wall - gemm - other) * 1e3)
            for key, v in timer.spent.items():
                timer.total[key] += v
    return {name: statistics.median(v) for name, v in times.items()}


class _OpTimer:
    """Wraps every primitive's forward and vjp with an exclusive-time timer."""

    def __init__(self) -> None:
        self.phase = "forward"
        self.stack = [0.0]
        self.spent: dict[tuple[str, str, str], float] = defaultdict(float)
        self.total: dict[tuple[str, str, str], float] = defaultdict(float)
        self.gemm_shapes: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
        self.saved: list[tuple[type, str, Any]] = []

    def install(self) -> None:
        from chainrule.autograd.op import OPS

        for cls in set(OPS.values()):
            for kind in ("forward", "vjp"):
                if kind in cls.__dict__:
                    raw = cls.__dict__[kind]
                    self.saved.append((cls, kind, raw))
                    setattr(cls, kind, staticmethod(self._wrap(cls, kind, raw.__func__)))

    def uninstall(self) -> None:
        for cls, kind, raw in self.saved:
            setattr(cls, kind, raw)

    def _wrap(self, cls: type, kind: str, fn: Any) -> Any:
        stack, spent, clock = self.stack, self.spent, time.perf_counter
        name = cls.name

        def timed(*args: Any, **kwargs: Any) -> Any:
            stack.append(0.0)
            t0 = clock()
            try:
                out = fn(*args, **kwargs)
            finally:
                dt = clock() - t0
                inner = stack.pop()
                stack[-1] += dt
            spent[self.phase, name, kind] += dt - inner
            if kind == "forward" and name in GEMM_OPS:
                self._record_gemm(name, args, kwargs)
            return out

        return timed

    def _record_gemm(self, name: str, args: tuple, kwargs: dict) -> None:
        """The (count, M, K, N) of the GEMMs this op amounts to, for the NumPy floor."""
        a = args[1] if name == "addmm" else args[0]
        b = args[2] if name == "addmm" else args[1]
        if name in ("convolution", "conv_transpose", "conv_weight_grad"):
            shape = _conv_gemm(name, a.shape, b.shape, kwargs)
        else:
            shape = (1, int(np.prod(a.shape[:-1])), a.shape[-1], b.shape[-1])
        self.gemm_shapes[self.phase].append(shape)


def _conv_gemm(name: str, a: tuple, b: tuple, kwargs: dict) -> tuple[int, int, int, int]:
    """The im2col GEMMs of a 2-d convolution op: one per sample, (N, M, K, N')."""
    if name == "convolution":  # x (N, C, H, W), w (O, C/g, kh, kw)
        n, _, h, w = a
        o, cg, kh, kw = b
        ho = (h + 2 * kwargs["padding"][0] - kh) // kwargs["stride"][0] + 1
        wo = (w + 2 * kwargs["padding"][1] - kw) // kwargs["stride"][1] + 1
        return n, ho * wo, cg * kh * kw, o
    if name == "conv_transpose":  # g (N, O, Ho, Wo), w (O, C, kh, kw): columns of dx
        n, o, ho, wo = a
        _, c, kh, kw = b
        return n, ho * wo, o, c * kh * kw
    n, c, _, _ = a  # conv_weight_grad: x (N, C, H, W), g (N, O, Ho, Wo)
    _, o, ho, wo = b
    kh, kw = kwargs["kernel_size"]
    return n, c * kh * kw, ho * wo, o


def _gemm_floor(shapes: list[tuple[int, int, int, int]], repeats: int = 20) -> float:
    """ms for NumPy's matmul alone on these (count, M, K, N) shapes, float32, each run
    ``count`` times into preallocated outputs: the sum over shapes of the median time of
    each. Repeated GEMMs (a convolution's per-sample ones) are split over the threads as
    chainrule splits its convolutions (chainrule/_backend/threads.py), single GEMMs use the
    BLAS's threads. Each shape is timed on its own after a pause, so that OpenBLAS's threads,
    which spin for ~0.1 s after a threaded GEMM, do not compete with the split ones."""
    from chainrule._backend import threads

    rng = np.random.default_rng(0)
    total = 0.0
    for count, m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        outs = [np.empty((m, n), np.float32) for _ in range(threads.num_threads())]

        def some(n0: int, n1: int, a: np.ndarray = a, b: np.ndarray = b, outs: list = outs,
                 count: int = count) -> None:
            out = outs[n0 * len(outs) // count]
            for _ in range(n0, n1):
                np.matmul(a, b, out=out)

        def run(a: np.ndarray = a, b: np.ndarray = b, outs: list = outs,
                count: int = count, some: Any = some) -> None:
            if count == 1:
                np.matmul(a, b, out=outs[0])
            else:
                threads.over_range(count, some)

        time.sleep(0.25)
        run()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        total += statistics.median(times)
    return total * 1e3


def _run(torch: Any, args: argparse.Namespace, which: str) -> dict[str, float]:
    model, opt, x, y, loss_fn = _model(torch, which)
    steps = 10 if args.quick else args.steps
    _phases(model, opt, x, y, loss_fn, 5)
    result = _phases(model, opt, x, y, loss_fn, steps)
    if torch.__name__ != "chainrule":
        return result
    timer = _OpTimer()
    timer.install()
    try:
        _phases(model, opt, x, y, loss_fn, 1, timer)  # records one step's GEMM shapes
        shapes = {k: list(v) for k, v in timer.gemm_shapes.items()}
        timer.total.clear()
        breakdown = _phases(model, opt, x, y, loss_fn, steps, timer)
    finally:
        timer.uninstall()
    for key, value in breakdown.items():
        if key not in PHASES:
            result[key] = value
    for phase in ("forward", "backward"):
        result[f"{phase}_gemm_floor_ms"] = _gemm_floor(shapes.get(phase, []))
    top = sorted(timer.total.items(), key=lambda kv: -kv[1])[:12]
    result["top_ops"] = [f"{p:<9} {name}.{kind}: {v * 1e3 / steps:.3f} ms"
                         for (p, name, kind), v in top]
    return result


WORKLOADS = {
    which: Workload(lambda torch, args, which=which: _run(torch, args, which),
                    f"{which.upper()} step (bench_mnist.py's), ms per phase",
                    {name: "lower" for name in PHASES})
    for which in ("mlp", "cnn")
}


def _report(results: dict[str, list[dict[str, dict[str, float]]]]) -> None:
    for which, rounds in results.items():
        runs = [r["chainrule"] for r in rounds]
        torch_total = statistics.median(r["torch"]["total_ms"] for r in rounds)

        def med(key: str, runs: list = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"\n{which.upper()} step in chainrule, ms (median of {len(runs)} runs; "
              f"PyTorch's whole step: {torch_total:.2f} ms)")
        rows = [("forward GEMMs", med("forward_gemm_ms"), med("forward_gemm_floor_ms")),
                ("forward element-wise/other ops", med("forward_elementwise_ms"), None),
                ("forward outside primitives", med("forward_overhead_ms"), None),
                ("backward GEMMs", med("backward_gemm_ms"), med("backward_gemm_floor_ms")),
                ("backward element-wise/other ops", med("backward_elementwise_ms"), None),
                ("backward outside primitives", med("backward_overhead_ms"), None),
                ("optimizer step", med("step_ms"), None),
                ("zero_grad", med("zero_grad_ms"), None),
                ("whole step", med("total_ms"), None)]
        print(f"  {'phase':<34}{'chainrule':>10}{'NumPy GEMM floor':>18}")
        for label, ms, floor in rows:
            floor_s = "" if floor is None else f"{floor:.2f}"
            print(f"  {label:<34}{ms:>10.2f}{floor_s:>18}")
        print("  most expensive primitives (exclusive time per step, last run):")
        for line in runs[-1]["top_ops"]:
            print(f"    {line}")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=50, help="steps timed per child")


if __name__ == "__main__":
    out = main(WORKLOADS, description=__doc__, add_arguments=_arguments)
    if out and "--child" not in sys.argv:
        _report(out)
