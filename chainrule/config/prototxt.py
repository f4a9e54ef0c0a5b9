"""Caffe ``.prototxt`` nets into chainrule models: a small protobuf text-format reader and a
translation of Caffe's common layers into the same config layers a YAML file lists.

The reader handles the subset of the text format that net definitions use: ``field: value``
(numbers, quoted strings, enum names), nested ``field { ... }`` messages (with or without a
colon), repeated fields and ``#`` comments. The translation:

=================  ==========================================================================
Caffe layer        chainrule
=================  ==========================================================================
Data, Input        the model's input (``transform_param.scale`` becomes a Normalize; an Input
                   layer's ``shape`` gives the input shape)
Convolution        Conv2d (``num_output``, ``kernel_size``/``kernel_h``/``kernel_w``,
                   ``stride``, ``pad``, ``group``, ``dilation``, ``bias_term``)
Pooling            MaxPool2d / AvgPool2d with ``ceil_mode=True`` (Caffe rounds the output size
                   up); ``global_pooling`` is AdaptiveAvgPool2d / AdaptiveMaxPool2d(1)
InnerProduct       Flatten (Caffe flattens from axis 1) + Linear
ReLU, Sigmoid,     ReLU (LeakyReLU with ``negative_slope``), Sigmoid, Tanh, Dropout
TanH, Dropout
Softmax, LRN       Softmax(dim=1), LocalResponseNorm
Eltwise (SUM),     Add, Concat
Concat
SoftmaxWithLoss    the loss: CrossEntropyLoss
Accuracy           the accuracy metric (not a layer)
=================  ==========================================================================

In-place layers (``bottom`` equal to ``top``, as Caffe's ReLUs) are chained as Caffe runs
them. Weight fillers and ``lr_mult`` are not translated: layers start from PyTorch's default
initialisation. A layer type outside the table is an error naming the layer and its line.

Example:
    >>> msg = parse_text_format('name: "net"  layer { name: "a" type: "ReLU" }  # comment')
    >>> msg.get("name"), msg.all("layer")[0].get("type")
    ('net', 'ReLU')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule.config._source import ConfigError, Source

__all__ = ["Message", "parse_text_format", "layers_from_prototxt", "source_from_prototxt"]

_TOKEN = re.compile(r'''
    (?P<space>[ \t\r]+) | (?P<newline>\n) | (?P<comment>\#[^\n]*) |
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*') |
    (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)(?![\w.])) |
    (?P<ident>[A-Za-z_][\w.]*) | (?P<punct>[{}:;,<>\[\]])
''', re.VERBOSE)


@dataclass
class Message:
    """A protobuf text-format message: fields in order, each ``(name, value, line)``."""

    line: int
    fields: list[tuple[str, Any, int]] = field(default_factory=list)

    def all(self, name: str) -> list[Any]:
        """Every value of a (repeated) field."""
        return [v for n, v, _ in self.fields if n == name]

    def get(self, name: str, default: Any = None) -> Any:
        """The last value of a field (protobuf's rule for a repeated scalar set twice)."""
        values = self.all(name)
        return values[-1] if values else default

    def line_of(self, name: str) -> int:
        """The line of a field's first occurrence (the message's own line if absent)."""
        for n, _, line in self.fields:
            if n == name:
                return line
        return self.line


def _tokens(text: str, file: str) -> list[tuple[str, Any, int]]:
    out, line, pos = [], 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"{file}: line {line}: unexpected character {text[pos]!r}",
                              file, line)
        kind = m.lastgroup
        value = m.group()
        if kind == "newline":
            line += 1
        elif kind == "string":
            out.append(("string", bytes(value[1:-1], "utf-8").decode("unicode_escape"), line))
        elif kind == "number":
            number = float(value) if any(c in value for c in ".eEn") or "inf" in value \
                else int(value)
            out.append(("number", number, line))
        elif kind in ("ident", "punct"):
            out.append((kind, value, line))
        pos = m.end()
    return out


def parse_text_format(text: str, file: str = "<prototxt>") -> Message:
    """Parse protobuf text format into nested :class:`Message` objects (no schema: numbers,
    strings and enum names stay as read)."""
    tokens = _tokens(text, file)
    pos = 0

    def fail(message: str, line: int) -> ConfigError:
        return ConfigError(f"{file}: line {line}: {message}", file, line)

    def message(until: str | None, line: int) -> tuple[Message, int]:
        nonlocal pos
        msg = Message(line)
        while pos < len(tokens):
            kind, value, tline = tokens[pos]
            if kind == "punct" and value == until:
                pos += 1
                return msg, pos
            if kind == "punct" and value in ";,":
                pos += 1
                continue
            if kind != "ident":
                raise fail(f"expected a field name, got {value!r}", tline)
            pos += 1
            colon = pos < len(tokens) and tokens[pos][:2] == ("punct", ":")
            if colon:
                pos += 1
            if pos >= len(tokens):
                raise fail(f"field {value!r} has no value", tline)
            vkind, vvalue, vline = tokens[pos]
            if vkind == "punct" and vvalue in "{<":
                pos += 1
                sub, _ = message("}" if vvalue == "{" else ">", vline)
                msg.fields.append((value, sub, tline))
                continue
            if not colon:
                raise fail(f"expected ':' or '{{' after {value!r}", tline)
            if vkind == "punct":
                raise fail(f"field {value!r} has no value (got {vvalue!r})", vline)
            pos += 1
            if vkind == "ident" and vvalue in ("true", "false", "True", "False"):
                vvalue = vvalue.lower() == "true"
            msg.fields.append((value, vvalue, tline))
        if until is not None:
            raise fail(f"unclosed message: missing {until!r}", line)
        return msg, pos

    root, _ = message(None, 1)
    return root


def _read(path: str | os.PathLike) -> tuple[str, Message]:
    file = os.fspath(path)
    try:
        text = Path(file).read_text()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such prototxt file", file) from None
    return file, parse_text_format(text, file)


def _kernel(p: Message, prefix: str, default: Any = None) -> Any:
    """Caffe's ``kernel_size`` (repeated or one value) or ``kernel_h``/``kernel_w``."""
    h, w = p.get(f"{prefix}_h"), p.get(f"{prefix}_w")
    if h is not None or w is not None:
        return (int(h), int(w))
    values = p.all(f"{prefix}_size" if prefix == "kernel" else prefix)
    if not values:
        return default
    return int(values[0]) if len(values) == 1 else tuple(int(v) for v in values)


def _translate(file: str, net: Message) -> dict[str, Any]:
    """The config dict (model layers, data hints, loss) of a Caffe net, and each entry's line."""
    layers: list[dict[str, Any]] = []
    lines: dict[tuple, int] = {}
    blobs: dict[str, str] = {}
    flat: set[str] = set()  # blobs already (N, features): an InnerProduct needs no Flatten
    out: dict[str, Any] = {"input_shape": None, "scale": None, "batch_size": None,
                           "loss": None, "output": None, "metrics": []}
    if net.all("input"):  # the old top-level input: "data" / input_dim: ...
        blobs[net.get("input")] = "input"
        dims = [int(d) for d in net.all("input_dim")]
        if len(dims) == 4:
            out["input_shape"] = dims[1:]
    for layer in net.all("layer") or net.all("layers"):
        name = layer.get("name")
        kind = layer.get("type")
        where = f"{file}: line {layer.line}: layer {name!r} ({kind})"
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ConfigError(f"{file}: line {layer.line}: a layer needs a name and a type",
                              file, layer.line)
        phases = [inc.get("phase") for inc in layer.all("include")]
        if "TEST" in phases and "TRAIN" not in phases and kind in ("Data", "Input"):
            continue  # the test-phase twin of the data layer
        bottoms, tops = layer.all("bottom"), layer.all("top")
        if kind in ("Data", "Input", "ImageData", "HDF5Data", "MemoryData"):
            if tops:
                blobs[tops[0]] = "input"
            scale = layer.get("transform_param", Message(0)).get("scale")
            if scale is not None:
                out["scale"] = float(scale)
            bs = layer.get("data_param", Message(0)).get("batch_size")
            if bs is not None and out["batch_size"] is None:
                out["batch_size"] = int(bs)
            shape = layer.get("input_param", Message(0)).get("shape")
            if shape is not None:
                dims = [int(d) for d in shape.all("dim")]
                out["input_shape"] = dims[1:]
            continue
        if kind == "SoftmaxWithLoss":
            out["loss"] = "CrossEntropyLoss"
            out["output"] = bottoms[0] if bottoms else None
            continue
        if kind == "Accuracy":
            out["metrics"].append("accuracy")
            continue
        missing = [b for b in bottoms if b not in blobs]
        if missing:
            raise ConfigError(f"{where}: bottom {missing[0]!r} is not produced by an earlier "
                              "layer", file, layer.line)
        inputs = [blobs[b] for b in bottoms]
        entries = _layer_entries(layer, kind, name, where, file)
        if kind == "InnerProduct" and bottoms and bottoms[0] in flat:
            entries = entries[1:]
        first = True
        for entry in entries:
            entry["inputs"] = inputs if first else [layers[-1]["name"]]
            first = False
            lines[(len(layers),)] = layer.line
            for key in entry:
                lines[(len(layers), key)] = layer.line
            layers.append(entry)
        keeps_flat = kind in ("ReLU", "Sigmoid", "TanH", "Dropout", "Softmax") and \
            bool(bottoms) and bottoms[0] in flat
        for top in tops:
            blobs[top] = layers[-1]["name"]  # in place (top == bottom) too: Caffe's order
            if kind == "InnerProduct" or keeps_flat:
                flat.add(top)
            else:
                flat.discard(top)
    if not layers:
        raise ConfigError(f"{file}: the net has no layers chainrule can build", file, 1)
    if out["output"] is not None:
        out["output"] = blobs.get(out["output"])
    out["layers"] = layers
    out["lines"] = lines
    return out


def _layer_entries(layer: Message, kind: str, name: str, where: str,
                   file: str) -> list[dict[str, Any]]:
    def param(key: str) -> Message:
        return layer.get(key, Message(layer.line))

    if kind == "Convolution":
        p = param("convolution_param")
        entry = {"name": name, "type": "Conv2d", "out_channels": int(p.get("num_output")),
                 "kernel_size": _kernel(p, "kernel"), "stride": _kernel(p, "stride", 1),
                 "padding": _kernel(p, "pad", 0)}
        if p.get("group") is not None:
            entry["groups"] = int(p.get("group"))
        if p.get("dilation") is not None:
            entry["dilation"] = int(p.get("dilation"))
        if p.get("bias_term") is False:
            entry["bias"] = False
        return [entry]
    if kind == "Pooling":
        p = param("pooling_param")
        pool = p.get("pool", "MAX")
        if pool not in ("MAX", "AVE"):
            raise ConfigError(f"{where}: pool {pool} is not supported (MAX or AVE)", file,
                              layer.line)
        if p.get("global_pooling"):
            kind_name = "AdaptiveMaxPool2d" if pool == "MAX" else "AdaptiveAvgPool2d"
            return [{"name": name, "type": kind_name, "output_size": 1}]
        return [{"name": name, "type": "MaxPool2d" if pool == "MAX" else "AvgPool2d",
                 "kernel_size": _kernel(p, "kernel"), "stride": _kernel(p, "stride", 1),
                 "padding": _kernel(p, "pad", 0), "ceil_mode": True}]
    if kind == "InnerProduct":
        p = param("inner_product_param")
        linear = {"name": name, "type": "Linear", "out_features": int(p.get("num_output"))}
        if p.get("bias_term") is False:
            linear["bias"] = False
        return [{"name": f"{name}_flatten", "type": "Flatten"}, linear]
    if kind == "ReLU":
        slope = param("relu_param").get("negative_slope")
        if slope:
            return [{"name": name, "type": "LeakyReLU", "negative_slope": float(slope)}]
        return [{"name": name, "type": "ReLU"}]
    simple = {"Sigmoid": "Sigmoid", "TanH": "Tanh", "AbsVal": None}
    if kind in simple and simple[kind]:
        return [{"name": name, "type": simple[kind]}]
    if kind == "Dropout":
        return [{"name": name, "type": "Dropout",
                 "p": float(param("dropout_param").get("dropout_ratio", 0.5))}]
    if kind == "Softmax":
        return [{"name": name, "type": "Softmax", "dim": int(param("softmax_param").get(
            "axis", 1))}]
    if kind == "LRN":
        p = param("lrn_param")
        return [{"name": name, "type": "LocalResponseNorm", "size": int(p.get("local_size", 5)),
                 "alpha": float(p.get("alpha", 1.0)), "beta": float(p.get("beta", 0.75)),
                 "k": float(p.get("k", 1.0))}]
    if kind == "Eltwise":
        op = param("eltwise_param").get("operation", "SUM")
        if op != "SUM":
            raise ConfigError(f"{where}: Eltwise operation {op} is not supported (SUM only)",
                              file, layer.line)
        return [{"name": name, "type": "Add"}]
    if kind == "Concat":
        return [{"name": name, "type": "Concat",
                 "dim": int(param("concat_param").get("axis", 1))}]
    raise ConfigError(f"{where}: Caffe layer type {kind!r} is not supported (see "
                      "chainrule.config.prototxt for the ones that are)", file, layer.line)


def layers_from_prototxt(path: str | os.PathLike) -> tuple[Source, list[dict[str, Any]]]:
    """The config layers of a Caffe net (for ``model: {prototxt: file}``), with a Source
    whose lines point into the prototxt."""
    file, net = _read(path)
    info = _translate(file, net)
    src = Source(file, info["layers"], info["lines"], Path(file).resolve().parent)
    return src, info["layers"]


def source_from_prototxt(path: str | os.PathLike) -> Source:
    """A whole config from a Caffe net: its layers, MNIST data (the bundled sample) with the
    net's input scale and batch size, its loss, and Caffe's LeNet solver (SGD, lr 0.01,
    momentum 0.9, weight decay 5e-4)."""
    file, net = _read(path)
    info = _translate(file, net)
    transforms: list[Any] = ["ToTensor"]
    if info["scale"] is not None:
        # ToTensor divides by 255; Caffe multiplies the raw bytes by scale
        transforms.append({"type": "Normalize", "mean": [0.0],
                           "std": [1.0 / (255.0 * info["scale"])]})
    model: dict[str, Any] = {"layers": info["layers"]}
    if info["output"] is not None:
        model["output"] = info["output"]
    if info["input_shape"] is not None:
        model["input_shape"] = info["input_shape"]
    config = {
        "name": str(net.get("name") or Path(file).stem),
        "data": {"dataset": "MNIST", "transforms": transforms,
                 "batch_size": info["batch_size"] or 64},
        "model": model,
        "loss": info["loss"] or "CrossEntropyLoss",
        "optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005},
        "metrics": sorted(set(info["metrics"])) or ["accuracy"],
        "epochs": 1,
    }
    lines = {("model", "layers", *k): v for k, v in info["lines"].items()}
    return Source(file, config, lines, Path(file).resolve().parent)
