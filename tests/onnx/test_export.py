"""chainrule.onnx.export: models checked by onnx.checker and run by onnxruntime, whose
outputs match chainrule's within 1e-5 (MLP, the MNIST CNN, a ResNet with BatchNorm)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import chainrule
from chainrule import nn

_spec = importlib.util.spec_from_file_location(
    "_onnx_tests_models", Path(__file__).resolve().parent.parent / "jit" / "conftest.py")
models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(models)


def _run(proto, feeds: dict) -> list[np.ndarray]:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet"])
def test_onnxruntime_matches_chainrule(name: str) -> None:
    model, x = models.make(name, dtype=chainrule.float32)
    model.train()  # export switches to evaluation mode and back
    proto = chainrule.onnx.export(model, x, io.BytesIO(), input_names=["x"],
                                  output_names=["y"],
                                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    onnx.checker.check_model(proto)
    assert model.training
    model.eval()
    for batch in (x, chainrule.randn(5, *x.shape[1:])):  # the batch axis is dynamic
        (got,) = _run(proto, {"x": batch.numpy()})
        with chainrule.no_grad():
            want = model(batch).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_op_types_and_names() -> None:
    model, x = models.make("cnn", dtype=chainrule.float32)
    proto = chainrule.onnx.export(model, x, io.BytesIO())
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Conv", "Relu", "Conv", "Relu", "MaxPool", "Reshape", "Gemm", "Relu",
                   "Gemm", "LogSoftmax", "Identity"]
    inits = {t.name for t in proto.graph.initializer}
    assert {"conv1.weight", "conv1.bias", "fc1.weight", "fc2.bias"} <= inits
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.opset_import[0].version == 17


def test_batchnorm_folds_into_scale_and_shift() -> None:
    model, x = models.make("resnet", dtype=chainrule.float32)
    proto = chainrule.onnx.export(model, x, io.BytesIO())
    ops = [n.op_type for n in proto.graph.node]
    assert "Sqrt" not in ops and ops[:4] == ["Conv", "Mul", "Add", "Relu"]


def test_writes_a_file_that_onnx_loads(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2), nn.Softmax(dim=1))
    x = chainrule.randn(2, 4)
    path = tmp_path / "model.onnx"
    chainrule.onnx.export(model, (x,), str(path), opset_version=18)
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded)
    (got,) = _run(loaded, {loaded.graph.input[0].name: x.numpy()})
    with chainrule.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_functions_and_several_outputs() -> None:
    def f(a, b):
        return (a * b).sum(dim=1), (a - b).abs().mean(dim=0, keepdim=True)

    a, b = chainrule.randn(3, 4), chainrule.randn(3, 4)
    proto = chainrule.onnx.export(f, (a, b), io.BytesIO(), input_names=["a", "b"])
    got = _run(proto, {"a": a.numpy(), "b": b.numpy()})
    for g, w in zip(got, f(a, b)):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-5, atol=1e-6)


def test_params_as_inputs() -> None:
    model = nn.Linear(3, 2)
    proto = chainrule.onnx.export(model, chainrule.randn(1, 3), io.BytesIO(),
                                  export_params=False)
    assert not proto.graph.initializer
    assert {i.name for i in proto.graph.input} == {"input", "weight", "bias"}


def test_unsupported_op_names_it() -> None:
    with pytest.raises(chainrule.onnx.UnsupportedOperatorError, match="'cumsum'"):
        chainrule.onnx.export(lambda x: x.cumsum(0), chainrule.randn(3), io.BytesIO())


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="input_names"):
        chainrule.onnx.export(nn.Linear(2, 2), chainrule.randn(1, 2), io.BytesIO(),
                              input_names=["a", "b"])


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet"])
def test_load_round_trip(name: str) -> None:
    model, x = models.make(name, dtype=chainrule.float32)
    model.eval()
    buf = io.BytesIO()
    chainrule.onnx.export(model, x, buf)
    loaded = chainrule.onnx.load(buf.getvalue())
    with chainrule.no_grad():
        want = model(x)
        np.testing.assert_allclose(loaded(x).numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
        traced = chainrule.jit.trace(loaded, x)  # an ordinary Module: it traces too
        np.testing.assert_allclose(traced(x).numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    assert any(p.requires_grad for p in loaded.parameters())
