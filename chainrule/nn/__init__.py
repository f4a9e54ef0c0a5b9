"""``chainrule.nn``: Modules, Parameters, layers, losses, initialisers (torch.nn's API)."""

from __future__ import annotations

from chainrule.nn import functional, init, regularization, utils  # noqa: F401
from chainrule.nn.modules import *  # noqa: F403
from chainrule.nn.parameter import *  # noqa: F403
from chainrule.nn import parallel  # noqa: F401,E402  (DistributedDataParallel)
