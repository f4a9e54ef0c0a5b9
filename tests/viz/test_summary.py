"""summary: layers, output shapes, parameter counts; totals equal the parameter count."""

from __future__ import annotations

import pytest

import chainrule
from chainrule import nn


def test_totals_equal_parameter_count() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    s = chainrule.summary(model, (1, 28, 28))
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 50890
    assert s.trainable_params == s.total_params
    assert [r["output_shape"] for r in s.rows] == [[-1, 784], [-1, 64], [-1, 64], [-1, 10]]
    assert sum(r["params"] for r in s.rows) == s.total_params
    assert "Total params: 50,890" in str(s)


def test_nested_modules_and_frozen_parameters() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.body(x))

    net = Net()
    net.head.requires_grad_(False)
    s = chainrule.summary(net, (3,))
    assert [r["layer"] for r in s.rows] == ["body.0 (Linear)", "body.1 (Tanh)", "head (Linear)"]
    assert s.total_params == 26 and s.trainable_params == 16 and s.non_trainable_params == 10
    assert net.training  # restored after the probe pass


def test_conv_model_shapes() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 13 * 13, 10))
    s = chainrule.summary(model, (1, 28, 28))
    assert s.rows[0]["output_shape"] == [-1, 4, 26, 26]
    assert s.rows[2]["output_shape"] == [-1, 4, 13, 13]
    assert s.total_params == 40 + 6770


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def test_torchinfo_input_size_has_the_batch_dimension() -> None:
    model = _mlp()
    s = chainrule.summary(model, input_size=(16, 1, 28, 28))
    assert [r["output_shape"] for r in s.rows] == [[16, 784], [16, 64], [16, 64], [16, 10]]
    assert s.total_params == 50890
    text = str(s)
    assert text.splitlines()[0] == ("torchinfo's convention: input_size=(16, 1, 28, 28) with "
                                    "the batch dimension")


def test_torchinfo_batch_dim_adds_a_batch_of_one() -> None:
    s = chainrule.summary(_mlp(), input_size=(1, 28, 28), batch_dim=0)
    assert s.rows[-1]["output_shape"] == [1, 10]
    assert "without the batch dimension (batch_dim=0, batch 1)" in str(s)


def test_torchinfo_input_data_runs_the_given_tensors() -> None:
    model = _mlp()
    x = chainrule.randn(5, 1, 28, 28)
    s = chainrule.summary(model, input_data=x)
    assert s.rows[-1]["output_shape"] == [5, 10]
    assert str(s).splitlines()[0] == ("torchinfo's convention: input_data, tensors of shape "
                                      "[5, 1, 28, 28]")


def test_several_inputs_in_each_convention() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(4, 2)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    net = Two()
    old = chainrule.summary(net, [(3,), (4,)])
    new = chainrule.summary(net, input_size=[(7, 3), (7, 4)])
    data = chainrule.summary(net, input_data=[chainrule.ones(2, 3), chainrule.ones(2, 4)])
    assert [r["output_shape"] for r in old.rows] == [[-1, 2], [-1, 2]]
    assert [r["output_shape"] for r in new.rows] == [[7, 2], [7, 2]]
    assert [r["output_shape"] for r in data.rows] == [[2, 2], [2, 2]]
    assert str(old).startswith("torchsummary's convention: input shape [(3,), (4,)] without")


def test_positional_form_says_its_convention_and_exactly_one_input_is_required() -> None:
    text = str(chainrule.summary(_mlp(), (1, 28, 28)))
    assert text.splitlines()[0].startswith("torchsummary's convention: input shape (1, 28, 28)")
    with pytest.raises(TypeError, match="exactly one of"):
        chainrule.summary(_mlp())
    with pytest.raises(TypeError, match="exactly one of"):
        chainrule.summary(_mlp(), (1, 28, 28), input_size=(2, 1, 28, 28))
    with pytest.raises(RuntimeError, match="CUDA"):
        chainrule.summary(_mlp(), input_size=(2, 1, 28, 28), device="cuda")
