"""nn.utils.rnn (PackedSequence, pack/pad/unpad) against torch.nn.utils.rnn: values, batch
sizes, index permutations, gradients through packing and padding, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import chainrule
from chainrule.nn.utils import rnn as crnn
from chainrule.testing import assert_close


def _same_packed(ours, theirs) -> None:
    assert isinstance(ours, crnn.PackedSequence)
    assert_close(ours.data, theirs.data.detach())
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
    assert ours.batch_sizes.dtype == chainrule.int64
    for a, b in ((ours.sorted_indices, theirs.sorted_indices),
                 (ours.unsorted_indices, theirs.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist()


def _pair(rng, *shape):
    arr = rng.standard_normal(shape)
    return chainrule.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 3, 3, 1], True), ([4, 3, 3, 1], False),
                                                    ([1, 4, 3, 2], False), ([2, 2], True)])
def test_pack_then_pad_round_trip_matches_torch(batch_first, lengths, enforce_sorted) -> None:
    rng = np.random.default_rng(len(lengths))
    B, T = len(lengths), max(lengths)
    shape = (B, T, 2) if batch_first else (T, B, 2)
    x, tx = _pair(rng, *shape)
    p = crnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    tp = trnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    _same_packed(p, tp)
    for total in (None, T + 2):
        out, lens = crnn.pad_packed_sequence(p, batch_first, padding_value=-3.0,
                                             total_length=total)
        tout, tlens = trnn.pad_packed_sequence(tp, batch_first, padding_value=-3.0,
                                               total_length=total)
        assert_close(out, tout.detach())
        assert lens.tolist() == tlens.tolist()
    cot = rng.standard_normal(tuple(tout.shape))
    (out * chainrule.tensor(cot)).sum().backward()
    (tout * torch.tensor(cot)).sum().backward()
    assert_close(x.grad, tx.grad)


def test_lengths_as_tensor_and_trailing_dims() -> None:
    rng = np.random.default_rng(0)
    x, tx = _pair(rng, 3, 2, 2, 2)
    p = crnn.pack_padded_sequence(x, chainrule.tensor([3, 1]))
    tp = trnn.pack_padded_sequence(tx, torch.tensor([3, 1]))
    _same_packed(p, tp)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side) -> None:
    rng = np.random.default_rng(1)
    pairs = [_pair(rng, n, 3) for n in (2, 4, 1)]
    out = crnn.pad_sequence([p[0] for p in pairs], batch_first, 1.5, padding_side)
    tout = trnn.pad_sequence([p[1] for p in pairs], batch_first, 1.5, padding_side)
    assert_close(out, tout.detach())
    cot = rng.standard_normal(tuple(tout.shape))
    (out * chainrule.tensor(cot)).sum().backward()
    (tout * torch.tensor(cot)).sum().backward()
    for a, b in pairs:
        assert_close(a.grad, b.grad)


def test_pad_sequence_of_a_tensor_and_of_ints() -> None:
    assert_close(crnn.pad_sequence(chainrule.ones(2, 3)), trnn.pad_sequence(torch.ones(2, 3)))
    out = crnn.pad_sequence([chainrule.tensor([1, 2]), chainrule.tensor([3])], True)
    assert out.tolist() == [[1, 2], [3, 0]] and out.dtype == chainrule.int64


def test_pack_sequence_unpack_and_unpad() -> None:
    seqs = [np.arange(n, dtype=np.float64) + 10 * n for n in (2, 4, 3)]
    p = crnn.pack_sequence([chainrule.tensor(s) for s in seqs], enforce_sorted=False)
    tp = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _same_packed(p, tp)
    for ours, theirs in zip(crnn.unpack_sequence(p), trnn.unpack_sequence(tp)):
        assert_close(ours, theirs)
    padded = crnn.pad_sequence([chainrule.tensor(s) for s in seqs])
    for ours, s in zip(crnn.unpad_sequence(padded, chainrule.tensor([2, 4, 3])), seqs):
        assert_close(ours, chainrule.tensor(s))
    assert tuple(padded.shape) == (4, 3)  # unpad_sequence leaves its argument as it was


def test_invert_permutation_and_packed_sequence_methods() -> None:
    perm = chainrule.tensor([2, 0, 3, 1])
    assert crnn.invert_permutation(perm).tolist() == \
        trnn.invert_permutation(torch.tensor([2, 0, 3, 1])).tolist()
    assert crnn.invert_permutation(None) is None
    p = crnn.pack_sequence([chainrule.tensor([1., 2.]), chainrule.tensor([3.])])
    assert p.double().data.dtype == chainrule.float64
    assert p.to(chainrule.float32) is p
    assert p.long().data.dtype == chainrule.int64
    assert not p.is_cuda and not p.is_pinned()
    data, batch_sizes, sorted_i, unsorted_i = p
    assert batch_sizes.tolist() == [2, 1] and sorted_i is None and unsorted_i is None
    q = crnn.PackedSequence(p.data, p.batch_sizes, chainrule.tensor([1, 0]))
    assert q.unsorted_indices.tolist() == [1, 0]
    assert repr(crnn.PackedSequence(chainrule.ones(3), chainrule.tensor([2, 1]))) == \
        repr(trnn.PackedSequence(torch.ones(3), torch.tensor([2, 1]))).replace("torch", "chainrule")


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type and text are what is compared
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("case", [
    lambda lib, m: m.pack_padded_sequence(lib.zeros(3, 2, 1), [1, 2]),
    lambda lib, m: m.pack_padded_sequence(lib.zeros(3, 2, 1), [2, 0]),
    lambda lib, m: m.pack_padded_sequence(lib.zeros(3, 2, 1), [2]),
    lambda lib, m: m.pad_packed_sequence(m.pack_sequence([lib.ones(3), lib.ones(2)]),
                                         total_length=2),
    lambda lib, m: m.pack_sequence([lib.ones(1), lib.ones(2)]),
    lambda lib, m: m.pad_sequence([lib.ones(2, 3), lib.ones(1, 3)], padding_side="middle"),
    lambda lib, m: m.pad_sequence([]),
])
def test_errors_match_torch(case) -> None:
    theirs = _error(lambda: case(torch, trnn))
    assert theirs is not None
    assert _error(lambda: case(chainrule, crnn)) == theirs


def test_length_past_the_end_raises() -> None:
    with pytest.raises(RuntimeError, match="exceeds the padded sequence length"):
        crnn.pack_padded_sequence(chainrule.zeros(3, 2, 1), [4, 2])
