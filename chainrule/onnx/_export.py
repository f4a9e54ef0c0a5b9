"""Export a traced graph to ONNX, built with ``onnx.helper`` and checked with ``onnx.checker``.

The model is traced in evaluation mode under ``no_grad`` (:func:`chainrule.jit.trace`), the
graph is cleaned by the passes that keep its ops (dead code, common subexpressions, constant
folding, simplification: batch norm in eval mode folds into one scale and one shift), and
each node is translated by a converter of :data:`CONVERTERS`. Parameters and buffers become
initializers named as in ``state_dict()``.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.jit import optimize, trace
from chainrule.jit._ir import Graph, Kernel, Node, Value
from chainrule.nn.modules.module import Module

__all__ = ["export", "CONVERTERS", "UnsupportedOperatorError", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17


class UnsupportedOperatorError(RuntimeError):
    """The graph holds an op with no ONNX translation (the message names it)."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError("chainrule.onnx needs the 'onnx' package: pip install "
                          "'chainrule[onnx]'") from exc
    return onnx


class _Builder:
    """The ONNX nodes and initializers being written, and the name of each graph value."""

    def __init__(self, onnx: Any, opset: int, dynamic_batch: bool) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[int, str] = {}
        self.folded: set[int] = set()  # permute nodes translated as a Gemm's transB
        self._n = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def name(self, v: Value) -> str:
        return self.names[id(v)]

    def initializer(self, array: np.ndarray, name: str) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, array: Any, hint: str = "const") -> str:
        return self.initializer(np.asarray(array), self.fresh(hint))

    def add(self, op: str, inputs: list[str], outputs: list[str] | None = None,
            **attrs: Any) -> str:
        outputs = outputs or [self.fresh(op.lower())]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0]


Converter = Callable[[_Builder, Node, list[str], str], None]
CONVERTERS: dict[str, Converter] = {}


def _converter(*names: str) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for n in names:
            CONVERTERS[n] = fn
        return fn
    return register


_SIMPLE = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg", "exp": "Exp",
           "log": "Log", "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
           "abs": "Abs", "sin": "Sin", "cos": "Cos", "maximum": "Max", "minimum": "Min",
           "matmul": "MatMul", "mm": "MatMul", "bmm": "MatMul", "clone": "Identity",
           "detach": "Identity", "erf": "Erf", "sign": "Sign", "floor": "Floor", "ceil": "Ceil",
           "where": "Where"}


def _simple(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    b.add(_SIMPLE[node.target.name], ins, [out])


for _n in _SIMPLE:
    CONVERTERS[_n] = _simple


@_converter("pow_scalar")
def _pow(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    e = b.const(np.asarray(node.params["exponent"], dtype=node.out.dtype), "exponent")
    b.add("Pow", [ins[0], e], [out])


@_converter("addmm")
def _addmm(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    c, x, y = ins
    p = node.params
    trans_b = None
    src = node.inputs[2].producer
    if id(src) in b.folded:  # Linear's weight.t(): Gemm transposes it itself
        y, trans_b = b.name(src.inputs[0]), 1
    b.add("Gemm", [x, y, c], [out], alpha=float(p["alpha"]), beta=float(p["beta"]),
          transB=trans_b)


@_converter("permute")
def _permute(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    b.add("Transpose", ins, [out], perm=list(node.params["dims"]))


@_converter("reshape")
def _reshape(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    shape = list(node.params["shape"])
    src = node.inputs[0].shape
    if b.dynamic_batch and shape and src and shape[0] == src[0]:
        shape[0] = 0  # ONNX Reshape: 0 keeps the input's size (the batch stays dynamic)
    b.add("Reshape", [ins[0], b.const(np.asarray(shape, dtype=np.int64), "shape")], [out])


@_converter("expand")
def _expand(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    shape = np.asarray(node.params["shape"], dtype=np.int64)
    b.add("Expand", [ins[0], b.const(shape, "shape")], [out])


@_converter("to_copy")
def _cast(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    from onnx import helper

    b.add("Cast", ins, [out], to=helper.np_dtype_to_tensor_dtype(node.out.dtype))


def _axes(dim: Any, ndim: int) -> list[int]:
    if dim is None:
        return list(range(ndim))
    return [int(d) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]


@_converter("sum", "mean")
def _reduce(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    p = node.params
    axes = _axes(p.get("dim"), len(node.inputs[0].shape))
    keep = int(bool(p.get("keepdim", False)))
    op = "ReduceSum" if node.target.name == "sum" else "ReduceMean"
    if op == "ReduceSum" or b.opset >= 18:  # axes became an input (ReduceSum at opset 13)
        b.add(op, [ins[0], b.const(np.asarray(axes, dtype=np.int64), "axes")], [out],
              keepdims=keep)
    else:
        b.add(op, ins, [out], axes=axes, keepdims=keep)


@_converter("softmax", "log_softmax")
def _softmax(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    op = "Softmax" if node.target.name == "softmax" else "LogSoftmax"
    b.add(op, ins, [out], axis=int(node.params["dim"]))


@_converter("convolution")
def _conv(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    p = node.params
    nd = len(node.inputs[0].shape) - 2

    def tup(v: Any) -> list[int]:
        return [int(x) for x in (v if isinstance(v, (tuple, list)) else (v,) * nd)]

    pad = tup(p["padding"])
    kernel = list(node.inputs[1].shape[2:])
    b.add("Conv", ins, [out], strides=tup(p["stride"]), pads=pad + pad,
          dilations=tup(p["dilation"]), group=int(p["groups"]), kernel_shape=kernel)


@_converter("avg_pool")
def _avg_pool(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    p = node.params
    if p.get("divisor_override") is not None:
        raise UnsupportedOperatorError("avg_pool with divisor_override has no ONNX form")
    pad = list(p["padding"])
    b.add("AveragePool", ins, [out], kernel_shape=list(p["kernel_size"]),
          strides=list(p["stride"]), pads=pad + pad, ceil_mode=int(bool(p["ceil_mode"])),
          count_include_pad=int(bool(p["count_include_pad"])))


@_converter("max_pool1d", "max_pool2d")
def _max_pool(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    call = node.target
    args = call.shown
    nd = len(node.inputs[0].shape) - 2

    def tup(v: Any, fill: int) -> list[int]:
        if v is None or (isinstance(v, (tuple, list)) and not v):
            return []
        vals = [int(x) for x in (v if isinstance(v, (tuple, list)) else (v,))]
        return vals * nd if len(vals) == 1 else vals

    k = tup(args["kernel_size"], 1)
    s = tup(args.get("stride"), 1) or k
    pad = tup(args.get("padding", 0), 0) or [0] * nd
    d = tup(args.get("dilation", 1), 1) or [1] * nd
    b.add("MaxPool", ins, [out], kernel_shape=k, strides=s, pads=pad + pad, dilations=d,
          ceil_mode=int(bool(args.get("ceil_mode", False))))


@_converter("clamp")
def _clamp(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    p = node.params
    dt = node.out.dtype
    lo = "" if p.get("min") is None else b.const(np.asarray(p["min"], dtype=dt), "min")
    hi = "" if p.get("max") is None else b.const(np.asarray(p["max"], dtype=dt), "max")
    b.add("Clip", [ins[0], lo, hi], [out])


@_converter("leaky_relu")
def _leaky(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    b.add("LeakyRelu", ins, [out], alpha=float(node.params["negative_slope"]))


@_converter("cat")
def _cat(b: _Builder, node: Node, ins: list[str], out: str) -> None:
    b.add("Concat", ins, [out], axis=int(node.params["dim"]))


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    modules = list(model.modules()) if isinstance(model, Module) else []
    flags = [m.training for m in modules]
    try:
        for m in modules:
            m.training = False
        yield
    finally:
        for m, f in zip(modules, flags):
            m.training = f


def to_onnx_graph(graph: Graph, *, input_names: list[str] | None = None,
                  output_names: list[str] | None = None, opset_version: int = DEFAULT_OPSET,
                  dynamic_axes: dict[str, Any] | None = None, export_params: bool = True,
                  name: str = "chainrule") -> Any:
    """Translate a traced graph into an ``onnx.ModelProto`` (checked by ``onnx.checker``).

    The arguments are :func:`export`'s; the graph's parameters become initializers (or graph
    inputs without ``export_params``).

    Example:
        >>> import chainrule
        >>> from chainrule import jit
        >>> g = jit.trace(lambda x: x.exp().sum(dim=1), chainrule.ones(2, 3))
        >>> [n.op_type for n in to_onnx_graph(g).graph.node]
        ['Exp', 'ReduceSum', 'Identity']
    """
    onnx = _onnx()
    helper = onnx.helper
    dynamic_axes = dict(dynamic_axes or {})
    in_names = list(input_names or [v.name for v in graph.inputs])
    n_out = len(graph.outputs)
    out_names = list(output_names or (["output"] if n_out == 1 else
                                      [f"output_{i}" for i in range(n_out)]))
    if len(in_names) != len(graph.inputs):
        raise ValueError(f"input_names has {len(in_names)} names for {len(graph.inputs)} inputs")
    if len(out_names) != n_out:
        raise ValueError(f"output_names has {len(out_names)} names for {n_out} outputs")
    dynamic_batch = any(0 in _axes_of(spec) for spec in dynamic_axes.values())
    b = _Builder(onnx, opset_version, dynamic_batch)
    for v, n in zip(graph.inputs, in_names):
        b.names[id(v)] = n
    graph_inputs = []
    used = {id(u) for node in graph.nodes for u in node.inputs} | {id(u) for u in graph.outputs}
    for v in graph.params:
        if id(v) in used:
            b.names[id(v)] = v.name
            if export_params:
                b.initializer(v.ref._data, v.name)
            else:
                graph_inputs.append(helper.make_tensor_value_info(
                    v.name, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)))
    taken = set(b.names.values())
    for v in graph.consts:
        if id(v) in used:
            # a parameter frozen into a constant keeps its state_dict name
            name = v.name if "." in v.name and v.name not in taken else b.fresh("const")
            taken.add(name)
            b.names[id(v)] = b.initializer(v.data, name)
    users = graph.users()
    for node in graph.nodes:
        if (not isinstance(node.target, Kernel) and node.target.name == "permute"
                and node.params["dims"] == (1, 0) and node.out not in graph.outputs
                and all(u.target.name == "addmm" and u.inputs[2] is node.out
                        and u.inputs[1] is not node.out and u.inputs[0] is not node.out
                        for u in users.get(node.out, []))):
            b.folded.add(id(node))
    for node in graph.nodes:
        if id(node) in b.folded:
            continue
        target = node.target
        if isinstance(target, Kernel) and target.name not in CONVERTERS:
            raise UnsupportedOperatorError(
                f"ONNX export: no translation for the graph node {target.name!r} (a "
                f"{type(target).__name__}); export in evaluation mode, or add a converter "
                f"to chainrule.onnx.CONVERTERS")
        conv = CONVERTERS.get(target.name)
        if conv is None:
            raise UnsupportedOperatorError(
                f"ONNX export: the op {target.name!r} has no ONNX translation yet (add one "
                f"to chainrule.onnx.CONVERTERS)")
        out = node.outputs[0]
        for o in node.outputs[1:]:
            if o is not None and id(o) in used:
                raise UnsupportedOperatorError(
                    f"ONNX export: output {o.index} of {target.name!r} is used, which the "
                    f"translation does not produce")
        ins = [b.names.get(id(v), "") for v in node.inputs]  # ("": a folded transpose)
        oname = b.fresh(target.name)
        b.names[id(out)] = oname
        conv(b, node, ins, oname)
    final = []
    for v, n in zip(graph.outputs, out_names):
        b.add("Identity", [b.name(v)], [n])
        final.append(n)

    def value_info(name: str, v: Value) -> Any:
        dims: list[Any] = list(v.shape)
        axes = dynamic_axes.get(name)
        if axes is not None:
            for ax, label in _axes_items(axes, name):
                dims[ax] = label
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype),
                                             dims)

    inputs = [value_info(n, v) for v, n in zip(graph.inputs, in_names)] + graph_inputs
    outputs = [value_info(n, v) for v, n in zip(graph.outputs, out_names)]
    g = helper.make_graph(b.nodes, name, inputs, outputs, initializer=b.initializers)
    model = helper.make_model(g, producer_name="chainrule",
                              opset_imports=[helper.make_opsetid("", opset_version)])
    model.ir_version = min(model.ir_version, 8 if opset_version <= 17 else model.ir_version)
    onnx.checker.check_model(model)
    return model


def _freeze(graph: Graph) -> Graph:
    """Parameters and buffers as constants (their values now): an exported model's weights
    are fixed, so constant folding may compute through them (batch norm's scale and shift in
    evaluation mode fold into one constant each)."""
    g = graph.copy()
    for v in g.params:
        v.kind, v.data, v.ref = "const", v.ref._data, None
    g.consts = g.params + g.consts
    g.params = []
    return g


def _axes_of(spec: Any) -> list[int]:
    return list(spec) if isinstance(spec, (list, tuple)) else list(dict(spec))


def _axes_items(spec: Any, name: str) -> list[tuple[int, str]]:
    if isinstance(spec, dict):
        return [(int(k), str(v)) for k, v in spec.items()]
    return [(int(ax), f"{name}_dynamic_axes_{i + 1}") for i, ax in enumerate(spec)]


def export(model: Any, args: Any, f: Any, export_params: bool = True, verbose: bool = False,
           training: Any = None, input_names: list[str] | None = None,
           output_names: list[str] | None = None, operator_export_type: Any = None,
           opset_version: int | None = None, do_constant_folding: bool = True,
           dynamic_axes: dict[str, Any] | None = None,
           keep_initializers_as_inputs: bool | None = None, custom_opsets: Any = None,
           export_modules_as_functions: bool = False) -> Any:
    """Export ``model`` to ONNX, as ``torch.onnx.export`` (its legacy, trace-based form).

    Args:
        model: an ``nn.Module`` (exported in evaluation mode) or a function of tensors.
        args: the example input: a tensor or a tuple of arguments.
        f: a path, or a binary file object, to write the model to.
        export_params: store the parameters as initializers (else they become inputs).
        verbose: print the traced graph before translating it.
        training: accepted for compatibility; the export is always in evaluation mode.
        input_names, output_names: names of the graph's inputs and outputs.
        operator_export_type, custom_opsets, export_modules_as_functions: accepted for
            compatibility, ignored.
        opset_version: the ONNX opset (default 17).
        do_constant_folding: run the graph passes before translating (default True).
        dynamic_axes: ``{name: [axes]}`` or ``{name: {axis: label}}``: axes whose size may
            change (a dynamic batch dimension keeps reshapes batch-agnostic).
        keep_initializers_as_inputs: accepted for compatibility, ignored.

    Returns:
        The ``onnx.ModelProto`` (also written to ``f``).

    Example:
        >>> import io
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        >>> proto = chainrule.onnx.export(model, chainrule.randn(2, 4), io.BytesIO(),
        ...                               input_names=["x"], dynamic_axes={"x": {0: "batch"}})
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Relu', 'Identity']
    """
    onnx = _onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    example = args if isinstance(args, tuple) else (args,)
    with _eval_mode(model), no_grad():
        graph = trace(model, example)
    if export_params:
        graph = _freeze(graph)
    if do_constant_folding:
        graph = optimize(graph, fuse=False, plan_memory=False)
    if verbose:
        print(graph)
    proto = to_onnx_graph(graph, input_names=input_names, output_names=output_names,
                          opset_version=opset, dynamic_axes=dynamic_axes,
                          export_params=export_params,
                          name=type(model).__name__ if isinstance(model, Module) else "graph")
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    del onnx
    return proto
