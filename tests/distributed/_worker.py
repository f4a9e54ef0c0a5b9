"""Run under ``mpiexec -n 2``: many distributed checks in one job, results to files.

Each rank runs every case (or those named with ``--cases``) and writes
``OUT/rank{r}.npz`` (the arrays: ``case/label/got`` and ``case/label/want``) and
``OUT/rank{r}.json`` (per case: ``"ok"`` or the traceback, plus small facts). The tests in
this folder compare them with the chainrule.testing helpers. Every rank can compute the
expected result of a collective itself: rank ``r``'s input is a function of ``r`` alone.

Usage: mpiexec -n 2 python tests/distributed/_worker.py OUT [--cases a,b]
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

import chainrule
import chainrule.distributed as dist
from chainrule import nn
from chainrule.nn.parallel import DistributedDataParallel as DDP
from chainrule.train import (
    CSVLogger,
    LambdaCallback,
    ModelCheckpoint,
    fit,
    load_checkpoint,
    load_weights,
)
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset

CASES: dict[str, Callable[[], dict]] = {}
ARRAYS: dict[str, np.ndarray] = {}
RANK = WORLD = -1
OUT = Path()
CURRENT = [""]  # the case running now: its name prefixes the arrays it records


def case(fn: Callable[[], dict | None]) -> Callable[[], dict | None]:
    CASES[fn.__name__] = fn
    return fn


def record(name: str, got: object, want: object) -> None:
    """Keep a (got, want) pair for the tests to compare (tensors become arrays)."""
    name = f"{CURRENT[0]}/{name}"
    ARRAYS[f"{name}/got"] = np.array(got.detach().numpy() if isinstance(got, chainrule.Tensor)
                                     else got)
    ARRAYS[f"{name}/want"] = np.array(want)


def data(rank: int, shape: tuple, dtype: str, salt: int = 0) -> np.ndarray:
    """Rank ``rank``'s input: every rank can compute every other rank's."""
    rng = np.random.default_rng(1000 * salt + rank)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(0.5, 1.5, shape).astype(dtype)  # positive: PRODUCT stays tame
    if np.dtype(dtype).kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(-5, 6, shape).astype(dtype)


REF = {dist.ReduceOp.SUM: np.sum, dist.ReduceOp.MAX: np.max, dist.ReduceOp.MIN: np.min,
       dist.ReduceOp.PRODUCT: np.prod, dist.ReduceOp.AVG: np.mean}


def reference(op: dist.ReduceOp, arrays: list[np.ndarray]) -> np.ndarray:
    stacked = np.stack(arrays)
    if stacked.dtype.kind == "f":  # reduce in float64, then round once
        return REF[op](stacked.astype(np.float64), axis=0).astype(stacked.dtype)
    return REF[op](stacked, axis=0).astype(stacked.dtype)


def everyone(shape: tuple, dtype: str, salt: int = 0) -> list[np.ndarray]:
    return [data(r, shape, dtype, salt) for r in range(WORLD)]


OPS = [("SUM", dist.ReduceOp.SUM), ("AVG", dist.ReduceOp.AVG), ("MAX", dist.ReduceOp.MAX),
       ("MIN", dist.ReduceOp.MIN), ("PRODUCT", dist.ReduceOp.PRODUCT)]


# -- the process group --------------------------------------------------------------------------
@case
def process_group() -> dict:
    return {"rank": dist.get_rank(), "world_size": dist.get_world_size(),
            "is_initialized": dist.is_initialized(), "is_available": dist.is_available(),
            "backend": dist.get_backend(), "world_rank": dist.group.WORLD.rank(),
            "world_size_of_group": dist.get_world_size(dist.group.WORLD),
            "member_is_world": dist.GroupMember.WORLD is dist.group.WORLD}


@case
def init_twice() -> dict:
    try:
        dist.init_process_group("mpi")
    except ValueError as e:
        return {"raised": str(e)}
    return {"raised": None}


# -- collectives --------------------------------------------------------------------------------
@case
def all_reduce() -> None:
    for dtype in ("float32", "float64", "int64", "int32"):
        for name, op in OPS:
            if op is dist.ReduceOp.AVG and dtype.startswith("int"):
                continue
            for async_op in (False, True):
                t = chainrule.from_numpy(data(RANK, (3, 4), dtype))
                work = dist.all_reduce(t, op=op, async_op=async_op)
                if async_op:
                    assert work.wait() and work.is_completed() and work.result()[0] is t
                else:
                    assert work is None
                record(f"{dtype}/{name}/{async_op}", t, reference(op, everyone((3, 4), dtype)))


@case
def all_reduce_small_types() -> None:
    t = chainrule.from_numpy(data(RANK, (5,), "float16"))
    dist.all_reduce(t)
    record("float16/SUM", t, reference(dist.ReduceOp.SUM, everyone((5,), "float16")))
    b = chainrule.from_numpy(data(RANK, (6,), "bool"))
    dist.all_reduce(b, op=dist.ReduceOp.MAX)
    record("bool/MAX", b, np.any(np.stack(everyone((6,), "bool")), axis=0))
    b = chainrule.from_numpy(data(RANK, (6,), "bool"))
    dist.all_reduce(b, op=dist.ReduceOp.MIN)
    record("bool/MIN", b, np.all(np.stack(everyone((6,), "bool")), axis=0))
    i = chainrule.from_numpy(data(RANK, (6,), "int64"))
    dist.all_reduce(i, op=dist.ReduceOp.BXOR)
    record("int64/BXOR", i, np.bitwise_xor.reduce(np.stack(everyone((6,), "int64")), axis=0))
    s = chainrule.tensor(float(RANK + 1))  # 0-d tensors
    dist.all_reduce(s, op=dist.ReduceOp.PRODUCT)
    record("0d/PRODUCT", s, np.float32(np.prod(np.arange(1, WORLD + 1))))


@case
def broadcast() -> None:
    for src in range(WORLD):
        for async_op in (False, True):
            t = chainrule.from_numpy(data(RANK, (2, 3), "float32"))
            work = dist.broadcast(t, src=src, async_op=async_op)
            if async_op:
                work.wait()
            record(f"src{src}/{async_op}", t, data(src, (2, 3), "float32"))
    t = chainrule.from_numpy(data(RANK, (4,), "int64"))
    dist.broadcast(t, group_src=1)
    record("group_src", t, data(1, (4,), "int64"))


@case
def reduce() -> None:
    for name, op in OPS:
        mine = data(RANK, (3,), "float64")
        t = chainrule.from_numpy(mine.copy())
        dist.reduce(t, dst=1, op=op)
        want = reference(op, everyone((3,), "float64")) if RANK == 1 else mine
        record(name, t, want)


@case
def all_gather() -> None:
    for async_op in (False, True):
        outs = [chainrule.zeros(2, 3) for _ in range(WORLD)]
        work = dist.all_gather(outs, chainrule.from_numpy(data(RANK, (2, 3), "float32")),
                               async_op=async_op)
        if async_op:
            assert [o is w for o, w in zip(work.result(), outs)] == [True] * WORLD
        for r in range(WORLD):
            record(f"equal/{async_op}/{r}", outs[r], data(r, (2, 3), "float32"))
    # different sizes per rank: rank r sends r + 1 values
    outs = [chainrule.zeros(r + 1, dtype=chainrule.int64) for r in range(WORLD)]
    dist.all_gather(outs, chainrule.from_numpy(data(RANK, (RANK + 1,), "int64")))
    for r in range(WORLD):
        record(f"uneven/{r}", outs[r], data(r, (r + 1,), "int64"))


@case
def all_gather_into_tensor() -> None:
    for async_op in (False, True):
        cat = chainrule.zeros(2 * WORLD, 3)
        work = dist.all_gather_into_tensor(cat, chainrule.from_numpy(data(RANK, (2, 3),
                                                                          "float32")),
                                           async_op=async_op)
        if async_op:
            work.wait()
        record(f"concatenated/{async_op}", cat, np.concatenate(everyone((2, 3), "float32")))
    stacked = chainrule.zeros(WORLD, 2, 3)
    dist.all_gather_into_tensor(stacked, chainrule.from_numpy(data(RANK, (2, 3), "float32")))
    record("stacked", stacked, np.stack(everyone((2, 3), "float32")))


@case
def gather_scatter() -> None:
    dst = WORLD - 1
    outs = [chainrule.zeros(4) for _ in range(WORLD)] if RANK == dst else None
    dist.gather(chainrule.from_numpy(data(RANK, (4,), "float32")), outs, dst=dst)
    if RANK == dst:
        for r in range(WORLD):
            record(f"gather/{r}", outs[r], data(r, (4,), "float32"))
    out = chainrule.zeros(2, 2)
    ins = [chainrule.from_numpy(data(r, (2, 2), "float32", salt=7)) for r in range(WORLD)]
    dist.scatter(out, ins if RANK == 0 else None, src=0)
    record("scatter", out, data(RANK, (2, 2), "float32", salt=7))


@case
def reduce_scatter() -> None:
    for name, op in OPS[:3]:
        for async_op in (False, True):
            # rank r's list: WORLD chunks; chunk c of every rank reduces into rank c
            ins = [chainrule.from_numpy(data(RANK, (3,), "float64", salt=c)) for c in
                   range(WORLD)]
            out = chainrule.zeros(3, dtype=chainrule.float64)
            work = dist.reduce_scatter(out, ins, op=op, async_op=async_op)
            if async_op:
                work.wait()
            record(f"list/{name}/{async_op}", out,
                   reference(op, [data(r, (3,), "float64", salt=RANK) for r in range(WORLD)]))
            whole = np.concatenate([data(RANK, (2, 3), "float32", salt=c) for c in
                                    range(WORLD)])
            out = chainrule.zeros(2, 3)
            work = dist.reduce_scatter_tensor(out, chainrule.from_numpy(whole), op=op,
                                              async_op=async_op)
            if async_op:
                work.wait()
            record(f"tensor/{name}/{async_op}", out,
                   reference(op, [data(r, (2, 3), "float32", salt=RANK)
                                  for r in range(WORLD)]))


@case
def barrier_and_point_to_point() -> dict:
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()
    peer = 1 - RANK
    if RANK == 0:
        dist.send(chainrule.from_numpy(data(0, (3,), "float64")), dst=1)
        got = chainrule.zeros(3, dtype=chainrule.float64)
        sender = dist.recv(got)  # from any rank
    else:
        got = chainrule.zeros(3, dtype=chainrule.float64)
        sender = dist.recv(got, src=0)
        dist.send(chainrule.from_numpy(data(1, (3,), "float64")), dst=0)
    record("send_recv", got, data(peer, (3,), "float64"))
    box = chainrule.zeros(2)
    works = [dist.isend(chainrule.from_numpy(data(RANK, (2,), "float32")), dst=peer, tag=5),
             dist.irecv(box, src=peer, tag=5)]
    for w in works:
        w.wait()
    record("isend_irecv", box, data(peer, (2,), "float32"))
    return {"sender": sender}


@case
def collective_errors() -> dict:
    """Misuse is caught before any MPI call (so no rank is left waiting)."""
    raised = {}

    def check(label: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001  (the type is what is recorded)
            raised[label] = type(e).__name__
        else:
            raised[label] = None

    t = chainrule.zeros(4, 4)
    check("non_contiguous", lambda: dist.all_reduce(t.t()))
    check("avg_int", lambda: dist.all_reduce(chainrule.zeros(2, dtype=chainrule.int64),
                                             op=dist.ReduceOp.AVG))
    check("band_float", lambda: dist.all_reduce(chainrule.zeros(2), op=dist.ReduceOp.BAND))
    check("not_a_tensor", lambda: dist.all_reduce([1.0, 2.0]))
    check("list_size", lambda: dist.all_gather([chainrule.zeros(2)], chainrule.zeros(2)))
    check("into_tensor_size", lambda: dist.all_gather_into_tensor(chainrule.zeros(3),
                                                                  chainrule.zeros(2)))
    check("bad_src", lambda: dist.broadcast(chainrule.zeros(2), src=WORLD))
    check("send_to_self", lambda: dist.send(chainrule.zeros(2), dst=RANK))
    check("read_only", lambda: dist.all_reduce(chainrule.from_numpy(
        np.broadcast_to(np.zeros(1, np.float32), (3,)))))
    return raised


@case
def version_counter() -> dict:
    x = chainrule.ones(3, requires_grad=True)
    y = x * 1.0
    z = (y * y).sum()  # saves y for backward
    dist.all_reduce(y)
    try:
        z.backward()
    except RuntimeError as e:
        return {"raised": "modified by an inplace operation" in str(e)}
    return {"raised": False}


# -- DistributedSampler ---------------------------------------------------------------------------
@case
def sampler() -> dict:
    out = {}
    for n, shuffle, drop_last in [(10, True, False), (11, True, False), (11, False, True),
                                  (3, False, False)]:
        s = DistributedSampler(range(n), shuffle=shuffle, drop_last=drop_last, seed=3)
        s.set_epoch(2)
        out[f"{n}/{shuffle}/{drop_last}"] = {"indices": list(s), "len": len(s),
                                             "rank": s.rank, "num_replicas": s.num_replicas}
    return out


# -- DistributedDataParallel ----------------------------------------------------------------------
def mlp(seed: int) -> nn.Module:
    chainrule.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3)).double()


def batches(steps: int, batch: int) -> list[tuple[chainrule.Tensor, chainrule.Tensor]]:
    rng = np.random.default_rng(42)  # the same on every rank
    return [(chainrule.from_numpy(rng.standard_normal((batch, 6))),
             chainrule.from_numpy(rng.standard_normal((batch, 3)))) for _ in range(steps)]


def shard(t: chainrule.Tensor) -> chainrule.Tensor:
    n = t.shape[0] // WORLD
    return t[RANK * n:(RANK + 1) * n]


def train_ddp_and_reference(steps: int = 5, **ddp_kwargs: object) -> None:
    """DDP on p ranks with batch b each against one model on batches of p * b."""
    model = mlp(seed=RANK)  # different on each rank: DDP must broadcast rank 0's
    reference = mlp(seed=0)
    ddp = DDP(model, **ddp_kwargs)
    for i, (a, b) in enumerate(zip(model.parameters(), reference.parameters())):
        record(f"init/{i}", a, b.detach().numpy())
    opt = chainrule.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = chainrule.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for step, (x, y) in enumerate(batches(steps, 8)):
        opt.zero_grad()
        nn.functional.mse_loss(ddp(shard(x)), shard(y)).backward()
        ref_opt.zero_grad()
        nn.functional.mse_loss(reference(x), y).backward()
        if step == 0:
            for i, (a, b) in enumerate(zip(model.parameters(), reference.parameters())):
                record(f"grad0/{i}", a.grad, b.grad.numpy())
        opt.step()
        ref_opt.step()
    for i, (a, b) in enumerate(zip(model.parameters(), reference.parameters())):
        record(f"param/{i}", a, b.detach().numpy())


@case
def ddp_equals_single_process() -> dict:
    train_ddp_and_reference()
    return {}


@case
def ddp_small_buckets() -> dict:
    model = mlp(seed=0)
    seen = []
    # runs when the first layer's weight gradient is ready, before DDP's own hook on it
    model[0].weight.register_post_accumulate_grad_hook(
        lambda p: seen.append([b.work is not None for b in ddp.reducer.buckets]))
    ddp = DDP(model, bucket_cap_mb=0.001)
    first = ddp.bucket_indices
    for x, y in batches(2, 4):  # the second forward rebuilds the buckets in arrival order
        nn.functional.mse_loss(ddp(x), y).backward()
    train_ddp_and_reference(bucket_cap_mb=0.001)
    return {"first_buckets": first, "buckets": ddp.bucket_indices,
            "in_flight_during_backward": seen[1]}


@case
def ddp_gradient_as_bucket_view() -> dict:
    train_ddp_and_reference(gradient_as_bucket_view=True)
    model = mlp(seed=0)
    ddp = DDP(model, gradient_as_bucket_view=True)
    x, y = batches(1, 4)[0]
    nn.functional.mse_loss(ddp(x), y).backward()
    w = model[0].weight
    flats = [b.flat for b in ddp.reducer.buckets]
    return {"grad_is_view": any(np.shares_memory(w.grad.numpy(), f) for f in flats)}


@case
def ddp_module_and_state_dict() -> dict:
    ddp = DDP(mlp(seed=0))
    plain = mlp(seed=0)
    return {"keys": list(ddp.state_dict()), "plain_keys": list(plain.state_dict()),
            "module_is_wrapped": isinstance(ddp.module, nn.Sequential),
            "n_params": len(list(ddp.parameters()))}


@case
def ddp_no_sync() -> None:
    """Two micro-batches under no_sync, the third synced: the average of the local sums."""
    model = mlp(seed=0)
    ddp = DDP(model)
    micro = batches(3, 4 * WORLD)
    with ddp.no_sync():
        for x, y in micro[:2]:
            nn.functional.mse_loss(ddp(shard(x)), shard(y)).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    x, y = micro[2]
    nn.functional.mse_loss(ddp(shard(x)), shard(y)).backward()

    # references, one plain model per rank's data
    per_rank_local, per_rank_total = [], []
    for r in range(WORLD):
        ref = mlp(seed=0)
        for i, (x, y) in enumerate(micro):
            n = x.shape[0] // WORLD
            nn.functional.mse_loss(ref(x[r * n:(r + 1) * n]), y[r * n:(r + 1) * n]).backward()
            if i == 1:
                per_rank_local.append([p.grad.numpy().copy() for p in ref.parameters()])
        per_rank_total.append([p.grad.numpy().copy() for p in ref.parameters()])
    for i, p in enumerate(model.parameters()):
        record(f"inside/{i}", local[i], per_rank_local[RANK][i])
        record(f"after/{i}", p.grad, np.mean([g[i] for g in per_rank_total], axis=0))


class TwoBranches(nn.Module):
    """``a`` always used; ``b`` only when asked; ``never`` never; two outputs."""

    def __init__(self) -> None:
        super().__init__()
        chainrule.manual_seed(0)
        self.a = nn.Linear(4, 2).double()
        self.b = nn.Linear(4, 2).double()
        self.never = nn.Linear(4, 2).double()
        self.head = nn.Linear(4, 2).double()

    def forward(self, x: chainrule.Tensor, use_b: bool) -> tuple:
        out = self.a(x)
        if use_b:
            out = out + self.b(x)
        return out, self.head(x)  # the second output is not always in the loss


@case
def ddp_find_unused_parameters() -> dict:
    x, _ = batches(1, 4)[0]
    x = x[:, :4].contiguous()

    def grads_for(rank: int) -> dict:
        ref = TwoBranches()
        out, _ = ref(x, use_b=rank == 1)
        out.sum().backward()
        return {n: (p.grad.numpy().copy() if p.grad is not None else None)
                for n, p in ref.named_parameters()}

    model = TwoBranches()
    ddp = DDP(model, find_unused_parameters=True)
    facts = {}
    for step in range(2):  # twice: the second iteration must not raise
        model.zero_grad()
        out, _ = ddp(x, use_b=RANK == 1)  # rank 0 leaves b unused; nobody uses never/head
        out.sum().backward()
        refs = [grads_for(r) for r in range(WORLD)]
        for n, p in model.named_parameters():
            mine = [g[n] for g in refs]
            if all(m is None for m in mine):
                facts[f"{step}/{n}"] = p.grad is None  # untouched on every rank
            else:
                want = np.mean([m if m is not None else np.zeros_like(p.detach().numpy())
                                for m in mine], axis=0)
                record(f"{step}/{n}", p.grad, want)
    return facts


@case
def ddp_unused_parameter_without_find_unused() -> dict:
    model = TwoBranches()
    ddp = DDP(model)
    x, _ = batches(1, 4)[0]
    x = x[:, :4].contiguous()
    out, _ = ddp(x, use_b=False)
    out.sum().backward()
    try:
        ddp(x, use_b=False)
    except RuntimeError as e:
        return {"raised": str(e)}
    return {"raised": None}


class WithBuffer(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("count", chainrule.full((2,), value))

    def forward(self, x: chainrule.Tensor) -> chainrule.Tensor:
        self.count.add_(1.0)
        return self.lin(x) * self.count


@case
def ddp_buffers() -> None:
    model = WithBuffer(float(10 * (RANK + 1)))
    ddp = DDP(model)
    record("after_init", model.count, np.full(2, 10.0, np.float32))
    model.count.fill_(float(RANK))  # drift apart; the next forward broadcasts rank 0's first
    ddp(chainrule.ones(1, 2)).sum().backward()
    record("after_forward", model.count, np.ones(2, np.float32))
    with chainrule.no_grad():  # a forward without sync: the next one does not broadcast
        ddp(chainrule.ones(1, 2))
        model.count.fill_(float(RANK))
        ddp(chainrule.ones(1, 2))
    record("no_sync_forward", model.count, np.full(2, RANK + 1.0, np.float32))


@case
def ddp_different_models() -> dict:
    model = nn.Linear(3, 2) if RANK == 0 else nn.Linear(3, 3)
    try:
        DDP(model)
    except RuntimeError as e:
        return {"raised": str(e)}
    return {"raised": None}


# -- chainrule.train.fit on a DDP model -------------------------------------------------------
def fit_data(n: int, seed: int) -> TensorDataset:
    rng = np.random.default_rng(seed)  # the same on every rank
    x = rng.standard_normal((n, 6))
    return TensorDataset(chainrule.from_numpy(x), chainrule.from_numpy((x[:, 0] > 0) * 1 + (
        x[:, 1] > 0.5) * 1))


def loader(ds: TensorDataset, batch: int, ranks: int | None, shuffle: bool) -> DataLoader:
    """A loader over ``ds`` split over ``ranks`` (None: this job's ranks) by a
    DistributedSampler; ranks=1: the one-process run with the same order."""
    share = DistributedSampler(ds, num_replicas=ranks, rank=0 if ranks == 1 else None,
                               shuffle=shuffle, seed=5)
    return DataLoader(ds, batch_size=batch, sampler=share)


@case
def fit_ddp_equals_single_process() -> dict:
    """fit on DDP with DistributedSampler-split data (4 samples a rank a step) against fit
    of one model on the whole data (8 a step, the same order): weights and every logged
    metric agree; rank 0 alone writes the checkpoints and the log, with the plain keys."""
    train, val = fit_data(48, 1), fit_data(20, 2)
    folder = OUT / f"fit_rank{RANK}"  # each rank its own: only rank 0's may fill
    ddp = DDP(mlp(seed=RANK))
    reference = mlp(seed=0)
    printed = io.StringIO()
    history = fit(ddp, nn.CrossEntropyLoss(), chainrule.optim.SGD(ddp.parameters(), lr=0.1,
                                                                     momentum=0.9),
                  loader(train, 4, None, True), loader(val, 3, None, False), epochs=3,
                  callbacks=[ModelCheckpoint(folder), CSVLogger(folder / "log.csv")],
                  file=printed)
    ref_history = fit(reference, nn.CrossEntropyLoss(),
                      chainrule.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9),
                      loader(train, 8, 1, True), loader(val, 6, 1, False), epochs=3,
                      verbose=False)
    for i, (a, b) in enumerate(zip(ddp.module.parameters(), reference.parameters())):
        record(f"param/{i}", a, b.detach().numpy())
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        record(f"history/{key}", np.array(history[key]), np.array(ref_history[key]))
    dist.barrier()  # rank 0 has written everything
    facts = {"files": sorted(f.name for f in folder.iterdir()) if folder.exists() else None,
             "printed": printed.getvalue().splitlines(),
             "epoch_of_sampler": history_sampler_epoch(ddp)}
    if RANK == 0:
        facts["keys"] = sorted(load_checkpoint(folder / "last").model_state)
        facts["log_rows"] = len((folder / "log.csv").read_text().splitlines())
        plain = mlp(seed=9)
        load_weights(plain, folder / "last")
        for i, (a, b) in enumerate(zip(plain.parameters(), ddp.module.parameters())):
            record(f"loaded/{i}", a, b.detach().numpy())
    return facts


def history_sampler_epoch(ddp: DDP) -> int:
    """The epoch fit gave the last loader's sampler (set_epoch before every epoch)."""
    train = fit_data(16, 3)
    data = loader(train, 2, None, True)
    fit(ddp, nn.CrossEntropyLoss(), chainrule.optim.SGD(ddp.parameters(), lr=0.0), data,
        epochs=4, verbose=False)
    return data.sampler.epoch


@case
def fit_ddp_ranks_stop_together() -> dict:
    """A stop on one rank stops every rank after the same step (else the others would wait
    in their next all-reduce for ever): after a step, before an update, and an interrupt."""
    train = fit_data(64, 4)
    facts = {}

    def run(name: str, **hooks: object) -> None:
        ddp = DDP(mlp(seed=0))
        opt = chainrule.optim.SGD(ddp.parameters(), lr=0.1)
        seen = {}
        done = LambdaCallback(on_train_end=lambda t: seen.update(step=t.step, epoch=t.epoch))
        history = fit(ddp, nn.CrossEntropyLoss(), opt, loader(train, 4, None, True), epochs=3,
                      verbose=False, callbacks=[LambdaCallback(**hooks), done],
                      checkpoint=OUT / f"interrupted_{name}_rank{RANK}", handle_sigint=False)
        facts[name] = {**seen, "interrupted": history.interrupted}

    def only_on(rank: int, step: int, action: str) -> object:
        def hook(trainer: object) -> None:
            if RANK == rank and trainer.step == step:
                if action == "interrupt":
                    trainer.interrupt()
                else:
                    trainer.stop_training = True
        return hook

    run("after_step", on_batch_end=only_on(1, 3, "stop"))
    run("before_update", on_after_backward=only_on(0, 2, "stop"))  # no third update
    run("interrupt", on_batch_end=only_on(1, 5, "interrupt"))
    dist.barrier()
    facts["interrupt_files"] = sorted(p.name for p in OUT.glob("interrupted_interrupt_*"))
    return facts


# -- the run --------------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    global RANK, WORLD, OUT
    out = OUT = Path(argv[0])
    wanted = argv[argv.index("--cases") + 1].split(",") if "--cases" in argv else list(CASES)
    dist.init_process_group("mpi")
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    chainrule.set_default_dtype(chainrule.float32)
    report = {}
    for name in wanted:
        before = set(ARRAYS)
        CURRENT[0] = name
        try:
            facts = CASES[name]() or {}
            report[name] = {"status": "ok", "facts": facts}
        except Exception:  # noqa: BLE001  (reported to the test, which fails with it)
            report[name] = {"status": traceback.format_exc()}
        report[name]["arrays"] = sorted({k.rsplit("/", 1)[0].split("/", 1)[1]
                                         for k in set(ARRAYS) - before})
        dist.barrier()  # keep the ranks in step between cases
    np.savez(out / f"rank{RANK}.npz", **{k.replace("/", "|"): v for k, v in ARRAYS.items()})
    (out / f"rank{RANK}.json").write_text(json.dumps(report, default=str))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
