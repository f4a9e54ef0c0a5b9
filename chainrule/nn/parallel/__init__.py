"""``chainrule.nn.parallel``: data-parallel training across processes (torch.nn.parallel).

Example:
    >>> from chainrule.nn.parallel import DistributedDataParallel
    >>> DistributedDataParallel.__mro__[1].__name__  # a Module wrapping the model
    'Module'
"""

from __future__ import annotations

from chainrule.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
