"""``chainrule.nn.functional``: the stateless layer functions that nn Modules wrap (torch's F)."""

from __future__ import annotations

from chainrule.nn.functional._activation import *  # noqa: F403
from chainrule.nn.functional._attention import *  # noqa: F403
from chainrule.nn.functional._conv import *  # noqa: F403
from chainrule.nn.functional._dropout import *  # noqa: F403
from chainrule.nn.functional._linear import *  # noqa: F403
from chainrule.nn.functional._loss import *  # noqa: F403
from chainrule.nn.functional._attention import _canonical_mask, _none_or_dtype  # noqa: F401
