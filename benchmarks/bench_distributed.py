"""Data-parallel training over MPI: all-reduce bandwidth, and the MNIST MLP on 2 ranks vs 1.

chainrule against itself (and against the limits of the machine), not against PyTorch:

- ``allreduce``: ``chainrule.distributed.all_reduce`` (SUM, float32, in place) on 2 ranks for
  1 KB .. 64 MB. Reported as bus bandwidth, ``2 (p-1)/p * bytes / time`` (the bytes each rank
  must move at least; NCCL-tests' convention), next to the memory-copy limit measured in the
  same run (``numpy.copyto`` of the same size on one core, bytes / time), and next to
  mpi4py's own ``Comm.Allreduce`` on the same buffer (chainrule's per-call overhead).
- ``mlp``: one epoch of MNIST (60,000 images) with the MLP 784-512-512-10, ReLU,
  cross-entropy, SGD momentum 0.9, global batch 128 (DistributedSampler + DDP; 64 per rank on
  2 ranks). The machine has 2 cores, so the honest comparison is 2 ranks of 1 BLAS thread
  each against 1 rank with 2 BLAS threads (the same cores either way); 1 rank with 1 thread is
  also timed, for the classic scaling efficiency ``T(1 rank, 1 core) / (2 * T(2 ranks))``.

Every configuration runs as a fresh ``mpiexec`` job; configurations alternate over
``--rounds`` rounds (>= 5) and each figure is the median with the range in brackets.

Run: python benchmarks/bench_distributed.py [--quick] [--rounds 5] [--only mlp] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # this checkout's chainrule

from _harness import MNIST_ROOT, child_environment, mnist_arrays  # noqa: E402

SIZES = [2 ** k for k in range(10, 27, 2)]  # 1 KB, 4 KB, ..., 64 MB
MLP_CONFIGS = [("1 rank x 2 threads", 1, 2), ("2 ranks x 1 thread", 2, 1),
               ("1 rank x 1 thread", 1, 1)]


# -- children (inside an mpiexec job) ----------------------------------------------------------
def _reps(nbytes: int, quick: bool) -> int:
    """Repetitions for one size: about 64 MB moved in all (fewer with --quick)."""
    budget = (16 if quick else 64) * 2 ** 20
    return int(max(5, min(2000, budget // nbytes)))


def child_allreduce(quick: bool) -> None:
    import chainrule
    import chainrule.distributed as dist
    from chainrule.distributed.process_group import _mpi

    dist.init_process_group("mpi")
    comm, MPI = dist.group.WORLD.comm, _mpi()
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for nbytes in SIZES:
        reps = _reps(nbytes, quick)
        arr = np.ones(nbytes // 4, dtype=np.float32)
        t = chainrule.from_numpy(arr)
        timings = {}
        for name in ("chainrule", "mpi4py"):
            for _ in range(3):
                dist.all_reduce(t)
            arr[...] = 1.0 / world  # (repeated sums must not overflow)
            dist.barrier()
            t0 = time.perf_counter()
            if name == "chainrule":
                for _ in range(reps):
                    dist.all_reduce(t)
            else:
                for _ in range(reps):
                    comm.Allreduce(MPI.IN_PLACE, arr)
            mine = np.array([(time.perf_counter() - t0) / reps])
            comm.Allreduce(MPI.IN_PLACE, mine, op=MPI.MAX)  # the slowest rank's time
            timings[name] = float(mine[0])
        dist.barrier()
        if rank == 0:  # the copy limit: one core copying the same number of bytes
            dst = np.empty_like(arr)
            np.copyto(dst, arr)
            t0 = time.perf_counter()
            for _ in range(reps):
                np.copyto(dst, arr)
            timings["copy"] = (time.perf_counter() - t0) / reps
        dist.barrier()
        out[str(nbytes)] = timings
    if rank == 0:
        print(json.dumps(out))
    dist.destroy_process_group()


def child_mlp(data: str, quick: bool) -> None:
    import chainrule as torch
    import chainrule.distributed as dist
    import chainrule.nn.functional as F
    from chainrule import nn
    from chainrule.nn.parallel import DistributedDataParallel as DDP
    from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset

    dist.init_process_group("mpi")
    world = dist.get_world_size()
    x, y = mnist_arrays(train=True, root=data)
    if quick:
        x, y = x[:12800], y[:12800]
    ds = TensorDataset(torch.from_numpy(x.reshape(-1, 784)), torch.from_numpy(y))
    sampler = DistributedSampler(ds, shuffle=True, seed=0)
    loader = DataLoader(ds, batch_size=128 // world, sampler=sampler)
    torch.manual_seed(0)
    model = DDP(nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    sampler.set_epoch(0)
    for i, (xb, yb) in enumerate(loader):  # warm-up (and the bucket rebuild)
        step(xb, yb)
        if i == 4:
            break
    sampler.set_epoch(1)
    dist.barrier()
    t0 = time.perf_counter()
    for xb, yb in loader:
        loss = step(xb, yb)
    dist.barrier()
    epoch_s = time.perf_counter() - t0
    if dist.get_rank() == 0:
        print(json.dumps({"epoch_s": epoch_s, "samples_per_s": len(ds) / epoch_s,
                          "final_loss": float(loss.item()),
                          "buckets": len(model.bucket_indices)}))
    dist.destroy_process_group()


# -- the parent ---------------------------------------------------------------------------------
def _job(nproc: int, threads: int, argv: list[str]) -> dict:
    from chainrule.distributed.launch import mpiexec_command

    env = child_environment()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = mpiexec_command(nproc, [__file__, *argv])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"job {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[0])  # rank 0's


def _median_range(values: list[float]) -> str:
    v = sorted(values)
    return f"{statistics.median(v):.2f} [{v[0]:.2f}-{v[-1]:.2f}]"


def bench_allreduce(args: argparse.Namespace) -> list[dict]:
    argv = ["--child", "allreduce"] + (["--quick"] if args.quick else [])
    rounds = [_job(2, 1, argv) for _ in range(args.rounds)]
    print("\nall_reduce, 2 ranks, float32 SUM in place: bus bandwidth GB/s "
          "(2(p-1)/p * bytes / time), median [range]")
    print(f"{'size':>8}  {'chainrule':>18}  {'mpi4py':>18}  {'numpy copy':>18}  "
          f"{'chainrule/copy':>16}  {'chainrule/mpi4py':>16}")
    for nbytes in SIZES:
        key = str(nbytes)

        bus = 2 * (2 - 1) / 2 * nbytes / 1e9  # bytes each of the 2 ranks must move, in GB
        cr = [bus / r[key]["chainrule"] for r in rounds]
        mp = [bus / r[key]["mpi4py"] for r in rounds]
        cp = [nbytes / 1e9 / r[key]["copy"] for r in rounds]
        vs_copy = [c / k for c, k in zip(cr, cp)]
        vs_mpi = [r[key]["mpi4py"] / r[key]["chainrule"] for r in rounds]
        label = f"{nbytes // 1024} KB" if nbytes < 2 ** 20 else f"{nbytes // 2 ** 20} MB"
        print(f"{label:>8}  {_median_range(cr):>18}  {_median_range(mp):>18}  "
              f"{_median_range(cp):>18}  {_median_range(vs_copy):>16}  "
              f"{_median_range(vs_mpi):>16}")
    return rounds


def bench_mlp(args: argparse.Namespace) -> list[dict]:
    argv = ["--child", "mlp", "--data", args.data] + (["--quick"] if args.quick else [])
    rounds = []
    for i in range(args.rounds):
        order = MLP_CONFIGS if i % 2 == 0 else MLP_CONFIGS[::-1]
        rounds.append({name: _job(nproc, threads, argv) for name, nproc, threads in order})
    n = "12,800" if args.quick else "60,000"
    print(f"\nMNIST MLP 784-512-512-10, SGD momentum, global batch 128, one epoch ({n} "
          f"images); median [range] over {args.rounds} rounds")
    for name, _, _ in MLP_CONFIGS:
        sps = [r[name]["samples_per_s"] for r in rounds]
        print(f"  {name:<20} samples/s {statistics.median(sps):>9,.0f} "
              f"[{min(sps):,.0f}-{max(sps):,.0f}]  epoch "
              f"{statistics.median(r[name]['epoch_s'] for r in rounds):.2f} s")
    two, one2, one1 = (MLP_CONFIGS[1][0], MLP_CONFIGS[0][0], MLP_CONFIGS[2][0])
    same_cores = [r[one2]["epoch_s"] / r[two]["epoch_s"] for r in rounds]
    efficiency = [r[one1]["epoch_s"] / (2 * r[two]["epoch_s"]) for r in rounds]
    print(f"  2 ranks vs 1 rank on the same 2 cores (speed ratio): {_median_range(same_cores)}")
    print(f"  scaling efficiency T(1 rank, 1 core) / (2 T(2 ranks)): {_median_range(efficiency)}")
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute check")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; 3 quick)")
    parser.add_argument("--only", choices=["allreduce", "mlp"], default=None)
    parser.add_argument("--data", default=str(MNIST_ROOT), help="MNIST IDX folder")
    parser.add_argument("--json", default=None, help="write every round's figures here")
    parser.add_argument("--child", choices=["allreduce", "mlp"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "allreduce":
        child_allreduce(args.quick)
        return
    if args.child == "mlp":
        child_mlp(args.data, args.quick)
        return
    args.rounds = args.rounds or (3 if args.quick else 5)
    print(f"chainrule.distributed on {os.cpu_count()} cores: each configuration a fresh "
          f"mpiexec job, {args.rounds} alternating rounds")
    results = {}
    if args.only in (None, "allreduce"):
        results["allreduce"] = bench_allreduce(args)
    if args.only in (None, "mlp"):
        results["mlp"] = bench_mlp(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
