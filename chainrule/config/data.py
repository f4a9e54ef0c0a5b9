"""The ``data`` section: a dataset, its transforms, splits and loaders.

::

    data:
      dataset: MNIST            # MNIST, FashionMNIST, KMNIST, CIFAR10, CIFAR100, FakeData
      root: ../data/mnist       # relative to the config's folder; absent: the bundled sample
      transforms: [ToTensor, {type: Normalize, mean: [0.1307], std: [0.3081]}]
      augment: []               # extra transforms for the training split only, applied first
      splits: [0.8, 0.2]        # train/val (or train/val/test) fractions of the training set
      train_subset: 2000        # a random subset of the training set (before splitting)
      test_subset: 1000
      batch_size: 64
      val_batch_size: 1000
      num_workers: 0
      shuffle: true

Without ``splits`` there is no validation set. With three fractions the third part is the
test set; otherwise the dataset's own test split is. Subsets and splits are drawn from a
generator seeded with the config's ``seed`` (never from the global one, so building the data
does not change the model's initial weights). Without ``transforms`` the dataset's usual ones
are used (``ToTensor`` and the dataset's mean and standard deviation).

The training order of epoch ``e`` is a permutation drawn from ``seed + e`` by a
:class:`~chainrule.utils.data.DistributedSampler`: over the ranks of a job when a process
group is initialised (``chainrule train --nproc N``), over one rank otherwise. ``batch_size``
(and ``val_batch_size``) is the *global* batch: each of N ranks loads ``batch_size / N`` of
it, and the N pieces of step ``k`` are exactly the one-process run's batch ``k``, so the N
ranks train the same model as one process (up to rounding; see docs/guides/distributed.md).
Validation and test data are split over the ranks too, in order.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

import chainrule
from chainrule.config import _schema as schema
from chainrule.config._source import PathT, Source
from chainrule.utils.data import DataLoader, DistributedSampler, Subset, random_split
from chainrule.vision import datasets as vdatasets
from chainrule.vision import transforms as T

__all__ = ["DataSpec", "build_data", "DATA_KEYS", "DATASETS"]

DATA_KEYS = ("dataset", "root", "transforms", "augment", "splits", "train_subset",
             "test_subset", "batch_size", "val_batch_size", "num_workers", "shuffle",
             "drop_last", "size", "image_size", "num_classes")

#: dataset -> (native image shape for a probe, default normalisation mean and std)
DATASETS: dict[str, tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]] = {
    "MNIST": ((28, 28), (0.1307,), (0.3081,)),
    "FashionMNIST": ((28, 28), (0.2860,), (0.3530,)),
    "KMNIST": ((28, 28), (0.1918,), (0.3483,)),
    "CIFAR10": ((32, 32, 3), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "CIFAR100": ((32, 32, 3), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "FakeData": ((28, 28), (), ()),
}


@dataclass
class DataSpec:
    """The loaders and facts the rest of the config needs."""

    train: Any
    val: Any
    test: Any
    input_shape: tuple[int, ...]
    num_classes: int | None
    has_val: bool = False


def _transforms(src: Source, path: PathT, items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise src.error(path, "expected a list of transforms, e.g. [ToTensor, {type: Normalize, "
                              "mean: [0.5], std: [0.5]}]")
    registry = {n: getattr(T, n) for n in T.__all__ if isinstance(getattr(T, n), type)}
    out = []
    for i, item in enumerate(items):
        name, kwargs = schema.type_spec(src, path + (i,), item, "a transform")
        cls = schema.lookup(src, path + (i, "type") if isinstance(item, dict) else path + (i,),
                            name, registry, "transform")
        kwargs = {k: schema.numeric(v) for k, v in kwargs.items()}
        schema.check_kwargs(src, path + (i,), cls, kwargs)
        out.append(schema.construct(src, path + (i,), cls, kwargs))
    return out


def _image_shape(src: Source, path: PathT, name: str, spec: dict) -> tuple[int, ...]:
    if name == "FakeData":
        c, h, w = spec.get("image_size", (1, 28, 28))
        return (h, w) if c == 1 else (h, w, c)
    return DATASETS[name][0]


def _probe_shape(src: Source, path: PathT, transform: Any, image: tuple[int, ...]) -> tuple:
    from chainrule.vision.datasets.vision import image_from_array

    try:
        x = transform(image_from_array(np.zeros(image, dtype=np.uint8)))
    except Exception as e:  # a user transform: any failure is a config error
        raise src.error(path, f"the transforms fail on a {image} image: {e}") from None
    if not isinstance(x, chainrule.Tensor):
        raise src.error(path, f"the transforms must end in a tensor (add ToTensor), got "
                              f"{type(x).__name__}")
    return tuple(x.shape)


def build_data(src: Source, spec: Any, seed: int, *, load: bool = True,
               world_size: int | None = None) -> DataSpec:
    """Build the datasets and loaders of the ``data`` section (``load=False``: only the input
    shape, without reading any file); ``world_size``: split the data over that many ranks
    (default: the process group's, else one)."""
    path: PathT = ("data",)
    spec = schema.mapping(src, path, spec, "data")
    schema.check_keys(src, path, spec, DATA_KEYS, "data")
    name = schema.get_str(src, path, spec, "dataset", choices=DATASETS)
    if name != "FakeData":
        for key in ("size", "image_size", "num_classes"):
            if key in spec:
                raise src.error(path + (key,), f"only FakeData takes {key!r}")
    defaults = DATASETS[name]
    if "transforms" in spec:
        common = _transforms(src, path + ("transforms",), spec["transforms"])
    else:
        common = [T.ToTensor()] + ([T.Normalize(defaults[1], defaults[2])] if defaults[1] else [])
    augment = _transforms(src, path + ("augment",), spec.get("augment", []))
    plain_tf = T.Compose(common)
    train_tf = T.Compose(augment + common) if augment else plain_tf
    input_shape = _probe_shape(src, path + ("transforms",), plain_tf,
                               _image_shape(src, path, name, spec))
    batch_size = schema.get_int(src, path, spec, "batch_size", 64, minimum=1)
    val_batch = schema.get_int(src, path, spec, "val_batch_size", 1000, minimum=1)
    workers = schema.get_int(src, path, spec, "num_workers", 0, minimum=0)
    shuffle = schema.get_bool(src, path, spec, "shuffle", True)
    drop_last = schema.get_bool(src, path, spec, "drop_last", False)
    train_subset = schema.get_int(src, path, spec, "train_subset", None, minimum=1)
    test_subset = schema.get_int(src, path, spec, "test_subset", None, minimum=1)
    splits = _splits(src, path + ("splits",), spec.get("splits"))
    num_classes = spec.get("num_classes", 100 if name == "CIFAR100" else 10)
    rank, world = _rank_and_world(world_size)
    if batch_size % world:
        raise src.error(path + ("batch_size",), f"{batch_size} does not split over {world} "
                                                f"ranks: the batch size is the global batch, of "
                                                f"which each rank takes 1/{world}; choose a "
                                                f"multiple of {world}")
    if not load:
        return DataSpec(None, None, None, input_shape, num_classes, splits is not None)

    train_plain, train_aug, test = _datasets(src, path, spec, name, plain_tf, train_tf)
    g = chainrule.Generator().manual_seed(seed)
    indices = list(range(len(train_plain)))
    if train_subset is not None:
        if train_subset > len(indices):
            raise src.error(path + ("train_subset",), f"{train_subset} is more than the "
                                                      f"{len(indices)} training samples")
        indices = chainrule.randperm(len(indices), generator=g)[:train_subset].tolist()
    parts = [indices] if splits is None else \
        [list(s) for s in random_split(indices, splits, generator=g)]
    train = Subset(train_aug, parts[0])
    val = Subset(train_plain, parts[1]) if len(parts) > 1 else None
    if len(parts) > 2:
        test = Subset(train_plain, parts[2])
    elif test_subset is not None:
        if test_subset > len(test):
            raise src.error(path + ("test_subset",), f"{test_subset} is more than the "
                                                     f"{len(test)} test samples")
        test = Subset(test, chainrule.randperm(len(test), generator=g)[:test_subset].tolist())
    for label, ds in (("training", train), ("validation", val)):
        if ds is not None and len(ds) == 0:
            raise src.error(path + ("splits",), f"the {label} split is empty")

    def loader(ds: Any, batch: int, shuffle: bool, drop_last: bool = False) -> DataLoader:
        share = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)
        return DataLoader(ds, batch_size=-(-batch // world), sampler=share, drop_last=drop_last,
                          num_workers=workers)

    train_loader = loader(train, batch_size, shuffle, drop_last)
    val_loader = loader(val, val_batch, False) if val is not None else None
    test_loader = loader(test, val_batch, False)
    return DataSpec(train_loader, val_loader, test_loader, input_shape, num_classes,
                    val_loader is not None)


def _rank_and_world(world_size: int | None) -> tuple[int, int]:
    """This process's rank and the number of ranks the data is split over."""
    from chainrule import distributed as dist

    if dist.is_initialized():
        return dist.get_rank(), world_size or dist.get_world_size()
    return 0, world_size or 1


def _splits(src: Source, path: PathT, value: Any) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) not in (2, 3) or \
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise src.error(path, "expected two or three fractions, e.g. [0.8, 0.2] or "
                              "[0.6, 0.2, 0.2]")
    if any(v <= 0 for v in value) or not math.isclose(sum(value), 1.0):
        raise src.error(path, f"the fractions must be positive and sum to 1, got {value} "
                              f"(sum {sum(value):g})")
    return [float(v) for v in value]


def _datasets(src: Source, path: PathT, spec: dict, name: str, plain_tf: Any,
              train_tf: Any) -> tuple[Any, Any, Any]:
    cls = getattr(vdatasets, name)
    if name == "FakeData":
        if "root" in spec:
            raise src.error(path + ("root",), "FakeData reads no files: remove root")
        size = schema.get_int(src, path, spec, "size", 1000, minimum=1)
        image_size = spec.get("image_size", [1, 28, 28])
        if not isinstance(image_size, list) or len(image_size) != 3:
            raise src.error(path + ("image_size",), "expected [C, H, W]")
        classes = schema.get_int(src, path, spec, "num_classes", 10, minimum=1)
        kw = dict(image_size=tuple(image_size), num_classes=classes)
        train_plain = cls(size, transform=plain_tf, **kw)
        train_aug = cls(size, transform=train_tf, **kw) if train_tf is not plain_tf \
            else train_plain
        return train_plain, train_aug, cls(max(size // 5, 1), transform=plain_tf,
                                           random_offset=size, **kw)
    root_spec = spec.get("root")
    if root_spec is None or root_spec == "bundled":
        if name != "MNIST":
            raise src.error(path + ("root",), f"{name} needs a root folder (chainrule bundles "
                                              "only a sample of MNIST)")
        root = vdatasets.mnist_sample_root()
    else:
        if not isinstance(root_spec, str):
            raise src.error(path + ("root",), f"expected a folder path, got {root_spec!r}")
        root = str(src.resolve_path(path + ("root",), root_spec))
        if not os.path.isdir(root):
            rel = "the current directory" if src.origin(path + ("root",)) else \
                f"the config's folder {src.base_dir}"
            raise src.error(path + ("root",), f"no such folder: {root} (a relative root is "
                                              f"relative to {rel})")

    def make(train: bool, transform: Any) -> Any:
        try:
            return cls(root, train=train, transform=transform)
        except RuntimeError as e:
            raise src.error(path + ("root",), str(e)) from None

    train_plain = make(True, plain_tf)
    train_aug = make(True, train_tf) if train_tf is not plain_tf else train_plain
    return train_plain, train_aug, make(False, plain_tf)
