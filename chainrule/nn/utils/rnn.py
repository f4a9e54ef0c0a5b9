"""Variable-length sequences for recurrent layers: PackedSequence and the functions that pack,
pad and unpad batches of sequences (torch.nn.utils.rnn's).

A packed batch stores only the real time steps, time-major: all sequences' first elements, then
all second elements, and so on, with ``batch_sizes[t]`` the number of sequences still running
at step ``t`` (sequences sorted longest first). ``sorted_indices`` remembers the sort when the
caller's batch was not sorted (``enforce_sorted=False``). Packing and padding are gathers with
``index_select``, so gradients flow through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule.creation import as_tensor, full
from chainrule.ops.indexing import index_select
from chainrule.ops.movement import cat, stack
from chainrule.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class _PackedSequenceBase(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceBase):
    """A batch of variable-length sequences stored without padding (what RNN layers accept).

    ``data`` holds the steps time-major, ``batch_sizes[t]`` how many sequences have a step
    ``t``; ``sorted_indices`` / ``unsorted_indices`` map between the caller's batch order and
    the longest-first order (None when the batch was already sorted). Build one with
    :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand.

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import pack_sequence
        >>> p = pack_sequence([chainrule.tensor([1., 2., 3.]), chainrule.tensor([4., 5.])])
        >>> p.data, p.batch_sizes
        (tensor([1., 4., 2., 5., 3.]), tensor([2, 2, 1]))
    """

    def __new__(cls, data: Any, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data`` converted as ``Tensor.to`` (the indices follow its device); self if
        nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_i = None if self.sorted_indices is None else self.sorted_indices.to(data.device)
        unsorted_i = (None if self.unsorted_indices is None
                      else self.unsorted_indices.to(data.device))
        return type(self)(data, self.batch_sizes, sorted_i, unsorted_i)

    def cpu(self) -> PackedSequence:
        """This sequence with ``data`` on the CPU."""
        return self.to("cpu")

    def double(self) -> PackedSequence:
        """``data`` as float64."""
        return self.to(dtype=_dtype("float64"))

    def float(self) -> PackedSequence:
        """``data`` as float32."""
        return self.to(dtype=_dtype("float32"))

    def half(self) -> PackedSequence:
        """``data`` as float16."""
        return self.to(dtype=_dtype("float16"))

    def long(self) -> PackedSequence:
        """``data`` as int64."""
        return self.to(dtype=_dtype("int64"))

    def int(self) -> PackedSequence:
        """``data`` as int32."""
        return self.to(dtype=_dtype("int32"))

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on a CUDA device."""
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        """Whether ``data`` is in pinned memory (never, on the CPU backend)."""
        return False


def _dtype(name: str) -> Any:
    from chainrule._backend import dtypes

    return dtypes.to_dtype(name)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation: ``out[permutation[i]] = i`` (None stays None).

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import invert_permutation
        >>> invert_permutation(chainrule.tensor([2, 0, 1]))
        tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    perm = permutation.numpy()
    out = np.empty_like(perm)
    out[perm] = np.arange(perm.shape[0], dtype=perm.dtype)
    return as_tensor(out)


def _lengths_array(lengths: Any) -> np.ndarray:
    if isinstance(lengths, Tensor):
        return lengths.numpy().astype(np.int64)
    return np.asarray([int(n) for n in lengths], dtype=np.int64)


def packed_positions(batch_sizes: np.ndarray) -> np.ndarray:
    """Where each packed row sits in the flattened ``(T * B)`` time-major padded layout.

    Example:
        >>> import numpy as np
        >>> from chainrule.nn.utils.rnn import packed_positions
        >>> packed_positions(np.array([2, 2, 1]))   # t * B + b for the live (t, b)
        array([0, 1, 2, 3, 4])
        >>> packed_positions(np.array([3, 1]))
        array([0, 1, 2, 3])
    """
    B = int(batch_sizes[0])
    live = np.arange(B)[None, :] < batch_sizes[:, None]
    return np.flatnonzero(live)


def padded_index(batch_sizes: np.ndarray, fill: int) -> np.ndarray:
    """For each position of the ``(T * B)`` padded layout, the packed row it holds, or
    ``fill`` where it is padding.

    Example:
        >>> import numpy as np
        >>> from chainrule.nn.utils.rnn import padded_index
        >>> padded_index(np.array([2, 1]), fill=-1)
        array([ 0,  1,  2, -1])
    """
    T, B = batch_sizes.shape[0], int(batch_sizes[0])
    pos = packed_positions(batch_sizes)
    idx = np.full(T * B, fill, dtype=np.int64)
    idx[pos] = np.arange(pos.shape[0], dtype=np.int64)
    return idx


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (or ``(B, T, *)`` with ``batch_first``) of sequences
    with the given ``lengths``: keep ``input[t, b]`` for ``t < lengths[b]``, time-major.

    Args:
        input: the padded batch.
        lengths: each sequence's length (a list or a 1-D CPU tensor).
        batch_first: the batch dim comes first.
        enforce_sorted: require lengths sorted longest first; with ``False`` the batch is
            sorted here and ``sorted_indices`` records the order (sequences of equal length
            keep their batch order; torch leaves the order of ties unspecified).

    Note:
        A length greater than the padded length raises a RuntimeError (torch reads past the
        end of the input).

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import pack_padded_sequence
        >>> seq = chainrule.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
        >>> pack_padded_sequence(seq, [2, 1, 3], batch_first=True, enforce_sorted=False)
        PackedSequence(data=tensor([4, 1, 3, 5, 2, 6]), batch_sizes=tensor([3, 2, 1]), \
sorted_indices=tensor([2, 0, 1]), unsorted_indices=tensor([1, 2, 0]))
    """
    lens = _lengths_array(lengths)
    sorted_indices = None
    batch_dim = 0 if batch_first else 1
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = as_tensor(order.astype(np.int64))
        input = input.index_select(batch_dim, sorted_indices)
    if input.dim() < 2:
        raise RuntimeError(f"pack_padded_sequence: input must have at least 2 dimensions, got "
                           f"{input.dim()}")
    B = input.shape[batch_dim]
    T = input.shape[1 - batch_dim]
    if lens.shape[0] != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.shape[0]} (batch_size={B})")
    if enforce_sorted and np.any(lens[1:] > lens[:-1]):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
            "to sidestep this requirement if you do not need ONNX exportability.")
    if B and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if B and lens.max() > T:
        raise RuntimeError(f"pack_padded_sequence: a length ({int(lens.max())}) exceeds the "
                           f"padded sequence length ({T})")
    steps = int(lens[0])
    batch_sizes = (lens[None, :] > np.arange(steps)[:, None]).sum(1).astype(np.int64)
    pos = packed_positions(batch_sizes)
    if batch_first:  # (t, b) -> b * T + t
        pos = (pos % B) * T + pos // B
    rest = tuple(input.shape[2:])
    flat = input.reshape((T * B,) + rest)
    data = index_select(flat, 0, as_tensor(pos))
    return PackedSequence(data, as_tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Unpack to a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) in the
    caller's original batch order, and the lengths: the inverse of pack_padded_sequence.

    Args:
        sequence: the packed batch.
        batch_first: put the batch dim first.
        padding_value: the value of the padding positions.
        total_length: pad to this many steps (at least the longest length).

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import pack_sequence, pad_packed_sequence
        >>> p = pack_sequence([chainrule.tensor([1, 2, 3]), chainrule.tensor([4])])
        >>> pad_packed_sequence(p, batch_first=True, padding_value=-1)
        (tensor([[ 1,  2,  3],
                [ 4, -1, -1]]), tensor([3, 1]))
    """
    data = sequence.data
    bs = sequence.batch_sizes.numpy().astype(np.int64)
    T, B = bs.shape[0], int(bs[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
    steps = T if total_length is None else int(total_length)
    n = data.shape[0]
    idx = padded_index(bs, fill=n)
    if steps > T:
        idx = np.concatenate([idx, np.full((steps - T) * B, n, dtype=np.int64)])
    if batch_first:
        idx = idx.reshape(steps, B).T.reshape(-1)
    rest = tuple(data.shape[1:])
    pad_row = full((1,) + rest, padding_value, dtype=data.dtype)
    padded = index_select(cat([data, pad_row], 0), 0, as_tensor(idx))
    padded = padded.reshape(((B, steps) if batch_first else (steps, B)) + rest)
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        perm = sequence.unsorted_indices
        padded = padded.index_select(0 if batch_first else 1, perm)
        lengths = lengths[perm.numpy()]
    return padded, as_tensor(lengths)


def pad_sequence(sequences: Tensor | Iterable[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` with
    ``batch_first``), ``T = max L_i``, filling with ``padding_value`` on ``padding_side``.

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import pad_sequence
        >>> pad_sequence([chainrule.tensor([1, 2]), chainrule.tensor([3])], batch_first=True)
        tensor([[1, 2],
                [3, 0]])
        >>> pad_sequence([chainrule.tensor([1, 2]), chainrule.tensor([3])], True,
        ...              padding_side='left')
        tensor([[1, 2],
                [0, 3]])
    """
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    seqs = list(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    T = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        short = T - s.shape[0]
        if short:
            fill = full((short,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length (the inverse of pad_sequence).

    Note:
        torch transposes ``padded_sequences`` in place when ``batch_first`` is False; this
        leaves the argument unchanged.

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import unpad_sequence
        >>> unpad_sequence(chainrule.tensor([[1, 2], [3, 0]]), chainrule.tensor([2, 1]),
        ...                batch_first=True)
        [tensor([1, 2]), tensor([3])]
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _lengths_array(lengths)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lens)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)``: ``pad_sequence`` then ``pack_padded_sequence``.

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import pack_sequence
        >>> pack_sequence([chainrule.tensor([1, 2, 3]), chainrule.tensor([4, 5]),
        ...                chainrule.tensor([6])])
        PackedSequence(data=tensor([1, 4, 6, 2, 5, 3]), batch_sizes=tensor([3, 2, 1]), \
sorted_indices=None, unsorted_indices=None)
    """
    lengths = [int(v.shape[0]) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences in a packed batch, in the caller's original order.

    Example:
        >>> import chainrule
        >>> from chainrule.nn.utils.rnn import pack_sequence, unpack_sequence
        >>> unpack_sequence(pack_sequence([chainrule.tensor([1, 2]), chainrule.tensor([3])]))
        [tensor([1, 2]), tensor([3])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
