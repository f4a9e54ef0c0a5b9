"""``chainrule.onnx``: export traced models to ONNX (extra ``onnx``: onnx + onnxruntime).

:func:`export` keeps ``torch.onnx.export``'s legacy, trace-based signature: the model is
traced once (:func:`chainrule.jit.trace`), its graph optimized, and each op translated into an
ONNX node with ``onnx.helper``; ``onnx.checker`` validates the result. :func:`load` reads an
ONNX model back as a chainrule Module.
"""

from __future__ import annotations

from chainrule.onnx._export import (
    CONVERTERS,
    DEFAULT_OPSET,
    UnsupportedOperatorError,
    export,
    to_onnx_graph,
)
from chainrule.onnx._load import OnnxModule, load

__all__ = ["export", "load", "OnnxModule", "to_onnx_graph", "CONVERTERS", "DEFAULT_OPSET",
           "UnsupportedOperatorError"]
