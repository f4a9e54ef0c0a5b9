"""chainrule.utils.data in the main process, against torch.utils.data's semantics."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule
from chainrule.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

Point = collections.namedtuple("Point", ["x", "y"])


def to_numpy(obj):
    """Turn a collated chainrule or torch structure into comparable plain Python/NumPy."""
    if isinstance(obj, (chainrule.Tensor, torch.Tensor)):
        return ("tensor", str(obj.dtype).split(".")[-1], np.asarray(obj.numpy()))
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: to_numpy(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, [to_numpy(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [to_numpy(v) for v in obj])
    return obj


def assert_same_structure(ours, theirs):
    a, b = to_numpy(ours), to_numpy(theirs)
    _assert_equal(a, b)


def _assert_equal(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert a[1] == b[1], f"dtype {a[1]} != {b[1]}"
        np.testing.assert_array_equal(a[2], b[2])
        assert a[2].shape == b[2].shape
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_equal(x, y)
    else:
        assert a == b


def twin(batch):
    """The same batch built from torch tensors where ours has chainrule tensors."""
    if isinstance(batch, chainrule.Tensor):
        return torch.from_numpy(batch.numpy().copy())
    if isinstance(batch, dict):
        return type(batch)((k, twin(v)) for k, v in batch.items())
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(twin(v) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(twin(v) for v in batch)
    return batch


RNG = np.random.default_rng(0)
COLLATE_CASES = {
    "tensors": [chainrule.randn(3, 2) for _ in range(4)],
    "numpy": [RNG.standard_normal((2, 3)).astype(np.float32) for _ in range(4)],
    "numpy_int": [np.arange(3, dtype=np.int32) + i for i in range(4)],
    "floats": [0.5, 1.5, 2.5],
    "ints": [1, 2, 3],
    "bools": [True, False],
    "numpy_scalars": [np.float32(1.5), np.float32(2.5)],
    "strings": ["a", "b"],
    "tuples": [(chainrule.ones(2), 1, "x"), (chainrule.zeros(2), 0, "y")],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"img": np.zeros((2, 2), np.uint8), "label": 3, "meta": {"id": 7}},
              {"img": np.ones((2, 2), np.uint8), "label": 4, "meta": {"id": 8}}],
    "ordered_dict": [collections.OrderedDict(b=1, a=2.0), collections.OrderedDict(b=3, a=4.0)],
    "namedtuples": [Point(1, np.float64(2.0)), Point(3, np.float64(4.0))],
}


@pytest.mark.parametrize("name", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    assert_same_structure(default_collate(batch), tud.default_collate(twin(batch)))


@pytest.mark.parametrize("name", ["numpy", "dicts", "namedtuples", "tuples", "lists"])
def test_default_convert_matches_torch(name):
    sample = COLLATE_CASES[name][0]
    assert_same_structure(default_convert(sample), tud.default_convert(twin(sample)))


def test_default_collate_errors():
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_stacks_with_autograd():
    xs = [chainrule.randn(3, requires_grad=True) for _ in range(2)]
    out = default_collate(xs)
    g = chainrule.randn(2, 3)
    out.backward(g)
    np.testing.assert_array_equal(xs[1].grad.numpy(), g.numpy()[1])


def test_tensor_dataset_and_errors():
    x, y = chainrule.randn(5, 3), chainrule.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[2])
    assert yi.item() == 2
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, chainrule.arange(4))
    with pytest.raises(AssertionError):
        tud.TensorDataset(torch.zeros(5), torch.zeros(4))


def test_batched_fetch_equals_per_sample_collate():
    x, y = chainrule.randn(20, 3, 2), chainrule.randint(0, 5, (20,))
    ds = TensorDataset(x, y)
    idx = [3, 1, 19, 7]
    fast = ds._getbatch(idx)
    slow = default_collate([ds[i] for i in idx])
    assert_same_structure(fast, slow)
    assert_same_structure(default_collate(ds.__getitems__(idx)), slow)
    # a Subset forwards both batched paths through its indices
    sub = Subset(ds, [10, 11, 12, 13])
    assert_same_structure(sub._getbatch([0, 3]), default_collate([ds[10], ds[13]]))
    assert_same_structure(default_collate(sub.__getitems__([0, 3])),
                          default_collate([ds[10], ds[13]]))


def test_custom_collate_sees_samples():
    ds = TensorDataset(chainrule.arange(6), chainrule.arange(6) * 10)
    seen = []

    def collate(batch):
        seen.append(batch)
        return len(batch)

    assert list(DataLoader(ds, batch_size=4, collate_fn=collate)) == [4, 2]
    assert isinstance(seen[0], list) and isinstance(seen[0][0], tuple)
    assert seen[0][1][1].item() == 10


def test_concat_subset_chain():
    a = TensorDataset(chainrule.arange(3))
    b = TensorDataset(chainrule.arange(10, 14))
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert [cat[i][0].item() for i in range(7)] == [0, 1, 2, 10, 11, 12, 13]
    assert cat[-1][0].item() == 13
    assert cat.cumulative_sizes == tud.ConcatDataset([range(3), range(4)]).cumulative_sizes
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-8]
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        ConcatDataset([])
    sub = Subset(cat, [6, 0])
    assert [sub[i][0].item() for i in range(2)] == [13, 0]

    class Stream(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]
    assert isinstance(Stream(1) + Stream(1), ChainDataset)
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([a, Stream(2)])


def test_random_split_lengths_and_fractions():
    g = chainrule.Generator().manual_seed(1)
    parts = random_split(range(10), [3, 7], generator=g)
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = random_split(range(10), [3, 7], generator=chainrule.Generator().manual_seed(1))
    assert list(again[0]) == list(parts[0])
    # fractions: floor, then the remainder round-robin (torch's rule)
    for fracs in ([0.6, 0.2, 0.2], [0.5, 0.5], [0.33, 0.33, 0.34], [0.1, 0.9]):
        for n in (10, 11, 13):
            ours = [len(p) for p in random_split(range(n), fracs)]
            theirs = [len(p) for p in tud.random_split(range(n), fracs)]
            assert ours == theirs
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        random_split(range(2), [0.9, 0.05, 0.05])
    assert any("Length of split at index" in str(x.message) for x in w)


def test_sequential_and_batch_sampler_match_torch():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = list(BatchSampler(SequentialSampler(range(n)), bs, drop))
        theirs = list(tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop))
        assert ours == theirs
        assert len(BatchSampler(SequentialSampler(range(n)), bs, drop)) == len(theirs)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 1)


def test_random_sampler():
    g = chainrule.Generator().manual_seed(0)
    order = list(RandomSampler(range(50), generator=g))
    assert sorted(order) == list(range(50)) and order != list(range(50))
    g2 = chainrule.Generator().manual_seed(0)
    assert list(RandomSampler(range(50), generator=g2)) == order
    # num_samples larger than the dataset: whole permutations, then a partial one
    more = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(more) == 10 and sorted(more[:4]) == [0, 1, 2, 3] and sorted(more[4:8]) == [0, 1, 2, 3]
    repl = list(RandomSampler(range(3), replacement=True, num_samples=100, generator=g))
    assert len(repl) == 100 and set(repl) == {0, 1, 2}
    # without a generator: the global seed fixes it
    chainrule.manual_seed(3)
    a = list(RandomSampler(range(20)))
    chainrule.manual_seed(3)
    assert list(RandomSampler(range(20))) == a
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)


def test_subset_random_and_weighted_samplers():
    g = chainrule.Generator().manual_seed(0)
    s = list(SubsetRandomSampler([5, 7, 9, 11], generator=g))
    assert sorted(s) == [5, 7, 9, 11]
    w = WeightedRandomSampler([0.0, 10.0, 0.0, 1.0], 400, generator=g)
    draws = np.array(list(w))
    assert len(draws) == 400 and set(draws.tolist()) <= {1, 3}
    assert 0.8 < (draws == 1).mean() < 0.98  # expected 10/11
    no_repl = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=g))
    assert sorted(no_repl) == [0, 1, 2]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)


def test_dataloader_batches_match_torch_without_shuffle():
    x = np.arange(46, dtype=np.float32).reshape(23, 2)
    y = np.arange(23)
    ours = TensorDataset(chainrule.from_numpy(x), chainrule.from_numpy(y))
    theirs = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    for kw in ({"batch_size": 5}, {"batch_size": 5, "drop_last": True}, {"batch_size": 1},
               {"batch_size": 23}, {"batch_size": 30, "drop_last": True}):
        a = list(DataLoader(ours, **kw))
        b = list(tud.DataLoader(theirs, **kw))
        assert len(a) == len(b) == len(DataLoader(ours, **kw)) == len(tud.DataLoader(theirs, **kw))
        for ba, bb in zip(a, b):
            assert_same_structure(ba, bb)


def test_dataloader_shuffle_invariants():
    ds = TensorDataset(chainrule.arange(100))
    g = chainrule.Generator().manual_seed(7)
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=g)
    epoch1 = np.concatenate([b[0].numpy() for b in loader])
    epoch2 = np.concatenate([b[0].numpy() for b in loader])
    assert sorted(epoch1.tolist()) == list(range(100)) == sorted(epoch2.tolist())
    assert epoch1.tolist() != epoch2.tolist()  # reshuffled each epoch
    g.manual_seed(7)
    again = np.concatenate([b[0].numpy() for b in loader])
    np.testing.assert_array_equal(again, epoch1)
    # drop_last keeps only full batches of a permutation
    dropped = list(DataLoader(ds, batch_size=16, shuffle=True, drop_last=True))
    assert len(dropped) == 6 and all(len(b[0]) == 16 for b in dropped)
    assert len(set(np.concatenate([b[0].numpy() for b in dropped]).tolist())) == 96
    # the global seed fixes a loader built without a generator
    chainrule.manual_seed(11)
    a = [b[0].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]
    chainrule.manual_seed(11)
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)] == a


def test_dataloader_sampler_batch_sampler_and_no_batching():
    ds = TensorDataset(chainrule.arange(10))
    out = [b[0].tolist() for b in DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 6])]
    assert out == [[9, 8, 7], [6]]
    out = [b[0].tolist() for b in DataLoader(ds, batch_sampler=[[1, 2], [5]])]
    assert out == [[1, 2], [5]]
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 10 and items[3][0].item() == 3 and items[3][0].dim() == 0
    arrays = list(DataLoader([np.arange(2)] * 3, batch_size=None))
    assert isinstance(arrays[0], chainrule.Tensor)  # default_convert without batching


def test_dataloader_argument_errors_match_torch():
    ds = TensorDataset(chainrule.arange(4))
    tds = tud.TensorDataset(torch.arange(4))
    cases = [
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"timeout": -1}, "timeout option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            DataLoader(ds, **kwargs)
        with pytest.raises(ValueError, match=message):
            tud.DataLoader(tds, **kwargs)
    loader = DataLoader(ds, batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3


class Countdown(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset_in_main_process():
    loader = DataLoader(Countdown(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(loader) == 3
    assert [b.tolist() for b in DataLoader(Countdown(7), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Countdown(7), batch_size=3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Countdown(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Countdown(3), sampler=[0])
    assert get_worker_info() is None


def test_map_dataset_base_class():
    with pytest.raises(NotImplementedError):
        Dataset()[0]

    class Pairs(Dataset):
        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": i}

        def __len__(self):
            return 5

    batch = next(iter(DataLoader(Pairs(), batch_size=5)))
    np.testing.assert_array_equal(batch["x"].numpy()[:, 0], np.arange(5, dtype=np.float32))
    assert batch["y"].dtype == chainrule.int64
