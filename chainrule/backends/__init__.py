"""``chainrule.backends``: torch's backend switches, for programs that query them.

Device-selection code in tutorials asks ``torch.backends.mps.is_available()`` and sets
``torch.backends.cudnn.benchmark``; here there is neither MPS nor cuDNN, and the flags are
plain attributes that change nothing.

Example:
    >>> import chainrule
    >>> chainrule.backends.mps.is_available(), chainrule.backends.cudnn.is_available()
    (False, False)
"""

from __future__ import annotations

from chainrule.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
