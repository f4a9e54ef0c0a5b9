"""Datasets, samplers and the DataLoader, as ``torch.utils.data``.

Example:
    >>> import chainrule
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(chainrule.arange(6.).reshape(3, 2), chainrule.tensor([0, 1, 1]))
    >>> [y.tolist() for _, y in DataLoader(ds, batch_size=2)]
    [[0, 1], [1]]
"""

from __future__ import annotations

from chainrule.utils.data._collate import default_collate, default_convert
from chainrule.utils.data._worker import get_worker_info
from chainrule.utils.data.dataloader import DataLoader
from chainrule.utils.data.dataset import (
                                          ChainDataset,
                                          ConcatDataset,
                                          Dataset,
                                          IterableDataset,
                                          Subset,
                                          TensorDataset,
                                          random_split,
)
from chainrule.utils.data.distributed import DistributedSampler
from chainrule.utils.data.sampler import (
                                          BatchSampler,
                                          RandomSampler,
                                          Sampler,
                                          SequentialSampler,
                                          SubsetRandomSampler,
                                          WeightedRandomSampler,
)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset",
           "Subset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info", "DistributedSampler"]
