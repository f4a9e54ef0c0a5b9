"""Datasets: map-style (``__getitem__`` + ``__len__``) and iterable, as ``torch.utils.data``.

Besides torch's protocol (``__getitem__``, optional ``__getitems__`` for a list of indices),
a dataset may define ``_getbatch(indices)``: the result of ``default_collate`` on those samples
computed in one shot (one fancy-indexing per field instead of one Python call per sample), or
``NotImplemented`` when it cannot. :class:`DataLoader` calls it only with the default collate
function, so a custom ``collate_fn`` always sees real samples.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

import chainrule
from chainrule.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset",
           "Subset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map from keys (usually ``0 .. len-1``) to samples; subclasses define ``__getitem__``.

    ``ds1 + ds2`` concatenates (a :class:`ConcatDataset`).

    Example:
        >>> class Squares(Dataset):
        ...     def __getitem__(self, i): return i * i
        ...     def __len__(self): return 4
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A stream of samples; subclasses define ``__iter__``.

    With ``num_workers > 0`` each worker process iterates its own copy: shard the stream with
    :func:`~chainrule.utils.data.get_worker_info` or every sample is yielded once per worker.

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self): return iter(range(3))
        >>> list(Count())
        [0, 1, 2]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


def _as_index_array(indices: Sequence[int]) -> np.ndarray:
    return np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices, dtype=np.int64)


class TensorDataset(Dataset[tuple]):
    """Samples ``(t[i] for t in tensors)``: tensors indexed along their first dimension.

    Args:
        *tensors: tensors with the same size of the first dimension.

    Example:
        >>> x, y = chainrule.arange(6.).reshape(3, 2), chainrule.tensor([0, 1, 0])
        >>> ds = TensorDataset(x, y)
        >>> len(ds), ds[1]
        (3, (tensor([2., 3.]), tensor(1)))
    """

    def __init__(self, *tensors: Tensor) -> None:
        sizes = [t.size(0) for t in tensors]
        if any(s != sizes[0] for s in sizes):
            # torch raises AssertionError here; same type, with the sizes named
            raise AssertionError(f"Size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple]:
        fields = self._getbatch(indices)
        if fields is NotImplemented:
            return [self[i] for i in indices]
        return list(zip(*fields))

    def _getbatch(self, indices: Sequence[int]) -> Any:
        if any(t.requires_grad for t in self.tensors):
            return NotImplemented  # stacking must then be recorded by autograd: per-sample path
        idx = _as_index_array(indices)
        return [chainrule.from_numpy(t.numpy()[idx]) for t in self.tensors]

    def __len__(self) -> int:
        return self.tensors[0].size(0) if self.tensors else 0


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after another: index ``i`` falls in the first one long enough.

    Example:
        >>> a, b = TensorDataset(chainrule.arange(2)), TensorDataset(chainrule.arange(3))
        >>> ds = ConcatDataset([a, b])
        >>> len(ds), ds[3]
        (5, (tensor(1),))
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    @staticmethod
    def cumsum(sequence: Sequence[Dataset]) -> list[int]:
        """Running totals of the datasets' lengths."""
        out, total = [], 0
        for d in sequence:
            total += len(d)
            out.append(total)
        return out

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """Iterable datasets chained one after another.

    Example:
        >>> class R(IterableDataset):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter(range(self.n))
        >>> list(ChainDataset([R(2), R(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)  # type: ignore[arg-type]


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order.

    Example:
        >>> sub = Subset(TensorDataset(chainrule.arange(10)), [7, 2])
        >>> len(sub), sub[0]
        (2, (tensor(7),))
    """

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: Sequence[int]) -> list:
        # torch's rule: forward to the wrapped dataset's batched fetch when it has one
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def _getbatch(self, indices: Sequence[int]) -> Any:
        inner = getattr(self.dataset, "_getbatch", None)
        if inner is None:
            return NotImplemented
        return inner([self.indices[i] for i in indices])

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset[T_co], lengths: Sequence[int | float],
                 generator: chainrule.Generator | None = None) -> list[Subset[T_co]]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are sizes summing to ``len(dataset)``, or fractions summing to 1: then each
    size is ``floor(frac * len)`` and the remainder is handed out one by one, round-robin,
    as torch does.

    Args:
        dataset: the dataset to split.
        lengths: sizes or fractions of the splits.
        generator: draws the permutation. Default: the global generator.

    Example:
        >>> g = chainrule.Generator().manual_seed(0)
        >>> train, val, test = random_split(range(10), [0.6, 0.2, 0.2], generator=g)
        >>> len(train), len(val), len(test), sorted(list(train) + list(val) + list(test))
        (6, 2, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    n = len(dataset)  # type: ignore[arg-type]
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        remainder = n - sum(sizes)
        for i in range(remainder):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                              "dataset.", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = chainrule.randperm(sum(lengths), generator=generator).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + int(length)]))
        offset += int(length)
    return out
