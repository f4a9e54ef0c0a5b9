"""Layers from configs: inferred sizes, DAG wiring, shape errors named before any data runs."""

from __future__ import annotations

import pytest

import chainrule
from chainrule import nn
from chainrule.config import Add, Concat, ConfigError, LayerGraph, load
from chainrule.config.model import layer_types


def _load(tmp_path, layers, input_shape=(1, 28, 28)):
    path = tmp_path / "m.yaml"
    path.write_text(f"model:\n  input_shape: {list(input_shape)}\n  layers:\n"
                    + "".join(f"    - {layer}\n" for layer in layers))
    return load(path, data=False)


def _error(tmp_path, layers, input_shape=(1, 28, 28)) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, layers, input_shape)
    return info.value


def test_sizes_are_inferred_from_the_shape_flowing_in(tmp_path) -> None:
    exp = _load(tmp_path, [
        "{name: conv, type: Conv2d, out_channels: 6, kernel_size: 5}",
        "{name: bn, type: BatchNorm2d}",
        "{name: gn, type: GroupNorm, num_groups: 3}",
        "{name: flat, type: Flatten}",
        "{name: ln, type: LayerNorm}",
        "{name: fc, type: Linear, out_features: 10}",
    ])
    m = exp.model
    assert (m.conv.in_channels, m.bn.num_features, m.gn.num_channels) == (1, 6, 6)
    assert tuple(m.ln.normalized_shape) == (6 * 24 * 24,) and m.fc.in_features == 6 * 24 * 24
    assert [i.output_shape for i in exp.layers][:2] == [(-1, 6, 24, 24), (-1, 6, 24, 24)]
    assert exp.layers[-1].params == 6 * 24 * 24 * 10 + 10


def test_a_wrong_shape_names_the_layer_and_both_shapes(tmp_path) -> None:
    e = _error(tmp_path, ["{name: flat, type: Flatten}",
                          "{name: fc1, type: Linear, in_features: 100, out_features: 10}"])
    assert e.line == 5 and e.key == "model.layers[1]"
    assert "layer 'fc1' (Linear) cannot take an input of shape [N, 784] (from 'flat')" in str(e)
    assert "it expects an input [N, ..., 100] (in_features=100)" in str(e)
    e = _error(tmp_path, ["{name: conv, type: Conv2d, in_channels: 3, out_channels: 4, "
                          "kernel_size: 3}"])
    assert "layer 'conv' (Conv2d) cannot take an input of shape [N, 1, 28, 28]" in str(e)
    assert "[N, 3, H, W] (in_channels=3)" in str(e)
    e = _error(tmp_path, ["{name: conv, type: Conv2d, out_channels: 4, kernel_size: 40}"])
    assert "layer 'conv' (Conv2d) cannot take an input of shape [N, 1, 28, 28]" in str(e)


def test_adds_and_concats_check_their_inputs(tmp_path) -> None:
    e = _error(tmp_path, ["{name: a, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}",
                          "{name: b, type: Conv2d, inputs: input, out_channels: 8, "
                          "kernel_size: 3, padding: 1}",
                          "{name: sum, type: Add, inputs: [a, b]}"])
    assert e.line == 6
    assert ("layer 'sum' (Add) adds inputs of shapes [N, 4, 28, 28] (from 'a') and "
            "[N, 8, 28, 28] (from 'b'): they must be equal") in str(e)
    e = _error(tmp_path, ["{name: a, type: MaxPool2d, kernel_size: 2}",
                          "{name: cat, type: Concat, inputs: [a, input]}"])
    assert "concatenates inputs of shapes [N, 1, 14, 14] (from 'a') and [N, 1, 28, 28]" in str(e)


def test_wiring_errors(tmp_path) -> None:
    e = _error(tmp_path, ["{name: a, type: ReLU, inputs: b}", "{name: b, type: ReLU}"])
    assert "layer 'a' takes 'b', which is not an earlier layer" in str(e) and e.line == 4
    e = _error(tmp_path, ["{name: input, type: ReLU}"])
    assert "not 'input'" in str(e)
    e = _error(tmp_path, ["{name: a, type: ReLU}", "{name: b, type: ReLU, inputs: [a, input]}"])
    assert "layer 'b' (ReLU) takes 1 input(s), the config gives 2: a, input" in str(e)
    e = _error(tmp_path, ["{name: a, type: Linear}"])
    assert "Linear needs the argument 'out_features'" in str(e)
    e = _error(tmp_path, ["{name: a, type: Sequential}"])
    assert "unknown layer type 'Sequential'" in str(e)


def test_layer_graph_frees_values_and_returns_the_output() -> None:
    g = LayerGraph([("a", nn.Linear(2, 2), ["input"]), ("b", nn.ReLU(), ["a"]),
                    ("c", Add(), ["a", "b"]), ("d", Concat(dim=1), ["c", "input"])], output="c")
    x = chainrule.randn(3, 2)
    a = g.a(x)
    assert chainrule.equal(g(x), a + a.relu())
    assert g._free_after == {"a": [], "b": [], "c": ["a", "b"], "d": ["input"]}
    assert "(c): Add() <- a, b" in repr(g)


def test_layer_types_are_nn_modules() -> None:
    types = layer_types()
    assert all(issubclass(t, nn.Module) for t in types.values())
    assert {"Linear", "Conv2d", "BatchNorm2d", "Dropout", "Add", "Concat"} <= set(types)
