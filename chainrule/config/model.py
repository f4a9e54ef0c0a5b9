"""Models from configs: a Caffe-style stack of named layers, or a DAG of them.

Each entry of ``model`` is ``{name, type, inputs?, **arguments}``. ``type`` is the name of a
Module in :mod:`chainrule.nn` (``Linear``, ``Conv2d``, ``ReLU``...) or one of :class:`Add`
and :class:`Concat` defined here; the arguments are that class's constructor arguments, so a
config layer is exactly the Module eager code builds. Without ``inputs`` a layer takes the
previous layer's output (the first one takes ``input``, the model's input); with ``inputs``
(a name or a list of names of earlier layers, or ``input``) it can branch, concatenate and
add, e.g. a residual block::

    - {name: conv1, type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}
    - {name: relu1, type: ReLU}
    - {name: conv2, type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}
    - {name: skip, type: Add, inputs: [conv2, relu0]}

The arguments that follow from the input (``in_features``, ``in_channels``,
``num_features``, ``num_channels``, ``normalized_shape``) may be left out: the builder runs a
zero batch through each layer as it is built (in eval mode, without gradients, drawing no
random numbers), so it knows the shape flowing into the next one, and a shape that does not
fit names the layer and both shapes before any data is read.

A pure stack becomes an ``nn.Sequential`` whose children carry the layers' names; a DAG
becomes a :class:`LayerGraph`.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import chainrule
from chainrule import nn
from chainrule.config import _schema as schema
from chainrule.config._source import PathT, Source, did_you_mean
from chainrule.tensor import Tensor

__all__ = ["Add", "Concat", "LayerGraph", "LayerInfo", "build_model", "layer_types"]

INPUT = "input"
_RESERVED = ("name", "type", "inputs")
_CONTAINERS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
               "ParameterDict"}


class Add(nn.Module):
    """Element-wise sum of the inputs, ``out = x_1 + x_2 + ...``: the join of a residual
    connection. Inputs must have the same shape.

    Shape:
        - Inputs: any number of tensors of the same shape ``(*)``
        - Output: ``(*)``

    Example:
        >>> Add()(chainrule.ones(2), chainrule.ones(2))
        tensor([2., 2.])
    """

    def forward(self, *inputs: Tensor) -> Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out


class Concat(nn.Module):
    """Concatenation of the inputs along ``dim`` (channels by default), as Caffe's Concat.

    Args:
        dim: the dimension to concatenate. Default: ``1``.

    Shape:
        - Inputs: tensors equal in shape except along ``dim``
        - Output: the sum of their sizes along ``dim``

    Example:
        >>> tuple(Concat()(chainrule.ones(2, 3), chainrule.ones(2, 5)).shape)
        (2, 8)
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *inputs: Tensor) -> Tensor:
        return chainrule.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LayerGraph(nn.Module):
    """Named layers wired as a DAG: each layer is applied to the outputs of the layers it
    names (``"input"`` is the model's input); the forward returns ``output``'s value.

    Args:
        layers: ``(name, module, inputs)`` in an order where inputs come first.
        output: the layer whose value is returned. Default: the last one.

    Example:
        >>> from chainrule import nn
        >>> g = LayerGraph([("a", nn.Linear(3, 3), ["input"]), ("b", nn.ReLU(), ["a"]),
        ...                 ("sum", Add(), ["a", "b"])])
        >>> tuple(g(chainrule.randn(2, 3)).shape), [n for n, _ in g.named_children()]
        ((2, 3), ['a', 'b', 'sum'])
    """

    def __init__(self, layers: Sequence[tuple[str, nn.Module, Sequence[str]]],
                 output: str | None = None) -> None:
        super().__init__()
        self.wiring: list[tuple[str, tuple[str, ...]]] = []
        for name, module, inputs in layers:
            self.add_module(name, module)
            self.wiring.append((name, tuple(inputs)))
        self.output = output if output is not None else self.wiring[-1][0]
        # free each value after its last use (memory stays that of a Sequential's forward)
        last_use: dict[str, str] = {}
        for name, inputs in self.wiring:
            for i in inputs:
                last_use[i] = name
        self._free_after: dict[str, list[str]] = {name: [] for name, _ in self.wiring}
        for value, user in last_use.items():
            if value != self.output:
                self._free_after[user].append(value)

    def forward(self, input: Tensor) -> Tensor:
        values = {INPUT: input}
        modules = self._modules
        for name, inputs in self.wiring:
            values[name] = modules[name](*[values[i] for i in inputs])
            for done in self._free_after[name]:
                del values[done]
        return values[self.output]

    def extra_repr(self) -> str:
        return f"output={self.output}"

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for name, inputs in self.wiring:
            lines.append(f"  ({name}): {self._modules[name]!r} <- {', '.join(inputs)}")
        lines.append(f"  output: {self.output}")
        return "\n".join(lines) + "\n)"


@dataclass
class LayerInfo:
    """One built layer: its name, type, inputs, shapes (batch dim as ``-1``), parameter
    count and the config line it came from."""

    name: str
    type: str
    inputs: list[str]
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    params: int
    line: int | None = None
    module: Any = field(default=None, repr=False)


def layer_types() -> dict[str, type]:
    """Every layer type a config may name: chainrule.nn's Modules, Add and Concat.

    Example:
        >>> types = layer_types()
        >>> types["Linear"] is chainrule.nn.Linear, "Add" in types, "Sequential" in types
        (True, True, False)
    """
    types = {name: obj for name, obj in vars(nn).items()
             if isinstance(obj, type) and issubclass(obj, nn.Module) and name not in _CONTAINERS
             and not name.startswith("_")}
    types["Add"] = Add
    types["Concat"] = Concat
    return types


def _shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(["N", *map(str, shape[1:])]) + "]"


def _infer(param: str, shape: tuple[int, ...]) -> Any:
    """The value of an argument that follows from the input shape, or None."""
    if param == "in_features":
        return shape[-1] if len(shape) >= 2 else None
    if param in ("in_channels", "num_features", "num_channels"):
        return shape[1] if len(shape) >= 2 else None
    if param == "normalized_shape":
        return (shape[-1],) if len(shape) >= 2 else None
    return None


def _expects(module: Any) -> str:
    if hasattr(module, "in_features") and isinstance(module.in_features, int):
        return f"an input [N, ..., {module.in_features}] (in_features={module.in_features})"
    if hasattr(module, "in_channels"):
        spatial = {"Conv1d": ", L", "ConvTranspose1d": ", L"}.get(type(module).__name__, ", H, W")
        return f"an input [N, {module.in_channels}{spatial}] (in_channels={module.in_channels})"
    if hasattr(module, "num_features"):
        return f"an input [N, {module.num_features}, ...] (num_features={module.num_features})"
    if hasattr(module, "normalized_shape"):
        return f"an input ending in {list(module.normalized_shape)} (normalized_shape)"
    return ""


def build_model(src: Source, path: PathT, layers: Any, input_shape: Sequence[int],
                output: str | None = None) -> tuple[nn.Module, list[LayerInfo]]:
    """Build the layers listed at ``path`` for inputs of ``input_shape`` (without the batch
    dimension); returns the model and one :class:`LayerInfo` per layer."""
    if not isinstance(layers, list) or not layers:
        raise src.error(path, "the model must be a non-empty list of layers")
    types = layer_types()
    shapes: dict[str, tuple[int, ...]] = {INPUT: (-1, *input_shape)}
    probes: dict[str, Tensor] = {INPUT: chainrule.zeros((2, *input_shape))}
    built: list[tuple[str, nn.Module, list[str]]] = []
    infos: list[LayerInfo] = []
    stack = True
    previous = INPUT
    for i, spec in enumerate(layers):
        where = path + (i,)
        spec = schema.mapping(src, where, spec, "a layer")
        name = spec.get("name", str(i))
        if not isinstance(name, str) or not name or "." in name or name == INPUT:
            raise src.error(where + ("name",), f"a layer name is a non-empty string without "
                                               f"dots, not {INPUT!r}; got {name!r}")
        if name in shapes:
            raise src.error(where + ("name",), f"a second layer named {name!r}")
        if "type" not in spec:
            raise src.error(where, f"layer {name!r} needs a 'type' (an nn Module such as "
                                   "Linear, Conv2d, ReLU, or Add/Concat)")
        type_name = spec["type"]
        if not isinstance(type_name, str):
            raise src.error(where + ("type",), f"expected a layer type name, got {type_name!r}")
        cls = schema.lookup(src, where + ("type",), type_name, types, "layer")
        inputs = _inputs(src, where, spec, name, previous, shapes)
        if "inputs" in spec and inputs != [previous]:
            stack = False
        in_shapes = [shapes[n] for n in inputs]
        kwargs = {k: schema.numeric(v) for k, v in spec.items() if k not in _RESERVED}
        params = schema.parameters(cls) or {}
        for p in params:
            if p not in kwargs:
                value = _infer(p, in_shapes[0])
                if value is not None:
                    kwargs[p] = value
        label = f"layer {name!r} ({type_name})"
        schema.check_kwargs(src, where, cls, kwargs)
        module = schema.construct(src, where, cls, kwargs)
        out = _probe(src, where, label, module, [probes[n] for n in inputs], inputs, in_shapes)
        shapes[name] = (-1, *out.shape[1:])
        probes[name] = out
        built.append((name, module, inputs))
        infos.append(LayerInfo(name, type_name, inputs, in_shapes, shapes[name],
                               sum(p.numel() for p in module.parameters()), src.line(where),
                               module))
        previous = name
    if output is not None and output not in shapes:
        raise src.error(path, f"output {output!r} is not a layer{did_you_mean(output, shapes)}")
    if stack and (output is None or output == previous):
        return nn.Sequential(OrderedDict((n, m) for n, m, _ in built)), infos
    return LayerGraph(built, output), infos


def _inputs(src: Source, where: PathT, spec: dict, name: str, previous: str,
            shapes: dict[str, Any]) -> list[str]:
    if "inputs" not in spec:
        return [previous]
    raw = spec["inputs"]
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or \
            not all(isinstance(n, str) for n in inputs):
        raise src.error(where + ("inputs",), "inputs must be a layer name or a list of names")
    for n in inputs:
        if n not in shapes:
            raise src.error(where + ("inputs",), f"layer {name!r} takes {n!r}, which is not an "
                                                 f"earlier layer{did_you_mean(n, shapes)} "
                                                 f"(earlier: {', '.join(shapes)})")
    return list(inputs)


def _probe(src: Source, where: PathT, label: str, module: nn.Module, args: list[Tensor],
           inputs: list[str], in_shapes: list[tuple[int, ...]]) -> Tensor:
    """Run a zero batch through ``module`` (eval mode, no grad) and return its output."""
    if isinstance(module, Add) and len({s for s in in_shapes}) > 1:
        parts = " and ".join(f"{_shape(s)} (from {n!r})" for n, s in zip(inputs, in_shapes))
        raise src.error(where, f"{label} adds inputs of shapes {parts}: they must be equal")
    if isinstance(module, Concat):
        d = module.dim
        trimmed = {tuple(s[:d] + s[d + 1:]) if -len(s) <= d < len(s) else None
                   for s in in_shapes}
        if len(trimmed) > 1 or None in trimmed:
            parts = " and ".join(f"{_shape(s)} (from {n!r})" for n, s in zip(inputs, in_shapes))
            raise src.error(where, f"{label} concatenates inputs of shapes {parts} along dim "
                                   f"{d}: every other dimension must be equal")
    accepts = _positional_inputs(module)
    if accepts is not None and len(args) > accepts:
        raise src.error(where, f"{label} takes {accepts} input(s), the config gives "
                               f"{len(args)}: {', '.join(inputs)}")
    was_training = module.training
    module.eval()
    try:
        with chainrule.no_grad():
            out = module(*args)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        got = " and ".join(_shape(s) for s in in_shapes)
        expects = _expects(module)
        detail = f": it expects {expects}" if expects else ""
        raise src.error(where, f"{label} cannot take an input of shape {got} (from "
                               f"{', '.join(repr(n) for n in inputs)}){detail} ({e})") from None
    finally:
        module.train(was_training)
    if not isinstance(out, Tensor):
        raise src.error(where, f"{label} returns a {type(out).__name__}, not a tensor: it "
                               "cannot be a config layer")
    return out


def _positional_inputs(module: nn.Module) -> int | None:
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            n += 1
    return n
