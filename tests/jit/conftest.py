"""Models shared by the jit and onnx tests: the MLP, the pytorch/examples MNIST CNN
(examples/mnist_cnn.py's ``build``), a small ResNet with BatchNorm
(examples/resnet_gradients.py), and the lectures' small functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.testing import assert_close, default_tolerances

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_jit_tests_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mlp(dtype: Any = chainrule.float64, width: int = 16) -> nn.Module:
    """784-512-512-10 in the benchmarks; narrow here so the tests stay fast."""
    return nn.Sequential(nn.Linear(20, width), nn.ReLU(), nn.Linear(width, width), nn.Sigmoid(),
                         nn.Linear(width, 10)).to(dtype)


def cnn(dtype: Any = chainrule.float64) -> nn.Module:
    return _example("mnist_cnn").build(chainrule).to(dtype)


def resnet(dtype: Any = chainrule.float64) -> nn.Module:
    model = _example("resnet_gradients").SmallResNet(channels=4, blocks=2).to(dtype)
    gen = np.random.default_rng(1)
    for m in model.modules():  # running statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(chainrule.tensor(gen.normal(0, 0.1, m.num_features)))
            m.running_var.copy_(chainrule.tensor(gen.uniform(0.5, 1.5, m.num_features)))
            m.weight.data.copy_(chainrule.tensor(gen.uniform(0.5, 1.5, m.num_features)))
            m.bias.data.copy_(chainrule.tensor(gen.normal(0, 0.1, m.num_features)))
    return model


MODELS = {"mlp": (mlp, (6, 20)), "cnn": (cnn, (2, 1, 28, 28)), "resnet": (resnet, (3, 1, 28, 28))}


def make(name: str, seed: int = 0, dtype: Any = chainrule.float64) -> tuple[nn.Module, Any]:
    """(model, example input) for one of MODELS."""
    chainrule.manual_seed(seed)
    build, shape = MODELS[name]
    model = build(dtype)
    x = chainrule.randn(*shape, dtype=dtype)
    return model, x


def close(actual: Any, expected: Any, kind: str = "forward") -> None:
    rtol, atol = default_tolerances(np.dtype(np.float64), kind=kind)
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture(autouse=True)
def _default_float32() -> Any:
    yield
    chainrule.set_default_dtype(chainrule.float32)
