"""chainrule: a deep-learning framework you can read end to end, with PyTorch's API.

``import chainrule as torch`` runs PyTorch programs that use what chainrule has.
"""

from __future__ import annotations

import warnings as _warnings

# NumPy warns when a float operation overflows or divides by zero; PyTorch returns the inf or
# nan silently, and so does chainrule. Only floating-point warnings raised from chainrule's own
# modules are silenced: a user's NumPy code warns as before.
_warnings.filterwarnings(
    "ignore", message=r"(divide by zero|invalid value|overflow|underflow) encountered",
    category=RuntimeWarning, module=r"chainrule\.")

from chainrule._backend import device
from chainrule._backend import memory as _memory
from chainrule._backend.dtypes import (bool_ as bool, double, dtype, float, float16, float32,
                                       float64, get_default_dtype, half, int, int8, int16,
                                       int32, int64, long, promote_types, set_default_dtype,
                                       short, uint8)
from chainrule._backend.random import (Generator, default_generator, get_rng_state,
                                       initial_seed, manual_seed, seed, set_rng_state)
from chainrule._tensor_str import set_printoptions
from chainrule.tensor import Size, Tensor, attach_methods
from chainrule import autograd, testing
from chainrule.autograd import (enable_grad, inference_mode, is_grad_enabled,
                                is_inference_mode_enabled, no_grad, set_grad_enabled)
from chainrule.ops import elementwise as _elementwise
from chainrule.ops import fill as _fill
from chainrule.ops import indexing as _indexing
from chainrule.ops import linalg as _linalg
from chainrule.ops import movement as _movement
from chainrule.ops import nn_ops as _nn_ops
from chainrule.ops import reduce as _reduce
from chainrule.ops import sorting as _sorting
from chainrule.ops._util import result_type
from chainrule.ops.elementwise import *  # noqa: F403
from chainrule.ops.indexing import *  # noqa: F403
from chainrule.ops.linalg import *  # noqa: F403
from chainrule.ops.movement import *  # noqa: F403
from chainrule.ops.nn_ops import *  # noqa: F403
from chainrule.ops.reduce import *  # noqa: F403
from chainrule.ops.sorting import *  # noqa: F403
from chainrule.ops.conv import *  # noqa: F403
from chainrule.ops.pool import *  # noqa: F403
from chainrule.ops.norm import *  # noqa: F403
from chainrule.creation import *  # noqa: F403

for _module in (_elementwise, _reduce, _movement, _indexing, _linalg, _nn_ops, _fill, _sorting):
    attach_methods(_module)
del _module

from chainrule import accelerator, backends, cuda, func, toy, viz  # noqa: E402  (layers built on everything above)
from chainrule.viz import summary  # noqa: E402
from chainrule.serialization import load, save  # noqa: E402
from chainrule import utils  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule import optim  # noqa: E402
from chainrule import jit  # noqa: E402
from chainrule.jit import compile  # noqa: E402,A004  (torch.compile's name)
from chainrule import onnx  # noqa: E402

__version__ = "0.1.0"

# Keep large freed arrays for the next step instead of returning them to the OS (glibc only;
# CHAINRULE_MALLOC_TUNING=0 refuses it): see chainrule/_backend/memory.py.
_memory.tune_allocator()
