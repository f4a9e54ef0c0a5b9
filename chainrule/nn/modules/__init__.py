"""Layers as Modules: thin wrappers over ``chainrule.nn.functional``, one file per family."""

from __future__ import annotations

from chainrule.nn.modules.activation import *  # noqa: F403
from chainrule.nn.modules.batchnorm import *  # noqa: F403
from chainrule.nn.modules.container import *  # noqa: F403
from chainrule.nn.modules.conv import *  # noqa: F403
from chainrule.nn.modules.dropout import *  # noqa: F403
from chainrule.nn.modules.flatten import *  # noqa: F403
from chainrule.nn.modules.fold import *  # noqa: F403
from chainrule.nn.modules.linear import *  # noqa: F403
from chainrule.nn.modules.loss import *  # noqa: F403
from chainrule.nn.modules.module import *  # noqa: F403
from chainrule.nn.modules.normalization import *  # noqa: F403
from chainrule.nn.modules.pooling import *  # noqa: F403
from chainrule.nn.modules.rnn import *  # noqa: F403
from chainrule.nn.modules.sparse import *  # noqa: F403
from chainrule.nn.modules.transformer import *  # noqa: F403
from chainrule.nn.modules.upsampling import *  # noqa: F403
