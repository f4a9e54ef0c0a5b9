"""Caffe's LeNet prototxt becomes the same model as eager LeNet code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.config import ConfigError, load
from chainrule.config.prototxt import parse_text_format
from chainrule.train import seed_everything

LENET = Path(__file__).resolve().parents[2] / "examples" / "configs" / "lenet.prototxt"


def test_text_format_subset() -> None:
    msg = parse_text_format('a: 1 b: -2.5e-1 c: "x y" d: ENUM e { f: true g <h: 1> }\n'
                            'a: 3 # comment\n')
    assert msg.all("a") == [1, 3] and msg.get("b") == -0.25 and msg.get("c") == "x y"
    assert msg.get("d") == "ENUM" and msg.get("e").get("f") is True
    assert msg.get("e").get("g").get("h") == 1
    with pytest.raises(ConfigError, match=r"<prototxt>: line 2: unclosed message"):
        parse_text_format("a: 1\ne {\n b: 2\n")
    with pytest.raises(ConfigError, match=r"line 1: expected ':' or '\{' after 'a'"):
        parse_text_format("a 1")


def test_lenet_prototxt_is_the_eager_lenet() -> None:
    exp = load(LENET, data=False)
    seed_everything(0)
    eager = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2, ceil_mode=True),
                          nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2, ceil_mode=True),
                          nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    assert [type(m).__name__ for m in exp.model] == [type(m).__name__ for m in eager]
    assert list(exp.model.state_dict()) == ["conv1.weight", "conv1.bias", "conv2.weight",
                                            "conv2.bias", "ip1.weight", "ip1.bias",
                                            "ip2.weight", "ip2.bias"]
    for a, b in zip(exp.model.parameters(), eager.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    x = chainrule.randn(3, 1, 28, 28)
    np.testing.assert_array_equal(exp.model(x).detach().numpy(), eager(x).detach().numpy())
    assert exp.config["optimizer"]["type"] == "SGD" and exp.batch_size == 64
    assert type(exp.loss_fn).__name__ == "CrossEntropyLoss" and exp.metrics == ["accuracy"]


def test_data_scale_matches_caffe() -> None:
    exp = load(LENET)
    x, _ = next(iter(exp.train_loader))
    raw = exp.train_loader.dataset.dataset.data.numpy()[exp.train_loader.dataset.indices[0]]
    assert x.numpy()[:, 0].max() <= 255 / 256 + 1e-6
    assert len(x) == 64 and raw.dtype == np.uint8


def test_prototxt_inside_a_yaml_config(tmp_path) -> None:
    (tmp_path / "net.yaml").write_text(
        f"model: {{prototxt: {LENET}}}\ndata: {{dataset: MNIST}}\noptimizer: {{type: Adam}}\n")
    exp = load(tmp_path / "net.yaml", data=False)
    assert exp.model.ip1.in_features == 800 and type(exp.optimizer).__name__ == "Adam"


def test_unsupported_caffe_layers_are_named(tmp_path) -> None:
    bad = tmp_path / "bad.prototxt"
    bad.write_text(LENET.read_text().replace('type: "ReLU"', 'type: "PReLU"'))
    with pytest.raises(ConfigError, match=r"bad.prototxt: line \d+: layer 'relu1' \(PReLU\): "
                                          r"Caffe layer type 'PReLU' is not supported"):
        load(bad, data=False)
    shape = tmp_path / "shape.prototxt"
    shape.write_text(LENET.read_text().replace("num_output: 50\n    kernel_size: 5",
                                                "num_output: 50\n    kernel_size: 15"))
    with pytest.raises(ConfigError, match=r"shape.prototxt: line \d+: model.layers\[2\]: layer "
                                          "'conv2' \\(Conv2d\\)"):
        load(shape, data=False)
