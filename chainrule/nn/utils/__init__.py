"""``chainrule.nn.utils``: gradient clipping, parameter/vector conversion, parametrizations,
variable-length sequences (``rnn``)."""

from __future__ import annotations

from chainrule.nn.utils import clip_grad as _clip_grad
from chainrule.nn.utils import convert_parameters as _convert_parameters
from chainrule.nn.utils import parametrizations, parametrize, rnn
from chainrule.nn.utils.clip_grad import *  # noqa: F403
from chainrule.nn.utils.convert_parameters import *  # noqa: F403

__all__ = ["parametrizations", "parametrize", "rnn", *_clip_grad.__all__,
           *_convert_parameters.__all__]
