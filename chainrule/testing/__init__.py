"""Public helpers for people writing ops: ``assert_close`` and checks against PyTorch.

``compare_with_torch`` (and the ``OpSpec`` table form used by chainrule's own tests) check an
op's forward, vjp and jvp against PyTorch when it is installed.
"""

from __future__ import annotations

from chainrule.testing._comparison import assert_close, default_tolerances
from chainrule.testing._torch import (OpSpec, check_against_torch, check_gradients,
                                     compare_with_torch)

__all__ = ["assert_close", "default_tolerances", "compare_with_torch", "OpSpec",
           "check_against_torch", "check_gradients"]
