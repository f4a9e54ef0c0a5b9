"""Load an ONNX model as a chainrule Module (the op set :func:`export` writes, and a few more).

The initializers become the module's parameters (floating) and buffers (integer), named after
their ONNX names; ``forward`` runs the ONNX nodes in order, each as the chainrule function it
stands for. The result is an ordinary Module: it runs eagerly, trains, and traces with
:func:`chainrule.jit.trace` like any other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule.nn.functional as F
from chainrule import _backend
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import elementwise as E
from chainrule.ops import linalg as L
from chainrule.ops import movement as M
from chainrule.ops import reduce as R
from chainrule.tensor import Tensor

__all__ = ["load", "OnnxModule"]

_Op = Callable[[list[Any], dict[str, Any]], Any]
_OPS: dict[str, _Op] = {}


def _op(*names: str) -> Callable[[_Op], _Op]:
    def register(fn: _Op) -> _Op:
        for n in names:
            _OPS[n] = fn
        return fn
    return register


_UNARY = {"Neg": E.neg, "Exp": E.exp, "Log": E.log, "Sqrt": E.sqrt, "Tanh": E.tanh,
          "Sigmoid": E.sigmoid, "Relu": E.relu, "Abs": E.abs, "Sin": E.sin, "Cos": E.cos,
          "Erf": E.erf, "Floor": E.floor, "Ceil": E.ceil, "Sign": E.sign}
_BINARY = {"Add": E.add, "Sub": E.sub, "Mul": E.mul, "Div": E.div, "Pow": E.pow,
           "Max": E.maximum, "Min": E.minimum, "MatMul": L.matmul}

for _name, _fn in _UNARY.items():
    _OPS[_name] = lambda ins, attrs, fn=_fn: fn(ins[0])
for _name, _fn in _BINARY.items():
    _OPS[_name] = lambda ins, attrs, fn=_fn: fn(ins[0], ins[1])


def _ints(t: Any) -> list[int]:
    return [int(v) for v in (t.tolist() if isinstance(t, Tensor) else t)]


@_op("Identity")
def _identity(ins: list[Any], attrs: dict) -> Any:
    return ins[0]


@_op("Gemm")
def _gemm(ins: list[Any], attrs: dict) -> Any:
    a, b = ins[0], ins[1]
    if attrs.get("transA", 0):
        a = a.t()
    if attrs.get("transB", 0):
        b = b.t()
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if len(ins) > 2 and ins[2] is not None:
        return L.addmm(ins[2], a, b, beta=beta, alpha=alpha)
    out = L.matmul(a, b)
    return out if alpha == 1 else out * alpha


@_op("Transpose")
def _transpose(ins: list[Any], attrs: dict) -> Any:
    perm = attrs.get("perm")
    return ins[0].permute(*perm) if perm is not None else ins[0].permute(
        *reversed(range(ins[0].ndim)))


@_op("Reshape")
def _reshape(ins: list[Any], attrs: dict) -> Any:
    x, shape = ins[0], _ints(ins[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(*shape)


@_op("Flatten")
def _flatten(ins: list[Any], attrs: dict) -> Any:
    axis = attrs.get("axis", 1)
    x = ins[0]
    lead = int(np.prod(x.shape[:axis])) if axis else 1
    return x.reshape(lead, -1)


@_op("Expand")
def _expand(ins: list[Any], attrs: dict) -> Any:
    shape = tuple(np.broadcast_shapes(tuple(ins[0].shape), tuple(_ints(ins[1]))))
    return ins[0].expand(*shape)


def _pads(attrs: dict, nd: int) -> list[int]:
    pads = attrs.get("pads", [0] * (2 * nd))
    if pads[:nd] != pads[nd:]:
        raise NotImplementedError(f"ONNX load: asymmetric padding {pads} is not supported")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("ONNX load: auto_pad is not supported")
    return list(pads[:nd])


@_op("Conv")
def _conv(ins: list[Any], attrs: dict) -> Any:
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    nd = x.ndim - 2
    fn = F.conv2d if nd == 2 else F.conv1d
    return fn(x, w, b, stride=attrs.get("strides", [1] * nd), padding=_pads(attrs, nd),
              dilation=attrs.get("dilations", [1] * nd), groups=attrs.get("group", 1))


@_op("MaxPool")
def _max_pool(ins: list[Any], attrs: dict) -> Any:
    x = ins[0]
    nd = x.ndim - 2
    fn = F.max_pool2d if nd == 2 else F.max_pool1d
    k = attrs["kernel_shape"]
    return fn(x, k, stride=attrs.get("strides", k), padding=_pads(attrs, nd),
              dilation=attrs.get("dilations", [1] * nd), ceil_mode=bool(attrs.get("ceil_mode", 0)))


@_op("AveragePool")
def _avg_pool(ins: list[Any], attrs: dict) -> Any:
    x = ins[0]
    nd = x.ndim - 2
    fn = F.avg_pool2d if nd == 2 else F.avg_pool1d
    k = attrs["kernel_shape"]
    return fn(x, k, stride=attrs.get("strides", k), padding=_pads(attrs, nd),
              ceil_mode=bool(attrs.get("ceil_mode", 0)),
              count_include_pad=bool(attrs.get("count_include_pad", 0)))


@_op("GlobalAveragePool")
def _global_avg(ins: list[Any], attrs: dict) -> Any:
    x = ins[0]
    return R.mean(x, dim=tuple(range(2, x.ndim)), keepdim=True)


_OPS["Softmax"] = lambda ins, attrs: F.softmax(ins[0], dim=attrs.get("axis", -1))
_OPS["LogSoftmax"] = lambda ins, attrs: F.log_softmax(ins[0], dim=attrs.get("axis", -1))


def _reduce(fn: Callable[..., Any]) -> _Op:
    def op(ins: list[Any], attrs: dict) -> Any:
        axes = attrs.get("axes")
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = _ints(ins[1])
        keep = bool(attrs.get("keepdims", 1))
        dim = tuple(axes) if axes else tuple(range(ins[0].ndim))
        return fn(ins[0], dim=dim, keepdim=keep)
    return op


_OPS["ReduceSum"] = _reduce(R.sum)
_OPS["ReduceMean"] = _reduce(R.mean)


@_op("Cast")
def _cast(ins: list[Any], attrs: dict) -> Any:
    from onnx import helper

    from chainrule._backend import dtypes

    np_dtype = helper.tensor_dtype_to_np_dtype(attrs["to"])
    return ins[0].to(dtypes._FROM_NP[np.dtype(np_dtype)])


@_op("Concat")
def _concat(ins: list[Any], attrs: dict) -> Any:
    return M.cat(list(ins), dim=attrs["axis"])


@_op("Clip")
def _clip(ins: list[Any], attrs: dict) -> Any:
    lo = ins[1].item() if len(ins) > 1 and ins[1] is not None else attrs.get("min")
    hi = ins[2].item() if len(ins) > 2 and ins[2] is not None else attrs.get("max")
    return E.clamp(ins[0], lo, hi)


@_op("LeakyRelu")
def _leaky(ins: list[Any], attrs: dict) -> Any:
    return F.leaky_relu(ins[0], attrs.get("alpha", 0.01))


@_op("Where")
def _where(ins: list[Any], attrs: dict) -> Any:
    return E.where(ins[0], ins[1], ins[2])


@_op("BatchNormalization")
def _batch_norm(ins: list[Any], attrs: dict) -> Any:
    x, scale, bias, mean, var = ins[:5]
    return F.batch_norm(x, mean, var, scale, bias, training=False,
                        eps=attrs.get("epsilon", 1e-5))


@_op("Unsqueeze")
def _unsqueeze(ins: list[Any], attrs: dict) -> Any:
    axes = attrs.get("axes") or _ints(ins[1])
    x = ins[0]
    for a in sorted(a % (x.ndim + len(axes)) for a in axes):
        x = x.unsqueeze(a)
    return x


@_op("Squeeze")
def _squeeze(ins: list[Any], attrs: dict) -> Any:
    axes = attrs.get("axes") or (_ints(ins[1]) if len(ins) > 1 and ins[1] is not None else None)
    x = ins[0]
    if axes is None:
        return x.squeeze()
    for a in sorted((a % x.ndim for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


class OnnxModule(Module):
    """An ONNX graph as a Module: ``forward(*inputs)`` runs its nodes with chainrule's ops.

    Attributes:
        input_names, output_names: the graph's input and output names, in order.

    Example:
        >>> import chainrule
        >>> proto = chainrule.onnx.export(chainrule.nn.Linear(2, 2), chainrule.ones(1, 2),
        ...                               __import__("io").BytesIO(), input_names=["x"])
        >>> m = OnnxModule(proto)
        >>> m.input_names, [k.split("_")[0] for k in m.state_dict()]
        (['x'], ['init', 'init'])
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        from onnx import helper, numpy_helper

        graph = model.graph
        self._slots: dict[str, str] = {}
        for k, init in enumerate(graph.initializer):
            arr = np.array(numpy_helper.to_array(init))
            attr = f"init_{k}"
            self._slots[init.name] = attr
            t = _backend.wrap(np.ascontiguousarray(arr))
            if arr.dtype.kind == "f":
                setattr(self, attr, Parameter(t))
            else:
                self.register_buffer(attr, t)
        inits = {i.name for i in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in inits]
        self.output_names = [o.name for o in graph.output]
        self._nodes = []
        for node in graph.node:
            fn = _OPS.get(node.op_type)
            if fn is None and node.op_type != "Constant":
                raise NotImplementedError(f"ONNX load: no chainrule op for {node.op_type!r} "
                                          f"(node {node.name or node.output[0]!r})")
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            self._nodes.append((node.op_type, list(node.input), list(node.output), attrs))

    def forward(self, *inputs: Any) -> Any:
        if len(inputs) != len(self.input_names):
            raise TypeError(f"OnnxModule expects {len(self.input_names)} inputs "
                            f"({', '.join(self.input_names)}), got {len(inputs)}")
        env: dict[str, Any] = {"": None}
        for name, attr in self._slots.items():
            env[name] = getattr(self, attr)
        env.update(zip(self.input_names, inputs))
        for op_type, ins, outs, attrs in self._nodes:
            if op_type == "Constant":
                from onnx import numpy_helper

                value = attrs.get("value")
                env[outs[0]] = _backend.wrap(np.array(numpy_helper.to_array(value)))
                continue
            result = _OPS[op_type]([env[i] for i in ins], attrs)
            env[outs[0]] = result
        results = [env[n] for n in self.output_names]
        return results[0] if len(results) == 1 else tuple(results)


def load(f: Any) -> OnnxModule:
    """Load an ONNX model (a path, a file object, bytes or a ``ModelProto``) as a Module.

    Example:
        >>> import io
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        >>> buf = io.BytesIO()
        >>> _ = chainrule.onnx.export(model, chainrule.randn(2, 4), buf)
        >>> loaded = chainrule.onnx.load(buf.getvalue())
        >>> x = chainrule.randn(2, 4)
        >>> bool((loaded(x) - model(x)).abs().max() < 1e-6)
        True
    """
    import onnx

    if isinstance(f, onnx.ModelProto):
        proto = f
    elif isinstance(f, (bytes, bytearray)):
        proto = onnx.load_from_string(bytes(f))
    elif isinstance(f, (str, os.PathLike)):
        proto = onnx.load(os.fspath(f))
    else:
        proto = onnx.load(f)
    return OnnxModule(proto)
