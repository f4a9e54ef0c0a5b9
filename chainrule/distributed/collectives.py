"""Collectives on tensors, as ``torch.distributed``: each one MPI call on the tensors' memory.

Every collective hands MPI the NumPy buffer under a tensor (mpi4py's upper-case methods:
``Allreduce``, ``Bcast``, ...), so the bytes go from one process's array into another's with
no pickling and no Python objects in between. The tensors must therefore be contiguous (and
writable, where they receive). Results are written in place, as torch's collectives do.

``async_op=True`` starts MPI's nonblocking twin (``Iallreduce``, ``Ibcast``, ...) and returns
a :class:`~chainrule.distributed.Work`; the outputs hold the result after ``work.wait()``.

Cost, for a tensor of ``n`` bytes on ``p`` ranks (MPICH picks the algorithm by size):
``all_reduce`` moves about ``2n (p-1)/p`` bytes per rank for large tensors (reduce-scatter
then all-gather), ``broadcast`` about ``n``, ``all_gather``/``reduce_scatter`` about
``n (p-1)/p`` of the gathered size; small tensors cost a few latencies (``log2 p`` rounds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.distributed.process_group import ProcessGroup, ReduceOp, Work, _mpi, _resolve
from chainrule.tensor import Tensor

__all__ = ["all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
           "gather", "scatter", "reduce_scatter", "reduce_scatter_tensor", "barrier", "send",
           "recv", "isend", "irecv"]


def _buffer(t: Any, op: str, name: str, writes: bool = True) -> np.ndarray:
    """The contiguous array under tensor ``t`` that MPI reads (and writes) directly."""
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"Tensor but got {type(t).__name__} instead (in {op}).")
    arr = t._data
    if not arr.flags.c_contiguous:
        raise RuntimeError(f"{op}: {name} has to be contiguous (got a non-contiguous tensor of "
                           f"shape {tuple(arr.shape)}); call .contiguous() first")
    if writes:
        if not arr.flags.writeable:
            raise RuntimeError(f"{op}: {name} of shape {tuple(arr.shape)} is read-only; the "
                               f"result is written into it (clone it first)")
        t._bump()  # written in place: autograd must see the new version
    return arr


def _buffers(tensors: Any, op: str, name: str, writes: bool = True) -> list[np.ndarray]:
    if not isinstance(tensors, list) or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"List[Tensor] but got {type(tensors).__name__} instead (in {op}).")
    return [_buffer(t, op, name, writes) for t in tensors]


def _list_size(arrays: list[np.ndarray], pg: ProcessGroup, op: str, name: str) -> None:
    if len(arrays) != pg.size():
        raise ValueError(f"{op}: {name} must hold one tensor per rank ({pg.size()}), got "
                         f"{len(arrays)}")


def _same_dtype(arrays: list[np.ndarray], op: str) -> None:
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise ValueError(f"{op}: all tensors must have the same dtype, got "
                         f"{sorted(str(d) for d in dtypes)}")


_OP_TABLES: dict[str, dict] = {}  # dtype kind -> {ReduceOp: MPI.Op}, built on first use


def _op_table(kind: str) -> dict:
    table = _OP_TABLES.get(kind)
    if table is not None:
        return table
    MPI = _mpi()
    if kind == "b":  # bools: logical ops (MPI has no SUM on C_BOOL); sum and max are "or"
        table = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                 ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND,
                 ReduceOp.BXOR: MPI.LXOR}
    else:
        table = {ReduceOp.SUM: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
                 ReduceOp.MAX: MPI.MAX}
        if kind == "f":
            table[ReduceOp.AVG] = MPI.SUM  # then divided by the world size
        if kind in "iu":
            table.update({ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR,
                          ReduceOp.BXOR: MPI.BXOR})
    _OP_TABLES[kind] = table
    return table


def _mpi_op(op: ReduceOp, arr: np.ndarray, name: str) -> Any:
    """The MPI reduction for ``op`` on ``arr``'s dtype (AVG is a SUM, divided afterwards)."""
    mpi_op = _op_table(arr.dtype.kind).get(op)
    if mpi_op is not None:
        return mpi_op
    if not isinstance(op, ReduceOp):
        raise ValueError(f"{name}: op must be a ReduceOp, got {op!r}")
    if op is ReduceOp.AVG:
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {arr.dtype}")
    raise ValueError(f"{name}: {op} is not defined for {arr.dtype} tensors")


def _averager(op: ReduceOp, arr: np.ndarray, size: int) -> Callable[[], None] | None:
    if op is not ReduceOp.AVG:
        return None

    def divide() -> None:
        np.divide(arr, size, out=arr)

    return divide


def _run(blocking: Callable, nonblocking: Callable, args: tuple, async_op: bool,
         finish: Callable[[], None] | None = None, outputs: list | None = None) -> Work | None:
    """Run one MPI collective: blocking, or started nonblocking and returned as a Work."""
    if async_op:
        return Work(nonblocking(*args), finish, outputs)
    blocking(*args)
    if finish is not None:
        finish()
    return None


def _vector(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[int], list[int]]:
    """One flat buffer for a list of arrays, with each one's element count and offset."""
    counts = [a.size for a in arrays]
    displs = [int(d) for d in np.cumsum([0] + counts[:-1])]
    dtype = arrays[0].dtype if arrays else np.float32
    return np.empty(sum(counts), dtype=dtype), counts, displs


def _unpack(flat: np.ndarray, arrays: list[np.ndarray], displs: list[int]) -> Callable[[], None]:
    def copy() -> None:
        for a, d in zip(arrays, displs):
            a.reshape(-1)[...] = flat[d:d + a.size]

    return copy


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all ranks, in place: every rank ends with ``op(x_0, ..., x_p-1)``.

    Args:
        tensor: this rank's input, overwritten with the result (same shape on every rank).
        op: :class:`ReduceOp` (``SUM``, ``AVG``, ``MAX``, ``MIN``, ``PRODUCT``, bitwise ops).
        group: ``None`` or ``group.WORLD``.
        async_op: start it and return a :class:`Work` instead of waiting.

    Cost: about ``2 n (p-1)/p`` bytes sent per rank for ``n`` bytes (latency-bound below a
    few KB).

    Example (under ``mpiexec -n 2``)::

        t = chainrule.tensor([1.0, 2.0]) * (dist.get_rank() + 1)
        dist.all_reduce(t)                     # tensor([3., 6.]) on both ranks
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
    """
    pg = _resolve(group)
    arr = _buffer(tensor, "all_reduce", "tensor")
    mpi_op = _mpi_op(op, arr, "all_reduce")
    MPI = _mpi()
    return _run(pg.comm.Allreduce, pg.comm.Iallreduce, (MPI.IN_PLACE, arr, mpi_op), async_op,
                _averager(op, arr, pg.size()), [tensor])


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank.

    Args:
        tensor: the data on ``src``; overwritten elsewhere (same shape and dtype everywhere).
        src: the sending rank (``group_src``, torch's newer spelling, is the same here).
        group: ``None`` or ``group.WORLD``.
        async_op: start it and return a :class:`Work`.

    Cost: about ``n`` bytes per rank (a binomial tree for small tensors, scatter plus
    all-gather for large ones).
    """
    pg = _resolve(group)
    root = _root(src, group_src, pg, "broadcast", "src")
    arr = _buffer(tensor, "broadcast", "tensor", writes=pg.rank() != root)
    return _run(pg.comm.Bcast, pg.comm.Ibcast, (arr, root), async_op, None, [tensor])


def _root(rank: int | None, group_rank: int | None, pg: ProcessGroup, op: str,
          name: str) -> int:
    if rank is not None and group_rank is not None and rank != group_rank:
        raise ValueError(f"{op}: give {name} or group_{name}, not both")
    root = rank if rank is not None else group_rank
    if root is None:
        raise ValueError(f"{op}: {name} must be given")
    if not 0 <= root < pg.size():
        raise ValueError(f"{op}: {name}={root} is not a rank of a group of size {pg.size()}")
    return int(root)


def reduce(tensor: Tensor, dst: int | None = None, op: ReduceOp = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Reduce ``tensor`` over all ranks into rank ``dst``'s ``tensor`` (others keep theirs).

    Cost: about ``n`` bytes per rank.
    """
    pg = _resolve(group)
    root = _root(dst, group_dst, pg, "reduce", "dst")
    is_root = pg.rank() == root
    arr = _buffer(tensor, "reduce", "tensor", writes=is_root)
    mpi_op = _mpi_op(op, arr, "reduce")
    MPI = _mpi()
    args = (MPI.IN_PLACE, arr, mpi_op, root) if is_root else (arr, None, mpi_op, root)
    finish = _averager(op, arr, pg.size()) if is_root else None
    return _run(pg.comm.Reduce, pg.comm.Ireduce, args, async_op, finish, [tensor])


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Every rank's ``tensor``, gathered into ``tensor_list[r]`` on every rank.

    Args:
        tensor_list: one output tensor per rank; ``tensor_list[r]`` receives rank ``r``'s
            tensor (sizes may differ between ranks, but each rank's list must agree).
        tensor: this rank's input.
        group: ``None`` or ``group.WORLD``.
        async_op: start it and return a :class:`Work`.

    Cost: about ``n (p-1)`` bytes received per rank for inputs of ``n`` bytes.
    """
    pg = _resolve(group)
    outs = _buffers(tensor_list, "all_gather", "tensor_list")
    arr = _buffer(tensor, "all_gather", "tensor", writes=False)
    _list_size(outs, pg, "all_gather", "tensor_list")
    _same_dtype(outs + [arr], "all_gather")
    mine = outs[pg.rank()]
    if mine.size != arr.size:
        raise ValueError(f"all_gather: tensor_list[{pg.rank()}] has {mine.size} elements but "
                         f"this rank's tensor has {arr.size}")
    flat, counts, displs = _vector(outs)
    return _run(pg.comm.Allgatherv, pg.comm.Iallgatherv, (arr, [flat, (counts, displs)]),
                async_op, _unpack(flat, outs, displs), list(tensor_list))


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Every rank's ``input_tensor``, concatenated in rank order into ``output_tensor``.

    ``output_tensor`` holds ``world_size`` times the input's elements: shape
    ``(p * n0, ...)`` (concatenated) or ``(p, n0, ...)`` (stacked), both the same memory.
    MPI writes straight into it, with no copy.
    """
    pg = _resolve(group)
    out = _buffer(output_tensor, "all_gather_into_tensor", "output_tensor")
    arr = _buffer(input_tensor, "all_gather_into_tensor", "input_tensor", writes=False)
    _same_dtype([out, arr], "all_gather_into_tensor")
    if out.size != arr.size * pg.size():
        raise ValueError(f"all_gather_into_tensor: output_tensor must have world_size "
                         f"({pg.size()}) times the input's {arr.size} elements, got {out.size}")
    return _run(pg.comm.Allgather, pg.comm.Iallgather, (arr, out), async_op, None,
                [output_tensor])


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Every rank's ``tensor`` into ``gather_list[r]`` on rank ``dst`` only (same sizes).

    ``gather_list`` is given on ``dst`` and ``None`` elsewhere, as torch.
    """
    pg = _resolve(group)
    root = _root(0 if dst is None and group_dst is None else dst, group_dst, pg, "gather",
                 "dst")
    arr = _buffer(tensor, "gather", "tensor", writes=False)
    if pg.rank() != root:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                             "ranks.")
        return _run(pg.comm.Gather, pg.comm.Igather, (arr, None, root), async_op)
    if gather_list is None:
        raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
    outs = _buffers(gather_list, "gather", "gather_list")
    _list_size(outs, pg, "gather", "gather_list")
    _same_dtype(outs + [arr], "gather")
    if any(o.size != arr.size for o in outs):
        raise ValueError(f"gather: every tensor of gather_list must have the input's "
                         f"{arr.size} elements")
    flat = np.empty(arr.size * pg.size(), dtype=arr.dtype)
    displs = [r * arr.size for r in range(pg.size())]
    return _run(pg.comm.Gather, pg.comm.Igather, (arr, flat, root), async_op,
                _unpack(flat, outs, displs), list(gather_list))


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None) -> Work | None:
    """Rank ``src``'s ``scatter_list[r]`` into ``tensor`` on each rank ``r`` (same sizes)."""
    pg = _resolve(group)
    root = _root(0 if src is None and group_src is None else src, group_src, pg, "scatter",
                 "src")
    out = _buffer(tensor, "scatter", "tensor")
    if pg.rank() != root:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source "
                             "ranks.")
        return _run(pg.comm.Scatter, pg.comm.Iscatter, (None, out, root), async_op, None,
                    [tensor])
    if scatter_list is None:
        raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
    ins = _buffers(scatter_list, "scatter", "scatter_list", writes=False)
    _list_size(ins, pg, "scatter", "scatter_list")
    _same_dtype(ins + [out], "scatter")
    if any(a.size != out.size for a in ins):
        raise ValueError(f"scatter: every tensor of scatter_list must have the output's "
                         f"{out.size} elements")
    flat = np.concatenate([a.reshape(-1) for a in ins])
    return _run(pg.comm.Scatter, pg.comm.Iscatter, (flat, out, root), async_op, None, [tensor])


def reduce_scatter(output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """``output`` on rank ``r`` = ``op`` over ranks of their ``input_list[r]``.

    Args:
        output: this rank's result (as many elements as ``input_list[rank]``).
        input_list: one tensor per rank, the same sizes on every rank.
        op: :class:`ReduceOp`.
        group: ``None`` or ``group.WORLD``.
        async_op: start it and return a :class:`Work`.

    Cost: about ``N (p-1)/p`` bytes per rank for a list of ``N`` bytes in all.
    """
    pg = _resolve(group)
    out = _buffer(output, "reduce_scatter", "output")
    ins = _buffers(input_list, "reduce_scatter", "input_list", writes=False)
    _list_size(ins, pg, "reduce_scatter", "input_list")
    _same_dtype(ins + [out], "reduce_scatter")
    if ins[pg.rank()].size != out.size:
        raise ValueError(f"reduce_scatter: output has {out.size} elements but "
                         f"input_list[{pg.rank()}] has {ins[pg.rank()].size}")
    mpi_op = _mpi_op(op, out, "reduce_scatter")
    flat = np.concatenate([a.reshape(-1) for a in ins])
    counts = [a.size for a in ins]
    return _run(pg.comm.Reduce_scatter, pg.comm.Ireduce_scatter, (flat, out, counts, mpi_op),
                async_op, _averager(op, out, pg.size()), [output])


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,
                          group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """``output`` on rank ``r`` = ``op`` over ranks of block ``r`` of ``input`` (no copies).

    ``input`` holds ``world_size`` blocks of ``output.numel()`` elements, in rank order.
    """
    pg = _resolve(group)
    out = _buffer(output, "reduce_scatter_tensor", "output")
    arr = _buffer(input, "reduce_scatter_tensor", "input", writes=False)
    _same_dtype([out, arr], "reduce_scatter_tensor")
    if arr.size != out.size * pg.size():
        raise ValueError(f"reduce_scatter_tensor: input must have world_size ({pg.size()}) "
                         f"times the output's {out.size} elements, got {arr.size}")
    mpi_op = _mpi_op(op, out, "reduce_scatter_tensor")
    return _run(pg.comm.Reduce_scatter_block, pg.comm.Ireduce_scatter_block,
                (arr, out, mpi_op), async_op, _averager(op, out, pg.size()), [output])


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: Any = None, timeout: Any = None) -> Work | None:
    """Wait until every rank has reached this call.

    ``device_ids`` and ``timeout`` are accepted for torch's signature and unused.
    """
    pg = _resolve(group)
    return _run(pg.comm.Barrier, pg.comm.Ibarrier, (), async_op)


def _peer(rank: int | None, pg: ProcessGroup, op: str, name: str, any_ok: bool) -> int:
    if rank is None:
        if any_ok:
            return _mpi().ANY_SOURCE
        raise ValueError(f"{op}: {name} must be given")
    if not 0 <= rank < pg.size():
        raise ValueError(f"{op}: {name}={rank} is not a rank of a group of size {pg.size()}")
    if rank == pg.rank():
        raise ValueError(f"Invalid {name} rank: {name} must not be the same as the rank of "
                         f"the current process.")
    return int(rank)


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_dst: int | None = None) -> None:
    """Send ``tensor`` to rank ``dst`` (blocks until the buffer may be reused)."""
    pg = _resolve(group)
    arr = _buffer(tensor, "send", "tensor", writes=False)
    pg.comm.Send(arr, _peer(dst if dst is not None else group_dst, pg, "send", "dst", False),
                 tag)


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_src: int | None = None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when ``None``); returns the sender."""
    pg = _resolve(group)
    arr = _buffer(tensor, "recv", "tensor")
    status = _mpi().Status()
    pg.comm.Recv(arr, _peer(src if src is not None else group_src, pg, "recv", "src", True),
                 tag, status)
    return status.Get_source()


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_dst: int | None = None) -> Work:
    """Start sending ``tensor`` to rank ``dst``; do not modify it before ``wait()``."""
    pg = _resolve(group)
    arr = _buffer(tensor, "isend", "tensor", writes=False)
    peer = _peer(dst if dst is not None else group_dst, pg, "isend", "dst", False)
    return Work(pg.comm.Isend(arr, peer, tag), None, [tensor])


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_src: int | None = None) -> Work:
    """Start receiving into ``tensor`` from rank ``src`` (any rank when ``None``)."""
    pg = _resolve(group)
    arr = _buffer(tensor, "irecv", "tensor")
    peer = _peer(src if src is not None else group_src, pg, "irecv", "src", True)
    return Work(pg.comm.Irecv(arr, peer, tag), None, [tensor])
