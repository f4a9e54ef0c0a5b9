"""DistributedDataParallel: the same model on every rank, gradients averaged during backward.

Each rank runs the model on its own share of a batch. Averaging the gradients over ranks then
gives every rank the gradient of the whole batch, and since every rank starts from the same
weights (rank 0's, broadcast at construction) and applies the same update, the replicas stay
identical without ever sending weights again.

The averaging overlaps with backward. Parameters are grouped into buckets of about
``bucket_cap_mb``, in the order in which backward produces their gradients (learnt in the
first iteration, as torch does). A hook on each parameter fires once its gradient is
accumulated; it copies the gradient into its bucket's flat buffer, and when a bucket is
complete its nonblocking all-reduce (``Iallreduce``) starts while backward goes on computing
the other gradients. A callback queued for the end of backward waits for the all-reduces and
writes the averaged gradients back into ``.grad``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule import distributed as dist
from chainrule.autograd.grad_mode import is_grad_enabled, no_grad
from chainrule.autograd.graph import queue_callback
from chainrule.creation import from_numpy
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["DistributedDataParallel"]

_MB = 1024 * 1024
_DEFAULT_BUCKET_CAP_MB = 25
_DEFAULT_FIRST_BUCKET_BYTES = 1 * _MB  # torch's dist._DEFAULT_FIRST_BUCKET_BYTES

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `chainrule.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss.\n"
    "Parameters which did not receive grad for rank {rank}: {names}\n"
    "Parameter indices which did not receive grad for rank {rank}: {indices}")

_MARKED_TWICE = (
    "Expected to mark a variable ready only once. This error is caused by one of the "
    "following reasons: 1) Use of a module parameter outside the `forward` function. Please "
    "make sure model parameters are not shared across multiple concurrent forward-backward "
    "passes. 2) Reused parameters in multiple reentrant backward passes. Parameter at index "
    "{index} with name {name} has been marked as ready twice. This means that multiple "
    "autograd engine hooks have fired for this particular parameter during this iteration.")


def compute_bucket_assignment_by_size(tensors: Sequence[Tensor], bucket_size_limits: Sequence[int],
                                      tensor_indices: Sequence[int] | None = None
                                      ) -> list[list[int]]:
    """Group tensors into buckets of at least about the given byte sizes, one dtype each.

    Walks the tensors in the order given; each dtype fills its own bucket, which closes as
    soon as it holds at least its limit (``bucket_size_limits[k]`` for that dtype's k-th
    bucket, the last limit from then on). A bucket lists its tensors' positions, or their
    labels from ``tensor_indices``. Without labels the buckets are ordered by their smallest
    position; with them (tensors given in the order their gradients arrive) they keep the
    walk's order. The same assignment as torch's ``dist._compute_bucket_assignment_by_size``.

    Example:
        >>> import chainrule
        >>> sizes = [100, 300_000, 5, 300_000, 200_000, 7]  # float32: 4 bytes each
        >>> compute_bucket_assignment_by_size([chainrule.zeros(n) for n in sizes],
        ...                                   [1_048_576, 2_097_152])
        [[0, 1], [2, 3, 4, 5]]
    """
    if not bucket_size_limits:
        raise ValueError("bucket_size_limits must not be empty")
    labels = list(range(len(tensors))) if tensor_indices is None else list(tensor_indices)
    if len(labels) != len(tensors):
        raise ValueError(f"tensor_indices has {len(labels)} entries for {len(tensors)} tensors")
    open_buckets: dict[Any, list] = {}  # dtype -> [labels, bytes, index of its limit]
    done: list[list[int]] = []
    for label, t in zip(labels, tensors):
        state = open_buckets.setdefault(t.dtype, [[], 0, 0])
        state[0].append(label)
        state[1] += t.numel() * t.element_size()
        limit = bucket_size_limits[min(state[2], len(bucket_size_limits) - 1)]
        if state[1] >= limit:
            done.append(state[0])
            open_buckets[t.dtype] = [[], 0, state[2] + 1]
    # The unfinished buckets follow, the last dtype to appear first: the order torch's
    # (an unordered_map's) comes out in; it shows when tensor_indices keeps the walk's order.
    done += [state[0] for state in reversed(open_buckets.values()) if state[0]]
    return sorted(done, key=min) if tensor_indices is None else done


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer and one all-reduce."""

    __slots__ = ("members", "slices", "flat", "pending", "work")

    def __init__(self, members: list[int], params: list[Tensor]) -> None:
        self.members = members
        self.slices = []
        start = 0
        for i in members:
            n = params[i].numel()
            self.slices.append((start, start + n))
            start += n
        self.flat = np.zeros(start, dtype=params[members[0]].detach().numpy().dtype)
        self.pending = len(members)
        self.work: dist.Work | None = None


class _Reducer:
    """The bucketed gradient all-reduce of one DistributedDataParallel (torch's Reducer).

    States: ``idle`` (no synchronised forward since the last reduction: hooks do nothing),
    ``armed`` (a forward with gradient sync ran), ``started`` (a gradient hook fired in this
    iteration; the reduction is under way).

    ``rebuild_limits``: when given, the buckets are rebuilt once, after the first
    synchronised iteration, in the order in which the gradients arrived then (torch does
    this unless ``find_unused_parameters``): the buckets then fill up, and their all-reduces
    start, in the order this engine's backward produces the gradients.
    """

    def __init__(self, params: list[Tensor], names: list[str], buckets: list[list[int]],
                 group: Any, find_unused: bool, as_bucket_view: bool,
                 rebuild_limits: list[int] | None) -> None:
        self.params = params
        self.names = names
        self.group = group
        self.world_size = dist.get_world_size(group)
        self.find_unused = find_unused
        self.as_bucket_view = as_bucket_view
        self.rebuild_limits = rebuild_limits
        self.ready_order: list[int] = []
        self.set_buckets(buckets)
        self.state = "idle"
        self.ready = [False] * len(params)
        self.used = np.zeros(len(params), dtype=np.uint8)
        self.next_bucket = 0
        self.callback_queued = False
        self.handles = [p.register_post_accumulate_grad_hook(_GradHook(self, i))
                        for i, p in enumerate(params)]

    def set_buckets(self, buckets: list[list[int]]) -> None:
        self.bucket_indices = buckets
        self.buckets = [_Bucket(members, self.params) for members in buckets]
        self.where: list[tuple[_Bucket, int, int]] = [None] * len(self.params)  # type: ignore
        for bucket in self.buckets:
            for i, (lo, hi) in zip(bucket.members, bucket.slices):
                self.where[i] = (bucket, lo, hi)

    def rebuild_buckets(self) -> bool:
        """Rebuild the buckets in the gradients' arrival order (once, after the first
        synchronised iteration). Every rank takes rank 0's order, so that all agree."""
        if self.rebuild_limits is None or len(self.ready_order) != len(self.params):
            return False
        order = np.array(self.ready_order, dtype=np.int64)
        dist.broadcast(from_numpy(order), src=0, group=self.group)
        ordered = [self.params[i] for i in order.tolist()]
        self.set_buckets(compute_bucket_assignment_by_size(ordered, self.rebuild_limits,
                                                           tensor_indices=order.tolist()))
        self.rebuild_limits = None
        return True

    # -- per iteration -----------------------------------------------------------------------
    def prepare_for_backward(self) -> None:
        self.ensure_prior_reduction_finished()
        self.state = "armed"
        self.ready = [False] * len(self.params)
        self.used[:] = 0
        self.next_bucket = 0
        self.ready_order = []
        for bucket in self.buckets:
            bucket.pending = len(bucket.members)
            bucket.work = None

    def ensure_prior_reduction_finished(self) -> None:
        if self.state != "started":
            return
        missing = [i for i, r in enumerate(self.ready) if not r]
        self.state = "idle"
        for bucket in self.buckets[:self.next_bucket]:  # every rank started these: finish them
            if bucket.work is not None:
                bucket.work.wait()
                bucket.work = None
        raise RuntimeError(_UNFINISHED.format(
            rank=dist.get_rank(self.group), names=", ".join(self.names[i] for i in missing),
            indices=" ".join(str(i) for i in missing)))

    def disarm(self) -> None:
        self.ensure_prior_reduction_finished()
        self.state = "idle"

    # -- during backward -----------------------------------------------------------------------
    def autograd_hook(self, index: int) -> None:
        if self.state == "idle":
            return
        self.state = "started"
        if not self.callback_queued:
            queue_callback(self.end_of_backward)
            self.callback_queued = True
        self.mark_ready(index, used=True)
        for bucket in self.buckets[:self.next_bucket]:
            if bucket.work is not None:
                bucket.work.is_completed()  # an MPI call: lets MPICH advance the transfers

    def mark_ready(self, index: int, used: bool) -> None:
        if self.ready[index]:
            raise RuntimeError(_MARKED_TWICE.format(index=index, name=self.names[index]))
        self.ready[index] = True
        self.used[index] = used
        if self.rebuild_limits is not None:
            self.ready_order.append(index)
        bucket, lo, hi = self.where[index]
        grad = self.params[index].grad
        if grad is None:
            bucket.flat[lo:hi] = 0
        else:
            # Copied in times 1/p (one pass), then summed: torch's reducer scales while
            # copying too (mul_out by 1/p), so the average cannot overflow.
            np.multiply(grad.detach().numpy().reshape(-1), 1.0 / self.world_size,
                        out=bucket.flat[lo:hi])
        bucket.pending -= 1
        if bucket.pending == 0:
            self.launch_ready_buckets()

    def launch_ready_buckets(self) -> None:
        # MPI matches collectives by order, so every rank must start the buckets in the same
        # order: index order, each only after the ones before it.
        while self.next_bucket < len(self.buckets):
            bucket = self.buckets[self.next_bucket]
            if bucket.pending:
                return
            bucket.work = dist.all_reduce(from_numpy(bucket.flat), group=self.group,
                                          async_op=True)
            self.next_bucket += 1

    def end_of_backward(self) -> None:
        self.callback_queued = False
        if self.state != "started":
            return
        if self.find_unused:  # what got no gradient in this backward is reduced as zeros
            for i, r in enumerate(self.ready):
                if not r:
                    self.mark_ready(i, used=False)
        if self.next_bucket < len(self.buckets):
            return  # a later backward in this iteration may bring the rest (or forward raises)
        self.finalize()

    def finalize(self) -> None:
        for bucket in self.buckets:
            bucket.work.wait()  # type: ignore[union-attr]
            bucket.work = None
        used = None
        if self.find_unused:  # a parameter no rank used keeps its .grad untouched, as torch
            used = self.used.copy()
            dist.all_reduce(from_numpy(used), op=dist.ReduceOp.MAX, group=self.group)
        with no_grad():
            for i, p in enumerate(self.params):
                if used is not None and not used[i]:
                    continue
                bucket, lo, hi = self.where[i]
                view = bucket.flat[lo:hi].reshape(p.shape)
                if self.as_bucket_view:
                    p.grad = from_numpy(view)
                elif p.grad is None:
                    p.grad = from_numpy(view.copy())
                else:
                    p.grad.detach().numpy()[...] = view
        self.state = "idle"


class _GradHook:
    """The post-accumulate-grad hook of parameter ``index``: tells the reducer it is ready."""

    __slots__ = ("reducer", "index")

    def __init__(self, reducer: _Reducer, index: int) -> None:
        self.reducer = reducer
        self.index = index

    def __call__(self, param: Tensor) -> None:
        self.reducer.autograd_hook(self.index)


def _verify_same_model(params: list[Tensor], group: Any) -> None:
    """Every rank must wrap the same architecture: compare counts and shapes across ranks."""
    mine = np.array([len(params), sum(p.numel() for p in params),
                     hash(tuple(tuple(p.shape) for p in params)) & 0x7FFFFFFFFFFFFFFF],
                    dtype=np.int64)
    size = dist.get_world_size(group)
    everyone = [from_numpy(np.zeros(3, dtype=np.int64)) for _ in range(size)]
    dist.all_gather(everyone, from_numpy(mine), group=group)
    rank = dist.get_rank(group)
    for other, theirs in enumerate(everyone):
        t = theirs.numpy()
        if t[0] != mine[0]:
            raise RuntimeError(f"DDP expects same model across all ranks, but Rank {rank} has "
                               f"{mine[0]} params, while rank {other} has inconsistent "
                               f"{t[0]} params.")
        if t[1] != mine[1] or t[2] != mine[2]:
            raise RuntimeError(f"DDP expects same model across all ranks, but rank {rank}'s "
                               f"parameter shapes differ from rank {other}'s "
                               f"({mine[1]} and {t[1]} elements in all)")


def _broadcast_coalesced(tensors: list[Tensor], src: int, group: Any) -> None:
    """Broadcast tensors from ``src`` as one flat buffer per dtype (one MPI call each)."""
    by_dtype: dict[Any, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    receiving = dist.get_rank(group) != src
    for same in by_dtype.values():
        flat = np.concatenate([t.detach().numpy().reshape(-1) for t in same])
        dist.broadcast(from_numpy(flat), src=src, group=group)
        if receiving:
            start = 0
            for t in same:
                n = t.numel()
                t.copy_(from_numpy(flat[start:start + n].reshape(tuple(t.shape))))
                start += n


class DistributedDataParallel(Module):
    """Data-parallel training: wraps ``module`` so that ``backward`` averages gradients
    over the ranks of the job, ``grad = (1/p) sum_r grad_r``.

    Construct it on every rank after :func:`chainrule.distributed.init_process_group`, with
    the same module (the weights need not agree: rank 0's are broadcast to the others).
    Call it as the module itself; after ``loss.backward()`` every rank holds the same
    averaged ``.grad``, so the same optimizer step keeps the replicas identical. Give each
    rank different data (:class:`chainrule.utils.data.DistributedSampler`). With ``p``
    ranks each on a batch of ``b``, training equals one process on batches of ``p * b``
    (when the loss is a mean over the batch).

    Args:
        module: the model to replicate.
        device_ids: ``None`` (CPU modules only, as torch for a CPU module).
        output_device: ``None``.
        dim: accepted for torch's signature (the batch dimension; unused).
        broadcast_buffers: broadcast rank 0's buffers (e.g. BatchNorm's running statistics)
            before each forward of a training step. Default: ``True``.
        init_sync: broadcast rank 0's parameters and buffers at construction. Default: ``True``.
        process_group: ``None`` or ``group.WORLD``.
        bucket_cap_mb: the size of a gradient bucket in MiB. Default: 25, with a first
            bucket of 1 MiB, as torch.
        find_unused_parameters: parameters that got no gradient in a backward (not used in
            forward, or not reached from the loss) are reduced as zeros, so every rank
            finishes; a parameter no rank used keeps its ``.grad`` untouched. Without it every
            parameter must get a gradient each iteration, or the next forward raises.
            Default: ``False``.
        check_reduction: deprecated in torch; accepted, unused.
        gradient_as_bucket_view: make each ``.grad`` a view into its bucket's buffer after
            the reduction (saves one copy per step). Default: ``False``.
        static_graph: accepted; treated as ``find_unused_parameters`` (the set of used
            parameters is then found in every iteration, which is correct but not faster).

    Buckets, as torch: the first iteration reduces all gradients in one bucket and records
    the order in which they arrived; the next forward regroups them in that order into
    buckets of at least ``bucket_cap_mb`` (rank 0's order, for every rank), so the first
    buckets fill, and their all-reduces start, while backward still runs. With
    ``find_unused_parameters`` the buckets stay in reverse registration order.
    ``bucket_indices`` lists them.

    Example (under ``mpiexec -n 2``; the guide, docs/guides/distributed.md, has a full one)::

        dist.init_process_group("mpi")
        model = DistributedDataParallel(nn.Linear(10, 1))
        loss = model(x_shard).pow(2).mean()
        loss.backward()          # model.module.weight.grad: averaged over both ranks
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, init_sync: bool = True,
                 process_group: Any = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False) -> None:
        super().__init__()
        if device_ids is not None or output_device is not None:
            raise ValueError(
                f"DistributedDataParallel device_ids and output_device arguments only work with "
                f"single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters on cpu.")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.module = module
        self.process_group = process_group
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = bool(find_unused_parameters or static_graph)
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((bucket_cap_mb if bucket_cap_mb is not None
                                     else _DEFAULT_BUCKET_CAP_MB) * _MB)
        first = _DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        params = [p for _, p in named]
        names = [n for n, _ in named]

        _verify_same_model(params, process_group)
        if init_sync:
            with no_grad():
                _broadcast_coalesced(list(module.parameters()) + list(module.buffers()), 0,
                                     process_group)

        limits = [first, self.bucket_bytes_cap] if first < self.bucket_bytes_cap else [first]
        if self.find_unused_parameters:
            # Buckets in reverse: backward produces the last layers' gradients first.
            initial = list(reversed(compute_bucket_assignment_by_size(params, limits)))
            rebuild = None
        else:  # as torch: one bucket until the first backward shows the gradients' order
            initial = [list(range(len(params)))[::-1]]
            rebuild = limits
        self.reducer = _Reducer(params, names, initial, process_group,
                                self.find_unused_parameters, gradient_as_bucket_view, rebuild)

    @property
    def bucket_indices(self) -> list[list[int]]:
        """The parameter indices (as in ``module.parameters()``) of each gradient bucket, in
        the order their all-reduces start."""
        return self.reducer.bucket_indices

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Run the wrapped module (after syncing buffers); arm the gradient all-reduce."""
        self.reducer.ensure_prior_reduction_finished()
        if is_grad_enabled():
            self.reducer.rebuild_buckets()
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = list(self.module.buffers())
            if buffers:
                with no_grad():
                    _broadcast_coalesced(buffers, 0, self.process_group)
        output = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward()
        else:
            self.require_forward_param_sync = False
            if is_grad_enabled():
                self.reducer.disarm()
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, forward-backward passes only accumulate ``.grad`` locally.

        The first forward-backward after the block all-reduces the accumulated gradients,
        so ``k`` micro-batches cost one all-reduce (gradient accumulation)::

            with ddp.no_sync():
                for x in micro_batches[:-1]:
                    loss_fn(ddp(x)).backward()
            loss_fn(ddp(micro_batches[-1])).backward()   # all-reduces the sum
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def __del__(self) -> None:
        reducer = self.__dict__.get("reducer")
        if reducer is not None and not sys.is_finalizing():
            for handle in reducer.handles:
                handle.remove()
